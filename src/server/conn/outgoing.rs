//! The outgoing task of one connection: owns the socket's sending half and writes what
//! the connection's queue holds, in order. It holds live messages back until the
//! client's first frame (normally `resume`) has been answered, drops messages this
//! connection already has, fills gaps from the database, replays on `resume`, and sends
//! the heartbeat (closing idle connections and ones whose session ended).

use crate::model::protocol::{
    close, ServerFrame, HEARTBEAT_MS, IDLE_TIMEOUT_MS, RESUME_MAX_MESSAGES,
};
use crate::model::{ChatId, UserId};
use crate::server::app::AppState;
use crate::server::db::now_ms;
use crate::server::live::frame::{
    close_frame, encode_text, Frame, FrameKind, Outbound, ResumeRequest,
};
use crate::server::live::hub::QUEUE_CAPACITY;
use crate::server::live::queue::Queue;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes};
use futures::SinkExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Messages fetched per database round trip while replaying.
const REPLAY_BATCH: i64 = 500;
/// How long messages are held back waiting for the client's first frame (its `resume`).
const HOLD_BACK: Duration = Duration::from_secs(2);

pub(super) struct Outgoing {
    state: AppState,
    user: UserId,
    token_hash: Vec<u8>,
    /// Highest seq sent per chat: older live copies are dropped, gaps are filled.
    /// (A `BTreeMap`: half the size of a `HashMap` in every connection's state.)
    delivered: BTreeMap<ChatId, i64>,
    activity: Arc<AtomicI64>,
    /// Until the client's first frame (normally `resume`) is handled, durable frames are
    /// held back: the replay must come first, or a live message would overtake the ones
    /// the client missed (register-then-fetch without a gap).
    ready: bool,
    held: Vec<Frame>,
}

/// Where the outgoing task writes: a WebSocket's sending half, or the channel into an SSE
/// body (`super::sse`), which turns the same messages into events.
pub(super) trait FrameSink: futures::Sink<WsMessage> + Unpin + Send + 'static {}
impl<T: futures::Sink<WsMessage> + Unpin + Send + 'static> FrameSink for T {}

/// See [`Outgoing::order`].
enum Order {
    /// Write it (and, for a message, it is now recorded as sent).
    Write,
    /// A message this connection already has.
    Seen,
    /// A message beyond the next one: the ones in between must be sent first.
    Gap { chat: ChatId, last: i64, seq: i64 },
}

impl Outgoing {
    pub(super) fn new(
        state: AppState,
        user: UserId,
        token_hash: Vec<u8>,
        activity: Arc<AtomicI64>,
    ) -> Self {
        Outgoing {
            state,
            user,
            token_hash,
            delivered: BTreeMap::new(),
            activity,
            ready: false,
            held: Vec::new(),
        }
    }

    // Not `async fn`: an async fn keeps its arguments twice for its whole life (the
    // arguments, then the locals they are moved into; rust-lang/rust#62958), and this
    // future is held by every connection.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn run(
        mut self,
        mut sink: impl FrameSink,
        queue: Arc<Queue>,
    ) -> impl std::future::Future<Output = ()> {
        async move {
            // An end (the hub's "too slow", the reader's close) must win even while a
            // write is stuck on a client that stopped reading.
            let reason = tokio::select! {
                reason = std::future::poll_fn(|cx| queue.poll_end(cx)) => Some(reason),
                reason = self.serve(&mut sink, &queue) => reason,
            };
            let goodbye = async {
                if let Some(frame) = reason {
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                }
                let _ = sink.close().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
        }
    }

    /// Writes queued frames until the connection should end; returns the close frame.
    async fn serve(&mut self, sink: &mut impl FrameSink, queue: &Queue) -> Option<CloseFrame> {
        // The session may have been revoked between the upgrade's check and the hub's
        // registration, which a revocation would have missed: look again (registered
        // now, any later revocation reaches this connection through the hub).
        if let Ok(None) = Box::pin(self.state.store.session_user(&self.token_hash)).await {
            return Some(close_frame(close::UNAUTHORIZED, "session ended"));
        }
        let mut heartbeat = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS));
        heartbeat.tick().await;
        // Boxed and dropped once ready: most of a connection's life has no use for it.
        let mut hold_back = Some(Box::pin(tokio::time::sleep(HOLD_BACK)));
        loop {
            if self.ready {
                hold_back = None;
            }
            tokio::select! {
                biased;
                () = async { if let Some(t) = hold_back.as_mut() { t.await } }, if !self.ready => {
                    if !Box::pin(self.become_ready(sink)).await || sink.flush().await.is_err() {
                        return None;
                    }
                }
                _ = heartbeat.tick() => {
                    if let Err(reason) = Box::pin(self.heartbeat(sink)).await {
                        return reason;
                    }
                }
                mut item = std::future::poll_fn(|cx| queue.poll_pop(cx)) => {
                    // Write everything already queued, then flush once. A frame in order
                    // (nearly all) is written here; anything else takes the boxed path.
                    loop {
                        let ok = match self.in_order(item) {
                            Ok(Some(text)) => sink.feed(WsMessage::Text(text)).await.is_ok(),
                            Ok(None) => true,
                            Err(item) => Box::pin(self.process(sink, item)).await,
                        };
                        if !ok {
                            return None;
                        }
                        match queue.try_pop() {
                            Some(more) => item = more,
                            None => break,
                        }
                    }
                    if sink.flush().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Every heartbeat: closes an idle connection or one whose session ended, else pings.
    async fn heartbeat(&mut self, sink: &mut impl FrameSink) -> Result<(), Option<CloseFrame>> {
        if now_ms() - self.activity.load(Ordering::Relaxed) > IDLE_TIMEOUT_MS as i64 {
            return Err(Some(close_frame(close::IDLE, "idle")));
        }
        match self.state.store.session_user(&self.token_hash).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Some(close_frame(close::UNAUTHORIZED, "session ended"))),
            Err(e) => tracing::warn!(error = %e, "session check failed"),
        }
        match sink.send(WsMessage::Ping(Default::default())).await {
            Ok(()) => Ok(()),
            Err(_) => Err(None),
        }
    }

    /// The common case, decided without awaiting: a frame to write now (`Ok(Some)`), or
    /// a message already sent (`Ok(None)`). Everything else (held back, a gap, a
    /// resume) goes back to the caller for [`Self::process`].
    fn in_order(&mut self, item: Outbound) -> Result<Option<Utf8Bytes>, Outbound> {
        let Outbound::Frame(frame) = item else {
            return Err(item);
        };
        if !self.ready {
            return Err(Outbound::Frame(frame));
        }
        match self.order(frame.kind) {
            Order::Write => Ok(Some(frame.text.clone())),
            Order::Seen => Ok(None),
            Order::Gap { .. } => Err(Outbound::Frame(frame)),
        }
    }

    /// Where a frame stands against what this connection was already sent; a message
    /// that is next in its chat (or the first seen there) is recorded as sent.
    fn order(&mut self, kind: FrameKind) -> Order {
        let FrameKind::Message { chat, seq } = kind else {
            return Order::Write;
        };
        match self.delivered.get(&chat) {
            // Already sent (by a replay or a gap fill).
            Some(&last) if seq <= last => Order::Seen,
            Some(&last) if seq > last + 1 => Order::Gap { chat, last, seq },
            _ => {
                self.delivered.insert(chat, seq);
                Order::Write
            }
        }
    }

    /// Queues one item on the socket (without flushing). `false` when the socket is gone.
    async fn process(&mut self, sink: &mut impl FrameSink, item: Outbound) -> bool {
        match item {
            Outbound::Frame(frame) if !self.ready && frame.kind != FrameKind::Ephemeral => {
                self.held.push(frame);
                if self.held.len() > QUEUE_CAPACITY {
                    return Box::pin(self.become_ready(sink)).await;
                }
                true
            }
            Outbound::Frame(frame) => self.frame(sink, frame).await,
            Outbound::Resume(request) => {
                Box::pin(self.resume(sink, *request)).await
                    && Box::pin(self.become_ready(sink)).await
            }
            Outbound::Ready => Box::pin(self.become_ready(sink)).await,
        }
    }

    /// Stops holding back: sends what was held, through the usual dedupe / gap fill.
    async fn become_ready(&mut self, sink: &mut impl FrameSink) -> bool {
        if self.ready {
            return true;
        }
        self.ready = true;
        for frame in std::mem::take(&mut self.held) {
            if !self.frame(sink, frame).await {
                return false;
            }
        }
        true
    }

    async fn frame(&mut self, sink: &mut impl FrameSink, frame: Frame) -> bool {
        match self.order(frame.kind) {
            Order::Write => {}
            Order::Seen => return true,
            Order::Gap { chat, last, seq } => {
                if !Box::pin(self.replay(sink, chat, last, seq - 1)).await {
                    return false;
                }
                self.delivered.insert(chat, seq);
            }
        }
        sink.feed(WsMessage::Text(frame.text.clone())).await.is_ok()
    }

    async fn send(&mut self, sink: &mut impl FrameSink, frame: &ServerFrame) -> bool {
        sink.feed(WsMessage::Text(encode_text(frame))).await.is_ok()
    }

    /// Sends the committed messages with `after < seq <= until` from the database.
    async fn replay(
        &mut self,
        sink: &mut impl FrameSink,
        chat: ChatId,
        after: i64,
        until: i64,
    ) -> bool {
        let mut from = after;
        while from < until {
            let batch = match self
                .state
                .store
                .messages_after(chat, from, REPLAY_BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "replay failed");
                    return self.send(sink, &ServerFrame::Reset { chat_id: chat }).await;
                }
            };
            if batch.is_empty() {
                break;
            }
            for message in batch {
                if message.seq > until {
                    return true;
                }
                from = message.seq;
                self.delivered.insert(chat, from);
                if !self.send(sink, &ServerFrame::Message { message }).await {
                    return false;
                }
            }
        }
        true
    }

    /// Replays each chat from the client's position, or `reset` when too far behind;
    /// then, where the client said which change its copy is current to, the edits,
    /// deletes, read pointers and member list changed since, and `synced`.
    async fn resume(&mut self, sink: &mut impl FrameSink, request: ResumeRequest) -> bool {
        let ResumeRequest { positions, changes } = request;
        for (chat, position) in positions {
            let (last, last_change) = match self.state.store.chat_for_member(chat, self.user).await
            {
                Ok(Some(detail)) => (detail.last_seq, detail.last_change),
                Ok(None) => {
                    if !self
                        .send(sink, &ServerFrame::ChatRemoved { chat_id: chat })
                        .await
                    {
                        return false;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "resume failed");
                    if !self.send(sink, &ServerFrame::Reset { chat_id: chat }).await {
                        return false;
                    }
                    continue;
                }
            };
            let start = self
                .delivered
                .get(&chat)
                .copied()
                .unwrap_or(position)
                .max(position);
            if position < 0 || position > last || last - start > RESUME_MAX_MESSAGES {
                metrics::counter!("natter_resume_resets_total").increment(1);
                // Cannot close the gap (or the client claims the future): reload instead.
                self.delivered.insert(chat, last);
                if !self.send(sink, &ServerFrame::Reset { chat_id: chat }).await {
                    return false;
                }
                continue;
            }
            self.delivered.insert(chat, start);
            metrics::counter!("natter_resume_replays_total").increment(1);
            if !self.replay(sink, chat, start, last).await {
                return false;
            }
            if let Some(&since) = changes.get(&chat) {
                if !Box::pin(self.replay_changes(sink, chat, since, start, last_change)).await {
                    return false;
                }
            }
        }
        self.send(sink, &ServerFrame::Resumed).await
    }

    /// Sends the current state of what changed in `chat` after change `since`: edited
    /// and deleted messages up to `upto_seq` (newer ones were just replayed whole), read
    /// pointers, the member list; then `synced` with `last_change`, read before them
    /// (anything later that they include is sent again next time, never missed).
    async fn replay_changes(
        &mut self,
        sink: &mut impl FrameSink,
        chat: ChatId,
        since: i64,
        upto_seq: i64,
        last_change: i64,
    ) -> bool {
        if since >= last_change {
            return self
                .send(
                    sink,
                    &ServerFrame::Synced {
                        chat_id: chat,
                        change: last_change,
                    },
                )
                .await;
        }
        let store = &self.state.store;
        let found = match store
            .changed_messages(chat, since, upto_seq, RESUME_MAX_MESSAGES + 1)
            .await
        {
            Ok(messages) if messages.len() as i64 <= RESUME_MAX_MESSAGES => {
                store.chat_changes(chat, since).await.map(|c| (messages, c))
            }
            Ok(_) => {
                // Too much to replay: reload the chat instead.
                return self.send(sink, &ServerFrame::Reset { chat_id: chat }).await;
            }
            Err(e) => Err(e),
        };
        let (messages, changes) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "change replay failed");
                return self.send(sink, &ServerFrame::Reset { chat_id: chat }).await;
            }
        };
        // A message's own change number is not kept apart from its row; the client
        // tracks its position by `synced` alone.
        let mut frames: Vec<ServerFrame> = messages
            .into_iter()
            .map(|m| ServerFrame::changed(m, last_change))
            .collect();
        frames.extend(
            changes
                .reads
                .into_iter()
                .map(|(user_id, seq, change)| ServerFrame::Read {
                    chat_id: chat,
                    user_id,
                    seq,
                    change,
                }),
        );
        if let Some((members, change)) = changes.members {
            frames.push(ServerFrame::Members {
                chat_id: chat,
                members,
                change,
                title: changes.title,
                owner: changes.owner,
            });
        }
        frames.push(ServerFrame::Synced {
            chat_id: chat,
            change: last_change,
        });
        for frame in &frames {
            if !self.send(sink, frame).await {
                return false;
            }
        }
        true
    }
}
