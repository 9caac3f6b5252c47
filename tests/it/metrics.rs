//! `/metrics` (the operator's listener) shows the counters moving: messages stored,
//! deliveries, open connections by transport, request latency by route, rate-limit
//! refusals, resume replays. The recorder is per process and the other tests run beside
//! this one: it checks what moved by at least its own share, and gauges of its own node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::server::start_with;
use http_body_util::BodyExt;
use natter::model::protocol::{ClientFrame, ServerFrame};
use tower::ServiceExt;

/// The value of the sample whose line starts with `series` (name and labels), 0 if none.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(s: &common::server::TestServer) -> String {
    let res = natter::server::edge::metrics::router(s.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn metrics_show_the_counters_moving() {
    assert!(natter::server::base::counters::install().is_some());
    let s = start_with(|c| c.sign_in_per_minute = 1).await;
    let before = scrape(&s).await;

    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    let _stream = s
        .sse(&b, &common::sse::resume_query(&[(chat, 0)], &[]))
        .await;
    for i in 0..3 {
        alice
            .send(&ClientFrame::Send {
                client_id: format!("m{i}"),
                chat_id: chat,
                body: "counted".into(),
                reply_to: None,
                files: Vec::new(),
            })
            .await;
    }
    let mut got = 0;
    while got < 3 {
        if let ServerFrame::Message { .. } = bob.next().await {
            got += 1;
        }
    }
    // Two sign-ins from one address with a limit of one a minute: one refusal.
    for _ in 0..2 {
        let _ = reqwest::Client::new()
            .post(format!("http://{}/api/sign_in", s.addr))
            .header("origin", &s.origin)
            .form(&[("username", "alice"), ("password", "wrong-password")])
            .send()
            .await
            .unwrap();
    }
    let after = scrape(&s).await;

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(moved("natter_messages_stored_total") >= 3.0, "{after}");
    assert!(moved("natter_deliveries_total") >= 6.0, "{after}");
    assert!(
        sample(&after, "natter_connections_open{transport=\"ws\"}") >= 2.0,
        "{after}"
    );
    assert!(
        sample(&after, "natter_connections_open{transport=\"sse\"}") >= 1.0,
        "{after}"
    );
    assert!(moved("natter_writer_batch_size_count") >= 1.0, "{after}");
    assert!(
        moved("natter_writer_commit_seconds_count") >= 1.0,
        "{after}"
    );
    assert!(moved("natter_resume_replays_total") >= 1.0, "{after}");
    assert!(
        moved("natter_rate_limited_total{what=\"sign_in_ip\"}") >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("natter_http_request_seconds_bucket{method=\"POST\",route=\"/api/sign_in\""),
        "{after}"
    );
    assert!(
        after.contains("natter_db_pool_connections{state=\"idle\"}"),
        "{after}"
    );
    drop(alice);
}
