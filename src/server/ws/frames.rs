//! Client frames over HTTP: `POST /frames`, one frame per request, on any node (the
//! fallback's half that goes up; [`super::sse`] is the half that comes down).
//!
//! Each request stands alone: authenticated by the session cookie, refused from other
//! origins by the router's middleware, limited per user like a socket's frames. The
//! answer is the frame a WebSocket would get for it, as the body: a `send` is answered
//! with its `ack` after the commit (a retry with the same client id gets the original),
//! or with an `error` frame and a 4xx status. What a frame changes reaches every
//! stream and socket through the broker, as from a socket, so it does not matter which
//! node holds the sender's stream. `edit`, `delete`, `typing` and `read` answer 204.
//! A `resume` belongs to the stream (see [`super::sse`]) and is refused here.

use super::events::error_code;
use crate::model::protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use crate::model::AppError;
use crate::server::auth::AuthUser;
use crate::server::chat;
use crate::server::limits::Write;
use crate::server::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

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
fn refuse(code: ErrorCode, message: String, client_id: Option<String>) -> Response {
    let status = match code {
        ErrorCode::BadFrame | ErrorCode::Invalid => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refuse_with(status, code, message, client_id)
}

fn refuse_with(
    status: StatusCode,
    code: ErrorCode,
    message: String,
    client_id: Option<String>,
) -> Response {
    frame(
        status,
        &ServerFrame::Error {
            code,
            message,
            client_id,
        },
    )
}

fn app_error(err: crate::server::Error, client_id: Option<String>) -> Response {
    let app = AppError::from(err);
    refuse(error_code(&app), app.to_string(), client_id)
}

fn done(outcome: crate::server::Result<impl Sized>) -> Response {
    match outcome {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => app_error(e, None),
    }
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
            ErrorCode::Forbidden,
            "Please sign in".into(),
            None,
        );
    };
    if body.len() > MAX_FRAME_BYTES {
        return refuse_with(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadFrame,
            format!("frame too big (at most {MAX_FRAME_BYTES} bytes)"),
            None,
        );
    }
    let parsed: ClientFrame = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return refuse(ErrorCode::BadFrame, format!("bad frame: {e}"), None),
    };
    let limits = &state.user_limits;
    match parsed {
        ClientFrame::Send {
            client_id,
            chat_id,
            body,
            reply_to,
        } => {
            if !limits.allows(Write::Send, user.id) {
                return refuse(
                    ErrorCode::RateLimited,
                    "sending too fast".into(),
                    Some(client_id),
                );
            }
            match chat::send(&state, &user, chat_id, &client_id, &body, reply_to).await {
                Ok(m) => frame(
                    StatusCode::OK,
                    &ServerFrame::Ack {
                        client_id,
                        chat_id,
                        seq: m.seq,
                        id: m.id,
                        ts: m.created_at,
                    },
                ),
                Err(e) => app_error(e, Some(client_id)),
            }
        }
        ClientFrame::Edit { .. } | ClientFrame::Delete { .. } | ClientFrame::React { .. }
            if !limits.allows(Write::Change, user.id) =>
        {
            refuse(
                ErrorCode::RateLimited,
                "too many changes: slow down".into(),
                None,
            )
        }
        ClientFrame::Edit { message_id, body } => {
            done(chat::edit(&state, &user, message_id, &body).await)
        }
        ClientFrame::Delete { message_id } => done(chat::delete(&state, &user, message_id).await),
        ClientFrame::React {
            message_id,
            emoji,
            on,
        } => done(chat::react(&state, &user, message_id, &emoji, on).await),
        // Best effort, as on a socket: the excess is dropped quietly.
        ClientFrame::Typing { .. } if !limits.allows(Write::Typing, user.id) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ClientFrame::Read { .. } if !limits.allows(Write::Read, user.id) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ClientFrame::Typing { chat_id } => done(chat::typing(&state, &user, chat_id).await),
        ClientFrame::Read { chat_id, seq } => {
            done(chat::mark_read(&state, &user, chat_id, seq).await)
        }
        ClientFrame::Resume { .. } => refuse(
            ErrorCode::BadFrame,
            "resume is the stream's: open GET /sse?resume=… with it".into(),
            None,
        ),
        ClientFrame::Ping => frame(StatusCode::OK, &ServerFrame::Pong),
    }
}
