//! Client frames over HTTP: `POST /frames`, one frame per request, on any node (the
//! fallback's half that goes up; [`super::sse`] is the half that comes down). Frames
//! are handled by the one dispatcher ([`super::dispatch`]) that a socket's reader uses.
//!
//! Each request stands alone: authenticated by the session cookie, refused from other
//! origins by the router's middleware, limited per user like a socket's frames. The
//! answer is the frame a WebSocket would get for it, as the body: a `send` is answered
//! with its `ack` after the commit (a retry with the same client id gets the original),
//! or with an `error` frame and a 4xx status. What a frame changes reaches every
//! stream and socket through the broker, as from a socket, so it does not matter which
//! node holds the sender's stream. `edit`, `delete`, `typing` and `read` answer 204.
//! A `resume` belongs to the stream (see [`super::sse`]) and is refused here.

use super::dispatch::{dispatch, parse, Budget, Outcome, Refusal};
use crate::model::protocol::{ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use crate::model::UserId;
use crate::server::app::AppState;
use crate::server::domain::auth::AuthUser;
use crate::server::domain::chats::sent;
use crate::server::domain::limits::{UserLimits, Write};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

/// The user's limits on this node, shared with the server functions (a POST's frames
/// are held to them; a socket's to buckets of its own).
struct UserBudget<'a> {
    limits: &'a UserLimits,
    user: UserId,
}

impl Budget for UserBudget<'_> {
    fn allows(&mut self, write: Write) -> bool {
        self.limits.allows(write, self.user)
    }

    /// A `resume` is refused here whatever it costs (below).
    fn allows_resume(&mut self, _chats: usize) -> bool {
        true
    }
}

/// The answer: a server frame as JSON with `status`.
fn frame(status: StatusCode, frame: &ServerFrame) -> Response {
    let body = serde_json::to_string(frame).unwrap_or_default();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// An `error` frame, with the status its code calls for.
fn refuse(refusal: Refusal) -> Response {
    let status =
        StatusCode::from_u16(refusal.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    refuse_with(status, refusal)
}

fn refuse_with(status: StatusCode, refusal: Refusal) -> Response {
    frame(status, &refusal.frame())
}

/// `POST /frames`: one client frame (JSON), answered as described above.
pub async fn post(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    body: Bytes,
) -> Response {
    let Some(Extension(AuthUser(user))) = user else {
        return refuse_with(
            StatusCode::UNAUTHORIZED,
            Refusal::new(ErrorCode::Forbidden, "Please sign in", None),
        );
    };
    if body.len() > MAX_FRAME_BYTES {
        return refuse_with(
            StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::new(
                ErrorCode::BadFrame,
                format!("frame too big (at most {MAX_FRAME_BYTES} bytes)"),
                None,
            ),
        );
    }
    let parsed = match parse(&body) {
        Ok(f) => f,
        Err(refusal) => return refuse(refusal),
    };
    let mut budget = UserBudget {
        limits: &state.user_limits,
        user: user.id,
    };
    match dispatch(&state.chats, &state.presence, &user, parsed, &mut budget).await {
        // A send is answered after its commit.
        Outcome::Queued {
            client_id,
            chat,
            queued,
        } => match sent(queued).await {
            Ok(m) => frame(
                StatusCode::OK,
                &ServerFrame::Ack {
                    client_id,
                    chat_id: chat,
                    seq: m.seq,
                    id: m.id,
                    ts: m.created_at,
                },
            ),
            Err(e) => refuse(Refusal::of(e, Some(client_id))),
        },
        Outcome::Done => StatusCode::NO_CONTENT.into_response(),
        Outcome::Reply(reply) => frame(StatusCode::OK, &reply),
        Outcome::Resume(_) => refuse(Refusal::new(
            ErrorCode::BadFrame,
            "resume is the stream's: open GET /sse?resume=… with it",
            None,
        )),
        Outcome::Refused(refusal) => refuse(refusal),
    }
}
