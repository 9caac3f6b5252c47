//! `sessions`: hashed session tokens with an expiry.

use super::{now_ms, Invalidation, Revoked, Store};
use crate::model::{User, UserId};
use crate::server::base::error::Result;

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        expires_at: i64,
    ) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(user)
            .bind(now_ms())
            .bind(expires_at)
            .execute(p)
            .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The user of a live (unexpired) session (from memory after the first call; see
    /// `db::cache`).
    pub async fn session_user(&self, token_hash: &[u8]) -> Result<Option<User>> {
        let now = now_ms();
        if let Some((user, expires_at)) = self.sessions.get(token_hash) {
            return Ok((expires_at > now).then_some(user));
        }
        let generation = self.sessions.generation();
        let row: Option<(UserId, String, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT u.id, u.username, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.deactivated_at IS NULL",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|(id, username, expires_at)| {
            let user = User { id, username };
            self.sessions
                .fill(token_hash.to_vec(), (user.clone(), expires_at), generation);
            user
        }))
    }

    /// Revokes a session (sign out). Its open connections close at once, on every node.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        let user: Option<(UserId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
                .bind(token_hash)
                .fetch_optional(p)
                .await
        })?;
        self.invalidate(Invalidation::Session(token_hash.to_vec()));
        if let Some((user,)) = user {
            self.revoked(Revoked::Session {
                user,
                session: token_hash.to_vec(),
            });
        }
        Ok(())
    }

    /// Revokes every session of `user` except `keep` (the one asking, if any); returns
    /// how many. Their open connections close at once, on every node (see
    /// [`Store::on_revoked`]).
    pub async fn delete_sessions_of(&self, user: UserId, keep: Option<&[u8]>) -> Result<usize> {
        let gone: Vec<(Vec<u8>,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING token_hash",
            )
            .bind(user)
            .bind(keep.unwrap_or_default())
            .fetch_all(p)
            .await
        })?;
        let count = gone.len();
        if count > 0 {
            self.sessions_ended(user, gone, keep.map(<[u8]>::to_vec));
        }
        Ok(count)
    }

    /// After a transaction deleted `user`'s sessions `gone` (all but `keep`): they leave
    /// every node's cache, and their open connections close, on every node.
    pub(super) fn sessions_ended(
        &self,
        user: UserId,
        gone: Vec<(Vec<u8>,)>,
        keep: Option<Vec<u8>>,
    ) {
        for (hash,) in gone {
            self.invalidate(Invalidation::Session(hash));
        }
        self.revoked(Revoked::AllBut { user, keep });
    }

    /// Drops expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now_ms())
                .execute(p)
                .await?
                .rows_affected()
        }))
    }

    /// Sweeps expired sessions every [`SWEEP_EVERY`] while the store is open (sign-ins
    /// sweep too; this covers a node nobody signs in on). Every node runs it: the
    /// `DELETE` is idempotent.
    pub fn spawn_session_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if store.is_closed() {
                    break;
                }
                match store.delete_expired_sessions().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "expired sessions swept"),
                    Err(e) => tracing::warn!(error = %e, "sweeping expired sessions failed"),
                }
            }
        })
    }
}

/// How often expired sessions are deleted.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
