//! One WebSocket connection, from upgrade to cleanup.
//!
//! The upgrade checks the `Origin` (403) and the session cookie (401). Then the socket
//! is split: the reader task handles client frames; the writer task owns the socket's
//! sending half and drains the connection's bounded queue, replaying history on
//! `resume`, dropping messages it already sent and filling gaps from the database, so
//! the client sees each chat's messages in seq order, once. Whichever task ends first
//! ends the connection; there is one cleanup path.

use super::events::{encode, encode_text};
use super::hub::{Frame, FrameKind, Outbound};
use super::queue::Queue;
use crate::model::protocol::{
    close, ClientFrame, ErrorCode, ServerFrame, HEARTBEAT_MS, IDLE_TIMEOUT_MS, MAX_FRAME_BYTES,
    PROTOCOL_VERSION, RESUME_MAX_MESSAGES,
};
use crate::model::{AppError, ChatId, Message, User, UserId};
use crate::server::auth::{self, AuthUser};
use crate::server::state::AppState;
use crate::server::writer::Pending;
use crate::server::{chat, db::now_ms};
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Invalid frames tolerated per connection before it is closed with `POLICY`.
const MAX_STRIKES: u32 = 50;
/// Messages fetched per database round trip while replaying.
const REPLAY_BATCH: i64 = 500;
/// How long messages are held back waiting for the client's first frame (its `resume`).
const HOLD_BACK: Duration = Duration::from_secs(2);
/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 512;
/// Bytes gathered before a write even without a flush.
const WRITE_BUFFER: usize = 16 * 1024;
/// Sends of one connection waiting for their commit before reading pauses. Each send
/// comes back to this connection as its own `message` frame plus an `ack`, and the
/// writer can commit all of them in one batch, so twice this must fit in the
/// connection's queue; more would let one client's burst overflow its own queue (and
/// get it cut off as a slow consumer). The more in flight, the fewer (larger) batches a
/// burst takes, and each batch pays two hand-offs to SQLite's thread.
const MAX_IN_FLIGHT: usize = 1024;
const _: () = assert!(2 * MAX_IN_FLIGHT <= crate::server::ws::hub::QUEUE_CAPACITY);

/// A send queued for the message writer, waiting for its commit.
struct InFlightSend {
    client_id: String,
    chat: ChatId,
    pending: Pending,
}

/// Queued sends, oldest first. The writer answers one connection's sends in the order
/// they were queued, so only the oldest is polled (and only it wakes the reader). A
/// `VecDeque` costs nothing while empty and one entry per send, where a
/// `FuturesOrdered` cost a boxed future and a task allocation per send, and ~150 B idle.
type InFlight = VecDeque<InFlightSend>;

/// The outcome of the oldest queued send, once the writer has answered it.
fn poll_oldest(
    in_flight: &mut InFlight,
    cx: &mut Context<'_>,
) -> Poll<(String, ChatId, crate::server::Result<Message>)> {
    let Some(oldest) = in_flight.front_mut() else {
        return Poll::Pending;
    };
    let answer = std::task::ready!(std::future::Future::poll(Pin::new(&mut oldest.pending), cx));
    let (client_id, chat) = (std::mem::take(&mut oldest.client_id), oldest.chat);
    in_flight.pop_front();
    if in_flight.is_empty() {
        // Give back what a burst made it grow to.
        *in_flight = VecDeque::new();
    }
    Poll::Ready((client_id, chat, chat::sent_outcome(answer)))
}

/// `GET /ws`: checks the Origin and the session, then upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(state.config.public_origin.trim_end_matches('/')) {
        // Cross-site WebSocket hijacking: a page elsewhere riding the user's cookie.
        return (StatusCode::FORBIDDEN, "Origin not allowed").into_response();
    }
    let Some(Extension(AuthUser(user))) = user else {
        return (StatusCode::UNAUTHORIZED, "Sign in first").into_response();
    };
    let token_hash = auth::session_token(&headers)
        .map(|t| auth::hash_token(&t))
        .unwrap_or_default();
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Frames fed between two flushes leave in one write: the writer drains its whole
        // queue, then flushes once (a busy chat costs one syscall per batch, not per frame).
        .write_buffer_size(WRITE_BUFFER)
        // tungstenite reserves 128 KiB per connection for reading by default; client
        // frames are small (a larger one grows the buffer for as long as it needs), and
        // idle connections should cost little.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            // Split here, not in `run`: its future keeps what it is given for the whole
            // connection, and the unsplit socket is ~370 B.
            let (sink, stream) = socket.split();
            run(state, user, token_hash, sink, stream)
        })
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}

/// Drives one connection to its end, then cleans up (the only cleanup path).
///
/// Memory per idle connection is what this future holds while it waits, so:
/// - everything is set up before the `async` block: what the block captures stays in it
///   for the connection's whole life, and a value built inside it and moved on (or a
///   shadowed one) keeps its slot too;
/// - the reader and writer futures are boxed (one allocation each); pinned as locals,
///   the compiler kept both a moved-from and a pinned copy of each;
/// - rare, deep paths (database work, replays, handling a client frame) are boxed where
///   they are awaited, so the loops' states stay small;
/// - the long-lived futures are `async move` blocks, not `async fn`s (see `Writer::run`).
fn run(
    state: AppState,
    user: User,
    token_hash: Vec<u8>,
    sink: Sink,
    stream: SplitStream<WebSocket>,
) -> impl std::future::Future<Output = ()> {
    // The first frame, never held back (ephemeral frames are not), and first in the
    // queue, which is empty when it goes in, so it cannot be dropped either.
    let hello = encode(
        &ServerFrame::Hello {
            protocol: PROTOCOL_VERSION,
            user_id: user.id,
            username: user.username.clone(),
            heartbeat_ms: HEARTBEAT_MS,
        },
        FrameKind::Ephemeral,
    );
    let reg = state.hub.register(user.id, hello);
    let (conn, first, user_id) = (reg.id, reg.first, user.id);
    let activity = Arc::new(AtomicI64::new(now_ms()));
    let writer = Writer {
        state: state.clone(),
        user: user_id,
        token_hash,
        delivered: BTreeMap::new(),
        activity: activity.clone(),
        ready: false,
        held: Vec::new(),
    };
    let mut writer = Box::pin(writer.run(sink, reg.queue.clone()));
    let mut reader =
        Box::pin(Reader::new(state.clone(), user, reg.queue.clone(), activity).run(stream));
    let queue = reg.queue;
    async move {
        tracing::debug!(user = %user_id, conn, "ws connected");
        if first {
            if let Err(e) = Box::pin(state.presence_changed(user_id, true)).await {
                tracing::warn!(error = %e, "presence update failed");
            }
        }
        if let Err(e) = Box::pin(state.send_presence_snapshot(user_id, conn)).await {
            tracing::warn!(error = %e, "presence snapshot failed");
        }

        tokio::select! {
            () = &mut writer => {}
            reason = &mut reader => {
                queue.end(reason);
                // Let the writer send the close frame, but never wait on a stuck client.
                let _ = Box::pin(tokio::time::timeout(Duration::from_secs(2), writer)).await;
            }
        }

        queue.close();
        if state.hub.unregister(user_id, conn) {
            if let Err(e) = Box::pin(state.presence_changed(user_id, false)).await {
                tracing::warn!(error = %e, "presence update failed");
            }
        }
        tracing::debug!(user = %user_id, conn, "ws disconnected");
    }
}

struct Writer {
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

type Sink = SplitSink<WebSocket, WsMessage>;

/// See [`Writer::order`].
enum Order {
    /// Write it (and, for a message, it is now recorded as sent).
    Write,
    /// A message this connection already has.
    Seen,
    /// A message beyond the next one: the ones in between must be sent first.
    Gap { chat: ChatId, last: i64, seq: i64 },
}

impl Writer {
    // Not `async fn`: an async fn keeps its arguments twice for its whole life (the
    // arguments, then the locals they are moved into; rust-lang/rust#62958), and this
    // future is held by every connection.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self, mut sink: Sink, queue: Arc<Queue>) -> impl std::future::Future<Output = ()> {
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
    async fn serve(&mut self, sink: &mut Sink, queue: &Queue) -> Option<CloseFrame> {
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
    async fn heartbeat(&mut self, sink: &mut Sink) -> Result<(), Option<CloseFrame>> {
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
    async fn process(&mut self, sink: &mut Sink, item: Outbound) -> bool {
        match item {
            Outbound::Frame(frame) if !self.ready && frame.kind != FrameKind::Ephemeral => {
                self.held.push(frame);
                if self.held.len() > super::hub::QUEUE_CAPACITY {
                    return Box::pin(self.become_ready(sink)).await;
                }
                true
            }
            Outbound::Frame(frame) => self.frame(sink, frame).await,
            Outbound::Resume(positions) => {
                Box::pin(self.resume(sink, *positions)).await
                    && Box::pin(self.become_ready(sink)).await
            }
            Outbound::Ready => Box::pin(self.become_ready(sink)).await,
        }
    }

    /// Stops holding back: sends what was held, through the usual dedupe / gap fill.
    async fn become_ready(&mut self, sink: &mut Sink) -> bool {
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

    async fn frame(&mut self, sink: &mut Sink, frame: Frame) -> bool {
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

    async fn send(&mut self, sink: &mut Sink, frame: &ServerFrame) -> bool {
        sink.feed(WsMessage::Text(encode_text(frame))).await.is_ok()
    }

    /// Sends the committed messages with `after < seq <= until` from the database.
    async fn replay(&mut self, sink: &mut Sink, chat: ChatId, after: i64, until: i64) -> bool {
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

    /// Replays each chat from the client's position, or `reset` when too far behind.
    async fn resume(&mut self, sink: &mut Sink, positions: BTreeMap<ChatId, i64>) -> bool {
        for (chat, position) in positions {
            let last = match self.state.store.chat_for_member(chat, self.user).await {
                Ok(Some(detail)) => detail.last_seq,
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
                // Cannot close the gap (or the client claims the future): reload instead.
                self.delivered.insert(chat, last);
                if !self.send(sink, &ServerFrame::Reset { chat_id: chat }).await {
                    return false;
                }
                continue;
            }
            self.delivered.insert(chat, start);
            if !self.replay(sink, chat, start, last).await {
                return false;
            }
        }
        self.send(sink, &ServerFrame::Resumed).await
    }
}

struct Reader {
    state: AppState,
    user: User,
    queue: Arc<Queue>,
    activity: Arc<AtomicI64>,
    sends: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
    strikes: u32,
    /// Whether the writer has been told that the client's first frame was handled.
    announced: bool,
}

impl Reader {
    fn new(state: AppState, user: User, queue: Arc<Queue>, activity: Arc<AtomicI64>) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let sends = RateLimiter::direct(
            Quota::per_second(nz(state.config.ws_send_rate))
                .allow_burst(nz(state.config.ws_send_burst)),
        );
        let typing = RateLimiter::direct(Quota::per_second(nz(2)).allow_burst(nz(5)));
        Reader {
            state,
            user,
            queue,
            activity,
            sends,
            typing,
            strikes: 0,
            announced: false,
        }
    }

    /// Reads until the client leaves or must be closed; returns the close frame to send.
    ///
    /// Sends are pipelined: each is queued for the message writer and the next frame is
    /// read at once; acks go out in order as the writer commits (at most
    /// [`MAX_IN_FLIGHT`] wait at a time, then reading pauses).
    #[allow(clippy::manual_async_fn)] // see `Writer::run`
    fn run(
        mut self,
        mut stream: SplitStream<WebSocket>,
    ) -> impl std::future::Future<Output = CloseFrame> {
        async move {
            let mut in_flight = InFlight::new();
            loop {
                let waiting = in_flight.len();
                tokio::select! {
                    biased;
                    (client_id, chat_id, outcome) = std::future::poll_fn(|cx| poll_oldest(&mut in_flight, cx)), if waiting > 0 => {
                        if let Err(frame) = Box::pin(self.acked(client_id, chat_id, outcome)).await {
                            return frame;
                        }
                    }
                    msg = stream.next(), if waiting < MAX_IN_FLIGHT => {
                        let Some(msg) = msg else { break };
                        if let Err(frame) = Box::pin(self.received(msg, &mut in_flight)).await {
                            return frame;
                        }
                    }
                }
            }
            close_frame(1000, "bye")
        }
    }

    async fn received(
        &mut self,
        msg: Result<WsMessage, axum::Error>,
        in_flight: &mut InFlight,
    ) -> Result<(), CloseFrame> {
        self.activity.store(now_ms(), Ordering::Relaxed);
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                let text = e.to_string();
                tracing::debug!(error = %text, "ws read error");
                return Err(
                    if text.contains("too long") || text.contains("Space limit") {
                        close_frame(1009, "frame too big")
                    } else {
                        close_frame(1002, "protocol error")
                    },
                );
            }
        };
        match msg {
            WsMessage::Text(text) => self.text(text.as_str(), in_flight).await,
            WsMessage::Binary(_) => {
                self.strike(ErrorCode::BadFrame, "binary frames are not supported", None)
                    .await
            }
            WsMessage::Close(_) => Err(close_frame(1000, "bye")),
            WsMessage::Ping(_) | WsMessage::Pong(_) => Ok(()),
        }
    }

    /// A queued send was committed (ack) or refused (error frame).
    async fn acked(
        &mut self,
        client_id: String,
        chat_id: ChatId,
        outcome: crate::server::Result<Message>,
    ) -> Result<(), CloseFrame> {
        match outcome {
            Ok(m) => {
                self.reply(&ServerFrame::Ack {
                    client_id,
                    chat_id,
                    seq: m.seq,
                    id: m.id,
                    ts: m.created_at,
                })
                .await
            }
            Err(e) => self.app_error(e, Some(client_id)).await,
        }
    }

    /// Queues a frame for this connection only (waits if its queue is full: that only
    /// slows this client's own reading).
    async fn reply(&self, frame: &ServerFrame) -> Result<(), CloseFrame> {
        self.queue
            .push(Outbound::Frame(encode(frame, FrameKind::Durable)))
            .await
            .map_err(|_| close_frame(1000, "bye"))
    }

    async fn error(
        &self,
        code: ErrorCode,
        message: String,
        client_id: Option<String>,
    ) -> Result<(), CloseFrame> {
        self.reply(&ServerFrame::Error {
            code,
            message,
            client_id,
        })
        .await
    }

    /// An error frame that also counts against the connection's patience.
    async fn strike(
        &mut self,
        code: ErrorCode,
        message: &str,
        client_id: Option<String>,
    ) -> Result<(), CloseFrame> {
        self.strikes += 1;
        if self.strikes > MAX_STRIKES {
            return Err(close_frame(
                close::POLICY,
                "too many invalid or rate-limited frames",
            ));
        }
        self.error(code, message.to_string(), client_id).await
    }

    async fn app_error(
        &mut self,
        err: crate::server::Error,
        client_id: Option<String>,
    ) -> Result<(), CloseFrame> {
        let app = AppError::from(err);
        let code = match &app {
            AppError::Invalid(_) => ErrorCode::Invalid,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Forbidden | AppError::Unauthorized | AppError::BadCredentials => {
                ErrorCode::Forbidden
            }
            AppError::RateLimited => ErrorCode::RateLimited,
            AppError::Conflict(_) => ErrorCode::Invalid,
            AppError::Internal | AppError::Transport(_) => ErrorCode::Internal,
        };
        if code == ErrorCode::Internal {
            return self.error(code, app.to_string(), client_id).await;
        }
        self.strike(code, &app.to_string(), client_id).await
    }

    async fn text(&mut self, text: &str, in_flight: &mut InFlight) -> Result<(), CloseFrame> {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                return self
                    .strike(ErrorCode::BadFrame, &format!("bad frame: {e}"), None)
                    .await
            }
        };
        let state = self.state.clone();
        if !self.announced {
            self.announced = true;
            if !matches!(frame, ClientFrame::Resume { .. }) {
                self.queue
                    .push(Outbound::Ready)
                    .await
                    .map_err(|_| close_frame(1000, "bye"))?;
            }
        }
        match frame {
            ClientFrame::Send {
                client_id,
                chat_id,
                body,
            } => {
                if self.sends.check().is_err() {
                    return self
                        .strike(ErrorCode::RateLimited, "sending too fast", Some(client_id))
                        .await;
                }
                match chat::queue_send(&state, &self.user, chat_id, &client_id, &body).await {
                    Ok(pending) => {
                        in_flight.push_back(InFlightSend {
                            client_id,
                            chat: chat_id,
                            pending,
                        });
                        Ok(())
                    }
                    Err(e) => self.app_error(e, Some(client_id)).await,
                }
            }
            ClientFrame::Edit { message_id, body } => {
                match chat::edit(&state, &self.user, message_id, &body).await {
                    Ok(_) => Ok(()),
                    Err(e) => self.app_error(e, None).await,
                }
            }
            ClientFrame::Delete { message_id } => {
                match chat::delete(&state, &self.user, message_id).await {
                    Ok(_) => Ok(()),
                    Err(e) => self.app_error(e, None).await,
                }
            }
            ClientFrame::Typing { chat_id } => {
                if self.typing.check().is_err() {
                    return Ok(()); // typing is best effort: excess is dropped quietly
                }
                match chat::typing(&state, &self.user, chat_id).await {
                    Ok(()) => Ok(()),
                    Err(e) => self.app_error(e, None).await,
                }
            }
            ClientFrame::Read { chat_id, seq } => {
                match chat::mark_read(&state, &self.user, chat_id, seq).await {
                    Ok(_) => Ok(()),
                    Err(e) => self.app_error(e, None).await,
                }
            }
            ClientFrame::Resume { positions } => self
                .queue
                .push(Outbound::Resume(Box::new(positions)))
                .await
                .map_err(|_| close_frame(1000, "bye")),
            ClientFrame::Ping => self.reply(&ServerFrame::Pong).await,
        }
    }
}
