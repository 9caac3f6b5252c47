//! One WebSocket connection, from upgrade to cleanup.
//!
//! The upgrade checks the `Origin` (403), the session cookie (401), the limits on
//! opening connections and the caps on open connections per user and per IP (429, see
//! [`super::opens`] and [`super::slots`]). Then the socket
//! is split: the reader task ([`super::reader`]) handles client frames; the writer task
//! ([`super::writer`]) owns the socket's sending half and drains the connection's
//! bounded queue, replaying history on `resume`, dropping messages it already sent and
//! filling gaps from the database, so the client sees each chat's messages in seq order,
//! once. Whichever task ends first ends the connection; there is one cleanup path.

use super::events::encode;
use super::hub::FrameKind;
use super::opens::Refused as OpensRefused;
use super::queue::Queue;
use super::reader::Reader;
use super::slots::{Refused, Slot};
use super::writer::{FrameSink, Writer};
use crate::model::protocol::{ServerFrame, HEARTBEAT_MS, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use crate::model::User;
use crate::server::auth::{self, AuthUser};
use crate::server::client_ip::ClientIp;
use crate::server::db::now_ms;
use crate::server::state::AppState;
use axum::extract::ws::{CloseFrame, Utf8Bytes, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 512;
/// Bytes gathered before a write even without a flush. tungstenite's write buffer keeps
/// the largest capacity it ever reached for the connection's life, so this bounds what
/// a burst (a resume; before protocol 2, a presence frame per contact) leaves behind
/// on an idle connection: 16 KiB left ~12 KiB on each; 2 KiB leaves ~3 KiB, with burst
/// and fanout figures unchanged within the noise; 1 KiB cost ~10% CPU per fanout
/// delivery (BENCHMARKS.md, "Idle with contacts").
const WRITE_BUFFER: usize = 2 * 1024;

/// `GET /ws`: checks the Origin and the session, then upgrades.
pub async fn upgrade(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    ip: Option<Extension<ClientIp>>,
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
    let slot = match acquire_slot(&state, &user, ip) {
        Ok(slot) => slot,
        Err(refusal) => return *refusal,
    };
    let token_hash = auth::session_token(&headers, state.config.secure_cookies())
        .map(|t| auth::hash_token(&t))
        .unwrap_or_default();
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Frames fed between two flushes leave together, in writes of about
        // WRITE_BUFFER bytes: the writer drains its whole queue, then flushes once (a
        // busy chat costs a syscall per couple of KiB, not per frame).
        .write_buffer_size(WRITE_BUFFER)
        // tungstenite reserves 128 KiB per connection for reading by default; client
        // frames are small (a larger one grows the buffer for as long as it needs), and
        // idle connections should cost little.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            // Split here, not in `run`: its future keeps what it is given for the whole
            // connection, and the unsplit socket is ~370 B.
            let (sink, stream) = socket.split();
            let activity = Arc::new(AtomicI64::new(now_ms()));
            let reader = {
                let (state, activity) = (state.clone(), activity.clone());
                move |user, queue| Reader::new(state, user, queue, activity).run(stream)
            };
            run(state, user, token_hash, slot, sink, activity, reader)
        })
}

/// A slot under the caps on open connections (of `/ws` and `/sse` together), or the
/// 429 that refuses one: first the limits on how fast connections are opened
/// ([`super::opens`]), then the caps on how many are open.
pub(super) fn acquire_slot(
    state: &AppState,
    user: &User,
    ip: Option<Extension<ClientIp>>,
) -> Result<Slot, Box<Response>> {
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    if let Err((refused, wait)) = state.opens.check(user.id, ip) {
        let message = match refused {
            OpensRefused::User => "Too many new connections for this account: wait a moment",
            OpensRefused::Ip => "Too many new connections from this address: wait a moment",
        };
        crate::server::metrics::rate_limited(match refused {
            OpensRefused::User => "live_open_user",
            OpensRefused::Ip => "live_open_ip",
        });
        tracing::info!(user = %user.id, ?refused, "live connection refused: opened too fast");
        // Whole seconds, rounded up (a wait under a second is still "1").
        let secs = wait.as_millis().div_ceil(1000).max(1).to_string();
        return Err(Box::new(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs)],
                message,
            )
                .into_response(),
        ));
    }
    state.slots.acquire(user.id, ip).map_err(|refused| {
        let message = match refused {
            Refused::User => "Too many open connections for this account: close some tabs",
            Refused::Ip => "Too many open connections from this address",
        };
        tracing::info!(user = %user.id, ?refused, "live connection refused: connection cap");
        Box::new(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "30")],
                message,
            )
                .into_response(),
        )
    })
}

pub(super) fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}
/// Drives one connection to its end, then cleans up (the only cleanup path). `sink`
/// is where the writer writes (a WebSocket, or an SSE body); `reader` makes the task
/// that takes the client's frames (for a stream, the one that hands over its resume).
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
pub(super) fn run<S, R>(
    state: AppState,
    user: User,
    token_hash: Vec<u8>,
    slot: Slot,
    sink: S,
    activity: Arc<AtomicI64>,
    reader: impl FnOnce(User, Arc<Queue>) -> R,
) -> impl std::future::Future<Output = ()>
where
    S: FrameSink,
    R: std::future::Future<Output = CloseFrame>,
{
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
    let reg = state.hub.register(user.id, &token_hash, hello);
    let (conn, first, user_id) = (reg.id, reg.first, user.id);
    let writer = Writer::new(state.clone(), user_id, token_hash, activity);
    let mut writer = Box::pin(writer.run(sink, reg.queue.clone()));
    let mut reader = Box::pin(reader(user, reg.queue.clone()));
    let queue = reg.queue;
    async move {
        tracing::debug!(user = %user_id, conn, "live connection opened");
        if first {
            state.announcer.changed(&state, user_id);
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
            state.announcer.changed(&state, user_id);
        }
        drop(slot);
        tracing::debug!(user = %user_id, conn, "live connection closed");
    }
}
