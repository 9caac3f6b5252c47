//! Configuration: every setting is a flag and an environment variable with a default.

use clap::Parser;

/// Commands besides serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Copies the SQLite database (`--database-url`) to PATH, consistent and complete as
    /// of one moment, while the server keeps running (SQLite's `VACUUM INTO`), then the
    /// shared files it names to the folder PATH's stem + `-files` beside it (with
    /// `--files-url`, the bucket is backed up with its own tools). Neither may exist yet.
    /// To restore: stop natter, move the copy to the database file's place (removing any
    /// `-wal` and `-shm` files beside it) and the folder to the files folder's place
    /// (`natter.db` → `natter-files`), start natter.
    Backup { path: std::path::PathBuf },
    /// Makes a person an administrator (`grant`) or not (`revoke`), for recovery when no
    /// administrator can sign in. Recorded in the audit log as done from the command
    /// line. The last administrator cannot be revoked. Run it against the same
    /// `--database-url` as the server (while it runs or not).
    Admin {
        #[arg(value_parser = ["grant", "revoke"])]
        action: String,
        username: String,
    },
}

#[derive(Clone, Debug, Parser)]
#[command(name = "natter", version, about = "Self-hosted real-time chat")]
pub struct Config {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Database URL. SQLite by default: the file is created and migrated at start.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://natter.db")]
    pub database_url: String,

    /// Pooled database connections serving requests (the committer has one more of
    /// its own). SQLite reads are CPU work: more connections than cores adds thread
    /// hand-offs, not throughput.
    #[arg(long, env = "NATTER_DB_CONNECTIONS", default_value_t = super::db::DEFAULT_CONNECTIONS)]
    pub db_connections: u32,

    /// Address to listen on (use port 0 for any free port).
    #[arg(long, env = "NATTER_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,

    /// Public origin browsers use to reach natter (scheme://host[:port]).
    /// Sets the Secure cookie flag when https, and is the only allowed WebSocket Origin.
    #[arg(
        long,
        env = "NATTER_PUBLIC_ORIGIN",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_origin: String,

    /// Folder with the compiled site (CSS, JS, WASM, public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// How long a session lasts without signing in again, in days.
    #[arg(long, env = "NATTER_SESSION_DAYS", default_value_t = 30)]
    pub session_days: i64,

    /// WebSocket `send` frames allowed per second and connection (sustained).
    #[arg(long, env = "NATTER_WS_SEND_RATE", default_value_t = 20)]
    pub ws_send_rate: u32,

    /// WebSocket `send` frames allowed in a burst per connection (an offline outbox
    /// flushing, a paste of many lines).
    #[arg(long, env = "NATTER_WS_SEND_BURST", default_value_t = 100)]
    pub ws_send_burst: u32,

    /// Open WebSockets allowed per user (all their tabs and devices together).
    #[arg(long, env = "NATTER_WS_MAX_PER_USER", default_value_t = 20)]
    pub ws_max_per_user: u32,

    /// Open WebSockets allowed per client IP address.
    #[arg(long, env = "NATTER_WS_MAX_PER_IP", default_value_t = 200)]
    pub ws_max_per_ip: u32,

    /// The reverse proxy's IP address: only requests from it have their client address
    /// taken from `X-Forwarded-For` (its last entry). Unset: the socket's peer.
    #[arg(long, env = "NATTER_TRUSTED_PROXY")]
    pub trusted_proxy: Option<std::net::IpAddr>,

    /// Sign-in attempts allowed per client IP and minute (each username also gets 5 per
    /// minute, from anywhere). Beyond: 429 with `Retry-After`.
    #[arg(long, env = "NATTER_SIGN_IN_PER_MINUTE", default_value_t = 10)]
    pub sign_in_per_minute: u32,

    /// Sign-ups allowed per client IP and minute.
    #[arg(long, env = "NATTER_SIGN_UP_PER_MINUTE", default_value_t = 5)]
    pub sign_up_per_minute: u32,

    /// Redis, for running several natter nodes on one PostgreSQL database
    /// (`redis://host:port`): live events and cache invalidations cross nodes through
    /// it. Unset: one node, events stay in this process. With a password:
    /// `redis://:PASSWORD@host:port` (or `redis://USER:PASSWORD@…` with Redis ACLs);
    /// over TLS: `rediss://…`, checked against the system's CAs or those in the file
    /// named by `SSL_CERT_FILE`. Prefer the environment variable to the flag: a command
    /// line is visible to every local user.
    #[arg(long, env = "NATTER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Log lines as text for people (`text`) or one JSON object per line for a log
    /// collector (`json`); either way each request's lines carry its request id (the
    /// `x-request-id` the proxy sent, or one made here), which the response returns.
    #[arg(long, env = "NATTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Address for Prometheus metrics (`GET /metrics`), a listener of its own; unset:
    /// no metrics. Keep it private (loopback, or a network only the scraper reaches).
    #[arg(long, env = "NATTER_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// Several nodes: how long a node's word that a user is online lasts without a
    /// refresh (a node that dies is noticed within 4/3 of this).
    #[arg(long, env = "NATTER_PRESENCE_TTL_SECS", default_value_t = super::live::cluster_presence::DEFAULT_TTL_SECS)]
    pub presence_ttl_secs: u64,

    /// Seconds a connection may take to send a request's headers, and to start the next
    /// request on a kept-alive connection: a client that sends half a request line and
    /// waits is dropped after this (natter faces the internet without a proxy by default).
    #[arg(long, env = "NATTER_HEADER_TIMEOUT_SECS", default_value_t = 15)]
    pub header_timeout_secs: u64,

    /// Seconds a request may take from its head to its answer, its body included: a
    /// client that announces a body and sends it a byte at a time (or never) gets 408
    /// and its connection closed. Streams (WebSocket, SSE) are answered at once and are
    /// not cut by it.
    #[arg(long, env = "NATTER_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Open connections per client network (an IPv4 address or an IPv6 /64); more are
    /// closed at once. The `--trusted-proxy`'s connections are not counted.
    #[arg(long, env = "NATTER_MAX_CONNECTIONS_PER_IP", default_value_t = 512)]
    pub max_connections_per_ip: u32,

    /// Folder for shared files. Default: beside the SQLite file (`natter.db` → `natter-files/`);
    /// with PostgreSQL, `natter-files/` here, unless `--files-url` is set.
    #[arg(long, env = "NATTER_FILES_DIR")]
    pub files_dir: Option<std::path::PathBuf>,

    /// S3-compatible storage for shared files instead of a folder (several nodes):
    /// `s3://bucket/prefix`; endpoint and credentials from `AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (`AWS_ALLOW_HTTP=true` for http://).
    #[arg(long, env = "NATTER_FILES_URL")]
    pub files_url: Option<String>,

    /// One setting of `--files-url`'s storage, `KEY=VALUE`, overriding the environment;
    /// repeatable. KEY is one of object_store's S3 settings (`endpoint`, `region`,
    /// `allow_http`, `access_key_id`, ...). Keep secrets in the environment: a command
    /// line is visible to everyone on the machine.
    #[arg(long = "files-s3", value_parser = key_value, value_name = "KEY=VALUE")]
    pub files_s3: Vec<(String, String)>,

    /// Largest file one can share, in megabytes (10^6 bytes).
    #[arg(long, env = "NATTER_FILE_MAX_MB", default_value_t = 25)]
    pub file_max_mb: u64,

    /// Storage each person's shared files may take together, in megabytes.
    #[arg(long, env = "NATTER_FILES_QUOTA_MB", default_value_t = 1000)]
    pub files_quota_mb: u64,

    /// Uploads a person may start per minute.
    #[arg(long, env = "NATTER_UPLOADS_PER_MINUTE", default_value_t = 30)]
    pub uploads_per_minute: u32,

    /// Web Push: one more endpoint prefix the server may POST to besides public
    /// `https://` addresses, e.g. a push service of your own on a private network, or a
    /// test's (`http://127.0.0.1:PORT/`: a URL ending in `/`, a private host written as
    /// an address). Unset by default: a browser's
    /// endpoint on a private address is refused, so no one can make the server reach
    /// inside its network.
    #[arg(long, env = "NATTER_PUSH_ALLOW_ENDPOINT", value_name = "URL_PREFIX")]
    pub push_allow_endpoint: Option<String>,

    /// Who may sign up on a new database: `open` (anyone), `invite` (with an invitation
    /// link) or `closed`. Stored at the first start; administrators change it on /admin
    /// afterwards (this flag then no longer matters). The first account of a new
    /// database can always be created: it becomes the administrator.
    #[arg(long, env = "NATTER_SIGNUP", default_value = "open", value_parser = ["open", "invite", "closed"])]
    pub signup: String,

    /// Uploads streaming at once on this node; more wait up to 10 s for a turn, then are
    /// refused (429). Each holds up to three parts in memory: 256 KiB each in a folder, 5 MiB on S3.
    #[arg(long, env = "NATTER_UPLOADS_AT_ONCE", default_value_t = super::domain::files::UPLOADS_AT_ONCE)]
    pub uploads_at_once: usize,
}

/// `KEY=VALUE` (`--files-s3`).
fn key_value(arg: &str) -> Result<(String, String), String> {
    arg.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, not {arg:?}"))
}

impl Config {
    /// `--signup` as a mode (the parser allows only the three).
    pub fn signup_mode(&self) -> crate::model::admin::SignupMode {
        crate::model::admin::SignupMode::parse(&self.signup)
            .unwrap_or(crate::model::admin::SignupMode::Open)
    }

    /// Whether cookies must carry the Secure flag.
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.starts_with("https://")
    }

    /// A configuration for tests: the given database, any port.
    pub fn for_tests(database_url: &str) -> Self {
        Config {
            command: None,
            metrics_bind: None,
            log_format: LogFormat::Text,
            database_url: database_url.to_string(),
            db_connections: super::db::DEFAULT_CONNECTIONS,
            bind: "127.0.0.1:0".into(),
            public_origin: "http://127.0.0.1:3000".into(),
            site_root: "target/site".into(),
            session_days: 30,
            ws_send_rate: 20,
            ws_send_burst: 100,
            ws_max_per_user: 20,
            ws_max_per_ip: 200,
            trusted_proxy: None,
            redis_url: None,
            presence_ttl_secs: super::live::cluster_presence::DEFAULT_TTL_SECS,
            header_timeout_secs: 15,
            request_timeout_secs: 30,
            max_connections_per_ip: 512,
            sign_in_per_minute: 10,
            sign_up_per_minute: 5,
            files_dir: None,
            files_url: None,
            files_s3: Vec::new(),
            file_max_mb: 25,
            files_quota_mb: 1000,
            uploads_per_minute: 30,
            uploads_at_once: super::domain::files::UPLOADS_AT_ONCE,
            push_allow_endpoint: None,
            signup: "open".into(),
        }
    }

    /// Where shared files go when no `--files-url` is set (see `--files-dir`).
    pub fn files_dir(&self) -> std::path::PathBuf {
        if let Some(dir) = &self.files_dir {
            return dir.clone();
        }
        let sqlite = self
            .database_url
            .strip_prefix("sqlite://")
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|path| !path.is_empty() && !path.starts_with(':'));
        match sqlite {
            Some(path) => {
                let db = std::path::Path::new(path);
                let stem = db.file_stem().and_then(|s| s.to_str()).unwrap_or("natter");
                db.with_file_name(format!("{stem}-files"))
            }
            None => "natter-files".into(),
        }
    }
}

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
