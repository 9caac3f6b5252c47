//! `mentions`: who each message mentions, one row per (message, mentioned member).
//!
//! Written with the message: by the batch writers (`messages/batch.rs`,
//! `messages/batch_pg.rs`) in the statement that inserts it, and rewritten in the
//! transaction of an edit or a delete (`messages.rs`). Read by the chat list
//! (`chats.rs`): "is there a row of mine in this chat past my read pointer?" is one
//! search of the index `mentions_user`, so the list costs the same after 3 000 unread
//! mentions as after none (issue 29: it re-read and re-parsed every unread message).
//!
//! Which names a body mentions is the Markdown parser's call (`markup::mentions`:
//! `@bob` as a whole name, not in code); the SQL keeps only names of members of the
//! chat other than the sender. The rows travel to the database as one JSON array of
//! `[chat, seq, sender, name, quiet]`, so the SQL text is the same whatever their number.
//!
//! `@all` / `@here` are not names (`Broadcast::is_word`): when the group's rules let
//! the sender notify everyone (`broadcast.rs`), the message arrives with the names it
//! reaches, recorded as `quiet` rows: those skip members who muted the chat, where a
//! mention by name does not.

use super::{Pool, Store};
use crate::model::{markup, Broadcast, ChatId, MessageId, UserId};
use crate::server::base::error::Result;

/// The insert of the JSON rows on SQLite (one `?`). `CROSS JOIN` keeps the rows the
/// outer loop: each is a search of `users` by name and of `chat_members` by key.
macro_rules! insert_mentions_sqlite {
    () => {
        "INSERT INTO mentions (chat_id, seq, user_id)
         SELECT v.value ->> 0, v.value ->> 1, m.user_id
         FROM jsonb_each(?) AS v
         CROSS JOIN users u ON u.username = v.value ->> 3
         CROSS JOIN chat_members m ON m.chat_id = v.value ->> 0 AND m.user_id = u.id
         WHERE u.id != v.value ->> 2 AND (v.value ->> 4 = 0 OR m.muted = 0)
         ON CONFLICT DO NOTHING"
    };
}

/// The insert of the JSON rows on PostgreSQL (`$param` is the rows' placeholder).
macro_rules! insert_mentions_pg {
    ($param:literal) => {
        concat!(
            "INSERT INTO mentions (chat_id, seq, user_id)
             SELECT (v.e ->> 0)::bigint, (v.e ->> 1)::bigint, m.user_id
             FROM jsonb_array_elements(",
            $param,
            "::jsonb) AS v(e)
             JOIN users u ON u.username = v.e ->> 3
             JOIN chat_members m ON m.chat_id = (v.e ->> 0)::bigint AND m.user_id = u.id
             WHERE u.id != (v.e ->> 2)::bigint AND ((v.e ->> 4)::int = 0 OR NOT m.muted)
             ON CONFLICT DO NOTHING"
        )
    };
}

/// One mention to record: (chat, seq, sender, mentioned name, quiet: 1 when a member
/// who muted the chat is skipped).
pub(super) type MentionRow = (ChatId, i64, UserId, String, u8);

/// A name a message mentions, and whether it is quiet for members who muted the chat.
pub(super) type Named = (String, bool);

/// The people `body` mentions by name (never the words `all` / `here`). A body
/// without `@` costs one scan of its bytes (most messages); the parser runs only on the
/// others.
pub(super) fn names(body: &str) -> Vec<String> {
    if body.contains('@') {
        let mut found = markup::mentions(body);
        found.retain(|n| !Broadcast::is_word(n));
        found
    } else {
        Vec::new()
    }
}

/// Whom a message mentions: its names (`names`), then the names an `@all` / `@here`
/// reaches (`reach`, quiet) that it did not name.
pub(super) fn named(body: &str, reach: Option<&[String]>) -> Vec<Named> {
    let mut out: Vec<Named> = names(body).into_iter().map(|n| (n, false)).collect();
    if let Some(reach) = reach {
        let by_name: std::collections::HashSet<String> =
            out.iter().map(|(n, _)| n.clone()).collect();
        out.extend(
            reach
                .iter()
                .filter(|n| !by_name.contains(*n))
                .map(|n| (n.clone(), true)),
        );
    }
    out
}

/// `names` of the message at (chat, seq) by `sender`, as rows.
pub(super) fn rows(
    chat: ChatId,
    seq: i64,
    sender: UserId,
    names: &[Named],
) -> impl Iterator<Item = MentionRow> + '_ {
    names
        .iter()
        .map(move |(n, quiet)| (chat, seq, sender, n.clone(), u8::from(*quiet)))
}

/// The statement that records JSON rows (bound as its only argument), per backend.
pub(super) fn insert_sql(pool: &Pool) -> &'static str {
    match pool {
        Pool::Sqlite(_) => insert_mentions_sqlite!(),
        Pool::Postgres(_) => insert_mentions_pg!("$1"),
    }
}

/// Forgets what the message at (chat, seq) mentions (before an edit records it again,
/// and on a delete): a search of the primary key.
pub(super) const FORGET_SQL: &str = "DELETE FROM mentions WHERE chat_id = $1 AND seq = $2";

/// Messages the backfill parses per round trip.
const BACKFILL_PAGE: i64 = 500;

impl Store {
    /// Records the mentions of the messages stored before the `mentions` table existed,
    /// once (the migration leaves a 'mentions' row in `pending_backfills`; this deletes
    /// it when done). Rust, not SQL: only the parser tells `@bob` from `` `@bob` `` or
    /// "@bobby". Pages by id, so the work is one pass over the messages with an `@`;
    /// rows already there are kept (`ON CONFLICT DO NOTHING`), so two nodes starting
    /// together on one PostgreSQL database, or a pass cut short, do no harm.
    pub(super) async fn backfill_mentions(&self) -> Result<()> {
        let pending: Option<(String,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT name FROM pending_backfills WHERE name = 'mentions'")
                .fetch_optional(p)
                .await
        })?;
        if pending.is_none() {
            return Ok(());
        }
        let insert = insert_sql(&self.pool);
        let (mut after, mut recorded) = (0_i64, 0_usize);
        loop {
            let page: Vec<(MessageId, ChatId, i64, UserId, String)> = on_pool!(&self.pool, p => {
                sqlx::query_as(
                    "SELECT id, chat_id, seq, sender_id, body FROM messages
                     WHERE id > $1 AND deleted_at IS NULL AND body LIKE '%@%'
                     ORDER BY id LIMIT 500", // BACKFILL_PAGE
                )
                .bind(after)
                .fetch_all(p)
                .await
            })?;
            let Some(last) = page.last() else { break };
            after = last.0 .0;
            let found: Vec<MentionRow> = page
                .iter()
                .flat_map(|(_, chat, seq, sender, body)| {
                    rows(*chat, *seq, *sender, &named(body, None)).collect::<Vec<_>>()
                })
                .collect();
            if !found.is_empty() {
                recorded += found.len();
                let json = serde_json::to_string(&found)?;
                on_pool!(&self.pool, p => {
                    sqlx::query(insert).bind(&json).execute(p).await.map(|_| ())
                })?;
            }
            if (page.len() as i64) < BACKFILL_PAGE {
                break;
            }
        }
        on_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM pending_backfills WHERE name = 'mentions'")
                .execute(p)
                .await
                .map(|_| ())
        })?;
        tracing::info!(
            names = recorded,
            "recorded the mentions of the stored messages"
        );
        Ok(())
    }
}
