//! Prometheus metrics for the operator (`--metrics-bind ADDR`: `GET /metrics` on a
//! listener of its own, off by default, so the numbers are never public by accident).
//!
//! Two kinds: events counted where they happen (the `metrics` crate's macros: no-ops
//! until the recorder is installed), and state read when scraped (open connections,
//! deliveries and sheds from the hub, the database pool). Names:
//! - `natter_connections_open{transport}`: `ws` and `sse`
//! - `natter_deliveries_total`, `natter_queue_sheds_total`, `natter_slow_consumer_kicks_total`
//! - `natter_messages_stored_total`, `natter_writer_batch_size`,
//!   `natter_writer_commit_seconds` (histograms)
//! - `natter_resume_replays_total`, `natter_resume_resets_total`
//! - `natter_http_request_seconds{method,route,status}` (histogram)
//! - `natter_rate_limited_total{what}`
//! - `natter_db_pool_connections{state}`: `idle` and `in_use`

use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder (installed once; `None` if another one was first).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let sizes = [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("natter_writer_batch_size".into()),
                        &sizes,
                    )
                })
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics: no recorder"))
                .ok()
        })
        .as_ref()
}

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
    if !matches!(HANDLE.get(), Some(Some(_))) {
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

/// One refusal by a rate limit (`what`: sign_in, sign_up, send, change, read, typing,
/// hash_busy, …).
pub fn rate_limited(what: &'static str) {
    metrics::counter!("natter_rate_limited_total", "what" => what).increment(1);
}
