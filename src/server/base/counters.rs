//! The process's metrics recorder, and the counters that code in every layer bumps
//! (the scrape endpoint that reads them is `edge::metrics`). The `metrics` crate's
//! macros are no-ops until [`install`] runs.

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

/// Whether the recorder is installed (metrics are on).
pub fn is_on() -> bool {
    matches!(HANDLE.get(), Some(Some(_)))
}

/// One refusal by a rate limit (`what`: sign_in, sign_up, send, change, read, typing,
/// hash_busy, …).
pub fn rate_limited(what: &'static str) {
    metrics::counter!("natter_rate_limited_total", "what" => what).increment(1);
}
