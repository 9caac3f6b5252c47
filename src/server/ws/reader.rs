//! The reader task of one connection: reads client frames and acts on them. Sends are
//! pipelined: each is queued for the message writer and the next frame is read at
//! once; acks (or errors) go out in order as the writer commits. Invalid frames get an
//! `error` frame and count as strikes; too many close the connection.

use super::events::{encode, error_code};
use super::hub::{FrameKind, Outbound, ResumeRequest};
use super::queue::Queue;
use super::session::close_frame;
use crate::model::protocol::{
    close, ClientFrame, ErrorCode, ServerFrame, READS_PER_SECOND, READ_BURST,
    RESUME_CHATS_PER_TOKEN, TYPING_BURST, TYPING_PER_SECOND,
};
use crate::model::{AppError, ChatId, Message, User};
use crate::server::state::AppState;
use crate::server::writer::Pending;
use crate::server::{chat, db::now_ms};
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

pub(super) struct Reader {
    state: AppState,
    user: User,
    queue: Arc<Queue>,
    activity: Arc<AtomicI64>,
    sends: DefaultDirectRateLimiter,
    /// `edit`, `delete` and `resume`: each one writes or reads the database and may
    /// reach every member, so they are limited like sends (a bucket of their own).
    changes: DefaultDirectRateLimiter,
    /// `read`: a browser sends at most a few a second (it coalesces them); excess is
    /// dropped quietly, as a later `read` carries a higher seq anyway.
    reads: DefaultDirectRateLimiter,
    typing: DefaultDirectRateLimiter,
    strikes: u32,
    /// Whether the writer has been told that the client's first frame was handled.
    announced: bool,
}

impl Reader {
    pub(super) fn new(
        state: AppState,
        user: User,
        queue: Arc<Queue>,
        activity: Arc<AtomicI64>,
    ) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let sends = RateLimiter::direct(
            Quota::per_second(nz(state.config.ws_send_rate))
                .allow_burst(nz(state.config.ws_send_burst)),
        );
        let changes = RateLimiter::direct(
            Quota::per_second(nz(state.config.ws_send_rate))
                .allow_burst(nz(state.config.ws_send_burst)),
        );
        let reads = RateLimiter::direct(
            Quota::per_second(nz(READS_PER_SECOND)).allow_burst(nz(READ_BURST)),
        );
        let typing = RateLimiter::direct(
            Quota::per_second(nz(TYPING_PER_SECOND)).allow_burst(nz(TYPING_BURST)),
        );
        Reader {
            state,
            user,
            queue,
            activity,
            sends,
            changes,
            reads,
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
    #[allow(clippy::manual_async_fn)] // see `super::writer::Writer::run`
    pub(super) fn run(
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
        if self.queue.is_ending() {
            // Ended by someone else (a revoked session, a slow consumer): whatever the
            // client sends from now on is not acted on, even before the close goes out.
            return Err(close_frame(1000, "bye"));
        }
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
        let code = error_code(&app);
        if code == ErrorCode::Internal {
            return self.error(code, app.to_string(), client_id).await;
        }
        self.strike(code, &app.to_string(), client_id).await
    }

    /// Whether a `resume` naming `chats` chats fits the changes bucket: it costs one
    /// token per [`RESUME_CHATS_PER_TOKEN`] chats on top of the first (never more than
    /// the bucket holds, or it could never pass).
    fn may_resume(&self, chats: usize) -> bool {
        let burst = self.state.config.ws_send_burst.max(1) as usize;
        let cost = (1 + chats / RESUME_CHATS_PER_TOKEN).min(burst);
        let cost = NonZeroU32::new(cost as u32).unwrap_or(NonZeroU32::MIN);
        matches!(self.changes.check_n(cost), Ok(Ok(())))
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
                reply_to,
            } => {
                if self.sends.check().is_err() {
                    crate::server::metrics::rate_limited("ws_send");
                    return self
                        .strike(ErrorCode::RateLimited, "sending too fast", Some(client_id))
                        .await;
                }
                match chat::queue_send(&state, &self.user, chat_id, &client_id, &body, reply_to)
                    .await
                {
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
            ClientFrame::Resume { ref positions, .. } if !self.may_resume(positions.len()) => {
                crate::server::metrics::rate_limited("ws_change");
                self.strike(ErrorCode::RateLimited, "too many changes: slow down", None)
                    .await
            }
            ClientFrame::Edit { .. } | ClientFrame::Delete { .. } | ClientFrame::React { .. }
                if self.changes.check().is_err() =>
            {
                crate::server::metrics::rate_limited("ws_change");
                self.strike(ErrorCode::RateLimited, "too many changes: slow down", None)
                    .await
            }
            ClientFrame::Read { .. } if self.reads.check().is_err() => Ok(()),
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
            ClientFrame::React {
                message_id,
                emoji,
                on,
            } => match chat::react(&state, &self.user, message_id, &emoji, on).await {
                Ok(_) => Ok(()),
                Err(e) => self.app_error(e, None).await,
            },
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
            ClientFrame::Resume { positions, changes } => self
                .queue
                .push(Outbound::Resume(Box::new(ResumeRequest {
                    positions,
                    changes,
                })))
                .await
                .map_err(|_| close_frame(1000, "bye")),
            ClientFrame::Ping => self.reply(&ServerFrame::Pong).await,
        }
    }
}
