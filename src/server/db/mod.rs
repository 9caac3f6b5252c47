//! All SQL lives here, one file per table, as methods on [`Store`] (the committer's batch
//! insert into `messages` has a file of its own, `messages/batch.rs`).
//!
//! Callers (the services of `server::domain`) see only `Store` methods and
//! `model` types; the backend (SQLite or PostgreSQL, see [`Pool`]) is chosen by the
//! database URL and stays inside this module.

/// Runs `$body` with `$p` bound to the store's pool, whichever backend it is: the same
/// code, and the same SQL text, compiled once per backend. SQL run this way sticks to
/// what both understand (`$1` parameters, `ON CONFLICT`, `RETURNING`, `CASE`, no
/// `MIN(a, b)`); what differs is written per backend with a plain `match`.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::server::db::Pool::Sqlite($p) => $body,
            $crate::server::db::Pool::Postgres($p) => $body,
        }
    };
}

#[macro_use]
mod audit;
pub use audit::AUDIT_PAGE;
mod broadcast;
mod cache;
mod channels;
pub use channels::CHANNELS_LISTED;
mod chats;
mod instance;
pub use instance::{
    NewAccount, SignupGate, CLOSED, INVITATION_INVALID, NEEDS_INVITATION, TOO_MANY_INVITATIONS,
};
#[macro_use]
mod people;
mod profiles;
pub use people::{Standing, LAST_ADMIN, PEOPLE_PAGE, REACTIVATE_FIRST};
pub use profiles::ProfileText;
mod resets;
#[macro_use]
mod consent;
pub use consent::{SendCheck, INVITATIONS_MAX, INVITATIONS_PER_INVITER, MAX_BLOCKS};
mod members;
pub use members::{Added, ChatChanges};
mod checkpoint;
mod files;
pub use files::Uploaded;
mod push;
pub use push::{Claimed, DeviceRow, Notifying, PushOutcome};
// Before `messages`, whose batch writers use its SQL macros.
#[macro_use]
mod mentions;
mod messages;
pub use messages::{Inserted, NewMessage, Reach, Stored};
mod reactions;
pub use reactions::Reacted;
mod search;
pub use search::INDEX_STEP_ROWS;
mod sessions;
mod users;
mod write_tx;

use crate::model::{AppError, ChatId, User, UserId};
use crate::server::base::error::{Error, Result};
use cache::Cache;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Pooled connections when nothing else is configured (`--db-connections`).
pub const DEFAULT_CONNECTIONS: u32 = 8;

/// The database behind [`Store`], chosen by the URL's scheme: one backend per
/// database, each with its own migrations.
#[derive(Clone, Debug)]
pub enum Pool {
    /// `sqlite://…`: embedded, one file (the default).
    Sqlite(SqlitePool),
    /// `postgres://…` / `postgresql://…`: shared by several natter nodes.
    Postgres(PgPool),
}

/// The database: one pool, created at start.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// The committer's own SQLite connection (see [`Store::insert_messages`]):
    /// batches are written on it with manual `BEGIN`/`COMMIT`, so it never goes back to
    /// the pool.
    batch_conn: Arc<tokio::sync::Mutex<Option<sqlx::SqliteConnection>>>,
    /// chat → member ids, for fan-out.
    members: Arc<Cache<ChatId, Arc<[UserId]>>>,
    /// session token hash → (user, expiry), for every request and heartbeat.
    sessions: Arc<Cache<Vec<u8>, (User, i64)>>,
    /// (chat, sender) pairs whose sends consent allows (an accepted membership, no
    /// block): every `send` asks, and a database read per message would cost the live
    /// path. Only "yes" is kept; any membership change, block or unblock anywhere clears
    /// it all (they are rare next to sends), on every node.
    sendable: Arc<Cache<(ChatId, UserId), ()>>,
    /// Told of every cache entry this node drops, so other nodes drop theirs (set by a
    /// broker for several nodes; see [`Store::on_invalidate`]).
    others: Arc<std::sync::OnceLock<InvalidationHook>>,
    /// Told of every revocation, made here or on another node (see
    /// [`Store::on_revoked`]).
    revocations: Arc<std::sync::Mutex<Vec<RevocationWatcher>>>,
}

/// A cache entry that a change made stale, on every node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Invalidation {
    /// A chat's member list.
    Members(ChatId),
    /// A block or an unblock: sends that consent allowed may not be any more.
    Consent,
    /// A session (by token hash): signed out.
    Session(Vec<u8>),
    /// Sessions were revoked: their open connections close, on every node. Sent after
    /// the `Session` entries of the same sessions.
    Revoked(Revoked),
}

/// Which sessions a revocation ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Revoked {
    /// One session of `user` (a sign-out).
    Session { user: UserId, session: Vec<u8> },
    /// Every session of `user` but `keep` (a password change keeps the session that made
    /// it; "sign out everywhere" and a deleted account keep none).
    AllBut { user: UserId, keep: Option<Vec<u8>> },
}

impl Revoked {
    pub fn user(&self) -> UserId {
        match self {
            Revoked::Session { user, .. } | Revoked::AllBut { user, .. } => *user,
        }
    }

    /// Whether a connection made with `session` (a token hash) must close.
    pub fn ends(&self, session: &[u8]) -> bool {
        match self {
            Revoked::Session { session: gone, .. } => gone.as_slice() == session,
            Revoked::AllBut { keep, .. } => keep.as_deref() != Some(session),
        }
    }
}

/// Acts on a revocation; `false` once it has nothing left to act for (it is dropped).
struct RevocationWatcher(Box<dyn Fn(&Revoked) -> bool + Send + Sync>);

impl std::fmt::Debug for RevocationWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevocationWatcher")
    }
}

struct InvalidationHook(Box<dyn Fn(Invalidation) + Send + Sync>);

impl std::fmt::Debug for InvalidationHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvalidationHook")
    }
}

impl Store {
    /// Drops a stale entry here, and tells the other nodes.
    fn invalidate(&self, what: Invalidation) {
        self.forget(&what);
        if let Some(InvalidationHook(tell)) = self.others.get() {
            tell(what);
        }
    }

    /// Drops an entry another node changed.
    pub fn forget(&self, what: &Invalidation) {
        match what {
            Invalidation::Members(chat) => {
                self.members.invalidate(chat);
                self.sendable.clear();
            }
            Invalidation::Consent => self.sendable.clear(),
            Invalidation::Session(hash) => self.sessions.invalidate(hash.as_slice()),
            Invalidation::Revoked(revoked) => {
                let mut watchers = self
                    .revocations
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                watchers.retain(|RevocationWatcher(act)| act(revoked));
            }
        }
    }

    /// Has `act` called with every revocation, made on this node or (through the
    /// broker) on another, until it returns `false`. The hub closes the revoked
    /// sessions' connections this way.
    pub fn on_revoked(&self, act: impl Fn(&Revoked) -> bool + Send + Sync + 'static) {
        self.revocations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(RevocationWatcher(Box::new(act)));
    }

    /// Sessions were revoked: drops nothing cached (the `Session` entries went
    /// already), but closes their connections here and on every node.
    fn revoked(&self, revoked: Revoked) {
        self.invalidate(Invalidation::Revoked(revoked));
    }

    /// Drops every cached entry: invalidations from other nodes may have been missed
    /// (the broker was unreachable).
    pub fn forget_all(&self) {
        self.members.clear();
        self.sessions.clear();
        self.sendable.clear();
    }

    /// Has `tell` called with every invalidation this node makes (once; later calls are
    /// ignored).
    pub fn on_invalidate(&self, tell: impl Fn(Invalidation) + Send + Sync + 'static) {
        let _ = self.others.set(InvalidationHook(Box::new(tell)));
    }
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
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(open_postgres(url, connections).await?)
        } else {
            Pool::Sqlite(open_sqlite(url, connections).await?)
        };
        let store = Store {
            pool,
            batch_conn: Arc::default(),
            members: Arc::new(Cache::new(Duration::from_secs(600))),
            sendable: Arc::new(Cache::new(Duration::from_secs(600))),
            sessions: Arc::new(Cache::new(Duration::from_secs(60))),
            others: Arc::default(),
            revocations: Arc::default(),
        };
        store.backfill_mentions().await?;
        Ok(store)
    }

    /// Which backend this is (for logs and `/healthz`).
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Waits for open connections to finish and closes the pool.
    pub async fn close(&self) {
        if let Some(conn) = self.batch_conn.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
        on_pool!(&self.pool, p => p.close().await);
    }

    fn is_closed(&self) -> bool {
        on_pool!(&self.pool, p => p.is_closed())
    }

    /// A cheap round trip, for `/healthz`.
    /// Writes a consistent copy of the database to `path` (a new file) while others
    /// keep writing: SQLite's `VACUUM INTO` reads one snapshot. PostgreSQL has its own
    /// tools (`pg_dump`), and this refuses.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Err(AppError::Invalid(
                "backup copies the embedded SQLite database; for PostgreSQL use pg_dump".into(),
            )
            .into());
        };
        if path.exists() {
            return Err(AppError::Invalid(format!(
                "{} exists already: give a new file",
                path.display()
            ))
            .into());
        }
        let target = path
            .to_str()
            .ok_or_else(|| AppError::Invalid("the backup path is not valid UTF-8".into()))?;
        // An empty file of mode 0600 first (VACUUM INTO fills an empty file): SQLite
        // would create it world-readable.
        create_private(path)?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Whether every migration this build knows is applied (a node started on a
    /// database that another node is still migrating, or that a newer build migrated
    /// further, is not ready).
    pub async fn migrated(&self) -> Result<bool> {
        let (applied,): (i64,) = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(p)
                .await
        })?;
        let known = match &self.pool {
            Pool::Sqlite(_) => sqlx::migrate!("./migrations/sqlite").iter().count(),
            Pool::Postgres(_) => sqlx::migrate!("./migrations/postgres").iter().count(),
        };
        Ok(applied == known as i64)
    }

    /// The request pool's (open connections, idle ones), for the metrics.
    pub fn pool_use(&self) -> (u32, usize) {
        on_pool!(&self.pool, p => (p.size(), p.num_idle()))
    }

    pub async fn ping(&self) -> Result<()> {
        on_pool!(&self.pool, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }
}

async fn open_sqlite(url: &str, connections: u32) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // The checkpoint task does this work on its own connection (see `checkpoint`).
        .pragma("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES.to_string())
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    create_private(options.get_filename())?;
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
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// Creates the database file readable by its owner only (0600), if it is a file and
/// does not exist yet: SQLite would create it (and its `-wal` and `-shm` files, which
/// take the database file's mode) as 0644, every message readable by every local
/// user. An existing file keeps the mode its operator gave it.
fn create_private(path: &std::path::Path) -> Result<()> {
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") || path.exists() {
        return Ok(());
    }
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(Error::internal(format!(
                "cannot create {}: {e}",
                path.display()
            ))),
        })
}

/// PostgreSQL: its own migrations, applied under sqlx's advisory lock, so nodes that
/// start together migrate once.
async fn open_postgres(url: &str, connections: u32) -> Result<PgPool> {
    // No JIT: natter's queries are short, and PostgreSQL compiled one whenever a plan's
    // estimate was high, even for a branch never run (12 ms of every search over ten
    // million messages; BENCHMARKS.md, issue 31).
    let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
    let pool = PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
