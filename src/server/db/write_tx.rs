//! Transactions that write begin by taking SQLite's write lock.
//!
//! A deferred SQLite transaction (`BEGIN`, sqlx's default) that reads and then writes
//! fails at once with `SQLITE_BUSY` if another connection committed in between (its
//! snapshot is stale; SQLite cannot wait its way out of that). The message committer
//! and the search indexer commit at any moment, so a block, a reaction or a rename
//! that read first would now and then answer 500 (CI caught a block doing exactly
//! that once the indexer committed 2 ms after each message). `BEGIN IMMEDIATE` takes
//! the lock up front and waits for it under the busy timeout instead. PostgreSQL's
//! transactions need nothing of the kind (row locks and MVCC).

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::future::Future;

/// A pool that can begin a transaction meant to write.
pub(super) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self::Db>>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Sqlite>>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Postgres>>> + Send {
        self.begin()
    }
}
