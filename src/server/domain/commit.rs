//! The message committer: every new message — a WebSocket `send`, a POSTed frame or
//! the `send_message` server function — goes through this pair of tasks.
//!
//! The store task takes everything waiting in its queue (up to [`MAX_BATCH`]) and stores
//! it in one transaction (group commit: SQLite's per-transaction cost is paid once per
//! batch, not once per message). While one batch commits, the next one gathers.
//!
//! The publish task gets each committed batch, in order, publishes its new messages in
//! seq order, and only then answers each sender, so an `ack` always means "committed".
//! It runs while the store task commits the next batch: SQLite's thread and the async
//! workers overlap instead of taking turns (+20–50% messages/s in a 20 000-message burst,
//! BENCHMARKS.md, sixth pass). One publisher also means the messages of a chat are
//! published in the order of their seq, so connections never see a gap they must fill.
//!
//! Between batches, when nothing waits, the store task adds what it stored to SQLite's
//! search index (`Store::index_pending`): off the commit, so a burst's acks do not wait
//! for it (issue 31).

use super::notify::Notifier;
use crate::server::base::error::{Error, Result};
use crate::server::db::{Inserted, NewMessage, Store, Stored, INDEX_STEP_ROWS};
use tokio::sync::{mpsc, oneshot};

/// Most messages stored by one transaction.
const MAX_BATCH: usize = 1024;
/// Messages waiting for the committer; senders wait (backpressure) beyond this.
const QUEUE: usize = 4096;
/// Committed batches waiting for the publish task; the store task waits beyond this.
const PUBLISH_QUEUE: usize = 2;
/// Under unrelenting load, a search index step at least this often.
const INDEX_EVERY_BATCHES: u32 = 16;
/// How long nothing must arrive before the committer indexes.
const QUIET: std::time::Duration = std::time::Duration::from_millis(2);

/// What the sender of a queued message waits on: its commit (or why it failed).
pub type Queued = oneshot::Receiver<Result<Stored>>;

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<Stored>>,
}

/// A committed batch on its way to the publish task: each outcome with its sender.
type Settled = Vec<(Result<Stored>, oneshot::Sender<Result<Stored>>)>;

/// The handle to the committer's tasks (cheap to clone).
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

impl Committer {
    /// Spawns the store and publish tasks; they end when the last handle is dropped.
    pub fn start(store: Store, notify: Notifier) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (settled_tx, settled_rx) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(store_batches(rx, store.clone(), settled_tx));
        tokio::spawn(publish_batches(settled_rx, notify));
        Committer { tx }
    }

    /// Queues a message. Messages queued one after another by the same caller are stored
    /// in that order; the returned receiver resolves once this one is committed.
    pub async fn enqueue(&self, message: NewMessage) -> Result<Queued> {
        let (done, pending) = oneshot::channel();
        self.tx
            .send(Job { message, done })
            .await
            .map_err(|_| Error::internal("message committer stopped"))?;
        Ok(pending)
    }
}

/// The store task: batches from the queue, committed one after the other.
async fn store_batches(mut rx: mpsc::Receiver<Job>, store: Store, settled: mpsc::Sender<Settled>) {
    if let Err(e) = store.warm_batch_conn().await {
        tracing::warn!(error = %e, "could not prepare the committer's statements ahead");
    }
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // Messages may wait for the search index (since the last start, too).
    let mut unindexed = true;
    let mut batches_since_index = 0;
    loop {
        // Search indexing waits for a quiet moment (nothing new for QUIET: an empty
        // queue between two batches of a burst is not one), a step at a time, so that
        // it never stands between a burst and its acks; under load that never lets up,
        // a step every few batches keeps the index from falling far behind.
        if unindexed {
            let forced = batches_since_index >= INDEX_EVERY_BATCHES;
            if !forced {
                // Cancel-safe: a timed-out wait has taken nothing from the queue.
                let waited = tokio::time::timeout(QUIET, rx.recv_many(&mut jobs, MAX_BATCH));
                if let Ok(0) = waited.await {
                    break;
                }
            }
            if forced || jobs.is_empty() {
                batches_since_index = 0;
                unindexed = match store.index_pending(INDEX_STEP_ROWS).await {
                    Ok(added) => added > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "search indexing failed (a search retries)");
                        false
                    }
                };
                continue;
            }
        }
        if jobs.is_empty() && rx.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            break;
        }
        unindexed = true;
        batches_since_index += 1;
        let (mut messages, senders): (Vec<NewMessage>, Vec<_>) =
            jobs.drain(..).map(|j| (j.message, j.done)).unzip();
        keep_files_once(&store, &mut messages).await;
        let started = std::time::Instant::now();
        let results = store_batch(&store, &messages).await;
        metrics::histogram!("natter_writer_batch_size").record(messages.len() as f64);
        metrics::histogram!("natter_writer_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("natter_messages_stored_total")
            .increment(results.iter().filter(|r| r.is_ok()).count() as u64);
        tracing::debug!(
            size = messages.len(),
            store_us = started.elapsed().as_micros() as u64,
            "batch stored"
        );
        let batch = results.into_iter().zip(senders).collect();
        if settled.send(batch).await.is_err() {
            // Only if the publish task is gone; its senders see the committer as stopped.
            tracing::error!("the publish task stopped; the message committer stops");
            break;
        }
    }
}

/// The publish task: each committed batch, in order, to the live connections, then the
/// answers to its senders.
async fn publish_batches(mut settled: mpsc::Receiver<Settled>, notify: Notifier) {
    while let Some(batch) = settled.recv().await {
        for (result, done) in batch {
            if let Ok(Ok((message, Inserted::New))) = &result {
                if let Err(e) = notify.message_stored(message).await {
                    tracing::warn!(error = %e, "live publish failed (clients catch up on resume)");
                }
            }
            // The sender may have gone away; the message is stored regardless.
            let _ = done.send(result);
        }
    }
}

/// A file goes out in one message only: two sends that named the same file raced past
/// the check at send time, so the first in commit order keeps it and the others go
/// without it (their live frames too). The committer attaches files one batch after
/// another, so on one node this is exact; across nodes on PostgreSQL, the database's
/// attach (`message_id IS NULL`) keeps the rows right, and a racing frame may still
/// show a file until a reload.
async fn keep_files_once(store: &Store, messages: &mut [NewMessage]) {
    let named: Vec<_> = messages
        .iter()
        .flat_map(|m| m.files.iter().map(|f| f.id))
        .collect();
    if named.is_empty() {
        return;
    }
    let mut free: std::collections::HashSet<_> = match store.unattached_files(&named).await {
        Ok(ids) => ids.into_iter().collect(),
        Err(e) => {
            // The batch's own attach still keeps the database right.
            tracing::warn!(error = %e, "could not check a batch's files");
            return;
        }
    };
    for m in messages.iter_mut() {
        m.files.retain(|f| free.remove(&f.id));
    }
}

/// Stores a batch; if the batch as a whole fails, each message is tried on its own so
/// one bad message cannot take the others down with it.
async fn store_batch(store: &Store, messages: &[NewMessage]) -> Vec<Result<Stored>> {
    match store.insert_messages(messages).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(e) if messages.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, size = messages.len(), "batch insert failed; storing one by one");
            let mut out = Vec::with_capacity(messages.len());
            for m in messages {
                out.push(store.insert_one(m).await);
            }
            out
        }
    }
}
