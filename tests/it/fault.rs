//! Fault tests: the real server binary is killed with SIGKILL while clients send, then
//! restarted on the same database. Clients reconnect, resume and resend what was not
//! acknowledged. Every acknowledged message must be stored exactly once, in each
//! sender's order, and every client must end up with every message exactly once, in
//! seq order (on SQLite). The cluster variant runs two nodes (PostgreSQL + Redis: a
//! `_postgres` test, see tests/it/common/mod.rs) and kills one while clients on both
//! send; clients move to the other node, as behind a load balancer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use futures::{SinkExt, StreamExt};
use leptos::server_fn::ServerFn;
use natter::api::auth::SignUp;
use natter::api::chats::CreateChat;
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::ChatId;
use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const PER_SENDER: usize = 150;
const WINDOW: usize = 10;

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn_server(port: u16, db_url: &str, site: &std::path::Path) -> Server {
    spawn_node(port, db_url, site, &[]).await
}

/// The server binary with `extra` flags (a node of a cluster: `--redis-url …`).
async fn spawn_node(port: u16, db_url: &str, site: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--public-origin", &format!("http://127.0.0.1:{port}")])
        .args(["--database-url", db_url])
        .args(["--ws-send-rate", "100000", "--ws-send-burst", "100000"])
        .args(extra)
        .env("LEPTOS_SITE_ROOT", site)
        .env("RUST_LOG", "warn")
        .env("LEPTOS_OUTPUT_NAME", "natter")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _, _)) = http(port, "GET", "/healthz", "", None).await {
            return Server { child };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// A minimal HTTP/1.1 request over a fresh connection.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{cookie}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_string(), body.to_string()))
}

async fn sign_up(port: u16, name: &str) -> String {
    let (status, head, body) = http(
        port,
        "POST",
        SignUp::PATH,
        &format!("username={name}&password=password123"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    let cookie = line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // Anyone may add the account to groups, as before issue 29 (the default invites).
    let (status, _, body) = http(
        port,
        "POST",
        natter::api::consent::SetGroupAdds::PATH,
        "group_adds=anyone",
        Some(&cookie),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    cookie
}

const NAMES: [&str; 3] = ["alice", "bob", "carol"];

/// Signs up [`NAMES`] through `sign_up_port`; alice creates their group through
/// `chat_port`. Returns their cookies and the chat.
async fn group_of_three(sign_up_port: u16, chat_port: u16) -> (Vec<String>, ChatId) {
    let mut cookies = Vec::new();
    for n in NAMES {
        cookies.push(sign_up(sign_up_port, n).await);
    }
    let (status, _, body) = http(
        chat_port,
        "POST",
        CreateChat::PATH,
        "members=bob+carol&title=Crash",
        Some(&cookies[0]),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    (cookies, ChatId(body.trim().parse().unwrap()))
}

#[derive(Default)]
struct Outcome {
    acked: Vec<String>,
    received: Vec<i64>,
}

/// Sends PER_SENDER messages through crashes: reconnects, resumes, resends unacked.
/// Each reconnect goes to the next of `ports` (one node, or a cluster's nodes in turn).
async fn client(
    name: String,
    cookie: String,
    chat: ChatId,
    ports: Vec<u16>,
    acks: Arc<AtomicUsize>,
) -> Outcome {
    let mut attempt = 0usize;
    let mut out = Outcome::default();
    let mut next = 0usize; // next message index never sent yet
    let mut unacked: Vec<String> = Vec::new();
    let mut last_seq = 0i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    'reconnect: while Instant::now() < deadline {
        let port = ports[attempt % ports.len()];
        attempt += 1;
        let mut req = format!("ws://127.0.0.1:{port}/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        req.headers_mut().insert(
            "origin",
            format!("http://127.0.0.1:{port}").parse().unwrap(),
        );
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(req).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let resume = ClientFrame::Resume {
            positions: BTreeMap::from([(chat, last_seq)]),
            changes: Default::default(),
        };
        if ws
            .send(WsMessage::Text(
                serde_json::to_string(&resume).unwrap().into(),
            ))
            .await
            .is_err()
        {
            continue;
        }
        // The outbox first, in order, then new messages.
        for cid in unacked.clone() {
            let f = ClientFrame::Send {
                client_id: cid.clone(),
                chat_id: chat,
                body: cid.clone(),
                reply_to: None,
                files: Vec::new(),
            };
            if ws
                .send(WsMessage::Text(serde_json::to_string(&f).unwrap().into()))
                .await
                .is_err()
            {
                continue 'reconnect;
            }
        }
        loop {
            while unacked.len() < WINDOW && next < PER_SENDER {
                let cid = format!("{name}-{next:04}");
                next += 1;
                unacked.push(cid.clone());
                let f = ClientFrame::Send {
                    client_id: cid.clone(),
                    chat_id: chat,
                    body: cid,
                    reply_to: None,
                    files: Vec::new(),
                };
                if ws
                    .send(WsMessage::Text(serde_json::to_string(&f).unwrap().into()))
                    .await
                    .is_err()
                {
                    continue 'reconnect;
                }
            }
            if unacked.is_empty() && next == PER_SENDER && last_seq >= (3 * PER_SENDER) as i64 {
                return out;
            }
            let msg = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(m))) => m,
                _ => continue 'reconnect,
            };
            let WsMessage::Text(text) = msg else { continue };
            match serde_json::from_str::<ServerFrame>(text.as_str()).unwrap() {
                ServerFrame::Ack { client_id, .. } => {
                    if let Some(pos) = unacked.iter().position(|c| *c == client_id) {
                        unacked.remove(pos);
                        out.acked.push(client_id);
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                }
                ServerFrame::Message { message } => {
                    out.received.push(message.seq);
                    last_seq = last_seq.max(message.seq);
                }
                ServerFrame::Reset { .. } => panic!("unexpected reset"),
                _ => {}
            }
        }
    }
    panic!(
        "{name} did not finish in time: {} acked, {} unacked",
        out.acked.len(),
        unacked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_that_was_acked() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("fault.db").display());
    let port = free_port();
    let mut server = spawn_server(port, &db_url, dir.path()).await;

    let (cookies, chat) = group_of_three(port, port).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (n, c) in NAMES.iter().zip(&cookies) {
        tasks.push(tokio::spawn(client(
            n.to_string(),
            c.clone(),
            chat,
            vec![port],
            acks.clone(),
        )));
    }
    // Kill the server mid-stream, twice, restarting it on the same file each time.
    for threshold in [100, 250] {
        while acks.load(Ordering::Relaxed) < threshold {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        server = spawn_server(port, &db_url, dir.path()).await;
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    drop(server);

    check(&db_url, chat, &outcomes).await;
}

/// Every acked message stored once, seqs without gaps, each sender's order kept, every
/// client's stream complete and in order.
async fn check(db_url: &str, chat: ChatId, outcomes: &[Outcome]) {
    let store = natter::server::db::Store::connect(db_url).await.unwrap();
    let stored = store.history(chat, None, 10_000).await.unwrap().messages;
    assert_eq!(
        stored.len(),
        3 * PER_SENDER,
        "every message stored exactly once"
    );
    assert!(
        stored.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "seqs without gaps"
    );
    let bodies: HashSet<&str> = stored.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies.len(), stored.len(), "no duplicates");
    for (name, outcome) in NAMES.iter().zip(outcomes) {
        // Nothing is claimed sent that is not stored.
        for cid in &outcome.acked {
            assert!(bodies.contains(cid.as_str()), "{cid} acked but missing");
        }
        // Each sender's messages are stored in the order they were written.
        let mine: Vec<&str> = stored
            .iter()
            .filter(|m| m.sender == *name)
            .map(|m| m.body.as_str())
            .collect();
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "{name}'s order");
        // Every client saw every message once, in seq order.
        assert_eq!(
            outcome.received,
            (1..=(3 * PER_SENDER) as i64).collect::<Vec<_>>(),
            "{name}'s stream"
        );
    }
}

test_postgres!(
    a_cluster_node_killed_mid_stream_loses_nothing,
    flavor = "multi_thread",
    worker_threads = 2
);
/// Two nodes on one PostgreSQL and one Redis; alice and carol start on node one, bob on
/// node two. Node one is SIGKILLed mid-stream and stays down for a while: its clients
/// reconnect to node two (as through a load balancer) and resume; then it comes back.
async fn a_cluster_node_killed_mid_stream_loses_nothing() {
    let redis = common::redis::TestRedis::start().await;
    let db = common::test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--redis-url", redis.url.as_str()];
    let (p1, p2) = (free_port(), free_port());
    let mut one = spawn_node(p1, &db.url, dir.path(), &flags).await;
    let two = spawn_node(p2, &db.url, dir.path(), &flags).await;

    // Signed up on one node, the group created on the other.
    let (cookies, chat) = group_of_three(p1, p2).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for ((n, c), ports) in
        NAMES
            .iter()
            .zip(&cookies)
            .zip([vec![p1, p2], vec![p2, p1], vec![p1, p2]])
    {
        tasks.push(tokio::spawn(client(
            n.to_string(),
            c.clone(),
            chat,
            ports,
            acks.clone(),
        )));
    }
    while acks.load(Ordering::Relaxed) < 120 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    one.child.kill().unwrap(); // SIGKILL
    one.child.wait().unwrap();
    while acks.load(Ordering::Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    one = spawn_node(p1, &db.url, dir.path(), &flags).await;
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    drop((one, two));
    check(&db.url, chat, &outcomes).await;
}
