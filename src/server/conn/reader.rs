//! The reader task of one WebSocket connection: reads client frames and acts on them
//! through the one dispatcher ([`super::dispatch`]), within the connection's own
//! buckets. Sends are pipelined: each is queued for the committer and the next frame is
//! read at once; acks (or errors) go out in order as the committer commits. Invalid
//! frames get an `error` frame and count as strikes; too many close the connection.

use super::dispatch::{dispatch, parse, Budget, Outcome, Refusal};
use crate::model::protocol::{
    close, ClientFrame, ErrorCode, ServerFrame, READS_PER_SECOND, READ_BURST,
    RESUME_CHATS_PER_TOKEN, TYPING_BURST, TYPING_PER_SECOND,
};
use crate::model::{ChatId, Message, User};
use crate::server::app::AppState;
use crate::server::base::counters::rate_limited;
use crate::server::db::now_ms;
use crate::server::domain::chats::sent_outcome;
use crate::server::domain::commit::Queued;
use crate::server::domain::limits::Write;
use crate::server::live::frame::{close_frame, encode, FrameKind, Outbound};
use crate::server::live::hub::QUEUE_CAPACITY;
use crate::server::live::queue::Queue;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures::stream::SplitStream;
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Invalid frames tolerated per connection before it is closed with `POLICY`.
const MAX_STRIKES: u32 = 50;
/// Sends of one connection waiting for their commit before reading pauses. Each send
/// comes back to this connection as its own `message` frame plus an `ack`, and the
/// committer can commit all of them in one batch, so twice this must fit in the
/// connection's queue; more would let one client's burst overflow its own queue (and
/// get it cut off as a slow consumer). The more in flight, the fewer (larger) batches a
/// burst takes, and each batch pays two hand-offs to SQLite's thread.
const MAX_IN_FLIGHT: usize = 1024;
const _: () = assert!(2 * MAX_IN_FLIGHT <= QUEUE_CAPACITY);

/// A send queued for the committer, waiting for its commit.
struct InFlightSend {
    client_id: String,
    chat: ChatId,
    queued: Queued,
}

/// Queued sends, oldest first. The committer answers one connection's sends in the order
/// they were queued, so only the oldest is polled (and only it wakes the reader). A
/// `VecDeque` costs nothing while empty and one entry per send, where a
/// `FuturesOrdered` cost a boxed future and a task allocation per send, and ~150 B idle.
type InFlight = VecDeque<InFlightSend>;

/// The outcome of the oldest queued send, once the committer has answered it.
fn poll_oldest(
    in_flight: &mut InFlight,
    cx: &mut Context<'_>,
) -> Poll<(String, ChatId, crate::server::base::error::Result<Message>)> {
    let Some(oldest) = in_flight.front_mut() else {
        return Poll::Pending;
    };
    let answer = std::task::ready!(std::future::Future::poll(Pin::new(&mut oldest.queued), cx));
    let (client_id, chat) = (std::mem::take(&mut oldest.client_id), oldest.chat);
    in_flight.pop_front();
    if in_flight.is_empty() {
        // Give back what a burst made it grow to.
        *in_flight = VecDeque::new();
    }
    Poll::Ready((client_id, chat, sent_outcome(answer)))
}

/// A socket's own buckets (per connection, where a POST's are per user).
struct SocketBudget {
    sends: DefaultDirectRateLimiter,
    /// `edit`, `delete`, `react` and `resume`: each one writes or reads the database and
    /// may reach every member, so they are limited like sends (a bucket of their own).
    changes: DefaultDirectRateLimiter,
    /// `read`: a browser sends at most a few a second (it coalesces them); excess is
    /// dropped quietly, as a later `read` carries a higher seq anyway.
    reads: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
    /// The changes bucket's size (`--ws-send-burst`).
    burst: u32,
}

impl SocketBudget {
    fn new(rate: u32, burst: u32) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = |rate: u32, burst: u32| Quota::per_second(nz(rate)).allow_burst(nz(burst));
        SocketBudget {
            sends: RateLimiter::direct(quota(rate, burst)),
            changes: RateLimiter::direct(quota(rate, burst)),
            reads: RateLimiter::direct(quota(READS_PER_SECOND, READ_BURST)),
            typing: RateLimiter::direct(quota(TYPING_PER_SECOND, TYPING_BURST)),
            burst,
        }
    }
}

impl Budget for SocketBudget {
    fn allows(&mut self, write: Write) -> bool {
        let (bucket, what) = match write {
            Write::Send => (&self.sends, Some("ws_send")),
            Write::Change => (&self.changes, Some("ws_change")),
            Write::Read => (&self.reads, None),
            Write::Typing => (&self.typing, None),
            // Not frames: nothing a socket sends is limited by these.
            Write::Manage | Write::Search => return true,
        };
        let fits = bucket.check().is_ok();
        if let (false, Some(what)) = (fits, what) {
            rate_limited(what);
        }
        fits
    }

    /// A `resume` naming `chats` chats costs one token of the changes bucket per
    /// [`RESUME_CHATS_PER_TOKEN`] chats on top of the first (never more than the bucket
    /// holds, or it could never pass).
    fn allows_resume(&mut self, chats: usize) -> bool {
        let burst = self.burst.max(1) as usize;
        let cost = (1 + chats / RESUME_CHATS_PER_TOKEN).min(burst);
        let cost = NonZeroU32::new(cost as u32).unwrap_or(NonZeroU32::MIN);
        let fits = matches!(self.changes.check_n(cost), Ok(Ok(())));
        if !fits {
            rate_limited("ws_change");
        }
        fits
    }
}

pub(super) struct Reader {
    state: AppState,
    user: User,
    queue: Arc<Queue>,
    activity: Arc<AtomicI64>,
    budget: SocketBudget,
    strikes: u32,
    /// Whether the outgoing task has been told that the client's first frame was handled.
    announced: bool,
    /// The tab this connection speaks for (its `visible` frames): hidden once it
    /// closes, so that a person who closed their last tab gets Web Push at once.
    tab: Option<u64>,
}

impl Reader {
    pub(super) fn new(
        state: AppState,
        user: User,
        queue: Arc<Queue>,
        activity: Arc<AtomicI64>,
    ) -> Self {
        let budget = SocketBudget::new(state.config.ws_send_rate, state.config.ws_send_burst);
        Reader {
            state,
            user,
            queue,
            activity,
            budget,
            strikes: 0,
            announced: false,
            tab: None,
        }
    }

    /// Reads until the client leaves or must be closed; returns the close frame to send.
    ///
    /// Sends are pipelined: each is queued for the committer and the next frame is
    /// read at once; acks go out in order as the committer commits (at most
    /// [`MAX_IN_FLIGHT`] wait at a time, then reading pauses).
    #[allow(clippy::manual_async_fn)] // see `super::outgoing::Outgoing::run`
    pub(super) fn run(
        mut self,
        mut stream: SplitStream<WebSocket>,
    ) -> impl std::future::Future<Output = CloseFrame> {
        async move {
            let mut in_flight = InFlight::new();
            let close = loop {
                let waiting = in_flight.len();
                tokio::select! {
                    biased;
                    (client_id, chat_id, outcome) = std::future::poll_fn(|cx| poll_oldest(&mut in_flight, cx)), if waiting > 0 => {
                        if let Err(frame) = Box::pin(self.acked(client_id, chat_id, outcome)).await {
                            break frame;
                        }
                    }
                    msg = stream.next(), if waiting < MAX_IN_FLIGHT => {
                        let Some(msg) = msg else { break close_frame(1000, "bye") };
                        if let Err(frame) = Box::pin(self.received(msg, &mut in_flight)).await {
                            break frame;
                        }
                    }
                }
            };
            if let Some(tab) = self.tab {
                self.state
                    .presence
                    .tab_visible(self.user.id, tab, false)
                    .await;
            }
            close
        }
    }

    async fn received(
        &mut self,
        msg: Result<WsMessage, axum::Error>,
        in_flight: &mut InFlight,
    ) -> Result<(), CloseFrame> {
        self.activity.store(now_ms(), Ordering::Relaxed);
        if self.queue.is_ending() {
            // Ended by someone else (a revoked session, a slow consumer): whatever the
            // client sends from now on is not acted on, even before the close goes out.
            return Err(close_frame(1000, "bye"));
        }
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "ws read error");
                return Err(match e.into_inner().downcast::<tungstenite::Error>() {
                    Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => {
                        close_frame(1009, "frame too big")
                    }
                    _ => close_frame(1002, "protocol error"),
                });
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
        outcome: crate::server::base::error::Result<Message>,
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
            Err(e) => self.refused(Refusal::of(e, Some(client_id))).await,
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

    /// An `error` frame; one for the client's mistake (anything but `internal`) also
    /// counts against the connection's patience.
    async fn refused(&mut self, refusal: Refusal) -> Result<(), CloseFrame> {
        if refusal.code == ErrorCode::Internal {
            return self
                .error(refusal.code, refusal.message, refusal.client_id)
                .await;
        }
        self.strike(refusal.code, &refusal.message, refusal.client_id)
            .await
    }

    async fn text(&mut self, text: &str, in_flight: &mut InFlight) -> Result<(), CloseFrame> {
        let frame: ClientFrame = match parse(text.as_bytes()) {
            Ok(f) => f,
            Err(refusal) => return self.refused(refusal).await,
        };
        if !self.announced {
            self.announced = true;
            if !matches!(frame, ClientFrame::Resume { .. }) {
                self.queue
                    .push(Outbound::Ready)
                    .await
                    .map_err(|_| close_frame(1000, "bye"))?;
            }
        }
        if let ClientFrame::Visible { tab, .. } = frame {
            self.tab = Some(tab);
        }
        match dispatch(
            &self.state.chats,
            &self.state.presence,
            &self.user,
            frame,
            &mut self.budget,
        )
        .await
        {
            Outcome::Queued {
                client_id,
                chat,
                queued,
            } => {
                in_flight.push_back(InFlightSend {
                    client_id,
                    chat,
                    queued,
                });
                Ok(())
            }
            Outcome::Done => Ok(()),
            Outcome::Reply(frame) => self.reply(&frame).await,
            Outcome::Resume(request) => self
                .queue
                .push(Outbound::Resume(request))
                .await
                .map_err(|_| close_frame(1000, "bye")),
            Outcome::Refused(refusal) => self.refused(refusal).await,
        }
    }
}
