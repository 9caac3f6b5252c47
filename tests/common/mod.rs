//! Shared helpers for integration tests: a real SQLite file in a temp dir.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use natter::server::db::Store;

pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: tempfile::TempDir,
}

pub async fn test_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("natter-test.db").display());
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        url,
        _dir: dir,
    }
}
pub mod server;
