//! The scenarios. Each is bounded in count and time and returns one [`Row`].

use crate::client::{feed, next_frame, next_message, next_seen, send, Error, Seen, Server};
use crate::stats::{rss_kib, Latency, Meter, Row};
use futures::{SinkExt, StreamExt};
use natter::model::protocol::{ClientFrame, ServerFrame};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// One clock for senders and receivers: microseconds since the bench started.
fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A body that carries its send time: "<tag> <index> <send time µs>".
fn stamped(tag: &str, index: usize) -> String {
    format!("{tag} {index} {}", now_us())
}

fn latency_of(body: &str) -> Option<(usize, Duration)> {
    let mut parts = body.split(' ').skip(1);
    let index = parts.next()?.parse().ok()?;
    let sent: u64 = parts.next()?.parse().ok()?;
    Some((index, Duration::from_micros(now_us().saturating_sub(sent))))
}

/// A prefix for this scenario's usernames: the clock alone repeats across bench runs
/// against the same server (`--addr`), since each run's clock starts at zero.
fn unique(prefix: &str) -> String {
    let pid = std::process::id() % 100_000;
    format!("{prefix}{pid}x{}", now_us() % 1_000_000_000)
}

/// What the scenarios run against: one node, or a cluster of two behind no proxy. In a
/// cluster the senders connect to the first node and the receivers to the second, so
/// every delivery crosses nodes through the broker; HTTP set-up goes to the first.
pub struct Target {
    pub senders: Server,
    pub receivers: Server,
    /// The server processes to measure (0: not measured), the senders' node first.
    pub pids: Vec<u32>,
    /// Receivers read the fallback's SSE stream instead of a WebSocket (senders keep
    /// their WebSocket: the figures are about delivery).
    pub sse: bool,
}

impl Target {
    fn is_cluster(&self) -> bool {
        self.senders.addr != self.receivers.addr
    }

    fn shape(&self) -> String {
        let mut shape = String::new();
        if self.is_cluster() {
            shape.push_str(" cluster: senders on node 1, receivers on node 2");
        }
        if self.sse {
            shape.push_str(" receivers on SSE");
        }
        shape
    }
}

/// burst: one sender pipelines `n` messages to one receiver in a DM.
pub async fn burst(target: &Target, n: usize) -> Result<Row, Error> {
    let server = &target.senders;
    let tag = unique("b");
    let (a, b) = (format!("{tag}s"), format!("{tag}r"));
    let ca = server.sign_up(&a).await?;
    let cb = server.sign_up(&b).await?;
    let chat = server.create_chat(&ca, &b, "").await?;
    // The sender pipelines: its frames leave in 64 KiB writes, not one write each.
    let (mut sa, mut ra) = server.connect_with(&ca, None, 64 * 1024).await?;
    let (_sb, mut rb) = target.receivers.receiver(&cb, target.sse).await?;
    let meter = Meter::start(&target.pids);

    let receiver = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(n);
        let mut seen = HashSet::new();
        let mut dups = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.len() < n && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(10), next_message(&mut rb)).await {
                Ok(Ok(Some((_, body)))) => {
                    if let Some((i, lat)) = latency_of(&body) {
                        if seen.insert(i) {
                            latencies.push(lat);
                        } else {
                            dups += 1;
                        }
                    }
                }
                _ => break,
            }
        }
        (latencies, dups, now_us())
    });
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < n {
            match tokio::time::timeout(Duration::from_secs(10), next_seen(&mut ra)).await {
                Ok(Ok(Some(Seen::Ack))) => acked += 1,
                Ok(Ok(Some(_))) => {}
                _ => break,
            }
        }
        (acked, now_us())
    });
    let t0 = now_us();
    for i in 0..n {
        let frame = ClientFrame::Send {
            client_id: format!("{tag}-{i}"),
            chat_id: chat,
            body: stamped(&tag, i),
            reply_to: None,
            files: Vec::new(),
        };
        feed(&mut sa, &frame).await?;
    }
    sa.flush().await?;
    let flushed = now_us();
    let (mut latencies, dups, last_delivery) = receiver.await?;
    let (acked, last_ack) = acks.await?;
    let mut row = Row {
        scenario: "burst".into(),
        params: format!("n={n}{}", target.shape()),
        sent: n as u64,
        expected: n as u64,
        received: latencies.len() as u64,
        lost: (n - latencies.len()) as u64,
        duplicated: dups,
        seconds: (last_delivery - t0) as f64 / 1e6,
        ..Row::default()
    };
    row.deliveries_per_s = row.received as f64 / row.seconds.max(1e-9);
    row.latency = Latency::of(&mut latencies);
    row.extra.push((
        "first_send_to_last_delivery_ms".into(),
        (last_delivery - t0) as f64 / 1e3,
    ));
    row.extra.push((
        "first_send_to_last_ack_ms".into(),
        (last_ack - t0) as f64 / 1e3,
    ));
    row.extra.push(("acked".into(), acked as f64));
    row.extra.push((
        "first_send_to_last_write_ms".into(),
        (flushed - t0) as f64 / 1e3,
    ));
    meter.finish(&mut row);
    Ok(row)
}

/// fanout: a group of `members`, all connected; `senders` of them send `rate` messages
/// per second each for `seconds`, evenly out of phase with each other (or, with
/// `lockstep`, all at the same instants).
pub async fn fanout(
    target: &Target,
    members: usize,
    senders: usize,
    rate: f64,
    seconds: f64,
    lockstep: bool,
) -> Result<Row, Error> {
    let server = &target.senders;
    let tag = unique("f");
    let mut cookies = Vec::new();
    for i in 0..members {
        cookies.push(server.sign_up(&format!("{tag}m{i}")).await?);
    }
    let names: Vec<String> = (1..members).map(|i| format!("{tag}m{i}")).collect();
    let chat = server
        .create_chat(&cookies[0], &names.join(" "), &tag)
        .await?;
    let mut sinks = Vec::new();
    let mut receivers = Vec::new();
    let per_sender = (rate * seconds).round() as usize;
    let expected_each = per_sender * senders;
    for (i, cookie) in cookies.iter().enumerate() {
        let mut stream = if i < senders {
            let (sink, stream) = target.senders.connect(cookie, None).await?;
            sinks.push(sink);
            stream
        } else {
            target.receivers.receiver(cookie, target.sse).await?.1
        };
        receivers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected_each);
            let mut seen = HashSet::new();
            let mut dups = 0u64;
            let deadline = Instant::now() + Duration::from_secs_f64(seconds + 30.0);
            while seen.len() < expected_each && Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_secs(5), next_message(&mut stream)).await
                {
                    Ok(Ok(Some((seq, body)))) => {
                        if seen.insert(seq) {
                            if let Some((_, lat)) = latency_of(&body) {
                                latencies.push(lat);
                            }
                        } else {
                            dups += 1;
                        }
                    }
                    _ => break,
                }
            }
            (latencies, dups)
        }));
    }
    let meter = Meter::start(&target.pids);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (s, mut sink) in sinks.drain(..).enumerate().take(senders) {
        let tag = tag.clone();
        tasks.push(tokio::spawn(async move {
            let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
            // Independent senders do not tick in step: sender `s` starts `s / senders` of
            // an interval late, so the offered load arrives evenly (one message every
            // interval / senders) instead of as `senders` messages at once per tick.
            let phase = if lockstep {
                0.0
            } else {
                s as f64 / senders.max(1) as f64
            };
            let start = Instant::now() + interval.mul_f64(phase);
            for i in 0..per_sender {
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                let frame = ClientFrame::Send {
                    client_id: format!("{tag}-{s}-{i}"),
                    chat_id: chat,
                    body: stamped(&tag, i),
                    reply_to: None,
                    files: Vec::new(),
                };
                if send(&mut sink, &frame).await.is_err() {
                    break;
                }
            }
            sink
        }));
    }
    let mut kept = Vec::new();
    for t in tasks {
        kept.push(t.await?);
    }
    let (mut latencies, mut dups) = (Vec::new(), 0);
    for r in receivers {
        let (l, d) = r.await?;
        latencies.extend(l);
        dups += d;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    drop(kept);
    let expected = (expected_each * members) as u64;
    let mut row = Row {
        scenario: "fanout".into(),
        params: format!(
            "members={members} senders={senders} rate={rate}/s each for {seconds}s{}{}",
            if lockstep { " lockstep" } else { "" },
            target.shape()
        ),
        sent: (per_sender * senders) as u64,
        expected,
        received: latencies.len() as u64,
        lost: expected.saturating_sub(latencies.len() as u64),
        duplicated: dups,
        seconds: elapsed,
        ..Row::default()
    };
    // Achieved rate: deliveries over the whole run, including the time to drain.
    row.deliveries_per_s = row.received as f64 / elapsed.max(1e-9);
    row.latency = Latency::of(&mut latencies);
    let per_node = meter.finish(&mut row);
    let per_delivery = |ms: f64| ms * 1000.0 / (row.received.max(1) as f64);
    row.extra.push((
        "server_cpu_us_per_delivery".into(),
        per_delivery(row.server_cpu_ms),
    ));
    if per_node.len() > 1 {
        for (i, ms) in per_node.iter().enumerate() {
            row.extra.push((
                format!("node{}_cpu_us_per_delivery", i + 1),
                per_delivery(*ms),
            ));
        }
    }
    row.extra.push((
        "offered_deliveries_per_s".into(),
        rate * senders as f64 * members as f64,
    ));
    Ok(row)
}

/// Who the idle scenario's users share groups with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Contacts {
    /// No shared chat: nobody's presence concerns anybody.
    Strangers,
    /// All users in one group: each has `users − 1` contacts.
    OneGroup,
    /// Each user in `groups` groups of `size`, formed anew for each round of groups.
    Groups { groups: usize, size: usize },
}

impl Contacts {
    pub fn from_flags(one_group: bool, groups: usize, size: usize, users: usize) -> Self {
        if groups > 0 && size > 1 && users > 1 {
            Contacts::Groups { groups, size }
        } else if one_group && users > 1 {
            Contacts::OneGroup
        } else {
            Contacts::Strangers
        }
    }

    fn describe(self) -> String {
        match self {
            Contacts::Strangers => String::new(),
            Contacts::OneGroup => " in one group".into(),
            Contacts::Groups { groups, size } => format!(" each in {groups} groups of {size}"),
        }
    }

    /// The groups to create, as user indices (the first creates it). Round `r` orders
    /// the users by `i × m_r mod users` with `m_r` coprime to `users` (a permutation,
    /// different each round, so a user's groups hold mostly different people) and
    /// cuts that order into groups of `size`; the last group of a round may be smaller.
    fn groups(self, users: usize) -> Vec<Vec<usize>> {
        match self {
            Contacts::Strangers => Vec::new(),
            Contacts::OneGroup => vec![(0..users).collect()],
            Contacts::Groups { groups, size } => {
                // Spaced multipliers: consecutive users of one round's order are
                // about `size` apart in the others', so they rarely meet twice.
                let multipliers = (0..groups).filter_map(|r| {
                    (1 + r * (size + 1)..users + 1 + r * (size + 1)).find(|m| gcd(*m, users) == 1)
                });
                multipliers
                    .flat_map(|m| {
                        let order: Vec<usize> = (0..users).map(|i| i * m % users).collect();
                        order
                            .chunks(size)
                            .filter(|c| c.len() > 1)
                            .map(<[usize]>::to_vec)
                            .collect::<Vec<_>>()
                    })
                    .collect()
            }
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// idle: `n` authenticated connections that do nothing; server memory per connection.
/// With `storm > 0` they open `storm` at a time, as fast as the server takes them (the
/// reconnect storm after a restart), and the row adds the memory per connection once
/// all are open and again two seconds later.
#[allow(clippy::too_many_arguments)]
pub async fn idle(
    server: &Server,
    pid: u32,
    n: usize,
    users: usize,
    contacts: Contacts,
    hold: f64,
    sse: bool,
    storm: usize,
) -> Result<Row, Error> {
    let tag = unique("i");
    let users = users.max(1);
    let mut cookies = Vec::new();
    for i in 0..users {
        cookies.push(server.sign_up(&format!("{tag}u{i}")).await?);
    }
    for (g, members) in contacts.groups(users).iter().enumerate() {
        let names: Vec<String> = members[1..].iter().map(|i| format!("{tag}u{i}")).collect();
        server
            .create_chat(
                &cookies[members[0]],
                &names.join(" "),
                &format!("{tag}g{g}"),
            )
            .await?;
    }
    // Sign-ups (argon2, 19 MiB each) leave memory resident for a few seconds: the
    // baseline is taken once the server's RSS has stopped falling.
    settle(pid).await;
    let meter = Meter::start(&[pid]);
    let t0 = Instant::now();
    // Each connection is read by its own task, so it answers the server's pings (a
    // connection that never answers is closed after a minute, and with tens of
    // thousands the connecting alone takes that long). `closed` counts the ones the
    // server ended anyway: they are not counted as held.
    let closed = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::with_capacity(n);
    // RSS with half the connections open: the second half's growth is the cost of a
    // connection, free of whatever the allocator already had resident before the first.
    let mut half_rss = None;
    // Each connection is read from the moment it opens, as a browser's would be.
    let open = |i: usize| {
        // 127.0.0.2, .3, …: each source address has its own ~28 000 ephemeral ports.
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i / 20_000) as u8));
        let cookie = cookies[i % cookies.len()].clone();
        let closed = closed.clone();
        async move {
            let opened = if sse {
                server.open_sse(&cookie).await.map(|stream| (None, stream))
            } else if storm > 0 {
                // A storm's client does not wait for `resumed` (parsing every frame up
                // to it made the bench, not the server, the bottleneck): its reader
                // drains the frames as they come.
                server
                    .open(&cookie, Some(source), 0, Default::default())
                    .await
                    .map(|(sink, stream)| (Some(sink), stream))
            } else {
                server
                    .connect(&cookie, Some(source))
                    .await
                    .map(|(sink, stream)| (Some(sink), stream))
            };
            // A connection that fails is counted as lost below.
            opened.ok().map(|(sink, mut stream)| {
                tokio::spawn(async move {
                    let _sink = sink;
                    while let Ok(Some(_)) = next_seen(&mut stream).await {}
                    closed.fetch_add(1, Ordering::Relaxed);
                })
            })
        }
    };
    let base_rss = rss_kib(pid);
    let mut storm_rss = None;
    if storm > 0 {
        let all = futures::stream::iter(0..n)
            .map(open)
            .buffer_unordered(storm)
            .collect::<Vec<_>>()
            .await;
        readers.extend(all.into_iter().flatten());
        let now = rss_kib(pid);
        tokio::time::sleep(Duration::from_secs(2)).await;
        storm_rss = Some((now, rss_kib(pid)));
    } else {
        for i in 0..n {
            if i == n / 2 {
                half_rss = Some(rss_kib(pid));
            }
            readers.extend(open(i).await);
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(hold.clamp(0.0, 600.0))).await;
    let held = (readers.len() as u64).saturating_sub(closed.load(Ordering::Relaxed));
    let mut row = Row {
        scenario: "idle".into(),
        params: format!(
            "connections={n} users={users}{} hold={hold}s{}{}",
            contacts.describe(),
            if sse { " SSE streams" } else { "" },
            if storm > 0 {
                format!(" storm={storm} at a time")
            } else {
                String::new()
            }
        ),
        sent: n as u64,
        expected: n as u64,
        received: held,
        lost: n as u64 - held,
        seconds,
        ..Row::default()
    };
    meter.finish(&mut row);
    let growth = row
        .server_rss_after_kib
        .saturating_sub(row.server_rss_before_kib) as f64;
    row.extra.push((
        "server_kib_per_connection".into(),
        growth / held.max(1) as f64,
    ));
    if let Some(half) = half_rss {
        let second_half = (n - n / 2).max(1) as f64;
        row.extra.push((
            "marginal_kib_per_connection".into(),
            row.server_rss_after_kib.saturating_sub(half) as f64 / second_half,
        ));
    }
    if let Some((all_open, later)) = storm_rss {
        let per = |rss: u64| rss.saturating_sub(base_rss) as f64 / held.max(1) as f64;
        row.extra
            .push(("storm_kib_per_connection_all_open".into(), per(all_open)));
        row.extra
            .push(("storm_kib_per_connection_2s_later".into(), per(later)));
    }
    for reader in readers {
        reader.abort();
    }
    Ok(row)
}

/// page: server-rendered `/chats/:id` with 50 messages, `concurrency` clients for
/// `seconds`; plus the compressed bytes of a first visit; then the same for each of
/// `also` (one row each).
pub async fn page(
    server: &Server,
    pid: u32,
    concurrency: usize,
    seconds: f64,
    also: &[String],
) -> Result<Vec<Row>, Error> {
    let tag = unique("p");
    let ca = server.sign_up(&format!("{tag}a")).await?;
    server.sign_up(&format!("{tag}b")).await?;
    let chat = server.create_chat(&ca, &format!("{tag}b"), "").await?;
    let (mut sink, mut stream) = server.connect(&ca, None).await?;
    for i in 0..50 {
        send(
            &mut sink,
            &ClientFrame::Send {
                client_id: format!("{tag}-{i}"),
                chat_id: chat,
                body: format!("message number {i} with some ordinary text in it"),
                reply_to: None,
                files: Vec::new(),
            },
        )
        .await?;
    }
    let mut acked = 0;
    while acked < 50 {
        if let Some(ServerFrame::Ack { .. }) = next_frame(&mut stream).await? {
            acked += 1;
        }
    }
    let path = format!("/chats/{chat}");
    let first_visit = first_visit_bytes(server, &ca, &path).await?;

    let mut row = hammer(server, pid, &ca, &path, concurrency, seconds).await?;
    row.params = format!("GET /chats/:id (50 messages), concurrency={concurrency}, {seconds}s");
    row.extra.push((
        "first_visit_compressed_kib".into(),
        first_visit as f64 / 1024.0,
    ));
    let mut rows = vec![row];
    // The same load on other pages, as the same signed-in user: `/login` is the
    // framework's floor (a page with no data), which bounds what `/chats/:id` can reach.
    for other in also {
        let mut row = hammer(server, pid, &ca, other, concurrency, seconds).await?;
        row.params = format!("GET {other}, concurrency={concurrency}, {seconds}s");
        rows.push(row);
    }
    Ok(rows)
}

/// `concurrency` clients GET `path` back to back for `seconds`; a non-200 counts as lost.
async fn hammer(
    server: &Server,
    pid: u32,
    cookie: &str,
    path: &str,
    concurrency: usize,
    seconds: f64,
) -> Result<Row, Error> {
    let meter = Meter::start(&[pid]);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let server = server.clone();
        let (ca, path) = (cookie.to_string(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                match server.get(&path, Some(&ca), Some(BROWSER_ENCODINGS)).await {
                    Ok((200, _)) => lat.push(start.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut row = Row {
        scenario: "page".into(),
        sent: latencies.len() as u64 + errors,
        expected: latencies.len() as u64 + errors,
        received: latencies.len() as u64,
        lost: errors,
        seconds: elapsed,
        ..Row::default()
    };
    row.deliveries_per_s = row.received as f64 / elapsed.max(1e-9);
    row.latency = Latency::of(&mut latencies);
    meter.finish(&mut row);
    Ok(row)
}

/// Bytes on the wire (compressed) for the page and every file it loads.
/// What Chromium sends: the server picks among these.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

async fn first_visit_bytes(server: &Server, cookie: &str, path: &str) -> Result<usize, Error> {
    let (_, html) = server
        .get(path, Some(cookie), Some(BROWSER_ENCODINGS))
        .await?;
    let (_, plain) = server.get(path, Some(cookie), None).await?;
    let text = String::from_utf8_lossy(&plain);
    let mut total = html.len();
    let mut files: Vec<String> = Vec::new();
    for attr in ["href=\"", "src=\"", "import('", "from '", "from \""] {
        for piece in text.split(attr).skip(1) {
            let end = piece.find(['"', '\'']).unwrap_or(0);
            let url = &piece[..end];
            if url.starts_with("/pkg/")
                || url.starts_with("/favicon")
                || url == "/manifest.webmanifest"
            {
                files.push(url.to_string());
            }
        }
    }
    // The boot script names both the JS glue and the WASM as string literals.
    for piece in text.split("\"/pkg/").skip(1) {
        if let Some(end) = piece.find('"') {
            files.push(format!("/pkg/{}", &piece[..end]));
        }
    }
    // A page that links a manifest registers the service worker once live (issue 33):
    // its script is fetched during the first visit too.
    if text.contains("rel=\"manifest\"") {
        files.push("/sw.js".into());
    }
    // Should the WASM not be named in the HTML, the JS glue fetches it.
    if files.iter().any(|f| f.ends_with(".js")) {
        files.push("/pkg/natter.wasm".into());
    }
    files.sort();
    files.dedup();
    for f in files {
        let (_, body) = server.get(&f, None, Some(BROWSER_ENCODINGS)).await?;
        total += body.len();
    }
    Ok(total)
}

/// resume: a client is offline while `n` messages arrive, then reconnects and resumes.
pub async fn resume(target: &Target, n: usize) -> Result<Row, Error> {
    let server = &target.senders;
    let tag = unique("r");
    let ca = server.sign_up(&format!("{tag}a")).await?;
    let cb = server.sign_up(&format!("{tag}b")).await?;
    let chat = server.create_chat(&ca, &format!("{tag}b"), "").await?;
    let (mut sa, mut ra) = server.connect(&ca, None).await?;
    let mut sent = 0;
    while sent < n {
        let batch = (n - sent).min(500);
        for i in sent..sent + batch {
            feed(
                &mut sa,
                &ClientFrame::Send {
                    client_id: format!("{tag}-{i}"),
                    chat_id: chat,
                    body: format!("{tag} {i}"),
                    reply_to: None,
                    files: Vec::new(),
                },
            )
            .await?;
        }
        sa.flush().await?;
        let mut acked = 0;
        while acked < batch {
            match next_frame(&mut ra).await? {
                Some(ServerFrame::Ack { .. }) => acked += 1,
                Some(_) => {}
                None => return Err("sender closed".into()),
            }
        }
        sent += batch;
    }
    let meter = Meter::start(&target.pids);
    let t0 = Instant::now();
    // Its first frame says it holds nothing of the chat, as a client's would.
    let (_sb, mut rb) = target
        .receivers
        .open(&cb, None, 0, BTreeMap::from([(chat, 0)]))
        .await?;
    let (mut got, mut dups, mut reset) = (HashSet::new(), 0u64, false);
    loop {
        match tokio::time::timeout(Duration::from_secs(30), next_frame(&mut rb)).await {
            Ok(Ok(Some(ServerFrame::Message { message }))) => {
                if !got.insert(message.seq) {
                    dups += 1;
                }
            }
            Ok(Ok(Some(ServerFrame::Reset { .. }))) => reset = true,
            Ok(Ok(Some(ServerFrame::Resumed))) => break,
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    let caught_up = t0.elapsed().as_secs_f64();
    let mut row = Row {
        scenario: "resume".into(),
        params: format!("missed={n}{}", target.shape()),
        sent: n as u64,
        expected: n as u64,
        received: got.len() as u64,
        lost: (n - got.len().min(n)) as u64,
        duplicated: dups,
        seconds: caught_up,
        ..Row::default()
    };
    row.deliveries_per_s = row.received as f64 / caught_up.max(1e-9);
    meter.finish(&mut row);
    row.extra.push(("caught_up_ms".into(), caught_up * 1000.0));
    row.extra
        .push(("reset".into(), if reset { 1.0 } else { 0.0 }));
    Ok(row)
}

/// Waits (at most 15 s) until the server's RSS has not fallen by more than 1% in the
/// last second.
async fn settle(pid: u32) {
    if pid == 0 {
        return;
    }
    let mut last = rss_kib(pid);
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = rss_kib(pid);
        if now + now / 100 >= last {
            return;
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::Contacts;

    #[test]
    fn each_user_is_in_the_asked_number_of_groups_with_different_people() {
        let groups = Contacts::Groups {
            groups: 3,
            size: 10,
        }
        .groups(100);
        assert_eq!(groups.len(), 30);
        assert!(groups.iter().all(|g| g.len() == 10));
        for user in 0..100 {
            let mine: Vec<&Vec<usize>> = groups.iter().filter(|g| g.contains(&user)).collect();
            assert_eq!(mine.len(), 3, "user {user}");
            let mut contacts: Vec<usize> = mine.iter().flat_map(|g| g.iter().copied()).collect();
            contacts.sort_unstable();
            contacts.dedup();
            // Rounds shuffle differently, so most contacts are not shared between rounds.
            assert!(
                contacts.len() > 24,
                "user {user} has {} contacts",
                contacts.len() - 1
            );
        }
    }

    #[test]
    fn one_group_holds_everyone_and_strangers_share_nothing() {
        assert_eq!(Contacts::OneGroup.groups(4), vec![vec![0, 1, 2, 3]]);
        assert!(Contacts::Strangers.groups(4).is_empty());
        assert_eq!(Contacts::from_flags(true, 0, 10, 1), Contacts::Strangers);
        assert_eq!(
            Contacts::from_flags(false, 2, 5, 10),
            Contacts::Groups { groups: 2, size: 5 }
        );
    }
}
