//! The middleware that finds each request's client address (`base::net` has the rules:
//! `--trusted-proxy`, and IPv6 counted by its /64).

use crate::server::app::AppState;
use crate::server::base::net::{network, resolve, ClientIp};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

/// Middleware: puts [`ClientIp`] in the request extensions.
pub async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let ip = resolve(peer, state.config.trusted_proxy, forwarded);
        req.extensions_mut().insert(ClientIp(network(ip)));
    }
    next.run(req).await
}
