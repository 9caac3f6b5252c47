//! `scale`: what a year of a team's history costs (issue 31, ten million messages).
//!
//! Runs against a database filled by `examples/fill.rs` (users `u00000`…, the first
//! ten each in 100 chats, password `bench-password`), one request at a time, and
//! reports each figure's latency: `list_chats` for a user in 100 chats, opening the
//! busiest chat (its newest page, and a page deep in its history), search (a common
//! word, a rare one, three words together), resuming after 10 000 missed messages,
//! the server's cold start and the database's bytes per message. The burst is the
//! `burst` scenario run on the same database. The same command on a small fill gives
//! the figures to compare with.

use crate::client::{next_frame, Error, Server};
use crate::stats::{Latency, Row};
use leptos::server_fn::ServerFn;
use natter::model::protocol::ServerFrame;
use natter::model::{ChatId, ChatSummary};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// The password `examples/fill.rs` gives everyone.
const PASSWORD: &str = "bench-password";
/// Users in 100 chats each (`fill --power-users`, its default).
const POWER_USERS: usize = 10;
/// Searches a user may make at once (the server's per-user burst is 20).
const SEARCHES_PER_USER: usize = 18;

pub async fn scale(
    server: &Server,
    database_url: Option<&str>,
    cold_start: Option<Duration>,
    samples: usize,
) -> Result<Vec<Row>, Error> {
    let mut cookies = Vec::new();
    for i in 0..POWER_USERS {
        cookies.push(server.sign_in(&format!("u{i:05}"), PASSWORD).await?);
    }
    let list_path = natter::api::chats::ListChats::PATH;
    let chats: Vec<ChatSummary> =
        serde_json::from_str(&server.call(list_path, &[], &cookies[0]).await?)?;
    let busiest = chats
        .iter()
        .max_by_key(|c| c.last_seq)
        .ok_or("u00000 is in no chat: fill the database with examples/fill.rs first")?;
    let (chat, last_seq) = (busiest.id, busiest.last_seq);
    let mut rows = Vec::new();

    let listed = chats.len();
    let mut row = timed(samples, |i| {
        let cookie = cookies[i % cookies.len()].clone();
        async move { server.call(list_path, &[], &cookie).await.map(drop) }
    })
    .await?;
    row.params = format!("list_chats, a user in {listed} chats");
    rows.push(row);

    let open_path = natter::api::messages::OpenChat::PATH;
    let id = chat.0.to_string();
    let mut row = timed(samples, |i| {
        let (cookie, id) = (cookies[i % cookies.len()].clone(), id.clone());
        async move {
            server
                .call(open_path, &[("chat_id", &id)], &cookie)
                .await
                .map(drop)
        }
    })
    .await?;
    row.params = format!("open_chat, newest page of the busiest chat ({last_seq} messages)");
    rows.push(row);

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let deep: Vec<String> = (0..samples)
        .map(|_| rng.gen_range(100..(last_seq / 10).max(101)).to_string())
        .collect();
    let mut row = timed(samples, |i| {
        let (cookie, id, before) = (
            cookies[i % cookies.len()].clone(),
            id.clone(),
            deep[i].clone(),
        );
        async move {
            server
                .call(open_path, &[("chat_id", &id), ("before", &before)], &cookie)
                .await
                .map(drop)
        }
    })
    .await?;
    row.params = "open_chat, a page in the oldest tenth of the busiest chat".into();
    rows.push(row);

    let search_path = natter::api::search::SearchMessages::PATH;
    for (name, q) in [
        ("common word", "the"),
        ("rare word", "zanzibar"),
        ("word in one message of 40", "deploy"),
        ("three words", "deploy the fix"),
    ] {
        // Past the server's search rate limit of the previous round (5 a second).
        tokio::time::sleep(Duration::from_secs(4)).await;
        let n = samples.min(SEARCHES_PER_USER * cookies.len());
        let mut hits = 0usize;
        let mut row = Row::default();
        let mut latencies = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            let page = server
                .call(search_path, &[("q", q)], &cookies[i % cookies.len()])
                .await?;
            latencies.push(t.elapsed());
            let page: natter::model::SearchPage = serde_json::from_str(&page)?;
            hits += page.hits.len();
        }
        row.latency = Latency::of(&mut latencies);
        row.received = n as u64;
        row.params = format!("search, {name} ({q:?})");
        row.extra
            .push(("hits_per_page".into(), hits as f64 / n.max(1) as f64));
        rows.push(row);
    }

    rows.push(resume(server, &cookies, chat, last_seq, samples.min(10)).await?);

    if let Some(t) = cold_start {
        let mut row = Row {
            params: "cold start: spawn to the first /healthz answer".into(),
            ..Row::default()
        };
        row.extra
            .push(("cold_start_ms".into(), t.as_secs_f64() * 1000.0));
        rows.push(row);
    }
    if let Some(url) = database_url {
        let (bytes, messages) = database_size(url).await?;
        let mut row = Row {
            params: format!("database: {messages} messages"),
            ..Row::default()
        };
        row.extra
            .push(("database_mib".into(), bytes as f64 / 1048576.0));
        row.extra.push((
            "bytes_per_message".into(),
            bytes as f64 / messages.max(1) as f64,
        ));
        rows.push(row);
    }
    for row in &mut rows {
        row.scenario = "scale".into();
    }
    Ok(rows)
}

/// Runs `samples` requests one after another; their latencies in a row.
async fn timed<F, Fut>(samples: usize, request: F) -> Result<Row, Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut latencies = Vec::with_capacity(samples);
    let t0 = Instant::now();
    for i in 0..samples {
        let t = Instant::now();
        request(i).await?;
        latencies.push(t.elapsed());
    }
    Ok(Row {
        received: samples as u64,
        seconds: t0.elapsed().as_secs_f64(),
        latency: Latency::of(&mut latencies),
        ..Row::default()
    })
}

/// A client that holds the busiest chat up to 10 000 messages before its end opens a
/// WebSocket and resumes: time until `resumed`, every missed message received.
async fn resume(
    server: &Server,
    cookies: &[String],
    chat: ChatId,
    last_seq: i64,
    runs: usize,
) -> Result<Row, Error> {
    let from = (last_seq - 10_000).max(0);
    let missed = (last_seq - from) as usize;
    let mut latencies = Vec::new();
    let (mut lost, mut dups) = (0u64, 0u64);
    for i in 0..runs {
        let t = Instant::now();
        let (_sink, mut stream) = server
            .open(
                &cookies[i % cookies.len()],
                None,
                0,
                BTreeMap::from([(chat, from)]),
            )
            .await?;
        let mut got = HashSet::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(30), next_frame(&mut stream)).await {
                Ok(Ok(Some(ServerFrame::Message { message }))) if message.chat_id == chat => {
                    if !got.insert(message.seq) {
                        dups += 1;
                    }
                }
                Ok(Ok(Some(ServerFrame::Resumed))) => break,
                Ok(Ok(Some(_))) => {}
                _ => break,
            }
        }
        latencies.push(t.elapsed());
        lost += missed.saturating_sub(got.len()) as u64;
    }
    Ok(Row {
        params: format!("resume after {missed} missed in the busiest chat"),
        sent: (missed * runs) as u64,
        expected: (missed * runs) as u64,
        received: (missed * runs) as u64 - lost,
        lost,
        duplicated: dups,
        latency: Latency::of(&mut latencies),
        ..Row::default()
    })
}

/// The database's bytes on disk and its messages.
async fn database_size(url: &str) -> Result<(u64, i64), Error> {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await?;
        let (bytes, n): (i64, i64) = sqlx::query_as(
            "SELECT pg_database_size(current_database()), (SELECT count(*) FROM messages)",
        )
        .fetch_one(&mut c)
        .await?;
        return Ok((bytes as u64, n));
    }
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut c = sqlx::SqliteConnection::connect(url).await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&mut c)
        .await?;
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Ok((size(&path) + size(&format!("{path}-wal")), n))
}
