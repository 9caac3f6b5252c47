//! Shared helpers for integration tests: a real database for each test.
//!
//! SQLite (a file in a temp dir), or a fresh PostgreSQL database for a test written for
//! both: [`test_both_dbs!`]`(name)` next to `async fn name()` makes `name_sqlite` and
//! `name_postgres`, and every database the body makes ([`test_db`], and the servers of
//! [`server`] on it) is of that backend. The `_postgres` tests are `#[ignore]`d, and
//! need `NATTER_TEST_PG`, a PostgreSQL server's URL (`postgres://user@host:port`, no
//! database): `scripts/test.sh` starts one with `scripts/pg.sh` and runs them with
//! `cargo test --features ssr --test it -- --ignored`. Run without it, they fail (they do
//! not pass having tested nothing). [`test_postgres!`] is for what exists only on
//! PostgreSQL (the cluster).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use natter::server::db::Store;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

/// `test_both_dbs!(name)` (or `test_both_dbs!(name, flavor = "multi_thread")`, the
/// arguments of `#[tokio::test]`) next to `async fn name()`: the tests `name_sqlite`
/// and `name_postgres` (ignored unless asked for: see the module's docs), each running
/// `name()` with [`Backend::run`].
macro_rules! test_both_dbs {
    ($name:ident $(, $($tokio:tt)+)?) => {
        paste::paste! {
            #[tokio::test $(($($tokio)+))?]
            async fn [<$name _sqlite>]() {
                $crate::common::Backend::Sqlite.run($name()).await
            }
            #[tokio::test $(($($tokio)+))?]
            #[ignore = "needs NATTER_TEST_PG (scripts/test.sh starts a PostgreSQL and runs the ignored tests)"]
            async fn [<$name _postgres>]() {
                $crate::common::Backend::Postgres.run($name()).await
            }
        }
    };
}

/// [`test_both_dbs!`] for a test that runs on PostgreSQL only (two nodes on one
/// database): `name_postgres` alone.
macro_rules! test_postgres {
    ($name:ident $(, $($tokio:tt)+)?) => {
        paste::paste! {
            #[tokio::test $(($($tokio)+))?]
            #[ignore = "needs NATTER_TEST_PG (scripts/test.sh starts a PostgreSQL and runs the ignored tests)"]
            async fn [<$name _postgres>]() {
                $crate::common::Backend::Postgres.run($name()).await
            }
        }
    };
}

/// The database a test's databases are made on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    /// Set by [`Backend::run`] for a test body; a task the body spawns does not see it,
    /// so a test makes its databases in its own task.
    static BACKEND: Backend;
}

impl Backend {
    /// The backend of the test running: SQLite outside [`Backend::run`].
    pub fn current() -> Backend {
        BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
    }

    /// Runs a test's `body` on this backend. On PostgreSQL without `NATTER_TEST_PG`, it
    /// panics before the body runs.
    pub async fn run<F: Future>(self, body: F) -> F::Output {
        if self == Backend::Postgres {
            pg_server();
        }
        BACKEND.scope(self, body).await
    }
}

/// `NATTER_TEST_PG`, or a panic that says how to set it.
fn pg_server() -> String {
    match std::env::var("NATTER_TEST_PG") {
        Ok(server) if !server.is_empty() => server,
        _ => panic!(
            "NATTER_TEST_PG is not set: this test needs a PostgreSQL server \
             (NATTER_TEST_PG=\"$(bash scripts/pg.sh start DIR)\", or scripts/test.sh, \
             which starts one)"
        ),
    }
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// A folder that lives as long as this database (its shared files go here).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

/// A fresh database on the running test's backend ([`Backend::current`]).
pub async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = match Backend::current() {
        Backend::Postgres => fresh_pg_database(&pg_server()).await,
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("natter-test.db").display()),
    };
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        _dir: dir,
    }
}

/// Another connection to an existing test database (a second node on it).
pub async fn connect_db(url: &str) -> TestDb {
    TestDb {
        store: Store::connect(url).await.unwrap(),
        url: url.to_string(),
        _dir: tempfile::tempdir().unwrap(),
    }
}

/// Creates an empty database on the server and returns its URL. The server is a
/// throwaway one: databases are dropped with it.
async fn fresh_pg_database(server: &str) -> String {
    use sqlx::Connection;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "natter_t{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        natter::server::db::now_ms() % 1_000_000
    );
    let server = server.trim_end_matches('/');
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    format!("{server}/{name}")
}

/// Whether the test runs on PostgreSQL (some figures differ: see the tests that ask).
pub fn on_postgres() -> bool {
    Backend::current() == Backend::Postgres
}

pub mod redis;
pub mod server;
pub mod sse;
