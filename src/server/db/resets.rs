//! `password_resets`: one-time links an administrator hands to a person who forgot
//! their password (natter sends no mail). Only the token's SHA-256 is kept, at most one
//! link per person (a new one replaces the old), used once, within its hours.

use super::write_tx::BeginWrite;
use super::{now_ms, Store};
use crate::model::{AppError, User, UserId};
use crate::server::base::error::Result;

/// A reset link that can still be used: in time, for an active account, made by someone
/// who is still an active administrator (a revoked one's links die with the rights).
macro_rules! usable_reset {
    () => {
        "r.token_hash = $1 AND r.expires_at > $2
         AND u.deleted_at IS NULL AND u.deactivated_at IS NULL
         AND EXISTS (SELECT 1 FROM users a WHERE a.id = r.created_by AND a.is_admin
                     AND a.deactivated_at IS NULL AND a.deleted_at IS NULL)"
    };
}

impl Store {
    /// Stores a reset link for `target` (replacing any other), recorded. A deleted or
    /// deactivated account gets none.
    pub async fn create_reset(
        &self,
        actor: UserId,
        target: UserId,
        hash: &[u8],
        expires_at: i64,
    ) -> Result<()> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let found: Option<(Option<i64>,)> = sqlx::query_as(
                "SELECT deactivated_at FROM users WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => return Err(AppError::NotFound("Person".into()).into()),
                Some((Some(_),)) => {
                    return Err(AppError::invalid(super::people::REACTIVATE_FIRST).into())
                }
                Some((None,)) => {}
            }
            sqlx::query(
                "INSERT INTO password_resets (user_id, token_hash, created_by, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash,
                     created_by = excluded.created_by, expires_at = excluded.expires_at,
                     created_at = excluded.created_at",
            )
            .bind(target)
            .bind(hash)
            .bind(actor)
            .bind(expires_at)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            audit!(&mut *tx, Some(actor), "reset_link", Some(target), "");
            tx.commit().await?;
        });
        Ok(())
    }

    /// The person a usable reset link is for.
    pub async fn reset_user(&self, hash: &[u8]) -> Result<Option<User>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as::<_, User>(
                concat!(
                    "SELECT u.id, u.username FROM password_resets r JOIN users u ON u.id = r.user_id
                     WHERE ",
                    usable_reset!()
                ),
            )
            .bind(hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await?
        }))
    }

    /// Uses a reset link: the new password hash replaces the old, the link is gone,
    /// and every session of the person ends (on every node). `None`: no usable link.
    pub async fn use_reset(&self, hash: &[u8], password_hash: &str) -> Result<Option<User>> {
        let now = now_ms();
        let done = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let user: Option<User> = sqlx::query_as(concat!(
                "SELECT u.id, u.username FROM password_resets r JOIN users u ON u.id = r.user_id
                 WHERE ",
                usable_reset!()
            ))
            .bind(hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(user) = user else { return Ok(None) };
            // The person's row first, then the link's: the order a deactivation takes
            // them in, so the two never wait for each other (PostgreSQL's row locks).
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM password_resets WHERE token_hash = $1")
                .bind(hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let sessions: Vec<(Vec<u8>,)> =
                sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                    .bind(user.id)
                    .fetch_all(&mut *tx)
                    .await?;
            audit!(&mut *tx, Some(user.id), "password_reset", Some(user.id), "");
            tx.commit().await?;
            (user, sessions)
        });
        let (user, sessions) = done;
        self.sessions_ended(user.id, sessions, None);
        Ok(Some(user))
    }
}
