//! WAL checkpoints, kept off the committer's path.
//!
//! In WAL mode a commit appends the pages it changed to `<db>-wal`; a checkpoint copies
//! them back into the database file and syncs both files. By default SQLite runs one
//! inside whichever commit takes the WAL past 1 000 pages, on the committing connection.
//! In natter that is almost always the committer, which then sat in two `fsync`s
//! while every sender waited for its `ack` and every receiver for the message (strace
//! under the fanout at 1 000 messages/s: one such checkpoint every ~0.7 s). With the
//! checkpoints moved here, the committer's slowest batches in that load went from 9.2–9.4 ms
//! to 6.3–7.6 ms (BENCHMARKS.md, sixth pass).
//!
//! So a connection checkpoints by itself only past [`BACKSTOP_PAGES`], a limit that is
//! only reached if the task below stops, and [`Store::spawn_checkpointer`] checkpoints
//! every [`EVERY`] on a pooled connection, in PASSIVE mode: it neither waits for nor
//! blocks readers and the committer (WAL lets a checkpoint and a commit run at once).
//! Durability is unchanged: with `synchronous = NORMAL` the WAL is synced at checkpoints,
//! whoever runs them.

use super::{Pool, Store};
use crate::server::base::error::Result;
use std::time::Duration;

/// Pages (4 KiB each) past which a committing connection checkpoints by itself.
pub(super) const BACKSTOP_PAGES: u32 = 16_384;

/// How often the checkpoint task runs.
const EVERY: Duration = Duration::from_secs(1);

impl Store {
    /// Runs one PASSIVE checkpoint on a pooled connection and logs what it did.
    async fn checkpoint(&self) -> Result<()> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(());
        };
        let (busy, wal_frames, checkpointed): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
        // `busy`: a reader or the committer kept it from copying everything (next time).
        tracing::trace!(busy, wal_frames, checkpointed, "WAL checkpoint");
        Ok(())
    }

    /// Spawns the task that checkpoints every [`EVERY`]; it ends once the store is closed.
    /// Only SQLite has a WAL of its own to checkpoint; on PostgreSQL it does nothing.
    pub fn spawn_checkpointer(&self) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let sqlite = matches!(self.pool, Pool::Sqlite(_));
        tokio::spawn(async move {
            if !sqlite {
                return;
            }
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if store.is_closed() {
                    break;
                }
                match store.checkpoint().await {
                    Ok(()) => {}
                    // Closing the pool mid-checkpoint is a shutdown, not a failure.
                    Err(_) if store.is_closed() => break,
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed (retried)"),
                }
            }
        })
    }
}
