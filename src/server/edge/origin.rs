//! Cross-origin request refusal for everything that changes state: the middleware
//! (the rule itself is `base::same_origin`, which the SSE stream asks too).

use crate::server::app::AppState;
use crate::server::base::same_origin::allowed;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware: refuses state-changing requests from other origins with 403.
pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !allowed(&state.config.public_origin, req.headers()) {
        tracing::info!(
            path = %req.uri().path(),
            origin = ?req.headers().get(header::ORIGIN),
            "cross-origin request refused"
        );
        return (StatusCode::FORBIDDEN, "Cross-origin request refused").into_response();
    }
    next.run(req).await
}
