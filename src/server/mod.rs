//! Everything that runs only on the server (feature `ssr`), in layers whose imports
//! point down only (`scripts/check-layers.py` checks it in `scripts/test.sh`):
//!
//! - this file: `run` and `serve`, the process's start and stop.
//! - [`edge`]: the HTTP surface: router and middleware, the accept loop, the session
//!   guard, the metrics endpoint, and the glue of server functions ([`edge::calls`]).
//! - [`conn`]: live connections: `GET /ws`, `GET /sse` and `POST /frames`, with one
//!   frame dispatcher ([`conn::dispatch`]) and one connection life ([`conn::life`]).
//! - [`app`]: [`app::AppState`], the one place that builds and wires everything below;
//!   only `edge`, `conn` and the server functions (`crate::api`) name it.
//!   [`config`]: the flags it is built from.
//! - [`domain`]: the rules, as small services holding only what they use: chats,
//!   consent, commit (storing new messages), notify (who is told what), presence,
//!   auth, limits.
//! - [`live`]: the live machinery: frames, queues, the hub, connection caps, brokers
//!   (in-process and Redis), the cluster's presence.
//! - [`db`]: all SQL, one file per table, behind [`db::Store`].
//! - [`blobs`]: where files' bytes live (a directory or S3-compatible storage).
//! - [`base`]: the error type, metrics counters, client addresses; `crate::model`
//!   (shared with the browser) is below everything.

pub mod app;
pub mod base;
pub mod blobs;
pub mod config;
pub mod conn;
pub mod db;
pub mod domain;
pub mod edge;
pub mod live;

pub use base::error::{Error, Result};

use app::AppState;
use config::Config;

/// Starts natter: logging, database, router, then serves until SIGTERM / Ctrl-C.
pub async fn run(config: Config) -> std::result::Result<(), Box<dyn std::error::Error>> {
    // Everything natter writes (shared files, the database, backups) is the server
    // user's alone, whatever the shell's umask.
    // SAFETY: umask only swaps the process's file-mode mask.
    unsafe {
        libc::umask(0o077);
    }
    if let Some(config::Command::Admin { action, username }) = &config.command {
        let store = db::Store::open(&config.database_url, 1).await?;
        let admin = domain::admin::Admin::new(store.clone(), config.signup_mode());
        let done = admin.set_admin_by_name(username, action == "grant").await;
        store.close().await;
        let user = done.map_err(|e| format!("natter admin {action} {username}: {e}"))?;
        let what = if action == "grant" {
            "is now"
        } else {
            "is no longer"
        };
        println!("natter: {} {what} an administrator", user.username);
        return Ok(());
    }
    if let Some(config::Command::Backup { path }) = &config.command {
        let store = db::Store::open(&config.database_url, 1).await?;
        let folder = match &config.files_url {
            None if store.backend() == "sqlite" => Some(config.files_dir()),
            _ => None,
        };
        let done = domain::backup::backup(&store, folder.as_deref(), path).await;
        store.close().await;
        let report = done?;
        println!(
            "natter: backed up {} to {}",
            config.database_url,
            path.display()
        );
        match (&report.files_dir, &config.files_url) {
            (Some(dir), _) => {
                println!(
                    "natter: and {} shared files ({} thumbnails) to {}",
                    report.files,
                    report.thumbs,
                    dir.display()
                );
                if report.missing > 0 {
                    println!(
                        "natter: {} files were deleted after the copy was taken (their \
                         messages too) and are not in it",
                        report.missing
                    );
                }
            }
            (None, Some(url)) => println!(
                "natter: shared files are in {url}, not copied: back up that bucket with \
                 its own tools (README, \"Backups\")"
            ),
            (None, None) => {}
        }
        return Ok(());
    }
    let store = db::Store::open(&config.database_url, config.db_connections).await?;
    match store.admin_census().await {
        Ok((people, 0)) if people > 0 => tracing::warn!(
            people,
            "natter has no administrator: run `natter admin grant USERNAME` (README, \"The first administrator\")"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not count the administrators"),
    }
    let state = AppState::new(config.clone(), store)?;
    if let Some(addr) = &config.metrics_bind {
        edge::metrics::serve(addr, state.clone()).await?;
    }
    let listener = tokio::net::TcpListener::bind(&config.bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, origin = %state.config.public_origin, "natter listening on http://{addr}");
    serve_until(listener, state.clone(), shutdown_signal()).await?;
    if let Some(cluster) = &state.cluster {
        cluster.stop().await;
    }
    state.store.close().await;
    tracing::info!("natter stopped");
    Ok(())
}

/// Serves natter on `listener` until the process is asked to stop (the tests start
/// here; `run` adds the signals). See [`edge::serve::serve_until`] for the connection rules.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending()).await
}

/// [`serve`] until `shutdown` resolves.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = edge::serve::ConnLimits {
        header_timeout: std::time::Duration::from_secs(state.config.header_timeout_secs.max(1)),
        per_network: state.config.max_connections_per_ip as usize,
        trusted_proxy: state.config.trusted_proxy,
    };
    edge::serve::serve_until(listener, edge::router::app(state), limits, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
