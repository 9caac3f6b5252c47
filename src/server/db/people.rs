//! `users`, as the administration sees it: who is an administrator, who is
//! deactivated, and the paged list of people. There is always at least one active
//! administrator: the statements that could remove the last one check, under a lock
//! on the administrators' rows, that another stays.

use super::write_tx::BeginWrite;
use super::{now_ms, Store};
use crate::model::admin::{PeoplePage, Person};
use crate::model::{AppError, UserId};
use crate::server::base::error::Result;

/// People one page of the list shows.
pub const PEOPLE_PAGE: i64 = 50;

pub const LAST_ADMIN: &str = "natter needs an administrator: make someone else administrator first";

/// Fails with [`LAST_ADMIN`] unless an active administrator other than `$target` stays;
/// on PostgreSQL the administrators' rows are locked first, so two transactions that
/// each remove one of the last two wait for each other instead of both succeeding.
macro_rules! another_admin_stays {
    ($tx:expr, $target:expr, $postgres:expr) => {{
        if $postgres {
            sqlx::query(
                "SELECT id FROM users WHERE is_admin AND deactivated_at IS NULL
                 AND deleted_at IS NULL ORDER BY id FOR UPDATE",
            )
            .execute(&mut *$tx)
            .await?;
        }
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE is_admin AND deactivated_at IS NULL
             AND deleted_at IS NULL AND id <> $1",
        )
        .bind($target)
        .fetch_one(&mut *$tx)
        .await?;
        if others == 0 {
            return Err($crate::model::AppError::invalid($crate::server::db::LAST_ADMIN).into());
        }
    }};
}

/// What `users` says about one person (see [`Store::standing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub admin: bool,
    pub deactivated: bool,
}

impl Store {
    pub(super) fn is_postgres(&self) -> bool {
        matches!(self.pool, super::Pool::Postgres(_))
    }

    /// Whether `user` is an active administrator (asked on every administrative call:
    /// a revoked administrator loses the rights at once, on every node).
    pub async fn is_admin(&self, user: UserId) -> Result<bool> {
        Ok(self
            .standing(user)
            .await?
            .is_some_and(|s| s.admin && !s.deactivated))
    }

    /// The administrator flag and deactivation of an account that is not deleted.
    pub async fn standing(&self, user: UserId) -> Result<Option<Standing>> {
        let row: Option<(bool, Option<i64>)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT is_admin, deactivated_at FROM users WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(user)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(admin, deactivated)| Standing {
            admin,
            deactivated: deactivated.is_some(),
        }))
    }

    /// Makes `target` an administrator or not (recorded, `actor` `None` for the command
    /// line). The last active administrator stays one; a deactivated person is made one
    /// only after reactivation.
    pub async fn set_admin(&self, actor: Option<UserId>, target: UserId, on: bool) -> Result<()> {
        let postgres = self.is_postgres();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let row: Option<(bool, Option<i64>)> = sqlx::query_as(
                "SELECT is_admin, deactivated_at FROM users WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((admin, deactivated)) = row else {
                return Err(AppError::NotFound("Person".into()).into());
            };
            if admin == on {
                return Ok(());
            }
            if on && deactivated.is_some() {
                return Err(AppError::invalid(REACTIVATE_FIRST).into());
            }
            if !on {
                another_admin_stays!(tx, target, postgres);
            }
            sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
                .bind(on)
                .bind(target)
                .execute(&mut *tx)
                .await?;
            let action = if on { "admin_granted" } else { "admin_revoked" };
            audit!(&mut *tx, actor, action, Some(target), "");
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deactivates `target` (recorded): no sign-in from now on, every session ends and
    /// every connection closes at once on every node; the messages stay. The last
    /// active administrator cannot be deactivated.
    pub async fn deactivate(&self, actor: UserId, target: UserId) -> Result<()> {
        let postgres = self.is_postgres();
        let sessions = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let row: Option<(bool, Option<i64>)> = sqlx::query_as(
                "SELECT is_admin, deactivated_at FROM users WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((admin, deactivated)) = row else {
                return Err(AppError::NotFound("Person".into()).into());
            };
            if deactivated.is_some() {
                return Ok(());
            }
            if admin {
                another_admin_stays!(tx, target, postgres);
            }
            sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(target)
                .execute(&mut *tx)
                .await?;
            let sessions: Vec<(Vec<u8>,)> =
                sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
                    .bind(target)
                    .fetch_all(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
                .bind(target)
                .execute(&mut *tx)
                .await?;
            audit!(&mut *tx, Some(actor), "deactivated", Some(target), "");
            tx.commit().await?;
            sessions
        });
        self.sessions_ended(target, sessions, None);
        Ok(())
    }

    /// Lets a deactivated person sign in again (recorded).
    pub async fn reactivate(&self, actor: UserId, target: UserId) -> Result<()> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE users SET deactivated_at = NULL
                 WHERE id = $1 AND deleted_at IS NULL AND deactivated_at IS NOT NULL",
            )
            .bind(target)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(());
            }
            audit!(&mut *tx, Some(actor), "reactivated", Some(target), "");
            tx.commit().await?;
        });
        Ok(())
    }

    /// Fails with [`LAST_ADMIN`] if `user` is the last active administrator (before the
    /// account is deleted).
    pub async fn refuse_if_last_admin(&self, user: UserId) -> Result<()> {
        let postgres = self.is_postgres();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let admin: Option<bool> =
                sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1 AND deleted_at IS NULL")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
            if admin == Some(true) {
                another_admin_stays!(tx, user, postgres);
            }
            tx.rollback().await?;
        });
        Ok(())
    }

    /// (accounts that are not deleted, active administrators among them), for the
    /// warning at start when an instance has people and no administrator.
    pub async fn admin_census(&self) -> Result<(i64, i64)> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL),
                        (SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
                           AND deactivated_at IS NULL AND is_admin)",
            )
            .fetch_one(p)
            .await?
        }))
    }

    /// One page of the people whose name contains `query` (any case), by name.
    pub async fn people(&self, query: &str, page: i64) -> Result<PeoplePage> {
        let pattern = format!("%{}%", like_escaped(&query.to_lowercase()));
        type Row = (UserId, String, bool, Option<i64>, i64, Option<String>);
        let rows: Vec<Row> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT u.id, u.username, u.is_admin, u.deactivated_at, u.created_at, i.username
                 FROM users u LEFT JOIN users i ON i.id = u.invited_by
                 WHERE u.deleted_at IS NULL AND LOWER(u.username) LIKE $1 ESCAPE '!'
                 ORDER BY u.username LIMIT $2 OFFSET $3",
            )
            .bind(pattern)
            .bind(PEOPLE_PAGE + 1)
            .bind(page.max(0).saturating_mul(PEOPLE_PAGE))
            .fetch_all(p)
            .await?
        });
        let more = rows.len() as i64 > PEOPLE_PAGE;
        Ok(PeoplePage {
            people: rows
                .into_iter()
                .take(PEOPLE_PAGE as usize)
                .map(
                    |(id, username, admin, deactivated, created_at, invited_by)| Person {
                        id,
                        username,
                        admin,
                        deactivated: deactivated.is_some(),
                        created_at,
                        invited_by,
                    },
                )
                .collect(),
            more,
        })
    }
}

pub const REACTIVATE_FIRST: &str = "Reactivate this person first";

/// `s` with LIKE's wildcards (and the escape character, `!`: `ESCAPE '!'` reads the
/// same on every SQLite and PostgreSQL, whatever `standard_conforming_strings` says)
/// taken literally.
pub(super) fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(super::like_escaped("a_b%c!d"), "a!_b!%c!!d");
    }
}
