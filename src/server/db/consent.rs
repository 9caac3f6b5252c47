//! `blocks`, `group_invitations`, `users.group_adds` and `chat_members.accepted`: the
//! consent rules' storage (issue 29; the rules are in `domain::consent` and
//! `domain::chats`).

use super::write_tx::BeginWrite;
use super::{now_ms, Invalidation, Store};
use crate::model::{Blocked, ChatId, GroupAdds, Invitation, UserId};
use crate::server::base::error::Result;

/// Pending invitations one person can have, in all and from one inviter.
pub const INVITATIONS_MAX: i64 = 100;
pub const INVITATIONS_PER_INVITER: i64 = 5;

/// The most people one account can block (bounds the account page and the table).
pub const MAX_BLOCKS: i64 = 1000;

/// "Neither `$1` nor `other.user_id` blocked the other" (binds: $1 the user).
macro_rules! not_blocked {
    () => {
        " NOT EXISTS (SELECT 1 FROM blocks b
                      WHERE (b.blocker_id = $1 AND b.blocked_id = other.user_id)
                         OR (b.blocker_id = other.user_id AND b.blocked_id = $1))"
    };
}

/// (Macros reach users.rs through `#[macro_use]` on this module.)
///
/// Who sees whose presence: `$1`'s accepted memberships joined with the other accepted
/// members of the same chats, no block either way (binds: $1 the user). Shared by
/// [`Store::contacts_last_seen`] (users.rs) and [`Store::presence_peers`].
macro_rules! presence_peers_from {
    () => {
        concat!(
            " FROM chat_members mine
              JOIN chat_members other ON other.chat_id = mine.chat_id
                                     AND other.user_id != mine.user_id AND other.accepted
              JOIN users u ON u.id = other.user_id
              WHERE mine.user_id = $1 AND mine.accepted AND ",
            not_blocked!()
        )
    };
}

/// What a send needs to know about the sender's membership (see [`Store::send_check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendCheck {
    /// The sender accepted the chat already.
    pub accepted: bool,
    /// A direct chat whose other member the sender blocked.
    pub i_blocked: bool,
    /// A direct chat whose other member blocked the sender.
    pub they_blocked: bool,
}

impl Store {
    pub async fn group_adds(&self, user: UserId) -> Result<GroupAdds> {
        let row: Option<(String,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT group_adds FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(p)
                .await
        })?;
        Ok(row
            .and_then(|(s,)| GroupAdds::parse(&s))
            .unwrap_or_default())
    }

    pub async fn set_group_adds(&self, user: UserId, adds: GroupAdds) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE users SET group_adds = $1 WHERE id = $2")
                .bind(adds.as_str())
                .bind(user)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// `blocker` blocks `blocked` (again: nothing changes). Their pending invitations
    /// from `blocked` go. `false`: `blocker` has [`MAX_BLOCKS`] blocks already.
    pub async fn block(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        let done: bool = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM blocks WHERE blocker_id = $1")
                    .bind(blocker)
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= MAX_BLOCKS {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(blocker)
            .bind(blocked)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            // Either way: an invitation must not outlive a block between the two.
            sqlx::query(
                "DELETE FROM group_invitations
                 WHERE (user_id = $1 AND inviter_id = $2) OR (user_id = $2 AND inviter_id = $1)",
            )
                .bind(blocker)
                .bind(blocked)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, crate::server::base::error::Error>(true)
        })?;
        if done {
            // Sends that were allowed may not be any more (here and on every node).
            self.invalidate(Invalidation::Consent);
        }
        Ok(done)
    }

    /// Whether there was a block to take back.
    pub async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(blocker)
                .bind(blocked)
                .execute(p)
                .await?
                .rows_affected()
        });
        self.invalidate(Invalidation::Consent);
        Ok(n > 0)
    }

    /// Whom `blocker` blocked, by name.
    pub async fn blocked_by(&self, blocker: UserId) -> Result<Vec<Blocked>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as::<_, Blocked>(
                "SELECT u.id AS user_id, u.username FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.blocker_id = $1 ORDER BY u.username",
            )
            .bind(blocker)
            .fetch_all(p)
            .await
        })?)
    }

    /// (`a` blocked `b`, `b` blocked `a`).
    pub async fn blocks_between(&self, a: UserId, b: UserId) -> Result<(bool, bool)> {
        let rows: Vec<(UserId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT blocker_id FROM blocks
                 WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)",
            )
            .bind(a)
            .bind(b)
            .fetch_all(p)
            .await
        })?;
        Ok((
            rows.iter().any(|(u,)| *u == a),
            rows.iter().any(|(u,)| *u == b),
        ))
    }

    /// Whether `user` accepted a chat that `other` is in too.
    pub async fn shares_accepted_chat(&self, user: UserId, other: UserId) -> Result<bool> {
        let row: Option<(i32,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT 1 FROM chat_members mine
                 JOIN chat_members other ON other.chat_id = mine.chat_id AND other.user_id = $2
                 WHERE mine.user_id = $1 AND mine.accepted LIMIT 1",
            )
            .bind(user)
            .bind(other)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.is_some())
    }

    /// Invites `user` to the group `chat` (again: nothing changes).
    /// Records nothing beyond [`INVITATIONS_PER_INVITER`] pending invitations from one
    /// inviter to `user`, or [`INVITATIONS_MAX`] in all: one stranger cannot bury
    /// someone in invitations.
    pub async fn invite(&self, chat: ChatId, user: UserId, inviter: UserId) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO group_invitations (chat_id, user_id, inviter_id, created_at)
                 SELECT $1, $2, $3, $4
                 WHERE (SELECT COUNT(*) FROM group_invitations WHERE user_id = $2) < $5
                   AND (SELECT COUNT(*) FROM group_invitations
                         WHERE user_id = $2 AND inviter_id = $3) < $6
                 ON CONFLICT DO NOTHING",
            )
            .bind(chat)
            .bind(user)
            .bind(inviter)
            .bind(now_ms())
            .bind(INVITATIONS_MAX)
            .bind(INVITATIONS_PER_INVITER)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// `user`'s pending invitations, newest first.
    pub async fn invitations(&self, user: UserId) -> Result<Vec<Invitation>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as::<_, Invitation>(
                "SELECT i.chat_id, COALESCE(c.title, '') AS title, u.username AS inviter, i.created_at
                 FROM group_invitations i
                 JOIN chats c ON c.id = i.chat_id JOIN users u ON u.id = i.inviter_id
                 WHERE i.user_id = $1 ORDER BY i.created_at DESC, i.chat_id DESC LIMIT 100",
            )
            .bind(user)
            .fetch_all(p)
            .await
        })?)
    }

    /// Whether `user` is invited to `chat`.
    pub async fn is_invited(&self, chat: ChatId, user: UserId) -> Result<bool> {
        let row: Option<(i32,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT 1 FROM group_invitations WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .fetch_optional(p)
                .await
        })?;
        Ok(row.is_some())
    }

    /// Removes the invitation; whether there was one.
    pub async fn drop_invitation(&self, chat: ChatId, user: UserId) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM group_invitations WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Marks `user`'s membership of `chat` accepted; whether it was not before.
    pub async fn accept_membership(&self, chat: ChatId, user: UserId) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE chat_members SET accepted = TRUE
                 WHERE chat_id = $1 AND user_id = $2 AND NOT accepted",
            )
            .bind(chat)
            .bind(user)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n > 0)
    }

    /// The sender's membership as a send sees it (`None`: not a member). One indexed
    /// read: the membership row, and for a direct chat the block rows of the pair.
    pub async fn send_check(&self, chat: ChatId, user: UserId) -> Result<Option<SendCheck>> {
        let allowed = SendCheck {
            accepted: true,
            i_blocked: false,
            they_blocked: false,
        };
        if self.sendable.get(&(chat, user)).is_some() {
            return Ok(Some(allowed));
        }
        let generation = self.sendable.generation();
        let row: Option<(bool, bool, bool)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT m.accepted,
                        EXISTS (SELECT 1 FROM chat_members o JOIN blocks b
                                  ON b.blocker_id = $2 AND b.blocked_id = o.user_id
                                WHERE c.kind = 'direct' AND o.chat_id = c.id AND o.user_id != $2),
                        EXISTS (SELECT 1 FROM chat_members o JOIN blocks b
                                  ON b.blocker_id = o.user_id AND b.blocked_id = $2
                                WHERE c.kind = 'direct' AND o.chat_id = c.id AND o.user_id != $2)
                 FROM chat_members m JOIN chats c ON c.id = m.chat_id
                 WHERE m.chat_id = $1 AND m.user_id = $2",
            )
            .bind(chat)
            .bind(user)
            .fetch_optional(p)
            .await
        })?;
        let check = row.map(|(accepted, i_blocked, they_blocked)| SendCheck {
            accepted,
            i_blocked,
            they_blocked,
        });
        if check == Some(allowed) {
            self.sendable.fill((chat, user), (), generation);
        }
        Ok(check)
    }

    /// The members of `chat` who see `user`'s presence and whose `user` sees (both
    /// accepted `chat`, no block either way), with their last-seen time.
    pub async fn presence_peers(
        &self,
        user: UserId,
        chat: ChatId,
    ) -> Result<Vec<(UserId, Option<i64>)>> {
        Ok(on_pool!(&self.pool, p => {
            sqlx::query_as(concat!(
                "SELECT u.id, u.last_seen_at",
                presence_peers_from!(),
                " AND mine.chat_id = $2"
            ))
            .bind(user)
            .bind(chat)
            .fetch_all(p)
            .await
        })?)
    }

    /// Whether `a` and `b` see each other's presence.
    pub async fn sees_presence(&self, a: UserId, b: UserId) -> Result<bool> {
        let row: Option<(i32,)> = on_pool!(&self.pool, p => {
            sqlx::query_as(concat!(
                "SELECT 1",
                presence_peers_from!(),
                " AND other.user_id = $2 LIMIT 1"
            ))
            .bind(a)
            .bind(b)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.is_some())
    }

    pub async fn last_seen(&self, user: UserId) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT last_seen_at FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(p)
                .await
        })?;
        Ok(row.and_then(|r| r.0))
    }
}

impl Store {
    /// Whether `user` names an account that still exists.
    pub async fn user_exists(&self, user: UserId) -> Result<bool> {
        let row: Option<(i32,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL")
                .bind(user)
                .fetch_optional(p)
                .await
        })?;
        Ok(row.is_some())
    }
}
