//! natter's load generator: drives a running natter over its documented protocol
//! (HTTP sign-up, `POST /api/...` server functions, `GET /ws`), as any third-party
//! client would, and prints one row per scenario (`--json` for machines).
//!
//!   cargo run --release --features ssr --example bench -- all
//!   cargo run --release --features ssr --example bench -- --smoke all   (what CI runs)
//!
//! By default it starts its own server (`--server-bin`, the release build) on a free
//! loopback port with a fresh SQLite file and send limits lifted, so the figures are
//! about natter, not the rate limiter. `--addr` + `--pid` target one already running.
//! Only loopback addresses are ever targeted; every loop is bounded in count and time.

mod client;
mod flood;
mod pushes;
mod scale;
mod scenarios;
mod stats;
mod uploads;

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Burst,
    Fanout,
    Idle,
    Page,
    Resume,
    /// A database filled by `examples/fill.rs` (--database-url): history, search,
    /// resume and cold start over a year of a team's messages. Not part of `all`.
    Scale,
    All,
}

#[derive(Parser, Debug)]
#[command(about = "natter load generator")]
struct Args {
    #[arg(value_enum, default_value = "all")]
    scenario: Scenario,
    /// Tiny sizes: proves every scenario still runs (CI).
    #[arg(long)]
    smoke: bool,
    /// JSON lines instead of a Markdown table.
    #[arg(long)]
    json: bool,
    /// A running natter to target (loopback only); needs --pid for memory and CPU.
    #[arg(long)]
    addr: Option<SocketAddr>,
    #[arg(long)]
    pid: Option<u32>,
    /// The server binary to start when --addr is not given.
    #[arg(long, env = "NATTER_BIN")]
    server_bin: Option<String>,
    /// The database of the servers the bench starts (default: a fresh SQLite file).
    /// A `postgres://` URL is used as it is: give each run a fresh database.
    #[arg(long)]
    database_url: Option<String>,
    /// Redis for the servers the bench starts (`redis://127.0.0.1:PORT`).
    #[arg(long)]
    redis_url: Option<String>,
    /// Start two nodes on --database-url (PostgreSQL) and --redis-url: senders connect
    /// to the first, receivers to the second (burst, fanout, resume; page and idle run
    /// against the first). scripts/bench-cluster.sh starts PostgreSQL and Redis for it.
    #[arg(long)]
    cluster: bool,
    /// Receivers (burst, fanout) and idle connections use the fallback's SSE stream
    /// instead of a WebSocket; senders keep theirs.
    #[arg(long)]
    sse: bool,
    /// burst: messages.
    #[arg(long, default_value_t = 1000)]
    burst: usize,
    /// burst: runs against the same server, one row each, then a row of their medians
    /// (one run is at the mercy of the host's scheduling; the median of 15 is not).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// fanout: group size, senders, seconds, and the per-sender rates to sweep.
    #[arg(long, default_value_t = 100)]
    members: usize,
    #[arg(long, default_value_t = 10)]
    senders: usize,
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    #[arg(long, value_delimiter = ',', default_value = "100")]
    rate: Vec<f64>,
    /// fanout: all senders tick at the same instant (by default they are evenly out of
    /// phase), so each tick offers senders × members deliveries at once.
    #[arg(long)]
    lockstep: bool,
    /// idle: connections (use 50000 for the full figure) and the users they belong to.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    #[arg(long, default_value_t = 100)]
    idle_users: usize,
    /// idle: the users are all members of one group (each has `idle_users - 1`
    /// contacts, at most 199), as people who share groups; by default strangers.
    #[arg(long)]
    idle_group: bool,
    /// idle: instead of one group, each user is a member of this many groups of
    /// `--idle-group-size` (the users shuffled differently for each round of groups),
    /// so contacts overlap as they do between people: at most groups × (size − 1).
    #[arg(long, default_value_t = 0)]
    idle_groups: usize,
    #[arg(long, default_value_t = 10)]
    idle_group_size: usize,
    /// idle: seconds to hold the connections before reading the server's memory (past a
    /// heartbeat or two, every connection has pinged, ponged and had its session checked).
    #[arg(long, default_value_t = 0.5)]
    idle_hold: f64,
    /// idle: open the connections this many at a time, as fast as the server takes them
    /// (a reconnect storm, as after a restart), and report the memory per connection
    /// once all are open and two seconds later; 0 opens them one after another.
    #[arg(long, default_value_t = 0)]
    idle_storm: usize,
    /// page: concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// page: more paths to load the same way after `/chats/:id`, one row each
    /// (`/login`: the floor, a page with no data).
    #[arg(long, value_delimiter = ',', value_parser = local_path)]
    page_also: Vec<String>,
    /// page: fail (exit non-zero) when the first visit of the chat page, with every file
    /// it loads, weighs more than this compressed (KiB). CI runs it on the release build.
    #[arg(long)]
    first_visit_budget_kib: Option<f64>,
    /// Meanwhile, this many clients send sign-in attempts with wrong passwords (a new
    /// username each time, so no lock-out stops them before the password hash) as fast
    /// as they are answered: the burst's figure under a sign-in flood.
    #[arg(long, default_value_t = 0)]
    sign_in_flood: usize,
    /// Meanwhile, this many uploads of `--upload-mb` stream into the server at once, each
    /// starting again when answered: the figures while files are shared (issue 32).
    #[arg(long, default_value_t = 0)]
    uploads: usize,
    #[arg(long, default_value_t = 25)]
    upload_mb: usize,
    /// Meanwhile, this many people who are never online, each with a Web Push
    /// subscription to a sink of the bench's own, get direct messages from one sender
    /// in turn at `--push-rate` a second in all: the figures while pushes go out
    /// (issue 33).
    #[arg(long, default_value_t = 0)]
    push_members: usize,
    #[arg(long, default_value_t = 10.0)]
    push_rate: f64,
    /// The same people and messages without subscriptions: the comparison.
    #[arg(long)]
    push_unsubscribed: bool,
    /// Each upload's pace in KB/s (1250: a 10 Mbit/s uplink); 0 sends as fast as the
    /// loopback takes it.
    #[arg(long, default_value_t = 1250)]
    upload_kbps: u64,
    /// resume: messages missed while offline.
    #[arg(long, default_value_t = 10_000)]
    missed: usize,
    /// scale: requests per figure (searches: at most 180, the users' rate limit).
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

/// A path on the server under test (the bench only ever targets its loopback address).
fn local_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') && !s.starts_with("//") {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a path on the server (it must start with one `/`)"
        ))
    }
}

struct Spawned {
    child: Child,
    _dir: tempfile::TempDir,
    /// From spawning the process to its first successful `/healthz`.
    started_in: Duration,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this process's open-file limit to its hard limit (the server started here
/// inherits it) and returns the limit now in force.
fn raise_fd_limit() -> libc::rlim_t {
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}

async fn spawn_server(
    bin: &str,
    database_url: Option<&str>,
    redis_url: Option<&str>,
    push_prefix: Option<&str>,
) -> Result<(SocketAddr, u32, Spawned), client::Error> {
    let dir = tempfile::tempdir()?;
    let database_url = match database_url {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut command = Command::new(bin);
    command
        .args([
            "--bind",
            &addr.to_string(),
            "--public-origin",
            &format!("http://{addr}"),
        ])
        .args(["--database-url", &database_url])
        .args(["--ws-send-rate", "10000000", "--ws-send-burst", "10000000"])
        // The idle scenario opens many sockets per user, all from 127.0.0.1.
        .args(["--ws-max-per-user", "1000000", "--ws-max-per-ip", "1000000"])
        .args(["--max-connections-per-ip", "1000000"])
        // … and signs its users up from there.
        .args([
            "--sign-up-per-minute",
            "1000000",
            "--sign-in-per-minute",
            "1000000",
        ])
        .args(redis_url.iter().flat_map(|url| ["--redis-url", url]))
        // Files in the bench's folder (also on PostgreSQL), with the limits on volume
        // lifted for `--uploads`; every upload it starts streams at once.
        .arg("--files-dir")
        .arg(dir.path().join("files"))
        .args([
            "--uploads-per-minute",
            "1000000",
            "--files-quota-mb",
            "1000000000",
        ])
        .args(["--uploads-at-once", "1000"])
        .args(
            push_prefix
                .iter()
                .flat_map(|p| ["--push-allow-endpoint", p]),
        )
        .env("RUST_LOG", "warn")
        .env("LEPTOS_OUTPUT_NAME", "natter")
        .stdout(Stdio::null());
    // The server gets a session of its own, as a service has. With the kernel's autogroup
    // scheduling (on by default) the threads of one session share the CPU as one group:
    // in the bench's session the server would compete with the bench's threads one by
    // one instead of process against process, unlike any real deployment (BENCHMARKS.md,
    // eighth pass: mostly the slowest bursts got slower). Ctrl-C no longer reaches it, so
    // it is also told to die with the bench.
    // SAFETY: between fork and exec, only the async-signal-safe `setsid` and `prctl`.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let t0 = Instant::now();
    let child = command.spawn()?;
    let pid = child.id();
    let mut spawned = Spawned {
        child,
        _dir: dir,
        started_in: Duration::ZERO,
    };
    let deadline = t0 + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://{addr}/healthz")).await {
            if r.status().is_success() {
                spawned.started_in = t0.elapsed();
                return Ok((addr, pid, spawned));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err("server did not start".into())
}

#[tokio::main]
async fn main() -> Result<(), client::Error> {
    let mut args = Args::parse();
    if args.smoke {
        args.burst = 50;
        args.members = 5;
        args.senders = 2;
        args.seconds = 0.5;
        args.rate = vec![20.0];
        args.idle = 50;
        args.idle_users = 5;
        args.concurrency = 2;
        args.missed = 200;
    }
    let fd_limit = raise_fd_limit();
    // Each idle connection is one file descriptor in the bench and one in the server.
    if matches!(args.scenario, Scenario::Idle | Scenario::All) && args.idle as u64 + 200 > fd_limit
    {
        return Err(format!(
            "idle: {} connections need more open files than the limit allows ({fd_limit}); \
             raise the hard limit (ulimit -Hn, needs CAP_SYS_RESOURCE) or use --idle {}",
            args.idle,
            fd_limit.saturating_sub(200)
        )
        .into());
    }
    if args.cluster && (args.database_url.is_none() || args.redis_url.is_none()) {
        return Err("--cluster needs --database-url (PostgreSQL) and --redis-url".into());
    }
    let push_sink = match args.push_members {
        0 => None,
        _ => Some(pushes::Sink::bind().await?),
    };
    let push_prefix = push_sink.as_ref().map(|s| s.prefix()).transpose()?;
    let mut spawned = Vec::new();
    let mut nodes = Vec::new();
    match (args.addr, args.pid) {
        (Some(addr), pid) => {
            if !addr.ip().is_loopback() {
                return Err("the bench only targets loopback addresses".into());
            }
            nodes.push((addr, pid.unwrap_or(0)));
        }
        (None, _) => {
            let bin = args
                .server_bin
                .clone()
                .ok_or("give --server-bin (or NATTER_BIN) or --addr")?;
            for _ in 0..if args.cluster { 2 } else { 1 } {
                let (addr, pid, s) = spawn_server(
                    &bin,
                    args.database_url.as_deref(),
                    args.redis_url.as_deref(),
                    push_prefix.as_deref(),
                )
                .await?;
                nodes.push((addr, pid));
                spawned.push(s);
            }
        }
    }
    let (addr, pid) = nodes[0];
    let server = client::Server::new(addr);
    let target = scenarios::Target {
        senders: server.clone(),
        receivers: client::Server::new(nodes[nodes.len() - 1].0),
        pids: nodes.iter().map(|n| n.1).collect(),
        sse: args.sse,
    };
    if !args.json {
        let all: Vec<String> = nodes
            .iter()
            .map(|(a, p)| format!("{a} (pid {p})"))
            .collect();
        println!("natter bench against {}\n", all.join(" and "));
        stats::Row::header();
    }
    let flood = (args.sign_in_flood > 0).then(|| flood::start(&server, args.sign_in_flood));
    let uploads = match args.uploads {
        0 => None,
        n => Some(uploads::start(&server, pid, n, args.upload_mb, args.upload_kbps).await?),
    };
    let pushes = match push_sink {
        None => None,
        Some(sink) => Some(
            pushes::start(
                &server,
                sink,
                args.push_members,
                args.push_rate,
                !args.push_unsubscribed,
            )
            .await?,
        ),
    };
    let want = |s: Scenario| args.scenario == s || args.scenario == Scenario::All;
    let mut rows = Vec::new();
    let page_secs = if args.smoke { 0.5 } else { 5.0 };
    if want(Scenario::Burst) {
        let mut runs = Vec::new();
        for i in 0..args.repeat.max(1) {
            if i > 0 {
                // Past the server's once-a-second WAL checkpoint, so no run pays for the
                // one before it.
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
            runs.push(scenarios::burst(&target, args.burst).await?);
        }
        let summary = (runs.len() > 1)
            .then(|| stats::Row::median_of(&runs, &["first_send_to_last_delivery_ms"]));
        rows.extend(runs);
        rows.extend(summary);
    }
    if want(Scenario::Fanout) {
        for &rate in &args.rate {
            rows.push(
                scenarios::fanout(
                    &target,
                    args.members,
                    args.senders,
                    rate,
                    args.seconds,
                    args.lockstep,
                )
                .await?,
            );
        }
    }
    if args.scenario == Scenario::Scale {
        rows.extend(
            scale::scale(
                &server,
                args.database_url.as_deref(),
                spawned.first().map(|s| s.started_in),
                args.samples,
            )
            .await?,
        );
    }
    if want(Scenario::Resume) {
        rows.push(scenarios::resume(&target, args.missed).await?);
    }
    if want(Scenario::Page) {
        rows.extend(
            scenarios::page(&server, pid, args.concurrency, page_secs, &args.page_also).await?,
        );
    }
    if want(Scenario::Idle) {
        rows.push(
            scenarios::idle(
                &server,
                pid,
                args.idle,
                args.idle_users,
                scenarios::Contacts::from_flags(
                    args.idle_group,
                    args.idle_groups,
                    args.idle_group_size,
                    args.idle_users,
                ),
                args.idle_hold,
                args.sse,
                args.idle_storm,
            )
            .await?,
        );
    }
    if let Some(flood) = flood {
        eprintln!("{}", flood.stop().await);
    }
    if let Some(uploads) = uploads {
        eprintln!("{}", uploads.stop().await);
    }
    if let Some(pushes) = pushes {
        eprintln!("{}", pushes.stop().await);
    }
    let mut broken = false;
    for row in &rows {
        row.print(args.json);
        broken |= row.lost > 0 || row.duplicated > 0;
    }
    if broken {
        return Err("messages were lost or duplicated, or page requests did not get a 200 (see the rows above)".into());
    }
    if let Some(budget) = args.first_visit_budget_kib {
        let weight = rows
            .iter()
            .flat_map(|r| &r.extra)
            .find(|(name, _)| name == "first_visit_compressed_kib")
            .map(|(_, kib)| *kib)
            .ok_or("--first-visit-budget-kib needs the page scenario")?;
        if weight > budget {
            return Err(format!(
                "the first visit of a chat page weighs {weight:.1} KiB compressed, over its budget of {budget} KiB"
            )
            .into());
        }
        eprintln!("first visit: {weight:.1} KiB compressed, within the budget of {budget} KiB");
    }
    Ok(())
}
