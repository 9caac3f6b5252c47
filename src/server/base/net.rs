//! The client's IP address, for per-IP limits: the socket's peer, or, when the peer is
//! the reverse proxy named by `--trusted-proxy`, the address that proxy appended to
//! `X-Forwarded-For` (nginx: `proxy_add_x_forwarded_for`). Anyone else's
//! `X-Forwarded-For` is ignored: a client could write any address there.
//!
//! The address is kept as the *network* the limits count: an IPv6 client is its /64
//! (one subscriber gets a whole /64 and can use any of its 2^64 addresses, so limits
//! per address would be limits per request), an IPv4 client (or an IPv4-mapped IPv6
//! one) its address.

use std::net::IpAddr;

/// The request's client network ([`network`]), in the request extensions (put there by
/// `edge::client_ip`; absent when the router is driven in-process, without a socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

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

/// The network that per-address limits count for `ip`: an IPv6 address's /64, an IPv4
/// address (also when written as IPv4-mapped IPv6) itself.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
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

    #[test]
    fn limits_count_an_ipv6_client_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_eq!(network(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(network(a), network(other));
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(network(v4), v4);
        assert_eq!(network("::ffff:203.0.113.7".parse().unwrap()), v4);
    }
}
