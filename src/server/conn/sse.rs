//! The live protocol's fallback stream: Server-Sent Events, for browsers whose
//! WebSocket is blocked (docs/PROTOCOL.md, "Fallback: SSE + POST").
//!
//! `GET /sse?resume=<resume frame as JSON>` is a connection like `/ws`, served by the
//! same registry, queue and outgoing task ([`super::life::run`]): the same `hello`,
//! frames, order, replay, gap filling and heartbeat. Only the wire differs: each server
//! frame is one event's `data:` line; the heartbeat is a comment plus a `heartbeat`
//! event (the browser's `EventSource` shows no comments to the page, and the page
//! needs a sign of life); the close frame is a `close` event, then the stream ends.
//!
//! The client's frames are POSTs to `/frames` on any node ([`super::post`]). Its
//! `resume` is the stream's query: a stream is opened with what the client holds, as a
//! WebSocket's first frame says it, and the replay comes first. A chat that the client
//! opens later, or a `resync`, opens a new stream (positions are per chat, so SSE's
//! single `Last-Event-ID` cannot carry them).

use super::life::{self, admit, signed_in, Admitted};
use crate::model::protocol::ClientFrame;
use crate::server::app::AppState;
use crate::server::base::net::ClientIp;
use crate::server::base::same_origin;
use crate::server::db::now_ms;
use crate::server::domain::auth::AuthUser;
use crate::server::live::frame::{Outbound, ResumeRequest};
use crate::server::live::queue::Queue;
use axum::body::{Body, Bytes};
use axum::extract::ws::Message as WsMessage;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::Poll;

/// Frames between the outgoing task and the HTTP body. Small: the connection's queue is the
/// buffer that counts (and kicks a slow consumer); this one only lets the body take
/// several frames per write.
const BODY_BUFFER: usize = 64;
/// Frames gathered into one body chunk (one write) at most.
const CHUNK_FRAMES: usize = 256;

#[derive(serde::Deserialize)]
pub struct StreamQuery {
    resume: Option<String>,
}

/// `GET /sse`: checks the origin, the session and the caps like `/ws`, then streams.
pub async fn stream(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Response {
    // A GET: same-origin pages send no `Origin` here, so the rule is the POSTs' one.
    if !same_origin::allowed(&state.config.public_origin, &headers) {
        return (StatusCode::FORBIDDEN, "Origin not allowed").into_response();
    }
    let user = match signed_in(user) {
        Ok(user) => user,
        Err(refusal) => return *refusal,
    };
    let resume = match query.resume.as_deref().map(parse_resume).transpose() {
        Ok(r) => r,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let Admitted {
        user,
        slot,
        token_hash,
    } = match admit(&state, user, ip, &headers) {
        Ok(admitted) => admitted,
        Err(refusal) => return *refusal,
    };
    let (sink, frames) = futures::channel::mpsc::channel::<WsMessage>(BODY_BUFFER);
    let activity = Arc::new(AtomicI64::new(now_ms()));
    // The stream has no client frames; its "reader" hands the outgoing task the resume
    // (or says there is none) and waits for it to end the connection.
    let first = match resume {
        Some(request) => Outbound::Resume(Box::new(request)),
        None => Outbound::Ready,
    };
    let reader = move |_user, queue: Arc<Queue>| async move {
        let _ = queue.push(first).await;
        std::future::pending().await
    };
    let hub = state.hub.clone();
    let connection = life::run(
        state,
        user,
        token_hash,
        slot,
        sink,
        activity.clone(),
        reader,
    );
    hub.sse_stream_opened();
    tokio::spawn(async move {
        connection.await;
        hub.sse_stream_closed();
    });
    // Each chunk is what the channel holds (up to CHUNK_FRAMES frames), encoded
    // straight into one buffer: `ready_chunks` would keep a vector of CHUNK_FRAMES
    // messages allocated for every idle stream.
    let mut frames = frames;
    let body = futures::stream::poll_fn(move |cx| {
        let first = std::task::ready!(frames.poll_next_unpin(cx));
        Poll::Ready(first.map(|first| {
            // The body is being read: the client is alive (a client that stops reading
            // stops this, and the outgoing task's idle check closes the stream).
            activity.store(now_ms(), Ordering::Relaxed);
            let mut out = String::new();
            encode_into(&mut out, &first);
            for _ in 1..CHUNK_FRAMES {
                match frames.try_recv() {
                    Ok(more) => encode_into(&mut out, &more),
                    Err(_) => break,
                }
            }
            Ok::<_, std::convert::Infallible>(Bytes::from(out))
        }))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // nginx: pass events on as they come, not when its buffer fills.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The `resume` query parameter: a `resume` frame as JSON.
fn parse_resume(json: &str) -> Result<ResumeRequest, String> {
    match serde_json::from_str::<ClientFrame>(json) {
        Ok(ClientFrame::Resume { positions, changes }) => Ok(ResumeRequest { positions, changes }),
        Ok(_) => Err("resume: expected a resume frame".into()),
        Err(e) => Err(format!("resume: {e}")),
    }
}

/// A server frame as an SSE event, appended to `out`.
fn encode_into(out: &mut String, message: &WsMessage) {
    match message {
        // A frame is one line of compact JSON (newlines in strings are escaped).
        WsMessage::Text(text) => {
            out.push_str("data: ");
            out.push_str(text.as_str());
            out.push_str("\n\n");
        }
        WsMessage::Ping(_) => out.push_str(": heartbeat\nevent: heartbeat\ndata: {}\n\n"),
        WsMessage::Close(frame) => {
            let (code, reason) = frame
                .as_ref()
                .map_or((1000, ""), |f| (f.code, f.reason.as_str()));
            let data = serde_json::json!({ "code": code, "reason": reason });
            out.push_str(&format!("event: close\ndata: {data}\n\n"));
        }
        WsMessage::Binary(_) | WsMessage::Pong(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ws::{CloseFrame, Utf8Bytes};

    #[test]
    fn frames_heartbeats_and_close_become_events() {
        let batch = [
            WsMessage::Text(Utf8Bytes::from_static(r#"{"type":"pong"}"#)),
            WsMessage::Ping(Default::default()),
            WsMessage::Close(Some(CloseFrame {
                code: 4001,
                reason: Utf8Bytes::from_static("session ended"),
            })),
        ];
        let mut out = String::new();
        for m in &batch {
            encode_into(&mut out, m);
        }
        assert_eq!(
            out,
            "data: {\"type\":\"pong\"}\n\n: heartbeat\nevent: heartbeat\ndata: {}\n\n\
             event: close\ndata: {\"code\":4001,\"reason\":\"session ended\"}\n\n"
        );
    }

    #[test]
    fn resume_is_a_resume_frame() {
        let r = parse_resume(r#"{"type":"resume","positions":{"7":12},"changes":{"7":3}}"#);
        let r = r.unwrap();
        assert_eq!(r.positions.get(&crate::model::ChatId(7)), Some(&12));
        assert_eq!(r.changes.get(&crate::model::ChatId(7)), Some(&3));
        assert!(parse_resume(r#"{"type":"ping"}"#).is_err());
        assert!(parse_resume("{").is_err());
    }
}
