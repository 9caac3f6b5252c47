//! `users`: accounts and their password hashes.

use super::write_tx::BeginWrite;
use super::{now_ms, Invalidation, Pool, Store};
use crate::model::{AppError, ChatId, User, UserId};
use crate::server::base::error::Result;

impl Store {
    /// Creates an account; a taken name (ignoring case) is a [`AppError::Conflict`].
    pub async fn create_user(&self, username: &str, password_hash: &str) -> Result<User> {
        let res = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, User>(
                "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)
                 RETURNING id, username",
            )
            .bind(username)
            .bind(password_hash)
            .bind(now_ms())
            .fetch_one(p)
            .await
        });
        match res {
            Ok(user) => Ok(user),
            Err(e) => {
                let e = crate::server::base::error::Error::from(e);
                if e.is_unique_violation() {
                    Err(AppError::Conflict("That username is taken".into()).into())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The user and their password hash, for signing in.
    pub async fn user_credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        let row: Option<(i64, String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT id, username, password_hash FROM users WHERE username = $1 AND deleted_at IS NULL",
            )
                .bind(username)
                .fetch_optional(p)
                .await
        })?;
        Ok(row.map(|(id, username, hash)| {
            (
                User {
                    id: UserId(id),
                    username,
                },
                hash,
            )
        }))
    }

    /// Closes `user`'s account for good: the row stays for the messages they wrote (named
    /// [`deleted_name`] from now on), without password or sessions; the name is free
    /// again. Their group memberships are gone already (`domain::account`); their direct
    /// chats keep them as a member, so the other person still sees who it was with.
    /// Each chat of `chats` that has no member with an account left goes, with its
    /// messages. Returns the chats that went.
    pub async fn close_account(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<ChatId>> {
        let postgres = self.is_postgres();
        let (sessions, direct, gone) = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            // The last active administrator stays (checked under the lock, so two
            // administrators deleting their accounts at once cannot both go).
            let admin: Option<bool> =
                sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1 AND deleted_at IS NULL")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
            if admin == Some(true) {
                another_admin_stays!(tx, user, postgres);
            }
            sqlx::query(
                "UPDATE users SET username = $1, password_hash = '', is_admin = $4, deleted_at = $2,
                        display_name = '', status = '', time_zone = '', avatar_version = 0
                 WHERE id = $3",
            )
            .bind(deleted_name(user))
            .bind(now_ms())
            .bind(user)
            .bind(false)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM avatars WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            let sessions: Vec<(Vec<u8>,)> =
                sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
            let direct: Vec<(ChatId,)> =
                sqlx::query_as("SELECT chat_id FROM chat_members WHERE user_id = $1")
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut gone = Vec::new();
            for chat in chats.iter().copied().chain(direct.iter().map(|(c,)| *c)) {
                let deleted = sqlx::query(super::chats::DELETE_IF_ABANDONED)
                .bind(chat)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted > 0 {
                    gone.push(chat);
                }
            }
            tx.commit().await?;
            (sessions, direct, gone)
        });
        // Every connection of the account closes, on every node.
        self.sessions_ended(user, sessions, None);
        // Member lists carry the name, which changed.
        for (chat,) in direct {
            self.invalidate(Invalidation::Members(chat));
        }
        Ok(gone)
    }

    /// Replaces a user's password hash.
    /// A reset link made before for the person goes too (they chose a password now).
    pub async fn set_password_hash(&self, user: UserId, password_hash: &str) -> Result<()> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The users with these (normalised) names; unknown names are simply absent.
    pub async fn users_by_names(&self, names: &[String]) -> Result<Vec<User>> {
        self.named_users(names, false).await
    }

    /// [`Store::users_by_names`] without the deactivated: whom a chat may take in.
    pub async fn active_users_by_names(&self, names: &[String]) -> Result<Vec<User>> {
        self.named_users(names, true).await
    }

    async fn named_users(&self, names: &[String], active: bool) -> Result<Vec<User>> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                let json = serde_json::to_string(names)
                    .map_err(|e| crate::server::base::error::Error::internal(e.to_string()))?;
                sqlx::query_as::<_, User>(
                    "SELECT id, username FROM users
                     WHERE username IN (SELECT value FROM json_each($1)) AND deleted_at IS NULL
                       AND (NOT $2 OR deactivated_at IS NULL)",
                )
                .bind(json)
                .bind(active)
                .fetch_all(p)
                .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as::<_, User>(
                    "SELECT id, username FROM users WHERE username = ANY($1) AND deleted_at IS NULL
                   AND (NOT $2 OR deactivated_at IS NULL)",
                )
                .bind(names)
                .bind(active)
                .fetch_all(p)
                .await?
            }
        })
    }
}

impl Store {
    pub async fn set_last_seen(&self, user: UserId, at: i64) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
                .bind(at)
                .bind(user)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Everyone whose presence `user` sees and who sees `user`'s, with their last-seen
    /// time: people who accepted a chat that `user` accepted too, with no block either
    /// way (issue 29; see `db::consent`).
    pub async fn contacts_last_seen(&self, user: UserId) -> Result<Vec<(UserId, Option<i64>)>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as(concat!(
                "SELECT DISTINCT u.id, u.last_seen_at",
                presence_peers_from!()
            ))
            .bind(user)
            .fetch_all(p)
            .await
        })?)
    }

    /// Everyone who sees `user`'s presence (see [`Store::contacts_last_seen`]).
    pub async fn contact_ids(&self, user: UserId) -> Result<Vec<UserId>> {
        Ok(self
            .contacts_last_seen(user)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }
}

/// The name a deleted account goes by: what others see on its messages. No one can sign
/// up with it (usernames have no spaces), and it stays unique.
pub fn deleted_name(user: UserId) -> String {
    format!("deleted user #{}", user.0)
}
