//! The soak: natter killed with SIGKILL and restarted, again and again, under continuous
//! load from several clients; then every client's history is checked. Not in CI (it runs
//! for minutes); bounded in cycles and time, loopback only. Figures: BENCHMARKS.md, "Soak".
//!
//!   cargo run --release --features ssr --example soak -- \
//!     --server-bin "$CARGO_TARGET_DIR/release/natter" --cycles 20
//!
//! Each client behaves as the browser does: it sends messages with its own client ids
//! (a group shared by everyone and a direct chat with a neighbour, in turn), keeps
//! every unacknowledged one, and after a lost connection reconnects with backoff and
//! sends them again in order with the same ids. At the end every chat's history is read
//! back (a `resume` from 0) and checked: every acknowledged message is there once, with
//! the seq its ack named (0 lost); no client id twice (0 doubled); seqs run 1, 2, 3 …
//! and each sender's messages are in the order it sent them (0 out of order).

#[allow(dead_code)]
#[path = "bench/client.rs"]
mod client;

use clap::Parser;
use client::{next_frame, send, Error, Server};
use natter::model::protocol::{ClientFrame, ErrorCode, ServerFrame};
use natter::model::ChatId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "natter soak: SIGKILL + restart cycles under load, then a history check")]
struct Args {
    /// The server binary (the release build).
    #[arg(long, env = "NATTER_BIN")]
    server_bin: String,
    /// SIGKILL + restart cycles.
    #[arg(long, default_value_t = 20)]
    cycles: u32,
    /// Clients (one user each; an even number: each has a direct chat with a neighbour).
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Messages per second per client (the server's own send limit applies: 20/s,
    /// bursts of 100; what it refuses is sent again, as a browser does).
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds the server runs between kills (each cycle: a random time in [min, 2·min]).
    #[arg(long, default_value_t = 1.5)]
    uptime: f64,
}

/// The server under test, on a fixed port and database file across restarts.
struct Natter {
    bin: String,
    addr: SocketAddr,
    db: String,
    child: Option<Child>,
}

impl Natter {
    async fn start(&mut self) -> Result<Duration, Error> {
        let started = Instant::now();
        let child = Command::new(&self.bin)
            .args(["--bind", &self.addr.to_string()])
            .args(["--public-origin", &format!("http://{}", self.addr)])
            .args(["--database-url", &self.db])
            .args([
                "--sign-up-per-minute",
                "1000",
                "--sign-in-per-minute",
                "1000",
            ])
            .env("RUST_LOG", "error")
            .env("LEPTOS_OUTPUT_NAME", "natter")
            .stdout(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("http://{}/healthz", self.addr)).await {
                if r.status().is_success() {
                    return Ok(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err("natter did not start".into())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }
}

impl Drop for Natter {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What one client sent and what the server acknowledged.
#[derive(Default)]
struct Ledger {
    /// Every message in the order it was first sent: (chat, client id).
    sent: Vec<(ChatId, String)>,
    /// Not acknowledged yet, in send order.
    pending: Vec<(ChatId, String)>,
    /// client id → seq its ack named.
    acked: HashMap<String, i64>,
    resent: u64,
    reconnects: u64,
    rate_limited: u64,
}

/// How often unacknowledged messages are sent again on an open connection.
const RESEND_EVERY: Duration = Duration::from_secs(2);

struct Client {
    name: String,
    cookie: String,
    chats: [ChatId; 2],
}

/// One client's life: connect, send at `rate` (and resend what is pending after each
/// reconnect) until `stop`, then until everything is acknowledged.
async fn run_client(
    server: Arc<Server>,
    me: Client,
    rate: f64,
    stop: Arc<AtomicBool>,
    sends: Arc<AtomicU64>,
) -> Result<Ledger, Error> {
    let mut ledger = Ledger::default();
    let mut next = 0u64;
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut backoff = Duration::from_millis(50);
    // Once stopping: how long pending messages may still take to be acknowledged.
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let Ok((mut sink, mut stream)) = server.open(&me.cookie, None, 0, BTreeMap::new()).await
        else {
            if stop.load(Ordering::Relaxed) && deadline_passed(drain_deadline) {
                return Ok(ledger);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            continue;
        };
        backoff = Duration::from_millis(50);
        ledger.reconnects += 1;
        for (chat, id) in ledger.pending.clone() {
            ledger.resent += 1;
            let frame = ClientFrame::Send {
                client_id: id,
                chat_id: chat,
                body: format!("from {}", me.name),
                reply_to: None,
                files: Vec::new(),
            };
            if send(&mut sink, &frame).await.is_err() {
                break;
            }
        }
        let mut tick = tokio::time::interval(every);
        // As the browser's outbox: what is still unacknowledged (refused as too fast,
        // say) goes again now and then, same ids.
        let mut resend = tokio::time::interval(RESEND_EVERY);
        resend.tick().await;
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            if stopping {
                drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(30));
            }
            if stopping && (ledger.pending.is_empty() || deadline_passed(drain_deadline)) {
                return Ok(ledger);
            }
            tokio::select! {
                _ = tick.tick(), if !stopping => {
                    let chat = me.chats[(next % 2) as usize];
                    let id = format!("{}-{next}", me.name);
                    next += 1;
                    ledger.sent.push((chat, id.clone()));
                    ledger.pending.push((chat, id.clone()));
                    sends.fetch_add(1, Ordering::Relaxed);
                    let frame = ClientFrame::Send { client_id: id, chat_id: chat, body: format!("from {}", me.name), reply_to: None, files: Vec::new() };
                    if send(&mut sink, &frame).await.is_err() {
                        break;
                    }
                }
                frame = next_frame(&mut stream) => match frame {
                    Ok(Some(ServerFrame::Ack { client_id, seq, .. })) => {
                        ledger.pending.retain(|(_, id)| *id != client_id);
                        if let Some(old) = ledger.acked.insert(client_id.clone(), seq) {
                            if old != seq {
                                return Err(format!("{client_id} acked as seq {old}, then {seq}").into());
                            }
                        }
                    }
                    // Too fast: stays pending, goes again with the next resend.
                    Ok(Some(ServerFrame::Error { code: ErrorCode::RateLimited, .. })) => {
                        ledger.rate_limited += 1;
                    }
                    Ok(Some(ServerFrame::Error { code, message, client_id })) => {
                        return Err(format!("error frame {code:?} {message} for {client_id:?}").into());
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
                _ = resend.tick() => {
                    let mut broken = false;
                    for (chat, id) in ledger.pending.clone() {
                        ledger.resent += 1;
                        let frame = ClientFrame::Send { client_id: id, chat_id: chat, body: format!("from {}", me.name), reply_to: None, files: Vec::new() };
                        if send(&mut sink, &frame).await.is_err() {
                            broken = true;
                            break;
                        }
                    }
                    if broken {
                        break;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(200)), if stopping => {}
            }
        }
    }
}

fn deadline_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|t| Instant::now() >= t)
}

/// A chat's whole history, by a `resume` from nothing: (seq, sender, client id).
async fn history(
    server: &Server,
    cookie: &str,
    chat: ChatId,
) -> Result<Vec<(i64, String, String)>, Error> {
    let (_sink, mut stream) = server
        .open(cookie, None, 0, BTreeMap::from([(chat, 0)]))
        .await?;
    let mut out = Vec::new();
    loop {
        match next_frame(&mut stream).await? {
            Some(ServerFrame::Message { message }) if message.chat_id == chat => {
                out.push((message.seq, message.sender, message.client_id))
            }
            Some(ServerFrame::Reset { .. }) => return Err("history beyond the resume limit".into()),
            Some(ServerFrame::Resumed) => return Ok(out),
            Some(_) => {}
            None => return Err("closed while reading history".into()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    if args.clients < 2 || args.clients % 2 == 1 {
        return Err("--clients must be an even number, at least 2".into());
    }
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut natter = Natter {
        bin: args.server_bin.clone(),
        addr,
        db: format!("sqlite://{}", dir.path().join("soak.db").display()),
        child: None,
    };
    natter.start().await?;
    let server = Arc::new(Server::new(addr));
    let tag = format!("s{}", std::process::id());
    let mut cookies = Vec::new();
    for i in 0..args.clients {
        cookies.push(server.sign_up(&format!("{tag}u{i}")).await?);
    }
    let others: Vec<String> = (1..args.clients).map(|i| format!("{tag}u{i}")).collect();
    let group = server
        .create_chat(&cookies[0], &others.join(" "), "soak")
        .await?;
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let pair = i ^ 1;
        let dm = if i < pair {
            server
                .create_chat(&cookies[i], &format!("{tag}u{pair}"), "")
                .await?
        } else {
            server
                .create_chat(&cookies[pair], &format!("{tag}u{i}"), "")
                .await?
        };
        clients.push(Client {
            name: format!("{tag}u{i}"),
            cookie: cookies[i].clone(),
            chats: [group, dm],
        });
    }
    let chats: Vec<(ChatId, String)> = clients
        .iter()
        .map(|c| (c.chats[1], c.cookie.clone()))
        .chain(std::iter::once((group, cookies[0].clone())))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let sends = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            tokio::spawn(run_client(
                server.clone(),
                c,
                args.rate,
                stop.clone(),
                sends.clone(),
            ))
        })
        .collect();
    let mut restarts = Vec::new();
    for cycle in 0..args.cycles {
        let up = args.uptime * (1.0 + rand::random::<f64>());
        tokio::time::sleep(Duration::from_secs_f64(up)).await;
        let before = sends.load(Ordering::Relaxed);
        natter.kill();
        restarts.push(natter.start().await?);
        eprintln!(
            "cycle {}: killed after {up:.1} s ({} sends so far), back in {:?}",
            cycle + 1,
            before,
            restarts[restarts.len() - 1]
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut ledgers = Vec::new();
    for t in tasks {
        ledgers.push(t.await??);
    }
    let elapsed = started.elapsed();

    // Read every chat back and check it against the ledgers.
    let mut stored: HashMap<String, (ChatId, i64)> = HashMap::new();
    let mut doubled = 0u64;
    let mut gaps = 0u64;
    let mut seen_chats = HashSet::new();
    for (chat, cookie) in &chats {
        if !seen_chats.insert(*chat) {
            continue;
        }
        let rows = history(&server, cookie, *chat).await?;
        for (i, (seq, _sender, client_id)) in rows.iter().enumerate() {
            if *seq != i as i64 + 1 {
                gaps += 1;
            }
            if stored.insert(client_id.clone(), (*chat, *seq)).is_some() {
                doubled += 1;
            }
        }
    }
    let (mut lost, mut wrong_seq, mut out_of_order, mut unacked) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent, mut acked, mut resent, mut reconnects, mut limited) = (0, 0, 0, 0, 0);
    for l in &ledgers {
        sent += l.sent.len();
        acked += l.acked.len();
        resent += l.resent;
        reconnects += l.reconnects;
        limited += l.rate_limited;
        unacked += l.pending.len() as u64;
        for (id, seq) in &l.acked {
            match stored.get(id) {
                None => lost += 1,
                Some((_, s)) if s != seq => wrong_seq += 1,
                Some(_) => {}
            }
        }
        // Each sender's messages in each chat in the order it sent them.
        let mut last: HashMap<ChatId, i64> = HashMap::new();
        for (chat, id) in &l.sent {
            if let Some((_, seq)) = stored.get(id) {
                let prev = last.insert(*chat, *seq).unwrap_or(0);
                if *seq < prev {
                    out_of_order += 1;
                }
            }
        }
    }
    let mean_restart = restarts.iter().sum::<Duration>() / restarts.len().max(1) as u32;
    println!(
        "soak: {} SIGKILL + restart cycles in {:.1} s, {} clients at {}/s each",
        args.cycles,
        elapsed.as_secs_f64(),
        args.clients,
        args.rate
    );
    println!(
        "  sent {sent}, acked {acked}, sent again (same id) {resent}, refused as too fast {limited}, \
         reconnects {reconnects}, mean restart {mean_restart:?}"
    );
    println!(
        "  stored {}; lost acked {lost}, doubled {doubled}, out of order {out_of_order}, \
         seq gaps {gaps}, ack/seq mismatches {wrong_seq}, never acked {unacked}",
        stored.len()
    );
    if lost + doubled + out_of_order + gaps + wrong_seq + unacked > 0 {
        return Err("the soak found lost, doubled or misordered messages".into());
    }
    Ok(())
}
