//! The connection registry: which connections each user has open, and fan-out to them.
//!
//! The registry lock is a `std::sync::Mutex` that is only ever held for non-blocking
//! work (`try_push` into bounded queues), never across an `.await`. A recipient whose
//! queue is full loses ephemeral frames (typing, presence) first; when a durable frame
//! does not fit, that connection is kicked (closed with `SLOW_CONSUMER`, to resume on
//! reconnect) and everyone else carries on.

use super::frame::{Frame, FrameKind, Outbound};
use super::queue::{PushError, Queue};
use crate::model::protocol::close;
use crate::model::UserId;
use crate::server::db::Revoked;
use axum::extract::ws::{CloseFrame, Utf8Bytes};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Frames waiting for one connection. Big enough for a burst of a busy group, and for
/// a client's own pipelined sends coming back; small enough that a stuck client costs
/// little (a slot is two words, frames are shared, and an empty queue holds nothing).
pub const QUEUE_CAPACITY: usize = 2048;

pub type ConnId = u64;

struct Conn {
    id: ConnId,
    queue: Arc<Queue>,
    /// The hash of the session token it was opened with (SHA-256: 32 bytes), so a
    /// revocation closes exactly that session's connections.
    session: [u8; 32],
}

/// A token hash as [`Conn::session`] keeps it (a hash of another length, which
/// `domain::auth::hash_token` never makes, becomes zeros: matched by no single-session
/// revocation, and still by a revocation of all the user's sessions).
fn session_key(hash: &[u8]) -> [u8; 32] {
    hash.try_into().unwrap_or([0; 32])
}

/// A registered connection.
pub struct Registration {
    pub id: ConnId,
    /// Its outbound queue (also how the hub tells it that it is too slow).
    pub queue: Arc<Queue>,
    /// Whether this is the user's first open connection (they just came online).
    pub first: bool,
}

#[derive(Default)]
pub struct Hub {
    conns: Mutex<HashMap<UserId, Vec<Conn>>>,
    next_id: AtomicU64,
    dropped_ephemeral: AtomicU64,
    kicked: AtomicU64,
    /// Frames queued for a connection, since start (one add per fan-out, not per frame).
    delivered: AtomicU64,
    /// Of the connections, those that are SSE streams (the metrics tell them from
    /// sockets). The hub's, not a static: a process may run several nodes (the tests do).
    sse_streams: AtomicUsize,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Vec<Conn>>> {
        // A panic while holding this lock cannot leave the map half-updated in a way
        // that matters (every operation is a single insert/remove), so keep serving.
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection of `user`, opened with the session whose token hash is
    /// `session`, whose queue starts with `hello`: nothing can be queued before it, as
    /// the connection is not visible until this returns.
    pub fn register(&self, user: UserId, session: &[u8], hello: Frame) -> Registration {
        let queue = Arc::new(Queue::new(QUEUE_CAPACITY));
        // An empty queue takes one item.
        let _ = queue.try_push(Outbound::Frame(hello));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut conns = self.lock();
        let list = conns.entry(user).or_default();
        let first = list.is_empty();
        list.push(Conn {
            id,
            queue: queue.clone(),
            session: session_key(session),
        });
        Registration { id, queue, first }
    }

    /// Removes a connection; returns whether it was the user's last (they went offline).
    pub fn unregister(&self, user: UserId, id: ConnId) -> bool {
        let mut conns = self.lock();
        let Some(list) = conns.get_mut(&user) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.id != id);
        let removed = list.len() < before;
        let last = list.is_empty();
        if last {
            conns.remove(&user);
        }
        removed && last
    }

    pub fn is_online(&self, user: UserId) -> bool {
        self.lock().contains_key(&user)
    }

    /// The users with at least one open connection here.
    pub fn online_users(&self) -> Vec<UserId> {
        self.lock().keys().copied().collect()
    }

    /// Number of open connections (for logs and the benchmark).
    pub fn connection_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Delivers `frame` to every open connection of every user in `users`.
    pub fn send_to_users(&self, users: &[UserId], frame: &Frame) {
        let conns = self.lock();
        let mut offered = 0;
        for user in users {
            if let Some(list) = conns.get(user) {
                for conn in list {
                    self.offer(conn, frame);
                }
                offered += list.len() as u64;
            }
        }
        self.delivered.fetch_add(offered, Ordering::Relaxed);
    }

    /// Delivers `frame` to every open connection (see [`ServerFrame::Resync`]).
    ///
    /// [`ServerFrame::Resync`]: crate::model::protocol::ServerFrame::Resync
    pub fn send_to_all(&self, frame: &Frame) {
        let conns = self.lock();
        for conn in conns.values().flatten() {
            self.offer(conn, frame);
        }
    }

    /// Delivers `frame` to one connection.
    pub fn send_to_conn(&self, user: UserId, id: ConnId, frame: &Frame) {
        let conns = self.lock();
        if let Some(conn) = conns.get(&user).and_then(|l| l.iter().find(|c| c.id == id)) {
            self.offer(conn, frame);
        }
    }

    fn offer(&self, conn: &Conn, frame: &Frame) {
        match conn.queue.try_push(Outbound::Frame(frame.clone())) {
            Ok(()) => {}
            Err(PushError::Full(_)) => {
                if frame.kind == FrameKind::Ephemeral {
                    self.dropped_ephemeral.fetch_add(1, Ordering::Relaxed);
                } else {
                    let kicked = conn.queue.end(CloseFrame {
                        code: close::SLOW_CONSUMER,
                        reason: Utf8Bytes::from_static("too slow: resume"),
                    });
                    // Frames keep coming for it until its cleanup unregisters it: one
                    // kick, one log line.
                    if kicked {
                        self.kicked.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(conn = conn.id, "slow consumer: closing connection");
                    }
                }
            }
            // The connection is closing; its cleanup will unregister it.
            Err(PushError::Closed) => {}
        }
    }

    /// Closes the connections of the sessions `revoked` ended (close code 4001), at
    /// once: what their clients send from now on is not acted on (the reader checks
    /// that its queue is ending). Returns how many.
    pub fn revoke(&self, revoked: &Revoked) -> usize {
        let conns = self.lock();
        let Some(list) = conns.get(&revoked.user()) else {
            return 0;
        };
        let mut closed = 0;
        for conn in list.iter().filter(|c| revoked.ends(&c.session)) {
            conn.queue.end(CloseFrame {
                code: close::UNAUTHORIZED,
                reason: Utf8Bytes::from_static("session revoked"),
            });
            closed += 1;
        }
        if closed > 0 {
            tracing::info!(user = %revoked.user(), connections = closed, "session revoked: closing its connections");
        }
        closed
    }

    /// Frames offered to connections since start, and the connections open now.
    pub fn delivery_counts(&self) -> (u64, usize) {
        let open = self.lock().values().map(Vec::len).sum();
        (self.delivered.load(Ordering::Relaxed), open)
    }

    /// The SSE streams open now (of [`Self::delivery_counts`]'s connections).
    pub fn sse_streams(&self) -> usize {
        self.sse_streams.load(Ordering::Relaxed)
    }

    /// One more of the connections is an SSE stream (until [`Self::sse_stream_closed`]).
    pub fn sse_stream_opened(&self) {
        self.sse_streams.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sse_stream_closed(&self) {
        self.sse_streams.fetch_sub(1, Ordering::Relaxed);
    }

    /// (ephemeral frames dropped, connections kicked) since start.
    pub fn shed_counts(&self) -> (u64, u64) {
        (
            self.dropped_ephemeral.load(Ordering::Relaxed),
            self.kicked.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind) -> Frame {
        Frame::new(Utf8Bytes::from_static("{}"), kind)
    }

    #[test]
    fn a_slow_consumer_is_kicked_once_however_many_frames_follow() {
        let hub = Hub::new();
        let (slow, fast) = (UserId(1), UserId(2));
        let reg = hub.register(slow, &[], frame(FrameKind::Durable));
        let other = hub.register(fast, &[], frame(FrameKind::Durable));
        // Nobody reads `slow`'s queue; `fast`'s is drained as it goes.
        for _ in 0..QUEUE_CAPACITY + 500 {
            hub.send_to_users(&[slow, fast], &frame(FrameKind::Durable));
            while other.queue.try_pop().is_some() {}
        }
        assert_eq!(hub.shed_counts(), (0, 1));
        let again = reg.queue.end(CloseFrame {
            code: 1000,
            reason: Utf8Bytes::from_static(""),
        });
        assert!(!again, "already ending");
        // Ephemeral frames for a full queue are dropped, never a kick.
        hub.send_to_users(&[slow], &frame(FrameKind::Ephemeral));
        assert_eq!(hub.shed_counts(), (1, 1));
    }

    #[test]
    fn a_revocation_closes_exactly_the_revoked_sessions() {
        let hub = Hub::new();
        let (a, b) = (UserId(1), UserId(2));
        let (one, two) = ([1u8; 32], [2u8; 32]);
        let a1 = hub.register(a, &one, frame(FrameKind::Durable));
        let a2 = hub.register(a, &two, frame(FrameKind::Durable));
        let b2 = hub.register(b, &two, frame(FrameKind::Durable));
        let only = Revoked::Session {
            user: a,
            session: two.to_vec(),
        };
        assert_eq!(hub.revoke(&only), 1);
        assert!(!a1.queue.is_ending() && a2.queue.is_ending());
        assert!(
            !b2.queue.is_ending(),
            "another user's session is not touched"
        );
        let all_but_one = Revoked::AllBut {
            user: a,
            keep: Some(one.to_vec()),
        };
        hub.revoke(&all_but_one);
        assert!(!a1.queue.is_ending(), "the kept session stays");
        hub.revoke(&Revoked::AllBut {
            user: a,
            keep: None,
        });
        assert!(a1.queue.is_ending());
        assert!(!b2.queue.is_ending());
    }
}
