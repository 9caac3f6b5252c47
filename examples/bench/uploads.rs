//! `--uploads N`: N uploads of `--upload-mb` MB stream into the server at once, each
//! starting again as soon as it is answered, for as long as the scenarios run (issue 32:
//! the live path's figures while files stream in). Each sends at `--upload-kbps` KB/s
//! (a person's uplink; 0: as fast as loopback takes it, which no network gives). Three uploads per person (the
//! server's limit per person), each person in a direct chat of their own. The line it
//! prints says what got through and the server's peak memory meanwhile (its resident
//! memory sampled every 20 ms; before the uploads for comparison).

use crate::client::{Error, Server};
use crate::stats::rss_kib;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Uploads a person has streaming at once (the server's `UPLOADS_PER_USER`).
const PER_PERSON: usize = 3;

pub struct Uploads {
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
    statuses: Arc<Mutex<BTreeMap<u16, u64>>>,
    peak_kib: Arc<AtomicU64>,
    before_kib: u64,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    sampler: tokio::task::JoinHandle<()>,
    started: Instant,
    at_once: usize,
    mb: usize,
    kbps: u64,
}

/// Signs up the uploaders, starts `at_once` uploads of `mb` MB, and returns a second
/// later, with all of them streaming.
pub async fn start(
    server: &Server,
    pid: u32,
    at_once: usize,
    mb: usize,
    kbps: u64,
) -> Result<Uploads, Error> {
    let people = at_once.div_ceil(PER_PERSON);
    let tag = std::process::id();
    let mut chats = Vec::new();
    let partner = format!("upx{tag}");
    server.sign_up(&partner).await?;
    for p in 0..people {
        let cookie = server.sign_up(&format!("up{p}x{tag}")).await?;
        let chat = server.create_chat(&cookie, &partner, "").await?;
        chats.push((cookie, chat));
    }
    // Not an image and no magic number: stored as it comes, no thumbnail work.
    let body = bytes::Bytes::from(
        (0..mb * 1_000_000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
            .collect::<Vec<u8>>(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let before_kib = rss_kib(pid);
    let peak_kib = Arc::new(AtomicU64::new(before_kib));
    // One connection per upload, as browsers would send them.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default();
    let tasks = (0..at_once)
        .map(|u| {
            let (cookie, chat) = chats[u / PER_PERSON].clone();
            let url = format!(
                "{}/api/files?chat_id={chat}&name=load-{u}.bin",
                server.origin()
            );
            let origin = server.origin();
            let (http, body, stop, bytes, statuses) = (
                http.clone(),
                body.clone(),
                stop.clone(),
                bytes.clone(),
                statuses.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sent = http
                        .post(&url)
                        .header("cookie", &cookie)
                        .header("origin", &origin)
                        .header("content-type", "application/octet-stream")
                        .body(paced(body.clone(), kbps))
                        .send();
                    let status = match sent.await {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    if status == 200 {
                        bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    }
                    if let Ok(mut s) = statuses.lock() {
                        *s.entry(status).or_insert(0) += 1;
                    }
                    if status != 200 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    let sampler = {
        let (stop, peak_kib) = (stop.clone(), peak_kib.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak_kib.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Every upload under way (a 25 MB one takes seconds with a hundred beside it); the
    // summary counts this second too.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    Ok(Uploads {
        stop,
        bytes,
        statuses,
        peak_kib,
        before_kib,
        tasks,
        sampler,
        started: Instant::now(),
        at_once,
        mb,
        kbps,
    })
}

/// `body` as a request body sent at `kbps` KB/s, in 64 KB chunks (whole at once for 0).
fn paced(body: bytes::Bytes, kbps: u64) -> reqwest::Body {
    if kbps == 0 {
        return reqwest::Body::from(body);
    }
    const CHUNK: usize = 64 * 1024;
    let every = Duration::from_secs_f64(CHUNK as f64 / (kbps as f64 * 1000.0));
    let chunks = futures::stream::unfold((body, 0usize), move |(body, at)| async move {
        if at >= body.len() {
            return None;
        }
        if at > 0 {
            tokio::time::sleep(every).await;
        }
        let end = (at + CHUNK).min(body.len());
        Some((Ok::<_, std::io::Error>(body.slice(at..end)), (body, end)))
    });
    reqwest::Body::wrap_stream(chunks)
}

impl Uploads {
    /// Stops starting uploads, waits for those under way; a line on what was stored.
    pub async fn stop(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        // Until the last upload under way ended: what was stored came in that long.
        let secs = self.started.elapsed().as_secs_f64() + 1.0;
        let _ = self.sampler.await;
        let stored = self.bytes.load(Ordering::Relaxed) as f64 / 1e6;
        let statuses = self.statuses.lock().map(|s| s.clone()).unwrap_or_default();
        let by_status: Vec<String> = statuses.iter().map(|(s, n)| format!("{n}× {s}")).collect();
        format!(
            "uploads: {} at once of {} MB at {} KB/s each: {stored:.0} MB stored in {secs:.1} s ({:.0} MB/s), \
             answers {}; server RSS {:.0} MiB before, peak {:.0} MiB",
            self.at_once,
            self.mb,
            self.kbps,
            stored / secs.max(0.001),
            by_status.join(", "),
            self.before_kib as f64 / 1024.0,
            self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0,
        )
    }
}
