//! All SQL lives here, one file per table, as methods on [`Store`] (the writer's batch
//! insert into `messages` has a file of its own, `messages/batch.rs`).
//!
//! Callers (the domain in `server::chat`, the auth code) see only `Store` methods and
//! `model` types, so a PostgreSQL `Store` can follow without touching them.

mod cache;
mod chats;
pub use chats::{Added, ChatChanges};
mod checkpoint;
mod messages;
pub use messages::{Inserted, NewMessage, Stored};
mod sessions;
mod users;

use super::Result;
use crate::model::{ChatId, User, UserId};
use cache::Cache;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Pooled connections when nothing else is configured (`--db-connections`).
pub const DEFAULT_CONNECTIONS: u32 = 8;

/// The database: one pool, created at start.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// The message writer's own connection (see [`Store::insert_messages`]): batches
    /// are written on it with manual `BEGIN`/`COMMIT`, so it never goes back to the pool.
    writer: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
    /// chat → member ids, for fan-out.
    members: Arc<Cache<ChatId, Arc<[UserId]>>>,
    /// session token hash → (user, expiry), for every request and heartbeat.
    sessions: Arc<Cache<Vec<u8>, (User, i64)>>,
}

impl Store {
    /// Opens (creating if missing) and migrates the database at `url`.
    ///
    /// SQLite runs in WAL mode with `synchronous = NORMAL`: a commit survives the
    /// process being killed (the WAL is in the OS page cache); a power cut may lose the
    /// last transactions but never corrupts the file.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(url, DEFAULT_CONNECTIONS).await
    }

    /// [`Store::connect`] with `connections` pooled connections (at least 1).
    pub async fn open(url: &str, connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // The checkpoint task does this work on its own connection (see `checkpoint`).
            .pragma("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES.to_string())
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(connections.max(1))
            .min_connections(1)
            // sqlx pings a pooled connection before handing it out (a round trip to its
            // worker thread, ~7% of a page's CPU). An embedded SQLite connection cannot
            // go stale the way a network connection can; a failing one still errors on
            // the query itself.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store {
            pool,
            writer: Arc::default(),
            members: Arc::new(Cache::new(Duration::from_secs(600))),
            sessions: Arc::new(Cache::new(Duration::from_secs(60))),
        })
    }

    /// Waits for open connections to finish and closes the pool.
    pub async fn close(&self) {
        if let Some(conn) = self.writer.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
        self.pool.close().await;
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
