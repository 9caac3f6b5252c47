//! The client's IP address, for per-IP limits: the socket's peer, or, when the peer is
//! the reverse proxy named by `--trusted-proxy`, the address that proxy appended to
//! `X-Forwarded-For` (nginx: `proxy_add_x_forwarded_for`). Anyone else's
//! `X-Forwarded-For` is ignored: a client could write any address there.

use super::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

/// The request's client address, in the request extensions (absent when the router is
/// driven in-process, without a socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client's IP address in the current server function (absent when the router runs
/// without a socket).
pub fn current() -> Option<IpAddr> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<ClientIp>().copied())
        .map(|ClientIp(ip)| ip)
}

/// The client address of a request that came through `peer`.
pub fn resolve(peer: IpAddr, trusted_proxy: Option<IpAddr>, forwarded: Option<&str>) -> IpAddr {
    if trusted_proxy != Some(peer) {
        return peer;
    }
    // The proxy appends the address it saw last; earlier entries are the client's word.
    forwarded
        .and_then(|f| f.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

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
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_the_trusted_proxy() {
        let proxy: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [192, 0, 2, 9].into();
        let xff = Some("6.6.6.6, 203.0.113.7");
        assert_eq!(resolve(other, Some(proxy), xff), other);
        assert_eq!(resolve(other, None, xff), other);
        assert_eq!(
            resolve(proxy, Some(proxy), xff),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(resolve(proxy, Some(proxy), Some("garbage")), proxy);
        assert_eq!(resolve(proxy, Some(proxy), None), proxy);
    }
}
