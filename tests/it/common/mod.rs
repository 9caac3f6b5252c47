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
//!
//! Files' bytes (issue 32) go to a folder beside the test's database, or, for a test
//! written for both storages ([`test_both_stores!`]), also to a real S3-compatible server
//! (`NATTER_TEST_S3`, its endpoint: `scripts/test.sh` starts moto with `scripts/s3.sh`).
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

/// [`test_both_dbs!`] times the two storages of shared files: `name_sqlite` and
/// `name_postgres` with a folder, and `name_sqlite_s3` and `name_postgres_s3` with a
/// real S3-compatible server (ignored unless asked for, like PostgreSQL: they need
/// `NATTER_TEST_S3`).
macro_rules! test_both_stores {
    ($name:ident $(, $($tokio:tt)+)?) => {
        test_both_dbs!($name $(, $($tokio)+)?);
        paste::paste! {
            #[tokio::test $(($($tokio)+))?]
            #[ignore = "needs NATTER_TEST_S3 (scripts/test.sh starts an S3-compatible server and runs the ignored tests)"]
            async fn [<$name _sqlite_s3>]() {
                $crate::common::Backend::Sqlite
                    .run($crate::common::Storage::S3.run($name()))
                    .await
            }
            #[tokio::test $(($($tokio)+))?]
            #[ignore = "needs NATTER_TEST_PG and NATTER_TEST_S3 (scripts/test.sh starts both and runs the ignored tests)"]
            async fn [<$name _postgres_s3>]() {
                $crate::common::Backend::Postgres
                    .run($crate::common::Storage::S3.run($name()))
                    .await
            }
        }
    };
}

/// Where a test server keeps shared files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// A folder beside the test's database.
    Folder,
    /// A prefix of its own in the bucket `natter` of `NATTER_TEST_S3`.
    S3,
}

tokio::task_local! {
    static STORAGE: Storage;
}

impl Storage {
    /// The storage of the test running: a folder outside [`Storage::run`].
    pub fn current() -> Storage {
        STORAGE.try_with(|s| *s).unwrap_or(Storage::Folder)
    }

    /// Runs `body` with this storage. S3 without `NATTER_TEST_S3` panics first.
    pub async fn run<F: Future>(self, body: F) -> F::Output {
        if self == Storage::S3 {
            s3_endpoint();
        }
        STORAGE.scope(self, body).await
    }

    /// Points `config` at this storage for a server on the database `db_url`: nodes on
    /// one database share one place, as a cluster does.
    pub fn configure(self, config: &mut natter::server::config::Config, db: &TestDb) {
        match self {
            Storage::Folder => config.files_dir = Some(db.files_dir.clone()),
            Storage::S3 => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                db.url.hash(&mut h);
                config.files_url = Some(format!(
                    "s3://natter/t{}-{:016x}",
                    std::process::id(),
                    h.finish()
                ));
                config.files_s3 = [
                    ("endpoint", s3_endpoint().as_str()),
                    ("region", "us-east-1"),
                    ("allow_http", "true"),
                    // moto checks no signature; real credentials, so nothing asks a
                    // metadata service for some.
                    ("access_key_id", "natter-test"),
                    ("secret_access_key", "natter-test-secret"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            }
        }
    }
}

/// `NATTER_TEST_S3`, or a panic that says how to set it.
fn s3_endpoint() -> String {
    match std::env::var("NATTER_TEST_S3") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "NATTER_TEST_S3 is not set: this test needs an S3-compatible server \
             (NATTER_TEST_S3=\"$(bash scripts/s3.sh start DIR)\", or scripts/test.sh, \
             which starts one)"
        ),
    }
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
    /// Shared files, with [`Storage::Folder`]: another node on this database
    /// ([`connect_db`]) uses the same folder.
    pub files_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
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
        files_dir: dir.path().join("files"),
        _dir: dir,
    }
}

/// A database at `url` (a restored backup, say) with its files in `files_dir`.
pub async fn open_db(url: &str, files_dir: &std::path::Path) -> TestDb {
    TestDb {
        store: Store::connect(url).await.unwrap(),
        url: url.to_string(),
        files_dir: files_dir.to_path_buf(),
        _dir: tempfile::tempdir().unwrap(),
    }
}

/// Another connection to an existing test database (a second node on it), sharing
/// `first`'s files as a cluster's nodes do.
pub async fn connect_db(first: &TestDb) -> TestDb {
    TestDb {
        store: Store::connect(&first.url).await.unwrap(),
        url: first.url.clone(),
        files_dir: first.files_dir.clone(),
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
/// Runs one statement on the database at `url` behind the server's back (to age rows).
pub async fn run_sql(url: &str, sql: &'static str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

pub fn on_postgres() -> bool {
    Backend::current() == Backend::Postgres
}

pub mod pictures;
pub mod redis;
pub mod server;
pub mod sse;
