//! The group commit of new messages: [`Store::insert_messages`] stores a whole batch in
//! two round trips to SQLite, on the committer's own connection (see
//! `domain::commit`, its only caller besides the one-message helpers).

use super::{Inserted, MessageRow, NewMessage, Stored};
use crate::model::{AppError, ChatId, Message, MessageId, UserId};
use crate::server::base::error::Result;
use crate::server::db::{mentions, now_ms, Pool, Store};
use futures::TryStreamExt;
use sqlx::{Either, Executor, FromRow, Row, SqlSafeStr, SqliteConnection, SqlitePool};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const CLIENT_ID_REUSED: &str = "This client id was already used in another chat";

/// How each message of a batch is handled, decided before anything is written.
pub(super) enum Plan {
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
    /// [`Store::insert_messages`] on SQLite.
    ///
    /// The batch costs two round trips to SQLite whatever its size, on the committer's own
    /// connection: one that takes the write lock (`BEGIN IMMEDIATE`, so nothing can slip
    /// in between the checks and the writes) and reads what the plan needs, and one that
    /// writes and commits. Each round trip is a hand-off to the connection's thread and
    /// back (a channel send, a wake-up, a context switch); with one statement per round
    /// trip, a batch took 1.5–3.6 ms whether it held 2 messages or 250.
    pub(super) async fn insert_sqlite(
        &self,
        pool: &SqlitePool,
        batch: &[NewMessage],
    ) -> Result<Vec<Stored>> {
        // Parsed before the batch connection's lock and SQLite's: most bodies have no `@` and
        // cost a scan of their bytes.
        let names = mention_names(batch);
        let mut slot = self.batch_conn.lock().await;
        let conn = batch_conn(pool, &mut slot).await?;
        let outcome = match write_batch(conn, batch, &names, Originals::Unchecked).await {
            Err(e) if e.is_unique_violation() => {
                tracing::debug!(
                    size = batch.len(),
                    "batch holds a retry; writing it looked up"
                );
                match rollback(conn).await {
                    Ok(()) => write_batch(conn, batch, &names, Originals::LookedUp).await,
                    Err(e) => Err(e),
                }
            }
            outcome => outcome,
        };
        if outcome.is_err() {
            // Never leave a transaction open on the committer's connection; if even the
            // rollback fails, drop the connection (closing it rolls back) and open another.
            if rollback(conn).await.is_err() {
                *slot = None;
            }
        }
        outcome
    }

    /// Prepares the batch statements before the first message needs them: parsing
    /// and planning them takes ~1.5 ms, which the first batch after a start would
    /// otherwise wait for.
    pub async fn warm_batch_conn(&self) -> Result<()> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(());
        };
        let mut slot = self.batch_conn.lock().await;
        let conn = batch_conn(pool, &mut slot).await?;
        conn.prepare(READ_MEMBERS_SQL.into_sql_str()).await?;
        conn.prepare(READ_FACTS_SQL.into_sql_str()).await?;
        conn.prepare(WRITE_FRESH_SQL.into_sql_str()).await?;
        Ok(())
    }
}

/// The committer's own connection (held in `slot`), opened on first use.
pub(in crate::server::db) async fn batch_conn<'a>(
    pool: &SqlitePool,
    slot: &'a mut Option<SqliteConnection>,
) -> Result<&'a mut SqliteConnection> {
    Ok(match slot {
        Some(conn) => conn,
        None => slot.insert(pool.acquire().await?.detach()),
    })
}

async fn rollback(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("ROLLBACK").execute(conn).await?;
    Ok(())
}

/// Whether a batch looks up earlier copies of its messages before writing.
#[derive(Clone, Copy)]
pub(super) enum Originals {
    /// Write straight away; a retry shows up as a unique violation on
    /// (sender_id, client_id), and the batch is then written again, looked up.
    Unchecked,
    /// Look them up: retries get their original back, reused client ids are refused.
    LookedUp,
}

/// What the first round trip of a batch learns.
#[derive(Default)]
pub(super) struct BatchFacts {
    /// (chat, sender) → sender's name, for senders who are members.
    pub members: HashMap<(ChatId, UserId), String>,
    /// Each chat's `last_seq` before this batch.
    pub last_seq: HashMap<ChatId, i64>,
    /// The highest message id so far (SQLite: ids are taken under its write lock).
    /// Never below what the search index covers (`search_indexed.upto`): SQLite would
    /// hand a deleted newest message's id to the next one, which the index would then
    /// never take, and whose edit would delete words it never had (issue 31's review).
    pub max_id: i64,
    /// Messages stored earlier under the same sender and client id (sender → client id →
    /// message, so a lookup borrows the batch's client id instead of copying it).
    pub originals: HashMap<UserId, HashMap<String, Message>>,
}

impl BatchFacts {
    /// A message stored earlier under one of the batch's (sender, client id) pairs.
    pub(super) fn add_original(&mut self, row: MessageRow) {
        self.originals
            .entry(row.sender_id)
            .or_default()
            .insert(row.client_id.clone(), Message::from(row));
    }
}

/// The first statement of [`read_facts`]: takes the write lock, then reads the batch's
/// memberships and seq positions.
macro_rules! read_members_sql {
    () => {
        "BEGIN IMMEDIATE;
         SELECT m.chat_id, m.user_id, COALESCE(NULLIF(u.display_name, ''), u.username), c.last_seq,
                max((SELECT COALESCE(MAX(id), 0) FROM messages),
                    (SELECT upto FROM search_indexed))
         FROM jsonb_each(?) AS v
         CROSS JOIN chat_members m ON m.chat_id = v.value ->> 0 AND m.user_id = v.value ->> 1
         JOIN users u ON u.id = m.user_id JOIN chats c ON c.id = m.chat_id;"
    };
}

/// [`read_facts`]'s SQL for an unchecked batch.
const READ_MEMBERS_SQL: &str = read_members_sql!();

/// [`read_facts`]'s SQL for a looked-up batch: also the messages stored earlier under
/// the batch's (sender, client id) pairs.
const READ_FACTS_SQL: &str = concat!(
    read_members_sql!(),
    message_columns!(),
    " FROM jsonb_each(?) AS v
     CROSS JOIN messages m ON m.sender_id = v.value ->> 0 AND m.client_id = v.value ->> 1
     JOIN users u ON u.id = m.sender_id",
    reply_joins!()
);

/// [`write_fresh`]'s SQL: the messages, their chats' seqs, the senders' read pointers
/// and the mentions (`mentions.rs`; after the messages, which they reference).
const WRITE_FRESH_SQL: &str = concat!(
    "
    UPDATE chats SET last_seq = v.value ->> 1, last_activity_at = ?
    FROM jsonb_each(?) AS v WHERE chats.id = v.value ->> 0;
    INSERT INTO messages (id, chat_id, seq, sender_id, client_id, body, created_at, reply_to)
    SELECT v.value ->> 0, v.value ->> 1, v.value ->> 2, v.value ->> 3, v.value ->> 4,
           v.value ->> 5, ?, v.value ->> 6
    FROM jsonb_each(?) AS v;
    UPDATE chat_members SET last_read_seq = MAX(last_read_seq, v.value ->> 2)
    FROM jsonb_each(?) AS v
    WHERE chat_members.chat_id = v.value ->> 0 AND chat_members.user_id = v.value ->> 1;
    ",
    insert_mentions_sqlite!(),
    ";
    UPDATE files SET message_id = v.value ->> 1
    FROM jsonb_each(?) AS v
    WHERE files.id = v.value ->> 0 AND files.message_id IS NULL AND files.state = 1;
    COMMIT"
);

/// The first round trip of a batch: takes the write lock, then reads memberships, seq
/// positions and, if asked, earlier copies of the batch's messages.
///
/// The batch travels as JSON read by `jsonb_each`, so the SQL text is the same for every
/// batch and SQLite prepares it once per connection; with a `VALUES` list per batch, the
/// parser cost as much as the queries. `jsonb_each`, not `json_each`: its rows are
/// binary JSON, which `->>` reads in place; `json_each` hands each row over as text that
/// every `->>` parses again (a third of the server's CPU in a burst). `CROSS JOIN` keeps the batch the outer loop, so each
/// row is one index search. Several statements in one query, with arguments bound in
/// order, is a feature of sqlx's SQLite driver (launchbadge/sqlx#3108);
/// `a_batch_stores_in_order_and_settles_each_message` in tests/it/storage.rs fails if it ever
/// stops working.
async fn read_facts(
    conn: &mut SqliteConnection,
    batch: &[NewMessage],
    originals: Originals,
) -> Result<BatchFacts> {
    let pairs: BTreeSet<(ChatId, UserId)> = batch.iter().map(|m| (m.chat, m.sender)).collect();
    let pairs = serde_json::to_string(&pairs)?;
    let query = match originals {
        Originals::Unchecked => sqlx::query(READ_MEMBERS_SQL).bind(pairs),
        Originals::LookedUp => {
            let keys: Vec<(UserId, &str)> = batch
                .iter()
                .map(|m| (m.sender, m.client_id.as_str()))
                .collect();
            sqlx::query(READ_FACTS_SQL)
                .bind(pairs)
                .bind(serde_json::to_string(&keys)?)
        }
    };

    let mut facts = BatchFacts::default();
    // Results arrive in statement order; each statement ends with a `Left`.
    let mut statement = 0;
    let mut results = conn.fetch_many(query);
    while let Some(step) = results.try_next().await? {
        match step {
            Either::Left(_) => statement += 1,
            Either::Right(row) if statement == 1 => {
                let key = (row.try_get(0)?, row.try_get(1)?);
                facts.members.insert(key, row.try_get(2)?);
                facts.last_seq.insert(key.0, row.try_get(3)?);
                facts.max_id = row.try_get(4)?;
            }
            Either::Right(row) => facts.add_original(MessageRow::from_row(&row)?),
        }
    }
    Ok(facts)
}

/// Plans, writes and commits one batch (see [`Store::insert_messages`]).
async fn write_batch(
    conn: &mut SqliteConnection,
    batch: &[NewMessage],
    names: &[Vec<mentions::Named>],
    lookup: Originals,
) -> Result<Vec<Stored>> {
    let now = now_ms();
    let mut facts = read_facts(conn, batch, lookup).await?;
    // The write lock is held: nobody else inserts, so ids follow the highest one.
    let mut next_id = facts.max_id;
    let plans = plan(batch, &mut facts, || {
        next_id += 1;
        MessageId(next_id)
    });
    let fresh = fresh(batch, &plans);
    if fresh.is_empty() {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
    } else {
        let mentions = mention_rows(batch, &plans, names)?;
        write_fresh(conn, &fresh, &mentions, now).await?;
    }
    Ok(settle(batch, plans, now))
}

/// Decides each message's fate, seq and id, from what the first reads of its batch
/// learnt (with the chats' seqs locked: nothing has to be read back afterwards).
pub(super) fn plan(
    batch: &[NewMessage],
    facts: &mut BatchFacts,
    mut next_id: impl FnMut() -> MessageId,
) -> Vec<Plan> {
    let mut first_use: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut plans = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let plan = if let Some(name) = facts.members.get(&(m.chat, m.sender)) {
            let original = facts
                .originals
                .get(&m.sender)
                .and_then(|mine| mine.get(m.client_id.as_str()));
            if let Some(original) = original {
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
                let seq = facts.last_seq.entry(m.chat).or_default();
                *seq += 1;
                Plan::New {
                    sender_name: name.clone(),
                    seq: *seq,
                    id: next_id(),
                }
            }
        } else {
            Plan::Refused(AppError::chat_not_found())
        };
        plans.push(plan);
    }
    plans
}

/// The messages a plan stores: (message, seq, id), in seq order per chat.
pub(super) fn fresh<'a>(
    batch: &'a [NewMessage],
    plans: &[Plan],
) -> Vec<(&'a NewMessage, i64, MessageId)> {
    batch
        .iter()
        .zip(plans)
        .filter_map(|(m, plan)| match plan {
            Plan::New { seq, id, .. } => Some((m, *seq, *id)),
            _ => None,
        })
        .collect()
}

/// Whom each message mentions (`mentions::named`: its names, then whom its
/// `@all` / `@here` reaches), in batch order.
pub(super) fn mention_names(batch: &[NewMessage]) -> Vec<Vec<mentions::Named>> {
    batch
        .iter()
        .map(|m| mentions::named(&m.body, m.broadcast.as_ref().map(|b| b.reach.as_slice())))
        .collect()
}

/// The mentions of the messages a plan stores, as the JSON rows that
/// `mentions.rs`'s insert reads (`[]` when none mention anyone).
pub(super) fn mention_rows(
    batch: &[NewMessage],
    plans: &[Plan],
    names: &[Vec<mentions::Named>],
) -> Result<String> {
    let rows: Vec<mentions::MentionRow> = batch
        .iter()
        .zip(plans)
        .zip(names)
        .filter_map(|((m, plan), names)| match plan {
            Plan::New { seq, .. } => Some(mentions::rows(m.chat, *seq, m.sender, names)),
            _ => None,
        })
        .flatten()
        .collect();
    Ok(serde_json::to_string(&rows)?)
}

/// What each message of a committed batch became.
pub(super) fn settle(batch: &[NewMessage], plans: Vec<Plan>, now: i64) -> Vec<Stored> {
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
                    formatted: crate::model::markup::formatted(&m.body),
                    created_at: now,
                    edited_at: None,
                    deleted: false,
                    reply_to: m.reply.clone().map(Box::new),
                    reactions: Vec::new(),
                    files: m.files.clone(),
                    broadcast: m.broadcast.as_ref().map(|b| b.kind),
                },
                Inserted::New,
            )),
        };
        out.push(stored);
    }
    out
}

/// (chat, sender, seq): the read pointers a batch moves.
pub(super) type ReadMoves = Vec<(ChatId, UserId, i64)>;

/// Each chat's new last seq (`fresh` is in seq order, so the last one seen wins), and
/// each sender's read pointer: senders have read their own messages.
pub(super) fn moves(fresh: &[(&NewMessage, i64, MessageId)]) -> (Vec<(ChatId, i64)>, ReadMoves) {
    let chats: Vec<(ChatId, i64)> = fresh
        .iter()
        .map(|(m, seq, _)| (m.chat, *seq))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let read_upto: BTreeMap<(ChatId, UserId), i64> = fresh
        .iter()
        .map(|(m, seq, _)| ((m.chat, m.sender), *seq))
        .collect();
    let read_upto = read_upto.into_iter().map(|((c, u), s)| (c, u, s)).collect();
    (chats, read_upto)
}

/// The second round trip: writes the new messages, moves each chat's `last_seq` and the
/// senders' read pointers, records the mentions (`mentions`: JSON rows), attaches the
/// messages' files, and commits (fixed SQL over `jsonb_each`, as in [`read_facts`]).
async fn write_fresh(
    conn: &mut SqliteConnection,
    fresh: &[(&NewMessage, i64, MessageId)],
    mentions: &str,
    now: i64,
) -> Result<()> {
    let (chats, read_upto) = moves(fresh);
    let rows: Vec<_> = fresh
        .iter()
        .map(|(m, seq, id)| {
            let reply = m.reply.as_ref().map(|r| r.id);
            (id, m.chat, seq, m.sender, &m.client_id, &m.body, reply)
        })
        .collect();
    sqlx::query(WRITE_FRESH_SQL)
        .bind(now)
        .bind(serde_json::to_string(&chats)?)
        .bind(now)
        .bind(serde_json::to_string(&rows)?)
        .bind(serde_json::to_string(&read_upto)?)
        .bind(mentions)
        .bind(serde_json::to_string(&attachments(fresh))?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// (file, message) for every file of the new messages: the batch attaches them (a file
/// already attached, by a send that raced this one, stays with the first).
pub(super) fn attachments(fresh: &[(&NewMessage, i64, MessageId)]) -> Vec<(i64, i64)> {
    fresh
        .iter()
        .flat_map(|(m, _, id)| m.files.iter().map(move |f| (f.id.0, id.0)))
        .collect()
}
