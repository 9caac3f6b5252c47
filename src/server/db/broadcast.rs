//! `@all` / `@here` (`chats.anyone_mentions_all`, `chats.broadcast_at`): whether a
//! sender may notify a whole group now, and whom such a mention reaches.
//!
//! The permission and the per-group limit are one conditional `UPDATE`: it moves the
//! group's `broadcast_at` only when the sender may (owner, admin, or anyone when the
//! group says so) and the last one is [`BROADCAST_EVERY_MS`] old, so two nodes racing
//! cannot both notify. The expansion to members happens before the message is stored
//! (`domain::broadcast`); the batch writers record the rows (`mentions.rs`), skipping
//! the members who muted the group.

use super::Store;
use crate::model::{ChatId, UserId, BROADCAST_EVERY_MS};
use crate::server::base::error::Result;

/// The group `$1` whose `@all` turn `$2` may take at `$3` (the last one `$4` ago or
/// more): a member who owns it, is an admin, or any member when the group says so.
macro_rules! may_broadcast {
    () => {
        " WHERE id = $1 AND kind = 'group'
            AND (broadcast_at IS NULL OR broadcast_at <= $3 - $4)
            AND EXISTS (SELECT 1 FROM chat_members m
                        WHERE m.chat_id = $1 AND m.user_id = $2
                          AND (m.role = 'admin' OR chats.creator_id = $2
                               OR chats.anyone_mentions_all))"
    };
}

impl Store {
    /// Takes the group's `@all` / `@here` turn for `sender` at `now`: `false` when the
    /// chat is not a group, the sender may not, or the last one was too recent.
    /// A read decides first, so a member who may not (or a turn not yet due) costs no
    /// write: only a turn that can be taken takes SQLite's write lock.
    pub async fn claim_broadcast(&self, chat: ChatId, sender: UserId, now: i64) -> Result<bool> {
        let due: Option<(ChatId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(concat!("SELECT id FROM chats", may_broadcast!()))
                .bind(chat)
                .bind(sender)
                .bind(now)
                .bind(BROADCAST_EVERY_MS)
                .fetch_optional(p)
                .await
        })?;
        if due.is_none() {
            return Ok(false);
        }
        let row: Option<(ChatId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(concat!(
                "UPDATE chats SET broadcast_at = $3",
                may_broadcast!(),
                " RETURNING id"
            ))
            .bind(chat)
            .bind(sender)
            .bind(now)
            .bind(BROADCAST_EVERY_MS)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.is_some())
    }

    /// The active members of `chat` but `sender` who have not muted it: whom `@all`
    /// reaches (`@here`: those of them online).
    pub async fn broadcast_reach(
        &self,
        chat: ChatId,
        sender: UserId,
    ) -> Result<Vec<(UserId, String)>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT u.id, u.username FROM chat_members m JOIN users u ON u.id = m.user_id
                 WHERE m.chat_id = $1 AND m.user_id != $2 AND NOT m.muted
                   AND u.deactivated_at IS NULL",
            )
            .bind(chat)
            .bind(sender)
            .fetch_all(p)
            .await
        })?)
    }
}
