//! The group commit of new messages on PostgreSQL: the same plan as SQLite's
//! (`batch.rs`), in one transaction per batch on a pooled connection.
//!
//! Several nodes write at once, so nothing is known from holding a lock of the whole
//! database: each chat's row is locked (`FOR UPDATE`, in id order) before its
//! `last_seq` is read, and the batch's seqs follow it, gap-free, until the commit
//! releases it. Ids come from the table's identity sequence (fetched up front, one per
//! message; unused ones are simply skipped). A retry that another node stored while
//! this batch was planned shows up as a unique violation on (sender_id, client_id): the
//! transaction is rolled back (seqs included) and the batch written again, looked up,
//! exactly as on SQLite.
//!
//! Five round trips a batch: `BEGIN`; lock the chats (and take the ids); memberships;
//! one statement for the three writes; `COMMIT` (BENCHMARKS.md, tenth pass).

use super::batch::{
    fresh, mention_names, mention_rows, moves, plan, settle, BatchFacts, Originals,
};
use super::{MessageRow, NewMessage, Stored};
use crate::model::{ChatId, MessageId, UserId};
use crate::server::base::error::Result;
use crate::server::db::now_ms;
use sqlx::{FromRow, PgConnection, PgPool, Row};
use std::collections::BTreeSet;

/// Stores a batch (see `Store::insert_messages`).
pub(super) async fn insert_batch(pool: &PgPool, batch: &[NewMessage]) -> Result<Vec<Stored>> {
    // Parsed before any lock is taken (see `batch.rs`).
    let names = mention_names(batch);
    match write_batch(pool, batch, &names, Originals::Unchecked).await {
        Err(e) if e.is_unique_violation() => {
            tracing::debug!(
                size = batch.len(),
                "batch holds a retry; writing it looked up"
            );
            write_batch(pool, batch, &names, Originals::LookedUp).await
        }
        outcome => outcome,
    }
}

async fn write_batch(
    pool: &PgPool,
    batch: &[NewMessage],
    names: &[Vec<crate::server::db::mentions::Named>],
    lookup: Originals,
) -> Result<Vec<Stored>> {
    let now = now_ms();
    // Dropped without a commit on any error: the transaction rolls back.
    let mut tx = pool.begin().await?;
    let (mut facts, ids) = read_facts(&mut tx, batch, lookup).await?;
    let mut ids = ids.into_iter().map(MessageId);
    let mut overflow = 0;
    let plans = plan(batch, &mut facts, || {
        ids.next().unwrap_or_else(|| {
            // Never: one id was fetched per message. Fail the batch rather than guess.
            overflow += 1;
            MessageId(0)
        })
    });
    if overflow > 0 {
        return Err(crate::server::base::error::Error::internal(
            "message ids ran out",
        ));
    }
    let fresh = fresh(batch, &plans);
    if !fresh.is_empty() {
        let mentions = mention_rows(batch, &plans, names)?;
        write_fresh(&mut tx, &fresh, &mentions, now).await?;
    }
    tx.commit().await?;
    Ok(settle(batch, plans, now))
}

/// Locks the batch's chats and reads their seqs, the senders' memberships and, if
/// asked, earlier copies of the batch's messages; and takes one message id per message
/// from the identity sequence (unused ones are skipped).
async fn read_facts(
    conn: &mut PgConnection,
    batch: &[NewMessage],
    originals: Originals,
) -> Result<(BatchFacts, Vec<i64>)> {
    let mut facts = BatchFacts::default();
    let chats: BTreeSet<ChatId> = batch.iter().map(|m| m.chat).collect();
    let chat_ids: Vec<i64> = chats.iter().map(|c| c.0).collect();
    // In id order, so two batches that share chats lock them in the same order. The
    // ids ride along in the same round trip. Memberships are read by the next statement,
    // after the locks are held, so a removal committed while this batch waited for them
    // is seen (a statement reads what was committed when it began).
    let locked: Vec<(ChatId, i64, Vec<i64>)> = sqlx::query_as(
        "SELECT c.id, c.last_seq, n.ids
         FROM (SELECT id, last_seq FROM chats WHERE id = ANY($1) ORDER BY id FOR UPDATE) c,
              (SELECT array_agg(nextval(pg_get_serial_sequence('messages', 'id'))) AS ids
               FROM generate_series(1, $2)) n",
    )
    .bind(&chat_ids)
    .bind(batch.len() as i64)
    .fetch_all(&mut *conn)
    .await?;
    let mut ids = Vec::new();
    for (chat, last_seq, chat_ids) in locked {
        facts.last_seq.insert(chat, last_seq);
        ids = chat_ids;
    }

    let pairs: BTreeSet<(ChatId, UserId)> = batch.iter().map(|m| (m.chat, m.sender)).collect();
    let (pair_chats, pair_users): (Vec<i64>, Vec<i64>) =
        pairs.iter().map(|(c, u)| (c.0, u.0)).unzip();
    let rows = sqlx::query(
        "SELECT m.chat_id, m.user_id, COALESCE(NULLIF(u.display_name, ''), u.username)
         FROM unnest($1::bigint[], $2::bigint[]) AS v(chat_id, user_id)
         JOIN chat_members m ON m.chat_id = v.chat_id AND m.user_id = v.user_id
         JOIN users u ON u.id = m.user_id",
    )
    .bind(&pair_chats)
    .bind(&pair_users)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        facts
            .members
            .insert((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?);
    }

    if let Originals::LookedUp = originals {
        let (senders, client_ids): (Vec<i64>, Vec<&str>) = batch
            .iter()
            .map(|m| (m.sender.0, m.client_id.as_str()))
            .unzip();
        let rows = sqlx::query(concat!(
            message_columns!(),
            " FROM unnest($1::bigint[], $2::text[]) AS v(sender_id, client_id)
             JOIN messages m ON m.sender_id = v.sender_id AND m.client_id = v.client_id
             JOIN users u ON u.id = m.sender_id",
            reply_joins!()
        ))
        .bind(&senders)
        .bind(&client_ids)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            facts.add_original(MessageRow::from_row(&row)?);
        }
    }
    Ok((facts, ids))
}

/// The new messages as columns, one array per column (`unnest` turns them into rows).
#[derive(Default)]
struct MessageColumns<'a> {
    ids: Vec<i64>,
    chats: Vec<i64>,
    seqs: Vec<i64>,
    senders: Vec<i64>,
    client_ids: Vec<&'a str>,
    bodies: Vec<&'a str>,
    replies: Vec<Option<i64>>,
}

/// Writes the new messages, moves each chat's `last_seq` and the senders' read
/// pointers, attaches the messages' files, and records the mentions (`mentions`: JSON rows, see `mentions.rs`), in one
/// statement (one round trip; the chats are locked already). The mentions reference
/// the messages the same statement inserts: PostgreSQL checks foreign keys at the
/// statement's end.
async fn write_fresh(
    conn: &mut PgConnection,
    fresh: &[(&NewMessage, i64, MessageId)],
    mentions: &str,
    now: i64,
) -> Result<()> {
    let (chats, read_upto) = moves(fresh);
    let (chat_ids, last_seqs): (Vec<i64>, Vec<i64>) = chats.iter().map(|(c, s)| (c.0, *s)).unzip();
    let mut rows = MessageColumns::default();
    for (m, seq, id) in fresh {
        rows.ids.push(id.0);
        rows.chats.push(m.chat.0);
        rows.seqs.push(*seq);
        rows.senders.push(m.sender.0);
        rows.client_ids.push(&m.client_id);
        rows.bodies.push(&m.body);
        rows.replies.push(m.reply.as_ref().map(|r| r.id.0));
    }
    let attached: (Vec<i64>, Vec<i64>) = super::batch::attachments(fresh).into_iter().unzip();
    let mut reads: (Vec<i64>, Vec<i64>, Vec<i64>) = Default::default();
    for (c, u, s) in read_upto {
        reads.0.push(c.0);
        reads.1.push(u.0);
        reads.2.push(s);
    }
    sqlx::query(concat!(
        "WITH moved AS (
           UPDATE chats SET last_seq = v.last_seq, last_activity_at = $3
           FROM unnest($1::bigint[], $2::bigint[]) AS v(id, last_seq) WHERE chats.id = v.id
         ), read AS (
           UPDATE chat_members SET last_read_seq = GREATEST(last_read_seq, v.seq)
           FROM unnest($10::bigint[], $11::bigint[], $12::bigint[]) AS v(chat_id, user_id, seq)
           WHERE chat_members.chat_id = v.chat_id AND chat_members.user_id = v.user_id
         ), attached AS (
           UPDATE files SET message_id = v.message_id
           FROM unnest($15::bigint[], $16::bigint[]) AS v(id, message_id)
           WHERE files.id = v.id AND files.message_id IS NULL AND files.state = 1
         ), mentioned AS (",
        insert_mentions_pg!("$14"),
        "
         )
         INSERT INTO messages (id, chat_id, seq, sender_id, client_id, body, reply_to, created_at)
         SELECT v.*, $3 FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                                    $8::text[], $9::text[], $13::bigint[]) AS v",
    ))
    .bind(&chat_ids)
    .bind(&last_seqs)
    .bind(now)
    .bind(&rows.ids)
    .bind(&rows.chats)
    .bind(&rows.seqs)
    .bind(&rows.senders)
    .bind(&rows.client_ids)
    .bind(&rows.bodies)
    .bind(&reads.0)
    .bind(&reads.1)
    .bind(&reads.2)
    .bind(&rows.replies)
    .bind(mentions)
    .bind(&attached.0)
    .bind(&attached.1)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
