//! Search latency over a large history (issue 17: p99 ≤ 50 ms over 100 000 messages).
//!
//! Fills a fresh database with `--messages` messages in chats of users who share groups
//! (the searcher is in half of them), then times `Store::search` as the server calls it,
//! for queries from rare to common words, first pages and next pages.
//!
//! ```text
//! cargo run --release --features ssr --example search_bench -- --messages 100000
//! cargo run --release --features ssr --example search_bench -- --database-url postgres://…/db
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use natter::model::{MessageId, UserId};
use natter::server::db::{NewMessage, Store};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Messages to store before searching.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Chats (groups of 8 users out of 40); the searcher is in every other one.
    #[arg(long, default_value_t = 40)]
    chats: usize,
    /// Searches per query kind.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// An empty PostgreSQL database (default: a SQLite file in a temporary folder).
    #[arg(long)]
    database_url: Option<String>,
}

/// Words of the generated messages: a few common, many rare.
const COMMON: [&str; 8] = [
    "the", "meeting", "today", "lunch", "project", "deploy", "review", "thanks",
];

/// The `i`-th query of a kind.
type QueryOf = Box<dyn Fn(usize) -> String>;

fn rare(i: usize) -> String {
    format!("token{}", i % 5000)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("search.db").display()));
    let store = Store::connect(&url).await.unwrap();
    let mut users: Vec<UserId> = Vec::new();
    for i in 0..40 {
        users.push(
            store
                .create_user(&format!("user{i}"), "x")
                .await
                .unwrap()
                .id,
        );
    }
    let searcher = users[0];
    let mut chats = Vec::new();
    for c in 0..args.chats {
        // Groups of 8 that overlap; the searcher is in the even ones.
        let mut members: Vec<UserId> = (1..8).map(|k| users[(c * 3 + k) % 40]).collect();
        members.retain(|u| *u != searcher);
        let creator = if c % 2 == 0 {
            searcher
        } else {
            users[(c * 3 + 8) % 40]
        };
        members.retain(|u| *u != creator);
        let chat = store
            .create_group(creator, Some(&format!("chat {c}")), &members)
            .await
            .unwrap();
        let mut all = members.clone();
        all.push(creator);
        chats.push((chat, all));
    }

    let started = Instant::now();
    let mut batch = Vec::new();
    for i in 0..args.messages {
        let (chat, members) = &chats[i % chats.len()];
        let sender = members[i % members.len()];
        let body = format!(
            "{} {} {} message {i} about {}",
            COMMON[i % COMMON.len()],
            COMMON[(i / 7) % COMMON.len()],
            rare(i),
            rare(i * 31 + 7)
        );
        batch.push(NewMessage {
            chat: *chat,
            sender,
            client_id: format!("s{i}"),
            body,
            reply: None,
            files: Vec::new(),
            broadcast: None,
        });
        if batch.len() == 500 {
            store.insert_messages(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.insert_messages(&batch).await.unwrap();
    // Everything in SQLite's search index before the clock starts (the committer would
    // have done it between batches; the first searches would otherwise do it).
    while store
        .index_pending(natter::server::db::INDEX_STEP_ROWS)
        .await
        .unwrap()
        > 0
    {}
    // Statistics, as autovacuum would have them by now on a live database: right after
    // a bulk load PostgreSQL's planner knows nothing of the new rows and walks the
    // primary key backwards instead of using the search index (~200 ms a query).
    if url.starts_with("postgres") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    }
    println!(
        "stored {} messages in {} chats ({}) in {:.1} s",
        args.messages,
        chats.len(),
        store.backend(),
        started.elapsed().as_secs_f64()
    );

    let kinds: [(&str, QueryOf); 4] = [
        ("rare word", Box::new(|i| rare(i * 13))),
        (
            "common word",
            Box::new(|i| COMMON[i % COMMON.len()].to_string()),
        ),
        (
            "two words",
            Box::new(|i| format!("{} {}", COMMON[i % 8], COMMON[(i + 3) % 8])),
        ),
        ("prefix", Box::new(|i| format!("token{}", i % 10))),
    ];
    println!("| query | first page p50 | p99 | next page p50 | p99 | hits/page |");
    println!("|---|---|---|---|---|---|");
    for (name, query) in kinds.iter() {
        let mut first = Vec::new();
        let mut next = Vec::new();
        let mut hits = 0;
        for i in 0..args.rounds {
            let q = query(i);
            let t = Instant::now();
            let page = store.search(searcher, &q, None).await.unwrap();
            first.push(t.elapsed().as_secs_f64() * 1000.0);
            hits += page.hits.len();
            if let Some(before) = page.next_before {
                let t = Instant::now();
                store
                    .search(searcher, &q, Some(MessageId(before.0)))
                    .await
                    .unwrap();
                next.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {} | {} | {:.1} |",
            pct(&mut first, 0.5),
            pct(&mut first, 0.99),
            fmt(pct(&mut next, 0.5)),
            fmt(pct(&mut next, 0.99)),
            hits as f64 / args.rounds as f64
        );
    }
    store.close().await;
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.2} ms")
    }
}
