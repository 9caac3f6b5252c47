//! `messages`: the history, with gap-free per-chat sequence numbers.

use super::{now_ms, Store};
use crate::model::{AppError, ChatId, HistoryPage, Message, MessageId, UserId};
use crate::server::{Error, Result};
use sqlx::{QueryBuilder, Sqlite};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// A validated message waiting to be stored.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub chat: ChatId,
    pub sender: UserId,
    pub client_id: String,
    pub body: String,
}

/// What happened to one message of a batch: stored (or found as a retry's original), or
/// refused for a reason the sender should hear.
pub type Stored = std::result::Result<(Message, Inserted), AppError>;

const CLIENT_ID_REUSED: &str = "This client id was already used in another chat";

/// Rows per multi-row INSERT: 7 variables each stays far below SQLite's 32 766 limit.
const INSERT_CHUNK: usize = 1000;

/// How each message of a batch is handled, decided before anything is written.
enum Plan {
    Refused(AppError),
    Retry(Message),
    /// Same sender and client id as an earlier message of this batch.
    SameAs(usize),
    New {
        sender_name: String,
        seq: i64,
        id: MessageId,
    },
}

impl Store {
    /// Stores one message (see [`Store::insert_messages`]).
    pub async fn insert_message(
        &self,
        chat: ChatId,
        sender: UserId,
        client_id: &str,
        body: &str,
    ) -> Result<(Message, Inserted)> {
        let one = NewMessage {
            chat,
            sender,
            client_id: client_id.to_string(),
            body: body.to_string(),
        };
        let mut out = self.insert_messages(std::slice::from_ref(&one)).await?;
        Ok(out
            .pop()
            .ok_or_else(|| Error::internal("empty batch result"))??)
    }

    /// Stores a batch of messages in one transaction (group commit), in order.
    ///
    /// Each message gets its chat's next gap-free `seq`; a message whose sender is not a
    /// member is refused; a retry (same sender and client id as a stored message) gets the
    /// original back and stores nothing. The cost is a fixed handful of statements per
    /// batch (one membership query, one retry lookup, one `UPDATE chats` per chat, one
    /// multi-row INSERT, one read-pointer update), not per message.
    ///
    /// `BEGIN IMMEDIATE` takes SQLite's write lock up front, so no other writer can slip
    /// in between the checks and the writes.
    pub async fn insert_messages(&self, batch: &[NewMessage]) -> Result<Vec<Stored>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;

        // Which senders are members (with their names, for the stored message).
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT m.chat_id, m.user_id, u.username FROM chat_members m
             JOIN users u ON u.id = m.user_id JOIN (",
        );
        let pairs: BTreeSet<(ChatId, UserId)> = batch.iter().map(|m| (m.chat, m.sender)).collect();
        q.push_values(&pairs, |mut b, (chat, user)| {
            b.push_bind(*chat).push_bind(*user);
        });
        // A join on VALUES, not `(a, b) IN (VALUES …)`: SQLite scans a whole index for
        // the latter and searches it once per pair for the former.
        q.push(") AS v ON m.chat_id = v.column1 AND m.user_id = v.column2");
        let members: HashMap<(ChatId, UserId), String> = q
            .build_query_as::<(ChatId, UserId, String)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(c, u, name)| ((c, u), name))
            .collect();

        // Retries of messages stored earlier.
        let mut q = QueryBuilder::<Sqlite>::new(select_message!(" JOIN ("));
        q.push_values(batch, |mut b, m| {
            b.push_bind(m.sender).push_bind(m.client_id.clone());
        });
        q.push(") AS v ON m.sender_id = v.column1 AND m.client_id = v.column2");
        let originals: HashMap<(UserId, String), Message> = q
            .build_query_as::<MessageRow>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| ((r.sender_id, r.client_id.clone()), Message::from(r)))
            .collect();

        // Decide each message's fate and count the new ones per chat.
        let mut first_use: HashMap<(UserId, &str), usize> = HashMap::new();
        let mut per_chat: BTreeMap<ChatId, i64> = BTreeMap::new();
        let mut plans = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let plan = if let Some(name) = members.get(&(m.chat, m.sender)) {
                if let Some(original) = originals.get(&(m.sender, m.client_id.clone())) {
                    if original.chat_id == m.chat {
                        Plan::Retry(original.clone())
                    } else {
                        Plan::Refused(AppError::invalid(CLIENT_ID_REUSED))
                    }
                } else if let Some(&j) = first_use.get(&(m.sender, m.client_id.as_str())) {
                    if batch[j].chat == m.chat {
                        Plan::SameAs(j)
                    } else {
                        Plan::Refused(AppError::invalid(CLIENT_ID_REUSED))
                    }
                } else {
                    first_use.insert((m.sender, m.client_id.as_str()), i);
                    *per_chat.entry(m.chat).or_default() += 1;
                    Plan::New {
                        sender_name: name.clone(),
                        seq: 0,
                        id: MessageId(0),
                    }
                }
            } else {
                Plan::Refused(AppError::chat_not_found())
            };
            plans.push(plan);
        }

        // Reserve each chat's seq range with one statement (no read-modify-write).
        let mut next_seq: HashMap<ChatId, i64> = HashMap::new();
        for (&chat, &count) in &per_chat {
            let (last,): (i64,) = sqlx::query_as(
                "UPDATE chats SET last_seq = last_seq + ?, last_activity_at = ? WHERE id = ?
                 RETURNING last_seq",
            )
            .bind(count)
            .bind(now)
            .bind(chat)
            .fetch_one(&mut *tx)
            .await?;
            next_seq.insert(chat, last - count + 1);
        }
        // Ids are assigned here too (the write lock is held, so nobody else inserts):
        // nothing has to be streamed back from the database.
        let (mut next_id,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM messages")
            .fetch_one(&mut *tx)
            .await?;
        let mut read_upto: BTreeMap<(ChatId, UserId), i64> = BTreeMap::new();
        let mut fresh: Vec<(&NewMessage, i64, MessageId)> = Vec::new();
        for (m, plan) in batch.iter().zip(plans.iter_mut()) {
            if let Plan::New { seq, id, .. } = plan {
                let next = next_seq.entry(m.chat).or_default();
                *seq = *next;
                *next += 1;
                next_id += 1;
                *id = MessageId(next_id);
                read_upto.insert((m.chat, m.sender), *seq);
                fresh.push((m, *seq, *id));
            }
        }

        // The new rows, a chunk per statement.
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO messages (id, chat_id, seq, sender_id, client_id, body, created_at) ",
            );
            q.push_values(chunk, |mut b, (m, seq, id)| {
                b.push_bind(*id)
                    .push_bind(m.chat)
                    .push_bind(*seq)
                    .push_bind(m.sender)
                    .push_bind(m.client_id.clone())
                    .push_bind(m.body.clone())
                    .push_bind(now);
            });
            q.build().execute(&mut *tx).await?;
        }

        // Senders have read their own messages.
        if !read_upto.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE chat_members SET last_read_seq = MAX(last_read_seq, v.column3) FROM (",
            );
            q.push_values(&read_upto, |mut b, ((chat, user), seq)| {
                b.push_bind(*chat).push_bind(*user).push_bind(*seq);
            });
            q.push(
                ") AS v WHERE chat_members.chat_id = v.column1 AND chat_members.user_id = v.column2",
            );
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;

        let mut out: Vec<Stored> = Vec::with_capacity(batch.len());
        for (m, plan) in batch.iter().zip(plans) {
            let stored = match plan {
                Plan::Refused(e) => Err(e),
                Plan::Retry(original) => Ok((original, Inserted::Duplicate)),
                Plan::SameAs(j) => match &out[j] {
                    Ok((first, _)) => Ok((first.clone(), Inserted::Duplicate)),
                    Err(e) => Err(e.clone()),
                },
                Plan::New {
                    sender_name,
                    seq,
                    id,
                } => Ok((
                    Message {
                        id,
                        chat_id: m.chat,
                        seq,
                        sender_id: m.sender,
                        sender: sender_name,
                        client_id: m.client_id.clone(),
                        body: m.body.clone(),
                        created_at: now,
                        edited_at: None,
                        deleted: false,
                    },
                    Inserted::New,
                )),
            };
            out.push(stored);
        }
        Ok(out)
    }

    pub async fn message(&self, id: MessageId) -> Result<Option<Message>> {
        let row = sqlx::query_as::<_, MessageRow>(select_message!(" WHERE m.id = ?"))
            .bind(id)
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
