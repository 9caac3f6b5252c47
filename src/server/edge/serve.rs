//! The accept loop: natter's own, instead of `axum::serve`, for one reason: timeouts.
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs and a
//! client that sends half a request line (or opens a connection and says nothing, or
//! leaves a kept-alive connection idle) holds a socket and a task for ever. natter
//! runs on :3000 without a proxy by default, so it needs the timeouts itself.
//!
//! HTTP/1.1 only: browsers use HTTP/2 only over TLS, which the proxy in front of a
//! deployment terminates (and speaks HTTP/1.1 to natter).
//!
//! Each accepted socket gets `TCP_NODELAY` (chat frames are small; Nagle's algorithm
//! would hold one back until the peer's delayed ACK), its peer address as
//! `ConnectInfo` (per-IP limits), and a connection task with upgrades (WebSocket).
//! Shutdown: stop accepting, ask every connection to finish its request, wait for them.

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How connections are bounded (see `Config`).
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// How long a connection may take to send a request's head, counted from its start
    /// or from the end of the previous response (so it is the idle timeout of a
    /// kept-alive connection too).
    pub header_timeout: Duration,
    /// Open connections per client network (`base::net::network` of the peer); more are
    /// closed at once. The trusted proxy's connections are not counted: they carry
    /// everyone's requests.
    pub per_network: usize,
    pub trusted_proxy: Option<IpAddr>,
}

/// Open connections per network: an entry lives while its count is above zero, so the
/// map holds at most as many entries as there are open connections.
#[derive(Default)]
struct OpenPerNetwork(Mutex<HashMap<IpAddr, usize>>);

impl OpenPerNetwork {
    fn open(self: &Arc<Self>, network: IpAddr, max: usize) -> Option<OpenGuard> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(network).or_insert(0);
        if *n >= max {
            if *n == 0 {
                map.remove(&network);
            }
            return None;
        }
        *n += 1;
        Some(OpenGuard(self.clone(), network))
    }
}

/// Counts one open connection until dropped.
struct OpenGuard(Arc<OpenPerNetwork>, IpAddr);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let mut map = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the open
/// requests to finish.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let header_timeout = limits.header_timeout;
    let open = Arc::new(OpenPerNetwork::default());
    let mut shutdown = pin!(shutdown);
    // Dropped at shutdown: each connection task sees it and shuts down gracefully.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection task holds a receiver; all dropped = all connections done.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let guard = if limits.trusted_proxy == Some(peer.ip()) {
            None
        } else {
            match open.open(
                crate::server::base::net::network(peer.ip()),
                limits.per_network.max(1),
            ) {
                Some(guard) => Some(guard),
                None => {
                    tracing::debug!(%peer, "too many connections from one network");
                    crate::server::base::counters::rate_limited("connections_per_network");
                    continue; // dropping `tcp` closes it
                }
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let mut stop_rx = stop_rx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            // The header-read timer starts as soon as a request head is awaited: on
            // a new connection before its first byte, on a kept-alive one after each
            // response.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                .with_upgrades();
            let mut conn = pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, %peer, "connection ended");
                        }
                        break;
                    }
                    _ = stop_rx.changed() => conn.as_mut().graceful_shutdown(),
                }
            }
            drop(done_rx);
            drop(guard);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}
