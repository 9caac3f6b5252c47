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
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the open
/// requests to finish. `header_timeout`: how long a connection may take to send a
/// request's head, counted from its first byte or from the end of the previous response
/// (so it is the idle timeout of a kept-alive connection too).
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
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
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}
