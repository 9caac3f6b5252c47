//! Fault test: the real server binary is killed with SIGKILL while clients send, then
//! restarted on the same database. Clients reconnect, resume and resend what was not
//! acknowledged. Every acknowledged message must be stored exactly once, in each
//! sender's order, and every client must end up with every message exactly once, in
//! seq order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--public-origin", &format!("http://127.0.0.1:{port}")])
        .args(["--database-url", db_url])
        .args(["--ws-send-rate", "100000", "--ws-send-burst", "100000"])
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
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[derive(Default)]
struct Outcome {
    acked: Vec<String>,
    received: Vec<i64>,
}

/// Sends PER_SENDER messages through crashes: reconnects, resumes, resends unacked.
async fn client(
    name: String,
    cookie: String,
    chat: ChatId,
    port: u16,
    acks: Arc<AtomicUsize>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut next = 0usize; // next message index never sent yet
    let mut unacked: Vec<String> = Vec::new();
    let mut last_seq = 0i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    'reconnect: while Instant::now() < deadline {
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

    let names = ["alice", "bob", "carol"];
    let mut cookies = Vec::new();
    for n in names {
        cookies.push(sign_up(port, n).await);
    }
    let (status, _, body) = http(
        port,
        "POST",
        CreateChat::PATH,
        "members=bob+carol&title=Crash",
        Some(&cookies[0]),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let chat = ChatId(body.trim().parse().unwrap());

    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (n, c) in names.iter().zip(&cookies) {
        tasks.push(tokio::spawn(client(
            n.to_string(),
            c.clone(),
            chat,
            port,
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

    let store = natter::server::db::Store::connect(&db_url).await.unwrap();
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
    for (name, outcome) in names.iter().zip(&outcomes) {
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
