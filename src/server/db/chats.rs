//! `chats` and `chat_members`: who talks where, and how far each member has read.

use super::{now_ms, Store};
use crate::model::{AppError, ChatDetail, ChatId, ChatKind, ChatSummary, Member, Preview, UserId};
use crate::server::{Error, Result};
use std::sync::Arc;

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: ChatId,
    kind: String,
    title: Option<String>,
    other_name: Option<String>,
    last_activity_at: i64,
    last_seq: i64,
    unread: i64,
    last_sender: Option<String>,
    last_body: Option<String>,
    last_deleted: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: ChatId,
    kind: String,
    title: Option<String>,
    creator_id: Option<UserId>,
    last_seq: i64,
    last_change: i64,
}

fn kind(s: &str) -> Result<ChatKind> {
    ChatKind::parse(s).ok_or_else(|| Error::internal(format!("unknown chat kind {s:?}")))
}

/// The other member's name titles a direct chat; a group without a title lists its members.
fn display_title(kind: ChatKind, title: Option<String>, other: Option<String>) -> String {
    match (kind, title) {
        (ChatKind::Group, Some(t)) => t,
        (_, _) => other.unwrap_or_else(|| "(nobody)".into()),
    }
}

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

impl Store {
    /// The direct chat between two users, created on first use.
    pub async fn find_or_create_dm(&self, me: UserId, other: UserId) -> Result<(ChatId, bool)> {
        let key = format!("{}:{}", me.0.min(other.0), me.0.max(other.0));
        if let Some(id) = self.dm_by_key(&key).await? {
            return Ok((id, false));
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let inserted: Option<(ChatId,)> = sqlx::query_as(
            "INSERT INTO chats (kind, dm_key, creator_id, last_activity_at, created_at)
             VALUES ('direct', ?, ?, ?, ?) ON CONFLICT (dm_key) DO NOTHING RETURNING id",
        )
        .bind(&key)
        .bind(me)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id,)) = inserted else {
            // Another request created it between our look-up and insert.
            drop(tx);
            let id = self
                .dm_by_key(&key)
                .await?
                .ok_or_else(|| Error::internal("dm vanished"))?;
            return Ok((id, false));
        };
        for user in [me, other] {
            sqlx::query("INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES (?, ?, ?)")
                .bind(id)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.members.invalidate(&id);
        Ok((id, true))
    }

    async fn dm_by_key(&self, key: &str) -> Result<Option<ChatId>> {
        let row: Option<(ChatId,)> = sqlx::query_as("SELECT id FROM chats WHERE dm_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// A new group with its creator and members.
    pub async fn create_group(
        &self,
        creator: UserId,
        title: Option<&str>,
        members: &[UserId],
    ) -> Result<ChatId> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let (id,): (ChatId,) = sqlx::query_as(
            "INSERT INTO chats (kind, title, creator_id, last_activity_at, created_at)
             VALUES ('group', ?, ?, ?, ?) RETURNING id",
        )
        .bind(title)
        .bind(creator)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for user in std::iter::once(&creator).chain(members.iter().filter(|m| **m != creator)) {
            sqlx::query(
                "INSERT OR IGNORE INTO chat_members (chat_id, user_id, joined_at) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(*user)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.members.invalidate(&id);
        Ok(id)
    }

    /// The user's chats, most recently active first, with preview and unread count.
    pub async fn list_chats(&self, user: UserId) -> Result<Vec<ChatSummary>> {
        self.summaries(user, None).await
    }

    /// One chat's list entry, as `user` sees it (`None` for a non-member).
    pub async fn chat_summary(&self, chat: ChatId, user: UserId) -> Result<Option<ChatSummary>> {
        Ok(self.summaries(user, Some(chat)).await?.pop())
    }

    async fn summaries(&self, user: UserId, only: Option<ChatId>) -> Result<Vec<ChatSummary>> {
        let rows = sqlx::query_as::<_, SummaryRow>(
            "SELECT c.id, c.kind, c.title, c.last_activity_at, c.last_seq,
                (SELECT u.username FROM chat_members o JOIN users u ON u.id = o.user_id
                  WHERE o.chat_id = c.id AND o.user_id != m.user_id
                  ORDER BY o.joined_at, o.user_id LIMIT 1) AS other_name,
                (SELECT COUNT(*) FROM messages x
                  WHERE x.chat_id = c.id AND x.seq > m.last_read_seq
                    AND x.sender_id != m.user_id AND x.deleted_at IS NULL) AS unread,
                lu.username AS last_sender,
                lm.body AS last_body,
                (lm.deleted_at IS NOT NULL) AS last_deleted
             FROM chat_members m
             JOIN chats c ON c.id = m.chat_id
             LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq
             LEFT JOIN users lu ON lu.id = lm.sender_id
             WHERE m.user_id = ?1 AND (?2 IS NULL OR c.id = ?2)
             ORDER BY c.last_activity_at DESC, c.id DESC",
        )
        .bind(user)
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let k = kind(&r.kind)?;
                let deleted = r.last_deleted.unwrap_or(false);
                Ok(ChatSummary {
                    id: r.id,
                    kind: k,
                    title: display_title(k, r.title, r.other_name),
                    last_activity_at: r.last_activity_at,
                    last_seq: r.last_seq,
                    unread: r.unread,
                    preview: r.last_sender.map(|sender| Preview {
                        sender,
                        body: if deleted {
                            String::new()
                        } else {
                            r.last_body.unwrap_or_default()
                        },
                        deleted,
                    }),
                })
            })
            .collect()
    }

    /// The members' ids, for fan-out (from memory after the first call; see
    /// `db::cache`).
    pub async fn member_ids(&self, chat: ChatId) -> Result<Arc<[UserId]>> {
        if let Some(ids) = self.members.get(&chat) {
            return Ok(ids);
        }
        let generation = self.members.generation();
        let rows: Vec<(UserId,)> =
            sqlx::query_as("SELECT user_id FROM chat_members WHERE chat_id = ?")
                .bind(chat)
                .fetch_all(&self.pool)
                .await?;
        let ids: Arc<[UserId]> = rows.into_iter().map(|r| r.0).collect();
        if !ids.is_empty() {
            self.members.fill(chat, ids.clone(), generation);
        }
        Ok(ids)
    }

    /// The chat as `user` sees it, with its members, or `None` when it does not exist or
    /// `user` is not a member: one query (chat columns on every member row), as the
    /// conversation page runs it on every view.
    pub async fn chat_for_member(&self, chat: ChatId, user: UserId) -> Result<Option<ChatDetail>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            chat: ChatRow,
            #[sqlx(flatten)]
            member: Member,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT c.id, c.kind, c.title, c.creator_id, c.last_seq, c.last_change,
                    m.user_id, u.username, m.last_read_seq
             FROM chats c JOIN chat_members m ON m.chat_id = c.id JOIN users u ON u.id = m.user_id
             WHERE c.id = ?
               AND EXISTS (SELECT 1 FROM chat_members me WHERE me.chat_id = c.id AND me.user_id = ?)
             ORDER BY m.joined_at, u.username",
        )
        .bind(chat)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows.into_iter();
        let Some(Row { chat: row, member }) = rows.next() else {
            return Ok(None);
        };
        let members: Vec<Member> = std::iter::once(member)
            .chain(rows.map(|r| r.member))
            .collect();
        let k = kind(&row.kind)?;
        let other = members
            .iter()
            .find(|m| m.user_id != user)
            .map(|m| m.username.clone());
        Ok(Some(ChatDetail {
            id: row.id,
            kind: k,
            title: display_title(k, row.title, other),
            creator_id: row.creator_id,
            members,
            last_seq: row.last_seq,
            last_change: row.last_change,
        }))
    }

    pub async fn members(&self, chat: ChatId) -> Result<Vec<Member>> {
        Ok(sqlx::query_as::<_, Member>(
            "SELECT m.user_id, u.username, m.last_read_seq FROM chat_members m
             JOIN users u ON u.id = m.user_id WHERE m.chat_id = ? ORDER BY m.joined_at, u.username",
        )
        .bind(chat)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn is_member(&self, chat: ChatId, user: UserId) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM chat_members WHERE chat_id = ? AND user_id = ?")
                .bind(chat)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Adds a member to a group of fewer than `max` members. The size check and the
    /// insert are one statement, so concurrent adds cannot take a group past `max`.
    pub async fn add_member(&self, chat: ChatId, user: UserId, max: usize) -> Result<Added> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "INSERT INTO chat_members (chat_id, user_id, joined_at, last_read_seq)
             SELECT id, ?, ?, 0 FROM chats
             WHERE id = ? AND kind = 'group'
               AND (SELECT COUNT(*) FROM chat_members WHERE chat_id = ?) < ?
             ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(now_ms())
        .bind(chat)
        .bind(chat)
        .bind(max as i64)
        .execute(&mut *tx)
        .await?;
        let outcome = if res.rows_affected() > 0 {
            Added::Added(members_changed(&mut tx, chat).await?)
        } else if self.is_member(chat, user).await? {
            Added::AlreadyMember
        } else {
            Added::Full
        };
        tx.commit().await?;
        self.members.invalidate(&chat);
        Ok(outcome)
    }

    /// Removes a member; returns the change number it took, or `None` when they were
    /// not a member.
    pub async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?")
            .bind(chat)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let change = if res.rows_affected() > 0 {
            Some(members_changed(&mut tx, chat).await?)
        } else {
            None
        };
        tx.commit().await?;
        self.members.invalidate(&chat);
        Ok(change)
    }

    /// Moves the member's read pointer forward (never back, never past the end).
    /// Returns the pointer after the update and, when it moved, the change number the
    /// move took (only a move is news to the other members); a non-member is
    /// [`AppError::NotFound`].
    pub async fn mark_read(
        &self,
        chat: ChatId,
        user: UserId,
        seq: i64,
    ) -> Result<(i64, Option<i64>)> {
        let mut tx = self.pool.begin().await?;
        let moved: Option<(i64,)> = sqlx::query_as(
            "UPDATE chat_members
             SET last_read_seq = MIN(?, (SELECT last_seq FROM chats WHERE id = ?))
             WHERE chat_id = ? AND user_id = ?
               AND last_read_seq < MIN(?, (SELECT last_seq FROM chats WHERE id = ?))
             RETURNING last_read_seq",
        )
        .bind(seq)
        .bind(chat)
        .bind(chat)
        .bind(user)
        .bind(seq)
        .bind(chat)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((now,)) = moved {
            let change = next_change(&mut tx, chat).await?;
            sqlx::query(
                "UPDATE chat_members SET read_change = ? WHERE chat_id = ? AND user_id = ?",
            )
            .bind(change)
            .bind(chat)
            .bind(user)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok((now, Some(change)));
        }
        drop(tx);
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT last_read_seq FROM chat_members WHERE chat_id = ? AND user_id = ?",
        )
        .bind(chat)
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| (r.0, None))
            .ok_or_else(|| AppError::chat_not_found().into())
    }

    /// What changed in `chat` after change `after` besides new messages: read pointers
    /// that moved, and the member list if it changed (for resume).
    pub async fn chat_changes(&self, chat: ChatId, after: i64) -> Result<ChatChanges> {
        let reads: Vec<(UserId, i64, i64)> = sqlx::query_as(
            "SELECT user_id, last_read_seq, read_change FROM chat_members
             WHERE chat_id = ? AND read_change > ? ORDER BY read_change",
        )
        .bind(chat)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        let (members_change,): (i64,) =
            sqlx::query_as("SELECT members_change FROM chats WHERE id = ?")
                .bind(chat)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or((0,));
        let members = if members_change > after {
            Some((self.members(chat).await?, members_change))
        } else {
            None
        };
        Ok(ChatChanges { reads, members })
    }
}

/// Takes the chat's next change number (the row lock orders concurrent changes).
async fn next_change(conn: &mut sqlx::SqliteConnection, chat: ChatId) -> Result<i64> {
    let (change,): (i64,) = sqlx::query_as(
        "UPDATE chats SET last_change = last_change + 1 WHERE id = ? RETURNING last_change",
    )
    .bind(chat)
    .fetch_one(conn)
    .await?;
    Ok(change)
}

/// Takes a change number for a membership change and records it as the chat's last.
async fn members_changed(conn: &mut sqlx::SqliteConnection, chat: ChatId) -> Result<i64> {
    let (change,): (i64,) = sqlx::query_as(
        "UPDATE chats SET last_change = last_change + 1, members_change = last_change + 1
         WHERE id = ? RETURNING last_change",
    )
    .bind(chat)
    .fetch_one(conn)
    .await?;
    Ok(change)
}
