//! The HTTP surface: `fn app(state) -> Router`, testable with `tower::ServiceExt::oneshot`.
//!
//! Layers, outermost first: the request id, tracing, compression (br, gzip), security headers, cache
//! headers, server-function error statuses, the client's address
//! ([`super::client_ip`]), the cross-origin refusal ([`super::origin`]), the session
//! guard ([`super::guard`]); then `/healthz`, the server functions under
//! `/api/` and the pages (both registered by `leptos_routes_with_context`), static files.

use super::guard::{self, Guard, Pages};
use crate::server::app::AppState;
use crate::server::conn;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::LeptosRoutes;
use std::sync::Arc;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The whole application router.
pub fn app(state: AppState) -> Router {
    let routes = leptos_axum::generate_route_list(crate::ui::App);
    let guard = Guard {
        state: state.clone(),
        pages: Arc::new(Pages::from_routes(routes.iter().map(|r| r.path()))),
    };
    let page_ctx = {
        let s = state.clone();
        move || {
            provide_context(s.clone());
            // Render with the nonce the CSP header (set by `content_security_policy`) names.
            let nonce = leptos::prelude::use_context::<http::request::Parts>()
                .and_then(|p| p.extensions.get::<CspNonce>().cloned());
            if let Some(CspNonce(n)) = nonce {
                provide_context(leptos::nonce::Nonce::from_value(n));
            }
        }
    };
    let shell = {
        let o = state.leptos_options.clone();
        move || crate::ui::shell(o.clone())
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ws", get(conn::socket::upgrade))
        .route("/sse", get(conn::sse::stream))
        .route("/frames", axum::routing::post(conn::post::post))
        .route(
            "/api/files",
            // The body is the file, streamed and held to `--file-max-mb` as it comes
            // (nothing parses it, so nothing buffers it).
            axum::routing::post(super::files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/chats/{id}/files",
            // Multipart: the parser holds what precedes a part's data, so the whole body
            // is limited (one file's worth and the form's few fields).
            axum::routing::post(super::files::send_form).layer(DefaultBodyLimit::max(
                usize::try_from(state.config.file_max_mb.saturating_mul(1_000_000))
                    .unwrap_or(usize::MAX)
                    .saturating_add(64 * 1024),
            )),
        )
        .route(
            "/account/avatar",
            axum::routing::post(super::profiles::upload_avatar)
                .layer(DefaultBodyLimit::max(super::profiles::AVATAR_FORM_BYTES)),
        )
        .route("/avatars/{id}/{side}", get(super::profiles::avatar))
        .route("/people/{id}", get(super::profiles::person))
        .route("/account", get(super::pages::account))
        .route("/account/", get(super::pages::account))
        .route("/admin", get(super::pages::admin))
        .route("/reset", get(super::pages::reset))
        .route("/channels", get(super::pages::channels))
        .route("/thumbs/{id}", get(super::files::thumbnail))
        .route("/files/{id}/{name}", get(super::files::download))
        .leptos_routes_with_context(&state, routes, page_ctx.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_ctx, crate::ui::shell))
        .layer(middleware::from_fn_with_state(
            guard,
            guard::resolve_session,
        ))
        // Before the session is even looked up: a forged request does no work.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::origin::refuse_cross_origin,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::client_ip::client_ip,
        ))
        // Head to answer, body included: a body sent a byte at a time (or announced and
        // never sent) must not hold a connection (`--request-timeout-secs`; uploads get
        // the time a file of `--file-max-mb` needs at a slow 100 KB/s).
        .layer(middleware::from_fn_with_state(
            RequestTimeouts {
                any: std::time::Duration::from_secs(state.config.request_timeout_secs.max(1)),
                upload: std::time::Duration::from_secs(
                    state.config.request_timeout_secs.max(1)
                        + state.config.file_max_mb.saturating_mul(10),
                ),
            },
            request_timeout,
        ))
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn(super::metrics::time_requests))
        .layer(middleware::from_fn(cache_headers))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            content_security_policy,
        ))
        // Pages and server-function replies are gzipped on the fly at the fastest
        // level: brotli's encoder zeroes megabytes of tables per response, which cost
        // more CPU than rendering the page. The static files (the WASM above all) are
        // precompressed with brotli at the highest level by the release build and
        // served as they are.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .quality(CompressionLevel::Fastest)
                // Shared files are sent as they are: images are compressed already, and
                // gzipping a 25 MB download on every request is CPU for nothing.
                .compress_when(
                    DefaultPredicate::new()
                        .and(NotForContentType::const_new("application/octet-stream")),
                ),
        )
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // The proxy's request id when it sent one, else a new one; returned in the
        // response and named in every log line of the request (its span).
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // A client's own id only if it looks like one: it goes into every log line.
        .layer(middleware::from_fn(drop_odd_request_id))
        .with_state(state)
}

/// How long a request may take, head to answer ([`request_timeout`]).
#[derive(Clone, Copy)]
struct RequestTimeouts {
    any: std::time::Duration,
    upload: std::time::Duration,
}

/// 408 past the request's time: what `tower_http`'s timeout did, with a longer time for
/// `POST /api/files`. A cut upload's row is doomed by the file sweeper.
async fn request_timeout(State(t): State<RequestTimeouts>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let upload = path == "/api/files"
        || path == "/account/avatar"
        || (path.starts_with("/chats/") && path.ends_with("/files"));
    let limit = if req.method() == Method::POST && upload {
        t.upload
    } else {
        t.any
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Longest `x-request-id` kept from a client or proxy.
const REQUEST_ID_MAX: usize = 64;

/// Whether a client-sent request id is safe to log and return: 1–64 of
/// `[A-Za-z0-9._:-]` (UUIDs, nginx's hex `$request_id`, trace ids). Anything else
/// (newlines that forge log lines, escapes, megabytes) is dropped and a fresh id made.
pub fn acceptable_request_id(id: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

async fn drop_odd_request_id(mut req: Request, next: Next) -> Response {
    let odd = req
        .headers()
        .get_all("x-request-id")
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !acceptable_request_id(v.as_bytes()));
    if odd {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Each request's span: method, path (not the query: a stream's resume positions are
/// no log's business) and request id.
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
    )
}

/// The per-response nonce for inline scripts, chosen here and handed to the renderer.
#[derive(Clone, Debug)]
pub struct CspNonce(pub std::sync::Arc<str>);

/// Pages: only our own files, plus inline scripts carrying this response's nonce (leptos's
/// hydration bootstrap and serialised resources) and `'wasm-unsafe-eval'` so the WASM can
/// compile; no framing. Everything else (API answers, files): nothing at all.
///
/// The header is set here rather than from inside the render so that it can never go
/// missing on a page.
async fn content_security_policy(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce: std::sync::Arc<str> = leptos::nonce::Nonce::new().to_string().into();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let is_worker = req.uri().path() == "/sw.js";
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = if is_html {
        let o = &state.leptos_options;
        let dev_reload = match o.env {
            leptos::config::Env::DEV => format!(" ws://{}:{}", o.site_addr.ip(), o.reload_port),
            _ => String::new(),
        };
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'{dev_reload}; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    } else if is_worker {
        // The service worker's own policy governs what it may fetch: natter's origin
        // only. (A sandboxed worker would have an opaque origin and not register.)
        "default-src 'self'; object-src 'none'".to_string()
    } else {
        // `sandbox`: a shared file opened on its own (an HTML or SVG someone uploaded)
        // runs nothing and is not same-origin with natter.
        "default-src 'none'; frame-ancestors 'none'; sandbox".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&policy) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// Alive, with the state of what it depends on: 503 when the database is unreachable;
/// a node whose Redis is down still serves pages and stores messages, so it stays 200
/// and says so.
async fn healthz(State(state): State<AppState>) -> Response {
    let redis = match (&state.config.redis_url, state.broker.connected()) {
        (None, _) => "not configured (one node)",
        (Some(_), true) => "ok",
        (Some(_), false) => "unreachable (live events between nodes resume when it is back)",
    };
    let backend = state.store.backend();
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            format!("ok\ndatabase: {backend} ok\nredis: {redis}\n"),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("database unavailable\ndatabase: {backend} unreachable\nredis: {redis}\n"),
            )
                .into_response()
        }
    }
}

/// `/readyz`: whether this node should get traffic: its database answers with every
/// migration applied, and, with `--redis-url`, its link to the other nodes is up (a
/// node without it serves, but its users miss other nodes' events until it is back).
/// 200 or 503, with one line per check.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.store.migrated().await {
        Ok(true) => Ok("ok"),
        Ok(false) => Err("migrations not applied (or applied by a newer build)"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            Err("unreachable")
        }
    };
    let redis = match (&state.config.redis_url, state.broker.connected()) {
        (None, _) => Ok("not configured (one node)"),
        (Some(_), true) => Ok("ok"),
        (Some(_), false) => Err("unreachable"),
    };
    let ready = database.is_ok() && redis.is_ok();
    let body = format!(
        "{}\ndatabase: {}\nredis: {}\n",
        if ready { "ready" } else { "not ready" },
        database.unwrap_or_else(|e| e),
        redis.unwrap_or_else(|e| e)
    );
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// Server-function errors raised before our code runs (undecodable arguments) leave the
/// framework as a 500; give them the status of the [`AppError`] in their body instead.
async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let res = retry_after(next.run(req).await);
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<crate::model::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
    }
    retry_after(Response::from_parts(parts, Body::from(bytes)))
}

/// A 429 says when to try again (the limits are per minute).
fn retry_after(mut res: Response) -> Response {
    if res.status() == StatusCode::TOO_MANY_REQUESTS
        && !res.headers().contains_key(header::RETRY_AFTER)
    {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::server::domain::limits::RETRY_AFTER_SECS),
        );
    }
    res
}

/// Static files revalidate (cheap 304s, never a stale WASM after a deploy); pages and
/// API answers are private to the signed-in user and never stored.
async fn cache_headers(req: Request, next: Next) -> Response {
    let is_get = req.method() == Method::GET;
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        let value = if is_get
            && crate::server::edge::guard::is_public_file(&path)
            && res.status().is_success()
        {
            "public, max-age=0, must-revalidate"
        } else {
            "no-store"
        };
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}
