//! `messages`: the history, with gap-free per-chat sequence numbers.

use super::{now_ms, Store};
use crate::model::{AppError, ChatId, HistoryPage, Message, MessageId, UserId};
use crate::server::{Error, Result};

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: MessageId,
    chat_id: ChatId,
    seq: i64,
    sender_id: UserId,
    sender: String,
    client_id: String,
    body: String,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let deleted = r.deleted_at.is_some();
        Message {
            id: r.id,
            chat_id: r.chat_id,
            seq: r.seq,
            sender_id: r.sender_id,
            sender: r.sender,
            client_id: r.client_id,
            // A deleted message's text never leaves the server.
            body: if deleted { String::new() } else { r.body },
            created_at: r.created_at,
            edited_at: r.edited_at,
            deleted,
        }
    }
}

/// The columns of [`MessageRow`]; a macro so `concat!` can build static SQL from it.
macro_rules! select_message {
    ($where:literal) => {
        concat!(
            "SELECT m.id, m.chat_id, m.seq, m.sender_id, u.username AS sender, m.client_id,
                m.body, m.created_at, m.edited_at, m.deleted_at
             FROM messages m JOIN users u ON u.id = m.sender_id",
            $where
        )
    };
}

/// Whether a stored message was created by this call or found as the original of a retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

impl Store {
    /// Stores a message from a member, assigning the chat's next `seq` inside the same
    /// transaction. A retry (same sender and client id) returns the original instead.
    ///
    /// The first statement writes (`UPDATE chats`), so SQLite takes the write lock up front
    /// and concurrent senders queue on the busy timeout instead of failing to upgrade.
    pub async fn insert_message(
        &self,
        chat: ChatId,
        sender: UserId,
        client_id: &str,
        body: &str,
    ) -> Result<(Message, Inserted)> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let seq: Option<(i64,)> = sqlx::query_as(
            "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ?
             WHERE id = ? AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ? AND user_id = ?)
             RETURNING last_seq",
        )
        .bind(now)
        .bind(chat)
        .bind(chat)
        .bind(sender)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((seq,)) = seq else {
            return Err(AppError::chat_not_found().into());
        };
        let id: Option<(MessageId,)> = sqlx::query_as(
            "INSERT INTO messages (chat_id, seq, sender_id, client_id, body, created_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id",
        )
        .bind(chat)
        .bind(seq)
        .bind(sender)
        .bind(client_id)
        .bind(body)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        match id {
            Some((id,)) => {
                // The sender has read their own message.
                sqlx::query(
                    "UPDATE chat_members SET last_read_seq = ? WHERE chat_id = ? AND user_id = ?",
                )
                .bind(seq)
                .bind(chat)
                .bind(sender)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                let msg = self
                    .message(id)
                    .await?
                    .ok_or_else(|| Error::internal("message vanished"))?;
                Ok((msg, Inserted::New))
            }
            None => {
                // A retry: undo the seq bump, hand back the original.
                tx.rollback().await?;
                let original = self
                    .message_by_client_id(sender, client_id)
                    .await?
                    .ok_or_else(|| Error::internal("duplicate client id without original"))?;
                if original.chat_id != chat {
                    return Err(AppError::invalid(
                        "This client id was already used in another chat",
                    )
                    .into());
                }
                Ok((original, Inserted::Duplicate))
            }
        }
    }

    pub async fn message(&self, id: MessageId) -> Result<Option<Message>> {
        let row = sqlx::query_as::<_, MessageRow>(select_message!(" WHERE m.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &str,
    ) -> Result<Option<Message>> {
        let row = sqlx::query_as::<_, MessageRow>(select_message!(
            " WHERE m.sender_id = ? AND m.client_id = ?"
        ))
        .bind(sender)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    /// Up to `limit` messages before `before` (newest page when `None`), oldest first.
    /// Keyset pagination on (chat_id, seq): no OFFSET, constant cost per page.
    pub async fn history(
        &self,
        chat: ChatId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<HistoryPage> {
        let before = before.unwrap_or(i64::MAX);
        let mut rows = sqlx::query_as::<_, MessageRow>(select_message!(
            " WHERE m.chat_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?"
        ))
        .bind(chat)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        rows.reverse();
        Ok(HistoryPage {
            messages: rows.into_iter().map(Into::into).collect(),
            has_more,
        })
    }

    /// Messages after `after` in seq order (for catching up), at most `limit`.
    pub async fn messages_after(
        &self,
        chat: ChatId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query_as::<_, MessageRow>(select_message!(
            " WHERE m.chat_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
        ))
        .bind(chat)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Replaces the text of the author's own, not deleted message.
    pub async fn edit_message(&self, id: MessageId, author: UserId, body: &str) -> Result<Message> {
        let res = sqlx::query(
            "UPDATE messages SET body = ?, edited_at = ? WHERE id = ? AND sender_id = ? AND deleted_at IS NULL",
        )
        .bind(body)
        .bind(now_ms())
        .bind(id)
        .bind(author)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(AppError::NotFound("Message".into()).into());
        }
        self.message(id)
            .await?
            .ok_or_else(|| AppError::NotFound("Message".into()).into())
    }

    /// Marks the author's own message deleted and forgets its text.
    pub async fn delete_message(&self, id: MessageId, author: UserId) -> Result<Message> {
        let res = sqlx::query(
            "UPDATE messages SET body = '', deleted_at = ? WHERE id = ? AND sender_id = ? AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(author)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(AppError::NotFound("Message".into()).into());
        }
        self.message(id)
            .await?
            .ok_or_else(|| AppError::NotFound("Message".into()).into())
    }
}
