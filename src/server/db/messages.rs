//! `messages`: the history, with gap-free per-chat sequence numbers.

use super::write_tx::BeginWrite;
use super::{mentions, now_ms, Pool, Store};
use crate::model::{snippet, AppError, ChatId, HistoryPage, Message, MessageId, ReplyTo, UserId};
use crate::server::base::error::{Error, Result};

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
    reply_to: Option<MessageId>,
    reply_seq: Option<i64>,
    reply_sender: Option<String>,
    reply_body: Option<String>,
    reply_deleted_at: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let deleted = r.deleted_at.is_some();
        let reply_to = match (r.reply_to, r.reply_seq, r.reply_sender) {
            (Some(id), Some(seq), Some(sender)) => {
                let gone = r.reply_deleted_at.is_some();
                Some(Box::new(ReplyTo {
                    id,
                    seq,
                    sender,
                    snippet: if gone {
                        String::new()
                    } else {
                        snippet(r.reply_body.as_deref().unwrap_or(""))
                    },
                    deleted: gone,
                }))
            }
            _ => None,
        };
        Message {
            id: r.id,
            chat_id: r.chat_id,
            seq: r.seq,
            sender_id: r.sender_id,
            sender: r.sender,
            client_id: r.client_id,
            // A deleted message's text never leaves the server.
            formatted: if deleted {
                None
            } else {
                crate::model::markup::formatted(&r.body)
            },
            body: if deleted { String::new() } else { r.body },
            created_at: r.created_at,
            edited_at: r.edited_at,
            deleted,
            reply_to,
            broadcast: None,
            reactions: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// The columns of [`MessageRow`] (`m` is `messages`, `u` the sender in `users`); macros
/// so `concat!` can build static SQL from them.
macro_rules! message_columns {
    () => {
        "SELECT m.id, m.chat_id, m.seq, m.sender_id, COALESCE(NULLIF(u.display_name, ''), u.username) AS sender, m.client_id,
            m.body, m.created_at, m.edited_at, m.deleted_at, m.reply_to, r.seq AS reply_seq,
            COALESCE(NULLIF(ru.display_name, ''), ru.username) AS reply_sender, r.body AS reply_body, r.deleted_at AS reply_deleted_at"
    };
}
/// The original a message answers (`r`) and its author (`ru`), for [`message_columns`].
macro_rules! reply_joins {
    () => {
        " LEFT JOIN messages r ON r.id = m.reply_to LEFT JOIN users ru ON ru.id = r.sender_id"
    };
}
macro_rules! select_message {
    ($where:literal) => {
        concat!(
            message_columns!(),
            " FROM messages m JOIN users u ON u.id = m.sender_id",
            reply_joins!(),
            $where
        )
    };
}

/// `sql` with `LIMIT n` written into its text.
///
/// A bound `LIMIT ?` makes SQLite re-prepare the statement every time it is bound
/// again (the planner reads the bound value, then marks the statement expired on any
/// new binding; `sqlite3ExprIsInteger`), which cost ~5% of a page's CPU. With the
/// number in the text, sqlx's statement cache keeps one prepared statement per limit,
/// and the limits are the code's own constants, never user input (hence
/// `AssertSqlSafe`).
fn with_limit(sql: &str, n: i64) -> String {
    format!("{sql} LIMIT {}", n.max(0))
}

/// The `WHERE` of an author's change to a message (binds: $1 message id, $2 author): their
/// own message, not deleted, in a chat they are a member of now.
macro_rules! author_still_member {
    () => {
        " WHERE id = $1 AND sender_id = $2 AND deleted_at IS NULL
           AND EXISTS (SELECT 1 FROM chat_members cm
                       WHERE cm.chat_id = messages.chat_id AND cm.user_id = messages.sender_id)"
    };
}

// After the macros above, which they use.
pub(super) mod batch;
mod batch_pg;

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
    /// The original it answers, checked to be in the same chat.
    pub reply: Option<ReplyTo>,
    /// Its files, checked to be the sender's unsent uploads to this chat
    /// (`Store::files_to_send`); the batch that stores it attaches them.
    pub files: Vec<crate::model::FileInfo>,
    /// An `@all` / `@here` the sender may make now (`domain::broadcast` decided), with
    /// the names it reaches.
    pub broadcast: Option<Reach>,
}

/// Whom an `@all` / `@here` reaches: the members' names (recorded as quiet mentions).
#[derive(Clone, Debug)]
pub struct Reach {
    pub kind: crate::model::Broadcast,
    pub reach: Vec<String>,
}

/// What happened to one message of a batch: stored (or found as a retry's original), or
/// refused for a reason the sender should hear.
pub type Stored = std::result::Result<(Message, Inserted), AppError>;

impl Store {
    /// Stores a batch of messages in one transaction (group commit), in order.
    ///
    /// Each message gets its chat's next gap-free `seq`; a message whose sender is not a
    /// member is refused; a retry (same sender and client id as a stored message) gets the
    /// original back and stores nothing.
    ///
    /// A batch is first written without looking up earlier copies of its messages: most
    /// batches hold no retry (one follows a reconnect), and the unique index on
    /// (sender_id, client_id) finds one while it inserts. Such a batch is rolled back
    /// and written again, looked up. The lookup was about a third of SQLite's time per
    /// message (BENCHMARKS.md, seventh pass).
    ///
    /// SQLite: two round trips on the committer's own connection (`batch.rs`). PostgreSQL:
    /// one transaction on a pooled connection, the chats' rows locked for their seqs
    /// (`batch_pg.rs`). Both share the plan.
    pub async fn insert_messages(&self, batch: &[NewMessage]) -> Result<Vec<Stored>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        match &self.pool {
            Pool::Sqlite(pool) => self.insert_sqlite(pool, batch).await,
            Pool::Postgres(pool) => batch_pg::insert_batch(pool, batch).await,
        }
    }

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
            reply: None,
            files: Vec::new(),
            broadcast: None,
        };
        Ok(self.insert_one(&one).await??)
    }

    /// Stores one message as a batch of its own: a database failure is the outer error,
    /// a refusal (not a member, client id reused) the inner one.
    pub async fn insert_one(&self, message: &NewMessage) -> Result<Stored> {
        self.insert_messages(std::slice::from_ref(message))
            .await?
            .pop()
            .ok_or_else(|| Error::internal("empty batch result"))
    }

    /// Whether `sender` has a stored message with `client_id` (a retry's original).
    pub async fn has_sent(&self, sender: UserId, client_id: &str) -> Result<bool> {
        // `id`, not `SELECT 1`: PostgreSQL's literal is an INT4, which sqlx will not
        // read as an i64.
        let found: Option<(i64,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT id FROM messages WHERE sender_id = $1 AND client_id = $2 LIMIT 1")
                .bind(sender)
                .bind(client_id)
                .fetch_optional(p)
                .await?
        });
        Ok(found.is_some())
    }

    pub async fn message(&self, id: MessageId) -> Result<Option<Message>> {
        let row = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, MessageRow>(select_message!(" WHERE m.id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })?;
        let mut one: Vec<Message> = row.into_iter().map(Into::into).collect();
        self.attach_reactions(&mut one).await?;
        self.attach_files(&mut one).await?;
        Ok(one.pop())
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
        let sql = with_limit(
            select_message!(" WHERE m.chat_id = $1 AND m.seq < $2 ORDER BY m.seq DESC"),
            limit + 1,
        );
        let mut rows = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(chat)
                .bind(before)
                .fetch_all(p)
                .await
        })?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        rows.reverse();
        let mut messages: Vec<Message> = rows.into_iter().map(Into::into).collect();
        self.attach_reactions(&mut messages).await?;
        self.attach_files(&mut messages).await?;
        Ok(HistoryPage {
            messages,
            has_more,
            has_newer: false,
        })
    }

    /// Messages after `after` in seq order (for catching up), at most `limit`.
    pub async fn messages_after(
        &self,
        chat: ChatId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = with_limit(
            select_message!(" WHERE m.chat_id = $1 AND m.seq > $2 ORDER BY m.seq"),
            limit,
        );
        let rows = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(chat)
                .bind(after)
                .fetch_all(p)
                .await
        })?;
        let mut messages: Vec<Message> = rows.into_iter().map(Into::into).collect();
        self.attach_reactions(&mut messages).await?;
        self.attach_files(&mut messages).await?;
        Ok(messages)
    }

    /// Replaces the text of the author's own, not deleted message, in a chat the author
    /// is still a member of (someone removed from a group no longer writes there).
    /// Returns the message and the chat's change number the edit took.
    pub async fn edit_message(
        &self,
        id: MessageId,
        author: UserId,
        body: &str,
    ) -> Result<(Message, i64)> {
        self.change_message(id, author, Some(body)).await
    }

    /// Marks the author's own message deleted and forgets its text (the author still a
    /// member, as for [`Store::edit_message`]).
    pub async fn delete_message(&self, id: MessageId, author: UserId) -> Result<(Message, i64)> {
        self.change_message(id, author, None).await
    }

    /// An edit (`Some(body)`) or a delete (`None`), with its change number: the chat's
    /// counter moves first (its row lock orders concurrent changes), then the message.
    async fn change_message(
        &self,
        id: MessageId,
        author: UserId,
        body: Option<&str>,
    ) -> Result<(Message, i64)> {
        let now = now_ms();
        // Parsed before the transaction, so the parser never runs under the write lock.
        let names = body.map(|b| mentions::named(b, None)).unwrap_or_default();
        let record = mentions::insert_sql(&self.pool);
        let change = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let bumped: Option<(i64,)> = sqlx::query_as(concat!(
                "UPDATE chats SET last_change = last_change + 1
                 WHERE id = (SELECT chat_id FROM messages",
                author_still_member!(),
                ") RETURNING last_change"
            ))
            .bind(id)
            .bind(author)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((change,)) = bumped else {
                return Err(AppError::NotFound("Message".into()).into());
            };
            // The same binds for both: $1 id, $2 time, $3 change, then $4 body.
            let sql = match body {
                Some(_) => "UPDATE messages SET body = $4, edited_at = $2, change_seq = $3
                            WHERE id = $1 RETURNING chat_id, seq",
                None => "UPDATE messages SET body = '', deleted_at = $2, change_seq = $3
                         WHERE id = $1 RETURNING chat_id, seq",
            };
            let mut query = sqlx::query_as(sql).bind(id).bind(now).bind(change);
            if let Some(body) = body {
                query = query.bind(body);
            }
            let (chat, seq): (ChatId, i64) = query.fetch_one(&mut *tx).await?;
            // A deleted message's files go with its text (the sweeper removes the bytes).
            if body.is_none() {
                sqlx::query("UPDATE files SET state = $3 WHERE chat_id = $1 AND message_id = $2")
                    .bind(chat)
                    .bind(id)
                    .bind(super::files::DOOMED)
                    .execute(&mut *tx)
                    .await?;
            }
            // What it mentions now: nothing once deleted, the new text's names once edited
            // (an `@all` notified once, when sent: an edit does not notify the group again).
            sqlx::query(mentions::FORGET_SQL)
                .bind(chat)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            if !names.is_empty() {
                let rows: Vec<_> = mentions::rows(chat, seq, author, &names).collect();
                sqlx::query(record)
                    .bind(serde_json::to_string(&rows)?)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, crate::server::base::error::Error>(change)
        })?;
        let message = self
            .message(id)
            .await?
            .ok_or_else(|| AppError::NotFound("Message".into()))?;
        Ok((message, change))
    }

    /// Messages of `chat` up to `upto_seq` edited or deleted after change `after`, in
    /// change order, at most `limit` (for resume: newer messages are replayed whole).
    pub async fn changed_messages(
        &self,
        chat: ChatId,
        after: i64,
        upto_seq: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let sql = with_limit(
            select_message!(
                " WHERE m.chat_id = $1 AND m.change_seq > $2 AND m.seq <= $3 ORDER BY m.change_seq"
            ),
            limit,
        );
        let rows = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(chat)
                .bind(after)
                .bind(upto_seq)
                .fetch_all(p)
                .await
        })?;
        let mut messages: Vec<Message> = rows.into_iter().map(Into::into).collect();
        self.attach_reactions(&mut messages).await?;
        self.attach_files(&mut messages).await?;
        Ok(messages)
    }
}
