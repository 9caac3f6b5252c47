//! `chat_members`: who is in each chat, how far each member has read, and the chat's
//! change numbers for those changes (see `migrations/sqlite/0003_changes.sql`).
//!
//! Every change here locks the chat's row first (by taking a change number), then
//! touches `chat_members`: one lock order for every writer (the committer's batches
//! too), so concurrent writers on PostgreSQL wait for each other instead of deadlocking.

use super::write_tx::BeginWrite;
use super::{Invalidation, Store};
use crate::model::{AppError, ChatId, Member, UserId};
use crate::server::base::error::{Error, Result};
use crate::server::db::now_ms;
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
    /// The group's own title, when `members` is given (a rename is such a change).
    pub title: Option<String>,
    /// The group's owner, when `members` is given (ownership passing is such a change).
    pub owner: Option<UserId>,
}

/// Takes the chat's next change number (the row lock it takes orders concurrent changes
/// of the chat), with its `last_seq`.
const NEXT_CHANGE: &str =
    "UPDATE chats SET last_change = last_change + 1 WHERE id = $1 RETURNING last_change, last_seq";
/// [`NEXT_CHANGE`] for a membership change: also recorded as the chat's last one.
const NEXT_MEMBERS_CHANGE: &str =
    "UPDATE chats SET last_change = last_change + 1, members_change = last_change + 1
     WHERE id = $1 RETURNING last_change, last_seq";

/// Runs `$write` (a query, given the change number and the chat's `last_seq`) in a
/// transaction that first takes a change number with `$take`, and keeps both only if
/// it changed a row. `Some((change, last_seq))`, or `None`: no such chat, or nothing
/// to change (the number is given back).
macro_rules! change_chat {
    ($store:expr, $chat:expr, $take:expr, |$change:ident, $last_seq:ident| $write:expr) => {
        on_pool!(&$store.pool, p => {
            let mut tx = p.begin_write().await?;
            let taken: Option<(i64, i64)> =
                sqlx::query_as($take).bind($chat).fetch_optional(&mut *tx).await?;
            match taken {
                None => Ok::<_, Error>(None),
                Some(($change, $last_seq)) => {
                    if $write.execute(&mut *tx).await?.rows_affected() > 0 {
                        tx.commit().await?;
                        Ok(Some(($change, $last_seq)))
                    } else {
                        tx.rollback().await?;
                        Ok(None)
                    }
                }
            }
        })
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
                "SELECT m.user_id, u.username, u.display_name, m.last_read_seq, (m.role = 'admin') AS admin
                 FROM chat_members m
                 JOIN users u ON u.id = m.user_id WHERE m.chat_id = $1
                 ORDER BY m.joined_at, u.username",
            )
            .bind(chat)
            .fetch_all(p)
            .await
        })?)
    }

    /// Renames a group, by its owner or an admin: the change number it took, or `None`
    /// when `chat` is not a group `manager` manages.
    pub async fn rename_group(
        &self,
        chat: ChatId,
        manager: UserId,
        title: &str,
    ) -> Result<Option<i64>> {
        let done = change_chat!(self, chat, NEXT_MEMBERS_CHANGE, |_change, _seq| {
            sqlx::query(
                "UPDATE chats SET title = $2 WHERE id = $1 AND kind = 'group'
                 AND (creator_id = $3 OR EXISTS (SELECT 1 FROM chat_members m
                      WHERE m.chat_id = $1 AND m.user_id = $3 AND m.role = 'admin'))",
            )
            .bind(chat)
            .bind(title)
            .bind(manager)
        })?;
        Ok(done.map(|(change, _)| change))
    }

    /// Sets a group's settings (public or not, who may mention `@all`, description), by its owner or an admin
    /// (checked by the caller): the change number, or `None` if `chat` is no group.
    pub async fn set_group_settings(
        &self,
        chat: ChatId,
        public: bool,
        anyone_mentions_all: bool,
        description: &str,
    ) -> Result<Option<i64>> {
        let done = change_chat!(self, chat, NEXT_MEMBERS_CHANGE, |_change, _seq| {
            sqlx::query(
                "UPDATE chats SET public = $2, description = $3, anyone_mentions_all = $4
                 WHERE id = $1 AND kind = 'group'",
            )
            .bind(chat)
            .bind(public)
            .bind(description)
            .bind(anyone_mentions_all)
        })?;
        Ok(done.map(|(change, _)| change))
    }

    /// A group's own title (`None` for a direct chat or an untitled group) and its
    /// owner (`creator_id`).
    pub async fn title_and_owner(&self, chat: ChatId) -> Result<(Option<String>, Option<UserId>)> {
        let row: Option<(Option<String>, Option<UserId>)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT title, creator_id FROM chats WHERE id = $1")
                .bind(chat)
                .fetch_optional(p)
                .await?
        });
        Ok(row.unwrap_or_default())
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
        let added = change_chat!(self, chat, NEXT_MEMBERS_CHANGE, |_change, _last_seq| {
            sqlx::query(
                // Accepted: the member's own setting allowed the add, or they accepted
                // an invitation (anyone else is invited instead).
                "INSERT INTO chat_members (chat_id, user_id, joined_at, last_read_seq, accepted)
                 SELECT id, $1, $2, 0, TRUE FROM chats
                 WHERE id = $3 AND kind = 'group'
                   AND (SELECT COUNT(*) FROM chat_members WHERE chat_id = $3) < $4
                 ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(now)
            .bind(chat)
            .bind(max as i64)
        })?;
        self.invalidate(Invalidation::Members(chat));
        Ok(match added {
            Some((change, _)) => Added::Added(change),
            None if self.is_member(chat, user).await? => Added::AlreadyMember,
            None => Added::Full,
        })
    }

    /// Removes a member; returns the change number it took, or `None` when they were
    /// not a member.
    pub async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<Option<i64>> {
        let removed = change_chat!(self, chat, NEXT_MEMBERS_CHANGE, |_change, _last_seq| {
            sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
        })?;
        self.invalidate(Invalidation::Members(chat));
        if removed.is_some() {
            self.pass_ownership(chat, user).await?;
        }
        Ok(removed.map(|(change, _)| change))
    }

    /// A group whose owner `left` passes to the longest-standing admin, else member (a
    /// group nobody owns could never be managed again). Idempotent: it only touches a
    /// group whose owner is gone.
    async fn pass_ownership(&self, chat: ChatId, left: UserId) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                // Someone who can act first: an active account, then an admin, then the
                // longest-standing.
                "UPDATE chats SET creator_id = (
                     SELECT m.user_id FROM chat_members m JOIN users u ON u.id = m.user_id
                     WHERE m.chat_id = $1 AND u.deleted_at IS NULL
                     ORDER BY CASE WHEN u.deactivated_at IS NULL THEN 0 ELSE 1 END,
                              CASE WHEN m.role = 'admin' THEN 0 ELSE 1 END, m.joined_at, m.user_id
                     LIMIT 1)
                 WHERE id = $1 AND kind = 'group' AND (creator_id IS NULL OR creator_id = $2)",
            )
            .bind(chat)
            .bind(left)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Whether `user` is an admin of `chat` (the owner is `creator_id`, not a role).
    pub async fn is_chat_admin(&self, chat: ChatId, user: UserId) -> Result<bool> {
        let role: Option<String> = on_pool!(&self.pool, p => {
            sqlx::query_scalar("SELECT role FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .fetch_optional(p)
                .await?
        });
        Ok(role.as_deref() == Some("admin"))
    }

    /// Makes a member an admin of the group or a plain member again; the members'
    /// change number moves (they are told). `None`: not a member.
    pub async fn set_member_role(
        &self,
        chat: ChatId,
        user: UserId,
        admin: bool,
    ) -> Result<Option<i64>> {
        let role = if admin { "admin" } else { "member" };
        let done = change_chat!(self, chat, NEXT_MEMBERS_CHANGE, |_change, _seq| {
            sqlx::query("UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .bind(role)
        })?;
        Ok(done.map(|(change, _)| change))
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
        // Never past the end: the chat's `last_seq` is read under its row lock.
        let moved = change_chat!(self, chat, NEXT_CHANGE, |change, last_seq| {
            sqlx::query(
                "UPDATE chat_members SET read_change = $1, last_read_seq = $2
                 WHERE chat_id = $3 AND user_id = $4 AND last_read_seq < $2",
            )
            .bind(change)
            .bind(seq.min(last_seq))
            .bind(chat)
            .bind(user)
        })?;
        match moved {
            Some((change, last_seq)) => Ok((seq.min(last_seq), Some(change))),
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
            let members_change: Option<(i64, Option<String>, Option<UserId>)> =
                sqlx::query_as("SELECT members_change, title, creator_id FROM chats WHERE id = $1")
                    .bind(chat)
                    .fetch_optional(p)
                    .await?;
            Ok::<_, Error>((reads, members_change.unwrap_or((0, None, None))))
        })?;
        let (members_change, title, owner) = members_change;
        let members = if members_change > after {
            Some((self.members(chat).await?, members_change))
        } else {
            None
        };
        let title = members.as_ref().and(title);
        let owner = members.as_ref().and(owner);
        Ok(ChatChanges {
            reads,
            members,
            title,
            owner,
        })
    }
}
