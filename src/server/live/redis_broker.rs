//! Fan-out across several natter nodes through Redis pub/sub.
//!
//! Redis carries wake-ups only; SQL is the truth. Every event a node publishes is
//! delivered to its own connections at once and sent on one Redis channel; every other
//! node's subscriber hands it to its own hub. Pub/sub is at-most-once: whatever is lost
//! while Redis (or a node's link to it) is down is recovered from SQL by the clients'
//! `resume`:
//! - when a node's subscription is (re)established, it tells every local connection
//!   `resync` (resume again) and drops its caches (invalidations may have been missed);
//! - when a node could not publish (Redis down, or its queue to Redis full), it
//!   publishes `resync` once it can again, and every node does the same.
//!
//! The same channel carries cache invalidations (`db::Invalidation`): a sign-out, a
//! member removed, on any node, takes effect on every node after one Redis round trip.

use super::broker::Broker;
use super::frame::{Frame, FrameKind};
use super::hub::Hub;
use crate::model::UserId;
use crate::server::db::{Invalidation, Store};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The one channel every node publishes to and subscribes to.
const CHANNEL: &str = "natter:events";
/// Events waiting to be published; beyond this the oldest news is dropped and a
/// `resync` follows (a slow or absent Redis must never hold up local delivery).
const QUEUE: usize = 65_536;
/// Envelopes published in one pipeline at most.
const BATCH: usize = 256;
/// Wait before reconnecting to Redis.
const RETRY: Duration = Duration::from_millis(500);
/// How often the subscription's link is checked (a dead Redis is noticed within twice
/// this).
const PING_EVERY: Duration = Duration::from_secs(1);
/// A publish that takes longer counts as failed (its events are recovered by resync).
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// What travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
enum Envelope {
    /// A frame for these users' connections.
    Frame {
        node: u64,
        users: Vec<UserId>,
        kind: FrameKind,
        text: String,
    },
    /// Some events may be lost: every node tells its connections to resume.
    Resync { node: u64 },
    /// A cache entry is stale.
    Invalidate { node: u64, what: Invalidation },
}

impl Envelope {
    fn node(&self) -> u64 {
        match self {
            Envelope::Frame { node, .. }
            | Envelope::Resync { node }
            | Envelope::Invalidate { node, .. } => *node,
        }
    }
}

/// Fan-out to this node's hub and, through Redis, to every other node's.
pub struct RedisBroker {
    hub: Arc<Hub>,
    node: u64,
    outbox: mpsc::Sender<Envelope>,
    /// Something could not be published: the publisher sends `resync` when it can.
    lost: Arc<AtomicBool>,
    /// The subscription is live (events from other nodes arrive).
    subscribed: Arc<AtomicBool>,
}

impl RedisBroker {
    /// Starts the publisher and subscriber tasks (they reconnect by themselves) and
    /// hooks the store's cache invalidations onto the channel.
    pub fn start(hub: Arc<Hub>, store: Store, url: &str) -> Result<Arc<Self>, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let node = rand::random::<u64>();
        let (outbox, queue) = mpsc::channel(QUEUE);
        let lost = Arc::new(AtomicBool::new(false));
        let subscribed = Arc::new(AtomicBool::new(false));
        tokio::spawn(publish(client.clone(), queue, lost.clone(), node));
        let listener = Subscriber {
            client,
            hub: hub.clone(),
            store: store.clone(),
            node,
            subscribed: subscribed.clone(),
        };
        tokio::spawn(listener.run());
        let broker = Arc::new(RedisBroker {
            hub,
            node,
            outbox,
            lost,
            subscribed,
        });
        let weak = Arc::downgrade(&broker);
        store.on_invalidate(move |what| {
            if let Some(broker) = weak.upgrade() {
                broker.send(Envelope::Invalidate {
                    node: broker.node,
                    what,
                });
            }
        });
        Ok(broker)
    }

    fn send(&self, envelope: Envelope) {
        if self.outbox.try_send(envelope).is_err() {
            self.lost.store(true, Ordering::Release);
        }
    }
}

impl Broker for RedisBroker {
    fn connected(&self) -> bool {
        self.subscribed.load(Ordering::Acquire) && !self.lost.load(Ordering::Acquire)
    }

    fn resync_everyone(&self) {
        // Through Redis to every node, this one included (its own subscriber).
        self.send(Envelope::Resync { node: self.node });
    }

    fn publish(&self, users: &[UserId], frame: Frame) {
        self.hub.send_to_users(users, &frame);
        self.send(Envelope::Frame {
            node: self.node,
            users: users.to_vec(),
            kind: frame.kind,
            text: frame.text.as_str().to_owned(),
        });
    }
}

/// Publishes queued envelopes, reconnecting as needed: all that are waiting (up to
/// [`BATCH`]) in one pipeline, so a burst costs one Redis round trip per batch, not one
/// per event. What fails is dropped (the clients recover it from SQL) and marks `lost`;
/// while something is lost, the publisher keeps trying to send `resync` (every
/// [`RETRY`]), even with nothing new to publish, so the other nodes' clients catch up as
/// soon as Redis is back.
async fn publish(
    client: redis::Client,
    mut queue: mpsc::Receiver<Envelope>,
    lost: Arc<AtomicBool>,
    node: u64,
) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        if lost.load(Ordering::Acquire) {
            // Nothing within RETRY: time to try the resync again.
            if let Ok(0) = tokio::time::timeout(RETRY, queue.recv_many(&mut batch, BATCH)).await {
                return; // the broker is gone
            }
        } else if queue.recv_many(&mut batch, BATCH).await == 0 {
            return;
        }
        let Some(c) = connected(&client, &mut conn).await else {
            lost.store(true, Ordering::Release);
            continue;
        };
        if lost.load(Ordering::Acquire) {
            // Tell every node (this one included, through its subscriber) to resume.
            if send(c, std::slice::from_ref(&Envelope::Resync { node }))
                .await
                .is_err()
            {
                conn = None;
                continue;
            }
            lost.store(false, Ordering::Release);
            tracing::info!("redis: publishing again after a gap; clients resync");
        }
        if !batch.is_empty() && send(c, &batch).await.is_err() {
            lost.store(true, Ordering::Release);
            conn = None;
        }
    }
}

/// The publisher's connection, opened if needed (`None` while Redis is unreachable).
async fn connected<'a>(
    client: &redis::Client,
    conn: &'a mut Option<redis::aio::MultiplexedConnection>,
) -> Option<&'a mut redis::aio::MultiplexedConnection> {
    if conn.is_none() {
        match client.get_multiplexed_async_connection().await {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "redis: cannot publish (events reach other nodes after resync)");
                return None;
            }
        }
    }
    conn.as_mut()
}

/// Publishes `envelopes` in order, in one pipeline (one round trip).
async fn send(
    conn: &mut redis::aio::MultiplexedConnection,
    envelopes: &[Envelope],
) -> Result<(), ()> {
    let mut pipe = redis::pipe();
    for envelope in envelopes {
        let payload = serde_json::to_vec(envelope).map_err(|_| ())?;
        pipe.cmd("PUBLISH").arg(CHANNEL).arg(payload).ignore();
    }
    match tokio::time::timeout(SEND_TIMEOUT, pipe.query_async::<()>(conn)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "redis: publish failed");
            Err(())
        }
        Err(_) => {
            tracing::warn!("redis: publish timed out");
            Err(())
        }
    }
}

/// The subscribing side of one node.
struct Subscriber {
    client: redis::Client,
    hub: Arc<Hub>,
    store: Store,
    node: u64,
    subscribed: Arc<AtomicBool>,
}

impl Subscriber {
    /// Subscribes, hands other nodes' events to the hub, and starts over when the link
    /// drops. Each (re)subscription resyncs this node's connections: they may have
    /// missed events while it was not listening.
    async fn run(self) {
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                    Ok(()) => {
                        self.subscribed.store(true, Ordering::Release);
                        resync(&self.hub, &self.store);
                        self.listen(pubsub).await;
                        self.subscribed.store(false, Ordering::Release);
                        tracing::warn!("redis: subscription lost; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "redis: cannot subscribe"),
                },
                Err(e) => tracing::debug!(error = %e, "redis: cannot connect to subscribe"),
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Delivers events until the link fails. A dead server does not always end the
    /// stream, so the link is also pinged every [`PING_EVERY`].
    async fn listen(&self, pubsub: redis::aio::PubSub) {
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { return };
                    match serde_json::from_slice::<Envelope>(msg.get_payload_bytes()) {
                        Ok(envelope) => deliver(&self.hub, &self.store, self.node, envelope),
                        Err(e) => tracing::warn!(error = %e, "redis: undecodable event"),
                    }
                }
                _ = ping.tick() => {
                    let alive = tokio::time::timeout(PING_EVERY, sink.ping::<redis::Value>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
    }
}

fn deliver(hub: &Hub, store: &Store, me: u64, envelope: Envelope) {
    match envelope {
        Envelope::Resync { .. } => resync(hub, store),
        // This node delivered (and forgot) its own already.
        e if e.node() == me => {}
        Envelope::Frame {
            users, kind, text, ..
        } => hub.send_to_users(&users, &Frame::new(text.into(), kind)),
        Envelope::Invalidate { what, .. } => store.forget(&what),
    }
}

/// Every local connection resumes from SQL; every cache entry is reloaded.
fn resync(hub: &Hub, store: &Store) {
    store.forget_all();
    hub.send_to_all(&Frame::new(
        axum::extract::ws::Utf8Bytes::from_static(RESYNC),
        FrameKind::Durable,
    ));
}

/// `ServerFrame::Resync` as sent (a constant: it carries nothing).
const RESYNC: &str = r#"{"type":"resync"}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::protocol::ServerFrame;

    #[test]
    fn the_resync_constant_is_the_frame() {
        assert_eq!(
            serde_json::from_str::<ServerFrame>(RESYNC).unwrap(),
            ServerFrame::Resync
        );
        assert_eq!(serde_json::to_string(&ServerFrame::Resync).unwrap(), RESYNC);
    }
}
