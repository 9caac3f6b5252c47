//! Web Push (issue 33): browsers' subscriptions, the server's VAPID key, and the queue
//! of pushes to send (`migrations/sqlite/0012_push.sql`).
//!
//! Pushes are planned from the messages table itself (`push_planned.upto`): nothing is
//! added to a message's commit. A plan step reads the messages after the cursor that
//! notify someone (a direct message, a mention), joins their recipients' subscriptions,
//! and queues one row per (subscription, chat), a newer one replacing the payload of an
//! unsent older one. The sender claims due rows, sends, and deletes them.

use super::write_tx::BeginWrite;
use super::{Pool, Store};
use crate::model::{ChatId, UserId};
use crate::server::base::error::Result;

/// A device as /account lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub device: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub session_hash: Vec<u8>,
}

/// A message that notifies someone with a subscription: one row per subscription.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Notifying {
    pub message_id: i64,
    pub chat_id: ChatId,
    pub body: String,
    pub sender: String,
    pub kind: String,
    pub title: Option<String>,
    pub user_id: UserId,
    pub subscription_id: i64,
    pub previews: bool,
}

/// What became of a claimed push (see [`Store::push_outcomes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The push service took it; `shown`: remember it, to clear it once read.
    Sent { shown: bool },
    /// Given up: moot, refused for good, or out of attempts.
    Dropped,
    /// Failed for now: due again at this time (ms), one attempt more.
    Retry(i64),
    /// The push service says the subscription is gone (404, 410).
    Gone,
}

/// A push claimed for sending, with its subscription.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub version: i64,
    /// This claim's mark: the row's outcome is written only while it still holds it.
    pub claimed_until: i64,
    /// Whether it still stands: its message not deleted, its person still a member who
    /// has not muted the chat.
    pub live: bool,
    pub chat_id: ChatId,
    pub payload: String,
    pub attempts: i64,
    pub subscription_id: i64,
    pub user_id: UserId,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// The messages after the cursor (`$1`, up to `$2`) that notify someone, one row per
/// recipient's subscription: mentions of another member, and direct messages to the
/// other member; never a muted chat's, never one's own.
const NOTIFYING: &str = "
WITH span AS (
  SELECT id, chat_id, seq, sender_id FROM messages
  WHERE id > $1 AND id <= $2 AND deleted_at IS NULL),
recipients AS (
  SELECT s.id AS message_id, x.user_id FROM span s
  JOIN mentions x ON x.chat_id = s.chat_id AND x.seq = s.seq
  WHERE x.user_id != s.sender_id
  UNION
  SELECT s.id, cm.user_id FROM span s
  JOIN chats c ON c.id = s.chat_id AND c.kind = 'direct'
  JOIN chat_members cm ON cm.chat_id = s.chat_id AND cm.user_id != s.sender_id)
SELECT m.id AS message_id, m.chat_id, m.body, COALESCE(NULLIF(u.display_name, ''), u.username) AS sender, c.kind, c.title,
       r.user_id, ps.id AS subscription_id, ru.push_previews AS previews
FROM recipients r
JOIN messages m ON m.id = r.message_id
JOIN chats c ON c.id = m.chat_id
JOIN users u ON u.id = m.sender_id
JOIN users ru ON ru.id = r.user_id
JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = r.user_id AND NOT cm.muted
JOIN push_subscriptions ps ON ps.user_id = r.user_id
WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = r.user_id AND b.blocked_id = m.sender_id)
ORDER BY m.id
LIMIT 5000";

/// Queues a push, due `$6` ms after the subscription's last push at the earliest (a
/// subscription gets at most one push per that gap; what comes meanwhile waits, and a
/// newer one for the same chat replaces the payload of an unsent older one, keeping
/// its turn: the browser would replace the notification anyway).
const ENQUEUE: &str = "
INSERT INTO push_queue (subscription_id, user_id, chat_id, message_id, payload, due_at)
SELECT $1, $2, $3, $7, $4,
       CASE WHEN COALESCE(last_used_at, 0) + $6 > $5 THEN last_used_at + $6 ELSE $5 END
FROM push_subscriptions WHERE id = $1
ON CONFLICT (subscription_id, chat_id) DO UPDATE
SET payload = excluded.payload, message_id = excluded.message_id,
    version = push_queue.version + 1, attempts = 0";

/// Queues a clear like [`ENQUEUE`], except over an unsent push for the same chat: that
/// one stays (its notification replaces the shown one anyway, and it is news).
const ENQUEUE_CLEAR: &str = "
INSERT INTO push_queue (subscription_id, user_id, chat_id, message_id, payload, due_at)
SELECT $1, $2, $3, $7, $4,
       CASE WHEN COALESCE(last_used_at, 0) + $6 > $5 THEN last_used_at + $6 ELSE $5 END
FROM push_subscriptions WHERE id = $1
ON CONFLICT (subscription_id, chat_id) DO NOTHING";

/// Deletes a claimed push: only the version that was read, only under this claim.
const DELETE_CLAIMED: &str =
    "DELETE FROM push_queue WHERE id = $1 AND version = $2 AND claimed_until = $3";

impl Store {
    /// The server's VAPID key pair (private, public), made with `fresh` by the first
    /// node to ask; every node reads the same one after.
    pub async fn vapid_key(
        &self,
        fresh: impl FnOnce() -> (Vec<u8>, Vec<u8>),
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let (private, public) = fresh();
        let row: (Vec<u8>, Vec<u8>) = on_pool!(&self.pool, p => {
            sqlx::query(
                "INSERT INTO push_vapid (id, private_key, public_key) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&private)
            .bind(&public)
            .execute(p)
            .await?;
            sqlx::query_as("SELECT private_key, public_key FROM push_vapid WHERE id = 1")
                .fetch_one(p)
                .await?
        });
        Ok(row)
    }

    /// Saves `user`'s subscription from the session `session_hash` (an endpoint seen
    /// before, from another session or person of the same browser, moves to this one),
    /// keeping at most `max_per_user` subscriptions: the oldest go. Returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_push_subscription(
        &self,
        user: UserId,
        session_hash: &[u8],
        endpoint: &str,
        p256dh: &[u8],
        auth: &[u8],
        device: &str,
        max_per_user: i64,
    ) -> Result<i64> {
        let now = super::now_ms();
        let id: i64 = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO push_subscriptions
                   (user_id, session_hash, endpoint, p256dh, auth, device, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id,
                   session_hash = excluded.session_hash, p256dh = excluded.p256dh,
                   auth = excluded.auth, device = excluded.device,
                   created_at = excluded.created_at, last_used_at = NULL
                 -- Only the same browser (the same keys) may move an endpoint to
                 -- another person: knowing someone's endpoint takes nothing from them.
                 WHERE push_subscriptions.user_id = excluded.user_id
                    OR (push_subscriptions.p256dh = excluded.p256dh
                        AND push_subscriptions.auth = excluded.auth)
                 RETURNING id",
            )
            .bind(user)
            .bind(session_hash)
            .bind(endpoint)
            .bind(p256dh)
            .bind(auth)
            .bind(device)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = row else {
                return Err(crate::model::AppError::invalid(
                    "This push endpoint belongs to another browser's subscription",
                )
                .into());
            };
            // What was queued for the endpoint's previous owner is not this one's.
            sqlx::query("DELETE FROM push_queue WHERE subscription_id = $1 AND user_id != $2")
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
                   SELECT id FROM push_subscriptions WHERE user_id = $1
                   ORDER BY created_at DESC, id DESC LIMIT $2)",
            )
            .bind(user)
            .bind(max_per_user)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    /// Removes one of `user`'s subscriptions by id (/account's "Remove") or endpoint
    /// ("Disable notifications" in that browser); whether there was one.
    pub async fn remove_push_subscription(
        &self,
        user: UserId,
        id: Option<i64>,
        endpoint: Option<&str>,
    ) -> Result<bool> {
        let done = on_pool!(&self.pool, p => {
            sqlx::query(
                "DELETE FROM push_subscriptions
                 WHERE user_id = $1 AND (id = $2 OR endpoint = $3)",
            )
            .bind(user)
            .bind(id.unwrap_or(-1))
            .bind(endpoint.unwrap_or(""))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    /// `user`'s subscriptions, newest first.
    pub async fn push_devices(&self, user: UserId) -> Result<Vec<DeviceRow>> {
        let rows = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT id, device, created_at, last_used_at, session_hash
                 FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user)
            .fetch_all(p)
            .await?
        });
        Ok(rows)
    }

    /// Whether `user`'s pushes show the start of the text.
    pub async fn push_previews(&self, user: UserId) -> Result<bool> {
        let (on,): (bool,) = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT push_previews FROM users WHERE id = $1")
                .bind(user)
                .fetch_one(p)
                .await?
        });
        Ok(on)
    }

    pub async fn set_push_previews(&self, user: UserId, on: bool) -> Result<()> {
        on_pool!(&self.pool, p => {
            sqlx::query("UPDATE users SET push_previews = $2 WHERE id = $1")
                .bind(user)
                .bind(on)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// One plan step: queues the pushes of the messages after the cursor (each due
    /// `gap_ms` after its subscription's last push at the earliest), at most
    /// `max_messages` of them and none newer than `settled_before_ms` (on PostgreSQL,
    /// ids are taken before commits land: a message that commits late must not be
    /// passed by the cursor), each payload made by `payload`. Returns how many pushes
    /// were queued. One transaction: the cursor moves with what it queued, and two
    /// nodes never plan the same messages (PostgreSQL: the cursor's row is locked).
    ///
    /// Known gap on PostgreSQL: `created_at` is taken before the batch waits for its
    /// chats' locks and commits, so a commit that lands later than `settled_before_ms`
    /// allows (a long lock wait, clocks apart between nodes) can be passed by the cursor,
    /// and its pushes are never sent. The exact fix is a transaction id per message and
    /// planning below `pg_snapshot_xmin(pg_current_snapshot())` (a migration of
    /// `messages`); the 3 s wait covers the common case.
    pub async fn plan_pushes(
        &self,
        max_messages: i64,
        settled_before_ms: i64,
        gap_ms: i64,
        payload: impl Fn(&Notifying) -> String,
    ) -> Result<usize> {
        let now = super::now_ms();
        let lock = match &self.pool {
            Pool::Sqlite(_) => "SELECT upto FROM push_planned",
            Pool::Postgres(_) => "SELECT upto FROM push_planned FOR UPDATE",
        };
        let queued = on_pool!(&self.pool, p => {
            // Nothing new (the usual case between messages): no write lock taken.
            let (upto, newest, top): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT upto,
                   (SELECT MAX(id) FROM messages WHERE id > upto AND created_at < $1),
                   (SELECT MAX(id) FROM messages)
                 FROM push_planned",
            )
            .bind(settled_before_ms)
            .fetch_one(p)
            .await?;
            if newest.is_none() && top.unwrap_or(0) >= upto {
                return Ok(0);
            }
            let mut tx = p.begin_write().await?;
            let (stored,): (i64,) = sqlx::query_as(lock).fetch_one(&mut *tx).await?;
            // SQLite may give a deleted chat's top ids again: never stand past the top.
            let top: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM messages")
                .fetch_one(&mut *tx)
                .await?;
            let upto = stored.min(top.unwrap_or(0));
            let newest: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM (SELECT id FROM messages
                   WHERE id > $1 AND created_at < $2 ORDER BY id LIMIT $3) AS next",
            )
            .bind(upto)
            .bind(settled_before_ms)
            .bind(max_messages.max(1))
            .fetch_one(&mut *tx)
            .await?;
            let Some(to) = newest else {
                if upto < stored {
                    sqlx::query("UPDATE push_planned SET upto = $1")
                        .bind(upto)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                return Ok(0);
            };
            let rows: Vec<Notifying> = sqlx::query_as(NOTIFYING)
                .bind(upto)
                .bind(to)
                .fetch_all(&mut *tx)
                .await?;
            for r in &rows {
                sqlx::query(ENQUEUE)
                    .bind(r.subscription_id)
                    .bind(r.user_id)
                    .bind(r.chat_id)
                    .bind(payload(r))
                    .bind(now)
                    .bind(gap_ms)
                    .bind(r.message_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE push_planned SET upto = $1")
                .bind(to)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            rows.len()
        });
        Ok(queued)
    }

    /// Queues a clear (payload from `payload(chat)`) for each notification shown on a
    /// browser whose person has since read its chat (on any device), for subscriptions
    /// that `clearable` allows; forgets those and any shown over `forget_ms` ago.
    /// Returns how many clears were queued. Two nodes never queue the same clear: a
    /// shown row is deleted by exactly one of them.
    pub async fn plan_clears(
        &self,
        gap_ms: i64,
        forget_ms: i64,
        clearable: impl Fn(&str) -> bool,
        payload: impl Fn(ChatId) -> String,
    ) -> Result<usize> {
        let now = super::now_ms();
        let queued = on_pool!(&self.pool, p => {
            let read: Vec<(i64, UserId, ChatId, i64, String)> = sqlx::query_as(
                "SELECT ps.subscription_id, ps.user_id, ps.chat_id, ps.message_id, s.endpoint
                 FROM push_shown ps
                 JOIN push_subscriptions s ON s.id = ps.subscription_id AND s.user_id = ps.user_id
                 JOIN messages m ON m.id = ps.message_id AND m.chat_id = ps.chat_id
                 JOIN chat_members cm ON cm.chat_id = ps.chat_id AND cm.user_id = ps.user_id
                 WHERE cm.last_read_seq >= m.seq
                 ORDER BY ps.subscription_id, ps.chat_id
                 LIMIT 500",
            )
            .fetch_all(p)
            .await?;
            // (Not `SELECT 1`: PostgreSQL's literal is an INT4, not an i64.)
            let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(shown_at) FROM push_shown")
                .fetch_one(p)
                .await?;
            if read.is_empty() && oldest.is_none_or(|t| t >= now - forget_ms) {
                return Ok(0);
            }
            let mut tx = p.begin_write().await?;
            let mut queued = 0;
            for (sub, user, chat, message, endpoint) in read {
                let gone = sqlx::query(
                    "DELETE FROM push_shown
                     WHERE subscription_id = $1 AND chat_id = $2 AND message_id = $3",
                )
                .bind(sub)
                .bind(chat)
                .bind(message)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if gone == 1 && clearable(&endpoint) {
                    sqlx::query(ENQUEUE_CLEAR)
                        .bind(sub)
                        .bind(user)
                        .bind(chat)
                        .bind(payload(chat))
                        .bind(now)
                        .bind(gap_ms)
                        .bind(message)
                        .execute(&mut *tx)
                        .await?;
                    queued += 1;
                }
            }
            sqlx::query("DELETE FROM push_shown WHERE shown_at < $1")
                .bind(now - forget_ms)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            queued
        });
        Ok(queued)
    }

    /// Claims up to `limit` due pushes for `claim_ms` (another node takes them only
    /// after that: a node that dies mid-send leaves them to the others).
    pub async fn claim_pushes(&self, limit: i64, claim_ms: i64) -> Result<Vec<Claimed>> {
        let now = super::now_ms();
        let skip_locked = match &self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "WITH due AS (
               SELECT id FROM push_queue WHERE due_at <= $1 AND claimed_until <= $1
               ORDER BY due_at LIMIT $2{skip_locked})
             UPDATE push_queue SET claimed_until = $3
             WHERE id IN (SELECT id FROM due)
             RETURNING id"
        );
        // A mark of this claim's own (another node's claim at the same ms differs).
        let mark = now + claim_ms + i64::from(rand::random::<u16>());
        let claimed = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(limit.max(1))
                .bind(mark)
                .fetch_all(&mut *tx)
                .await?;
            let mut out = Vec::with_capacity(ids.len());
            for (id,) in ids {
                let row: Option<Claimed> = sqlx::query_as(
                    "SELECT q.id, q.version, q.claimed_until, q.chat_id, q.payload, q.attempts,
                            s.id AS subscription_id, s.user_id, s.endpoint, s.p256dh, s.auth,
                            EXISTS (SELECT 1 FROM messages m
                              JOIN chat_members cm ON cm.chat_id = m.chat_id
                               AND cm.user_id = q.user_id AND NOT cm.muted
                              WHERE m.id = q.message_id AND m.deleted_at IS NULL) AS live
                     FROM push_queue q JOIN push_subscriptions s ON s.id = q.subscription_id
                     WHERE q.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                out.extend(row);
            }
            tx.commit().await?;
            out
        });
        Ok(claimed)
    }

    /// Writes what became of a batch of claimed pushes, in one transaction (one write
    /// per batch, not per push: on SQLite each write waits for the one writer that the
    /// message committer needs too). Each outcome is written only while this node's
    /// claim still holds (`claimed_until`) and, where it deletes, only for the payload
    /// version that was sent (a newer one waits its turn instead).
    pub async fn push_outcomes(
        &self,
        outcomes: &[(Claimed, PushOutcome)],
        gap_ms: i64,
    ) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = super::now_ms();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            for (claimed, outcome) in outcomes {
                match *outcome {
                    PushOutcome::Sent { shown } => {
                        // A message's notification shows on that browser now, to be
                        // cleared once read (`shown`: only where clears may go).
                        if shown {
                            sqlx::query(
                                "INSERT INTO push_shown (subscription_id, user_id, chat_id, message_id, shown_at)
                                 SELECT subscription_id, user_id, chat_id, message_id, $4 FROM push_queue
                                 WHERE id = $1 AND version = $2 AND claimed_until = $3
                                   AND payload NOT LIKE '{\"kind\":\"clear\"%'
                                 ON CONFLICT (subscription_id, chat_id) DO UPDATE
                                 SET message_id = excluded.message_id, shown_at = excluded.shown_at",
                            )
                            .bind(claimed.id)
                            .bind(claimed.version)
                            .bind(claimed.claimed_until)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        // The row goes unless a newer payload replaced it meanwhile
                        // (then that one is due `gap_ms` later).
                        sqlx::query(DELETE_CLAIMED)
                        .bind(claimed.id)
                        .bind(claimed.version)
                        .bind(claimed.claimed_until)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE push_queue SET claimed_until = 0, due_at = $2
                             WHERE id = $1 AND claimed_until = $3",
                        )
                        .bind(claimed.id)
                        .bind(now + gap_ms)
                        .bind(claimed.claimed_until)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE push_subscriptions SET last_used_at = $2 WHERE id = $1")
                            .bind(claimed.subscription_id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    PushOutcome::Dropped => {
                        sqlx::query(DELETE_CLAIMED)
                        .bind(claimed.id)
                        .bind(claimed.version)
                        .bind(claimed.claimed_until)
                        .execute(&mut *tx)
                        .await?;
                    }
                    PushOutcome::Retry(due_at) => {
                        sqlx::query(
                            "UPDATE push_queue SET claimed_until = 0, due_at = $2, attempts = attempts + 1
                             WHERE id = $1 AND claimed_until = $3",
                        )
                        .bind(claimed.id)
                        .bind(due_at)
                        .bind(claimed.claimed_until)
                        .execute(&mut *tx)
                        .await?;
                    }
                    PushOutcome::Gone => {
                        // With its queue and what it showed.
                        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
                            .bind(claimed.subscription_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
