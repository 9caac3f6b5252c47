//! `chat_members`: who is in each chat, how far each member has read, and the chat's
//! change numbers for those changes (see `migrations/sqlite/0003_changes.sql`).
//!
//! Every change here locks the chat's row first (by taking a change number), then
//! touches `chat_members`: one lock order for every writer (the message writer's batches
//! too), so concurrent writers on PostgreSQL wait for each other instead of deadlocking.

use super::{Invalidation, Store};
use crate::model::{AppError, ChatId, Member, UserId};
use crate::server::db::now_ms;
use crate::server::{Error, Result};
use std::sync::Arc;

/// What [`Store::add_member`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// Added, with the change number it took.
    Added(i64),
    AlreadyMember,
    /// The group has its maximum number of members (or is not a group).
    Full,
}

/// A chat's changes since a change number, besides new messages (see
/// [`Store::chat_changes`]).
#[derive(Debug, Default)]
pub struct ChatChanges {
    /// (member, read pointer, change number), in change order.
    pub reads: Vec<(UserId, i64, i64)>,
    /// The member list and the change number of its last change, if after the given one.
    pub members: Option<(Vec<Member>, i64)>,
}

/// Takes the chat's next change number in transaction `$tx`; `None` when there is no
/// such chat. The row lock it takes orders concurrent changes of the chat.
macro_rules! next_change {
    ($tx:expr, $chat:expr) => {
        sqlx::query_as::<_, (i64,)>(
            "UPDATE chats SET last_change = last_change + 1 WHERE id = $1 RETURNING last_change",
        )
        .bind($chat)
        .fetch_optional(&mut *$tx)
        .await
        .map(|r| r.map(|r| r.0))
    };
}

/// [`next_change!`] for a membership change: also recorded as the chat's last one.
macro_rules! members_change {
    ($tx:expr, $chat:expr) => {
        sqlx::query_as::<_, (i64,)>(
            "UPDATE chats SET last_change = last_change + 1, members_change = last_change + 1
             WHERE id = $1 RETURNING last_change",
        )
        .bind($chat)
        .fetch_optional(&mut *$tx)
        .await
        .map(|r| r.map(|r| r.0))
    };
}

impl Store {
    /// The members' ids, for fan-out (from memory after the first call; see
    /// `db::cache`).
    pub async fn member_ids(&self, chat: ChatId) -> Result<Arc<[UserId]>> {
        if let Some(ids) = self.members.get(&chat) {
            return Ok(ids);
        }
        let generation = self.members.generation();
        let rows: Vec<(UserId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT user_id FROM chat_members WHERE chat_id = $1")
                .bind(chat)
                .fetch_all(p)
                .await
        })?;
        let ids: Arc<[UserId]> = rows.into_iter().map(|r| r.0).collect();
        if !ids.is_empty() {
            self.members.fill(chat, ids.clone(), generation);
        }
        Ok(ids)
    }

    pub async fn members(&self, chat: ChatId) -> Result<Vec<Member>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as::<_, Member>(
                "SELECT m.user_id, u.username, m.last_read_seq FROM chat_members m
                 JOIN users u ON u.id = m.user_id WHERE m.chat_id = $1
                 ORDER BY m.joined_at, u.username",
            )
            .bind(chat)
            .fetch_all(p)
            .await
        })?)
    }

    pub async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool> {
        Ok(self.read_pointer(chat, user).await?.is_some())
    }

    /// The member's read pointer (`None`: not a member).
    async fn read_pointer(&self, chat: ChatId, user: UserId) -> Result<Option<i64>> {
        let row: Option<(i64,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2",
            )
            .bind(chat)
            .bind(user)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|r| r.0))
    }

    /// Adds a member to a group of fewer than `max` members. The count and the insert
    /// happen under the chat's row lock, so concurrent adds cannot take a group past
    /// `max`.
    pub async fn add_member(&self, chat: ChatId, user: UserId, max: usize) -> Result<Added> {
        let now = now_ms();
        let added: Option<i64> = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let Some(change) = members_change!(tx, chat)? else {
                return Ok(Added::Full);
            };
            let res = sqlx::query(
                "INSERT INTO chat_members (chat_id, user_id, joined_at, last_read_seq)
                 SELECT id, $1, $2, 0 FROM chats
                 WHERE id = $3 AND kind = 'group'
                   AND (SELECT COUNT(*) FROM chat_members WHERE chat_id = $3) < $4
                 ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(now)
            .bind(chat)
            .bind(max as i64)
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() > 0 {
                tx.commit().await?;
                Ok::<_, Error>(Some(change))
            } else {
                // Nothing changed: give the change number back.
                tx.rollback().await?;
                Ok(None)
            }
        })?;
        self.invalidate(Invalidation::Members(chat));
        Ok(match added {
            Some(change) => Added::Added(change),
            None if self.is_member(chat, user).await? => Added::AlreadyMember,
            None => Added::Full,
        })
    }

    /// Removes a member; returns the change number it took, or `None` when they were
    /// not a member.
    pub async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<Option<i64>> {
        let removed = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let Some(change) = members_change!(tx, chat)? else {
                return Ok(None);
            };
            let res = sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            if res.rows_affected() > 0 {
                tx.commit().await?;
                Ok::<_, Error>(Some(change))
            } else {
                tx.rollback().await?;
                Ok(None)
            }
        })?;
        self.invalidate(Invalidation::Members(chat));
        Ok(removed)
    }

    /// Moves the member's read pointer forward (never back, never past the end).
    /// Returns the pointer after the update and, when it moved, the change number the
    /// move took (only a move is news to the other members); a non-member is
    /// [`AppError::NotFound`].
    ///
    /// A call that cannot move it (the common repeat) only reads.
    pub async fn mark_read(
        &self,
        chat: ChatId,
        user: UserId,
        seq: i64,
    ) -> Result<(i64, Option<i64>)> {
        let Some(current) = self.read_pointer(chat, user).await? else {
            return Err(AppError::chat_not_found().into());
        };
        if seq <= current {
            return Ok((current, None));
        }
        let moved: Option<(i64, i64)> = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let Some(change) = next_change!(tx, chat)? else {
                return Err(AppError::chat_not_found().into());
            };
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE chat_members SET read_change = $1,
                    last_read_seq = (SELECT CASE WHEN $2 < c.last_seq THEN $2 ELSE c.last_seq END
                                     FROM chats c WHERE c.id = $3)
                 WHERE chat_id = $3 AND user_id = $4
                   AND last_read_seq < (SELECT CASE WHEN $2 < c.last_seq THEN $2 ELSE c.last_seq END
                                        FROM chats c WHERE c.id = $3)
                 RETURNING last_read_seq",
            )
            .bind(change)
            .bind(seq)
            .bind(chat)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((now,)) = row {
                tx.commit().await?;
                Ok::<_, Error>(Some((now, change)))
            } else {
                tx.rollback().await?;
                Ok(None)
            }
        })?;
        match moved {
            Some((now, change)) => Ok((now, Some(change))),
            None => {
                let now = self
                    .read_pointer(chat, user)
                    .await?
                    .ok_or_else(AppError::chat_not_found)?;
                Ok((now, None))
            }
        }
    }

    /// What changed in `chat` after change `after` besides new messages: read pointers
    /// that moved, and the member list if it changed (for resume).
    pub async fn chat_changes(&self, chat: ChatId, after: i64) -> Result<ChatChanges> {
        let (reads, members_change) = on_pool!(&self.pool, p => {
            let reads: Vec<(UserId, i64, i64)> = sqlx::query_as(
                "SELECT user_id, last_read_seq, read_change FROM chat_members
                 WHERE chat_id = $1 AND read_change > $2 ORDER BY read_change",
            )
            .bind(chat)
            .bind(after)
            .fetch_all(p)
            .await?;
            let members_change: Option<(i64,)> =
                sqlx::query_as("SELECT members_change FROM chats WHERE id = $1")
                    .bind(chat)
                    .fetch_optional(p)
                    .await?;
            Ok::<_, Error>((reads, members_change.map_or(0, |r| r.0)))
        })?;
        let members = if members_change > after {
            Some((self.members(chat).await?, members_change))
        } else {
            None
        };
        Ok(ChatChanges { reads, members })
    }
}
