//! Everything that runs only on the server (feature `ssr`).
//!
//! A guided tour:
//! - [`config`][]: command-line flags and environment variables.
//! - [`state`][]: the shared [`state::AppState`] handed to every handler.
//! - [`limits`][]: sign-in and sign-up limits per IP and per username.
//! - [`origin`][]: refusal of state-changing requests from other origins.
//! - [`router`][]: `fn app(state) -> Router`, the whole HTTP surface and its middleware.
//! - [`serve`][]: the accept loop, with header-read and idle timeouts.
//! - [`auth`][]: password hashing, sessions, the cookie, and the request guard.
//! - [`client_ip`][]: the client's address for per-IP limits (`--trusted-proxy`).
//! - [`error`][]: the server-side error that keeps the cause, and its mapping to [`crate::model::AppError`].
//! - [`db`][]: all SQL, one file per table, behind [`db::Store`].
//! - [`chat`][]: the domain operations the server functions and WebSocket frames call.
//! - [`writer`][]: the task that stores new messages in groups, and the one that publishes them.
//! - [`ws`][]: `GET /ws`, one task pair per connection, the connection registry (hub).

pub mod account;
pub mod auth;
pub mod chat;
pub mod client_ip;
pub mod config;
pub mod consent;
pub mod db;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod origin;
pub mod router;
pub mod serve;
pub mod state;
pub mod writer;
pub mod ws;

pub use error::{Error, Result};

use config::Config;
use state::AppState;

/// Starts natter: logging, database, router, then serves until SIGTERM / Ctrl-C.
pub async fn run(config: Config) -> std::result::Result<(), Box<dyn std::error::Error>> {
    if let Some(config::Command::Backup { path }) = &config.command {
        let store = db::Store::open(&config.database_url, 1).await?;
        store.backup_to(path).await?;
        store.close().await;
        println!(
            "natter: backed up {} to {}",
            config.database_url,
            path.display()
        );
        return Ok(());
    }
    let store = db::Store::open(&config.database_url, config.db_connections).await?;
    let state = AppState::new(config.clone(), store)?;
    if let Some(addr) = &config.metrics_bind {
        metrics::serve(addr, state.clone()).await?;
    }
    let listener = tokio::net::TcpListener::bind(&config.bind).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, origin = %state.config.public_origin, "natter listening on http://{addr}");
    serve_until(listener, state.clone(), shutdown_signal()).await?;
    if let Some(presence) = &state.presence {
        presence.stop().await;
    }
    state.store.close().await;
    tracing::info!("natter stopped");
    Ok(())
}

/// Serves natter on `listener` until the process is asked to stop (the tests start
/// here; `run` adds the signals). See [`serve::serve_until`] for the connection rules.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending()).await
}

/// [`serve`] until `shutdown` resolves.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = serve::ConnLimits {
        header_timeout: std::time::Duration::from_secs(state.config.header_timeout_secs.max(1)),
        per_network: state.config.max_connections_per_ip as usize,
        trusted_proxy: state.config.trusted_proxy,
    };
    serve::serve_until(listener, router::app(state), limits, shutdown).await
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
