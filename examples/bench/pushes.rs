//! `--push-members N`: N people who are never online, each with a Web Push
//! subscription (unless `--push-unsubscribed`, the comparison), each in a direct chat
//! with one sender who writes to them in turn at `--push-rate` messages a second in all,
//! for as long as the scenarios run (issue 33: the live path's figures while the server
//! plans, encrypts and sends pushes). The pushes go to a sink of the bench's own on
//! loopback (`--push-allow-endpoint`), which answers 201 like a push service. The line
//! it prints says what was sent and what the sink received.

use crate::client::{send, Error, Server};
use natter::model::protocol::ClientFrame;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A browser's keys (any valid P-256 point and 16 bytes do: nothing decrypts here).
const P256DH: &str =
    "BJh6t0iPYpemft3yI_spN65YlI4MEsYp1PZ-FNglmRiLt27UKRGLGk5mj0oe4slw1pdwUcreEwa9cFPRVRyiZGk";
const AUTH: &str = "URYOtAID8Lh5VFGG0pPVIA";

/// The sink, listening before the server starts (its address goes on the command line).
pub struct Sink {
    listener: TcpListener,
}

impl Sink {
    pub async fn bind() -> Result<Self, Error> {
        Ok(Sink {
            listener: TcpListener::bind("127.0.0.1:0").await?,
        })
    }

    /// `--push-allow-endpoint`'s value.
    pub fn prefix(&self) -> Result<String, Error> {
        Ok(format!("http://{}/", self.listener.local_addr()?))
    }
}

pub struct Pushes {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
    members: usize,
    subscribed: bool,
}

/// Signs up the members (subscribed or not), their chats with the sender, and starts
/// the sink and the sender.
pub async fn start(
    server: &Server,
    sink: Sink,
    members: usize,
    rate: f64,
    subscribed: bool,
) -> Result<Pushes, Error> {
    let prefix = sink.prefix()?;
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![tokio::spawn(serve(sink.listener, received.clone()))];
    let tag = std::process::id();
    let sender = format!("pushfrom{tag}");
    let cookie = server.sign_up(&sender).await?;
    let mut chats = Vec::with_capacity(members);
    for i in 0..members {
        let member = format!("push{i}x{tag}");
        let theirs = server.sign_up(&member).await?;
        if subscribed {
            let endpoint = format!("{prefix}p/{i}");
            let answer = server
                .call(
                    "/api/push_subscribe",
                    &[("endpoint", &endpoint), ("p256dh", P256DH), ("auth", AUTH)],
                    &theirs,
                )
                .await?;
            if answer.contains("rror") {
                return Err(format!("push_subscribe: {answer}").into());
            }
        }
        // Each member opens the chat (one chat a person stays within the server's
        // limits on creating chats, which one sender of 1 000 would pass).
        chats.push(server.create_chat(&theirs, &sender, "").await?);
    }
    let (mut out, mut incoming) = server.connect(&cookie, None).await?;
    // Its acks and echoes, read and dropped (unread, they would fill the socket).
    tasks.push(tokio::spawn(async move {
        while let Ok(Some(_)) = crate::client::next_frame(&mut incoming).await {}
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    {
        let (stop, sent) = (stop.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let mut tick = tokio::time::interval(every);
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let frame = ClientFrame::Send {
                    client_id: format!("p{n}"),
                    chat_id: chats[n % chats.len()],
                    body: format!("are you there? ({n})"),
                    reply_to: None,
                    files: Vec::new(),
                };
                if send(&mut out, &frame).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    Ok(Pushes {
        stop,
        sent,
        received,
        tasks,
        started: Instant::now(),
        members,
        subscribed,
    })
}

impl Pushes {
    pub async fn stop(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        for t in self.tasks {
            t.abort();
        }
        format!(
            "pushes: {} members ({}), {} direct messages to them in {secs:.0} s, {} pushes received",
            self.members,
            if self.subscribed { "subscribed" } else { "not subscribed" },
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

/// Answers every request 201 (keep-alive), counting them.
async fn serve(listener: TcpListener, received: Arc<AtomicU64>) {
    while let Ok((socket, _)) = listener.accept().await {
        let received = received.clone();
        tokio::spawn(async move {
            let mut conn = BufReader::new(socket);
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    match conn.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0u8; length];
                if conn.read_exact(&mut body).await.is_err() {
                    return;
                }
                received.fetch_add(1, Ordering::Relaxed);
                let ok = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                if conn.get_mut().write_all(ok).await.is_err() {
                    return;
                }
            }
        });
    }
}
