//! The life of one live connection, WebSocket or SSE stream alike: how it is admitted
//! ([`admit`]: the session, the limits on opening connections, the caps on open ones)
//! and how it runs to its one cleanup ([`run`]: registered in the hub, `hello`
//! first, presence told, the reader and outgoing tasks raced, then unregistered).
//!
//! The outgoing task ([`super::outgoing`]) drains the connection's bounded queue,
//! replaying history on `resume`, dropping messages it already sent and filling gaps
//! from the database, so the client sees each chat's messages in seq order, once.
//! Whichever task ends first ends the connection.

use super::outgoing::{FrameSink, Outgoing};
use crate::model::protocol::{ServerFrame, HEARTBEAT_MS, PROTOCOL_VERSION};
use crate::model::User;
use crate::server::app::AppState;
use crate::server::base::counters::rate_limited;
use crate::server::base::net::ClientIp;
use crate::server::domain::auth::{hash_token, session_token, AuthUser};
use crate::server::live::frame::{encode, FrameKind};
use crate::server::live::opens::Refused as OpensRefused;
use crate::server::live::queue::Queue;
use crate::server::live::slots::{Refused, Slot};
use axum::extract::ws::CloseFrame;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

/// A connection let in: its user, its slot under the caps, and the hash of the session
/// token it came with (a revocation of that session closes it).
pub(super) struct Admitted {
    pub user: User,
    pub slot: Slot,
    pub token_hash: Vec<u8>,
}

/// The signed-in user of a live connection's request, or the 401 that refuses it.
pub(super) fn signed_in(user: Option<Extension<AuthUser>>) -> Result<User, Box<Response>> {
    match user {
        Some(Extension(AuthUser(user))) => Ok(user),
        None => Err(Box::new(
            (StatusCode::UNAUTHORIZED, "Sign in first").into_response(),
        )),
    }
}

/// Lets a signed-in user's live connection in, or the 429 that refuses it (the origin
/// and the session were checked by the caller: the two transports have different
/// rules for the origin, and the stream reads its query in between).
pub(super) fn admit(
    state: &AppState,
    user: User,
    ip: Option<Extension<ClientIp>>,
    headers: &HeaderMap,
) -> Result<Admitted, Box<Response>> {
    let slot = acquire_slot(state, &user, ip)?;
    // The cookie that signed this request in (over https only the `__Host-` one).
    let token_hash = session_token(headers, state.config.secure_cookies())
        .map(|t| hash_token(&t))
        .unwrap_or_default();
    Ok(Admitted {
        user,
        slot,
        token_hash,
    })
}

/// A slot under the caps on open connections (of `/ws` and `/sse` together), or the
/// 429 that refuses one: first the limits on how fast connections are opened
/// (`live::opens`), then the caps on how many are open.
fn acquire_slot(
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
        rate_limited(match refused {
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

/// Drives one connection to its end, then cleans up (the only cleanup path). `sink`
/// is where the outgoing task writes (a WebSocket, or an SSE body); `reader` makes the task
/// that takes the client's frames (for a stream, the one that hands over its resume).
///
/// Memory per idle connection is what this future holds while it waits, so:
/// - everything is set up before the `async` block: what the block captures stays in it
///   for the connection's whole life, and a value built inside it and moved on (or a
///   shadowed one) keeps its slot too;
/// - the reader and outgoing futures are boxed (one allocation each); pinned as locals,
///   the compiler kept both a moved-from and a pinned copy of each;
/// - rare, deep paths (database work, replays, handling a client frame) are boxed where
///   they are awaited, so the loops' states stay small;
/// - the long-lived futures are `async move` blocks, not `async fn`s (see `Outgoing::run`).
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
    let outgoing = Outgoing::new(state.clone(), user_id, token_hash, activity);
    let mut outgoing = Box::pin(outgoing.run(sink, reg.queue.clone()));
    let mut reader = Box::pin(reader(user, reg.queue.clone()));
    let queue = reg.queue;
    async move {
        tracing::debug!(user = %user_id, conn, "live connection opened");
        if first {
            state.announcer.changed(user_id);
        }
        if let Err(e) = Box::pin(state.presence.send_snapshot(user_id, conn)).await {
            tracing::warn!(error = %e, "presence snapshot failed");
        }

        tokio::select! {
            () = &mut outgoing => {}
            reason = &mut reader => {
                queue.end(reason);
                // Let the outgoing task send the close frame, but never wait on a stuck client.
                let _ = Box::pin(tokio::time::timeout(Duration::from_secs(2), outgoing)).await;
            }
        }

        queue.close();
        if state.hub.unregister(user_id, conn) {
            state.announcer.changed(user_id);
        }
        drop(slot);
        tracing::debug!(user = %user_id, conn, "live connection closed");
    }
}
