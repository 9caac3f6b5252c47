//! The metrics endpoint for the operator (`--metrics-bind ADDR`: `GET /metrics` on a
//! listener of its own, off by default, so the numbers are never public by accident).
//!
//! Two kinds: events counted where they happen (the `metrics` crate's macros: no-ops
//! until the recorder is installed: `base::counters`), and state read when scraped (open connections,
//! deliveries and sheds from the hub, the database pool). Names:
//! - `natter_connections_open{transport}`: `ws` and `sse`
//! - `natter_deliveries_total`, `natter_queue_sheds_total`, `natter_slow_consumer_kicks_total`
//! - `natter_messages_stored_total`, `natter_writer_batch_size`,
//!   `natter_writer_commit_seconds` (histograms)
//! - `natter_resume_replays_total`, `natter_resume_resets_total`
//! - `natter_http_request_seconds{method,route,status}` (histogram)
//! - `natter_rate_limited_total{what}`
//! - `natter_db_pool_connections{state}`: `idle` and `in_use`

use crate::server::app::AppState;
use crate::server::base::counters::{install, is_on};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The metrics listener's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Serves [`router`] on `addr` until the process ends.
pub async fn serve(addr: &str, state: AppState) -> std::io::Result<()> {
    install();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics on /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(state)).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}

async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics unavailable",
        )
            .into_response();
    };
    let (delivered, open) = state.hub.delivery_counts();
    let (shed, kicked) = state.hub.shed_counts();
    let streams = state.hub.sse_streams();
    metrics::gauge!("natter_connections_open", "transport" => "sse").set(streams as f64);
    metrics::gauge!("natter_connections_open", "transport" => "ws")
        .set(open.saturating_sub(streams) as f64);
    metrics::counter!("natter_deliveries_total").absolute(delivered);
    metrics::counter!("natter_queue_sheds_total").absolute(shed);
    metrics::counter!("natter_slow_consumer_kicks_total").absolute(kicked);
    let (size, idle) = state.store.pool_use();
    metrics::gauge!("natter_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("natter_db_pool_connections", "state" => "in_use")
        .set((size as usize).saturating_sub(idle) as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle.render(),
    )
        .into_response()
}

/// Middleware: every request's latency, by method, route template and status (nothing
/// at all while metrics are off: no labels built per request for no one).
pub async fn time_requests(req: Request, next: Next) -> Response {
    if !is_on() {
        return next.run(req).await;
    }
    let started = std::time::Instant::now();
    // Any token is a valid method: only the ones natter answers become labels, or a
    // client could mint a time series per request.
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PATCH => "PATCH",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let res = next.run(req).await;
    metrics::histogram!(
        "natter_http_request_seconds",
        "method" => method,
        "route" => route,
        "status" => res.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    res
}
