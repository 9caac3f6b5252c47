//! One WebSocket connection, from upgrade to cleanup.
//!
//! The upgrade checks the `Origin` (403), then admits the connection as every live
//! connection is admitted ([`super::life::admit`]: the session, the limits on opening
//! connections and the caps on open ones). Then the socket is split: the reader task
//! ([`super::reader`]) handles client frames; the outgoing task ([`super::outgoing`])
//! owns the socket's sending half and drains the connection's bounded queue. Both run
//! in the one connection life of [`super::life::run`].

use super::life::{admit, run, signed_in, Admitted};
use super::reader::Reader;
use crate::model::protocol::MAX_FRAME_BYTES;
use crate::server::app::AppState;
use crate::server::base::net::ClientIp;
use crate::server::db::now_ms;
use crate::server::domain::auth::AuthUser;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

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
    let user = match signed_in(user) {
        Ok(user) => user,
        Err(refusal) => return *refusal,
    };
    let Admitted {
        user,
        slot,
        token_hash,
    } = match admit(&state, user, ip, &headers) {
        Ok(admitted) => admitted,
        Err(refusal) => return *refusal,
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Frames fed between two flushes leave together, in writes of about
        // WRITE_BUFFER bytes: the outgoing task drains its queue, then flushes once (a
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
