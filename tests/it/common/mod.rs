//! Shared helpers for integration tests: a real database for each test.
//!
//! SQLite by default (a file in a temp dir). With `NATTER_TEST_PG` set to a PostgreSQL
//! server's URL (`postgres://user@host:port`, no database: `scripts/test.sh` starts one
//! with `scripts/pg.sh`), each test gets a fresh database of its own on that server
//! instead, so the same tests prove the same behaviour on both backends.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use natter::server::db::Store;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("NATTER_TEST_PG") {
        Ok(server) if !server.is_empty() => fresh_pg_database(&server).await,
        _ => format!("sqlite://{}", dir.path().join("natter-test.db").display()),
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

/// Whether the tests run on PostgreSQL (some figures differ: see the tests that ask).
pub fn on_postgres() -> bool {
    std::env::var("NATTER_TEST_PG").is_ok_and(|s| !s.is_empty())
}

pub mod redis;
pub mod server;
pub mod sse;
