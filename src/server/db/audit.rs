//! `audit_log`: every administrative action, written in the transaction of the action
//! itself (`audit!`), so nothing is done without its entry and no entry names something
//! that was not done.

use super::Store;
use crate::model::admin::AuditEntry;
use crate::server::base::error::Result;

/// Records an action on `$tx` (an open transaction): `$actor` (`Option<UserId>`, `None`
/// for the command line), `$action` (a fixed word), `$target` (`Option<UserId>`),
/// `$detail` (`&str`).
macro_rules! audit {
    ($tx:expr, $actor:expr, $action:expr, $target:expr, $detail:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (actor_id, action, target_id, detail, at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($actor)
        .bind($action)
        .bind($target)
        .bind($detail)
        .bind($crate::server::db::now_ms())
        .execute($tx)
        .await?
    };
}

/// Entries one page of the log shows.
pub const AUDIT_PAGE: i64 = 50;

impl Store {
    /// The newest entries (before entry `before`, if given), [`AUDIT_PAGE`] at most.
    pub async fn audit_log(&self, before: Option<i64>) -> Result<Vec<(i64, AuditEntry)>> {
        type Row = (i64, i64, Option<String>, String, Option<String>, String);
        let rows: Vec<Row> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT l.id, l.at, a.username, l.action, t.username, l.detail
                 FROM audit_log l
                 LEFT JOIN users a ON a.id = l.actor_id
                 LEFT JOIN users t ON t.id = l.target_id
                 WHERE l.id < $1 ORDER BY l.id DESC LIMIT $2",
            )
            .bind(before.unwrap_or(i64::MAX))
            .bind(AUDIT_PAGE)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, target, detail)| {
                (
                    id,
                    AuditEntry {
                        at,
                        actor,
                        action,
                        target,
                        detail,
                    },
                )
            })
            .collect())
    }
}
