//! The address guard for push endpoints: URLs a user hands the server, which it then
//! POSTs to. Only `https://` endpoints on public addresses, at subscription and at
//! every connection (a resolver that drops every private, loopback, link-local or
//! otherwise special address, so a name that later points inward is refused), no
//! redirects. `--push-allow-endpoint PREFIX` lets an operator (or a test) allow one
//! more prefix, which may be plain HTTP on any address.

use crate::model::AppError;
use crate::server::base::error::{Error, Result};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Longest endpoint accepted (push services' are ~200 characters).
pub const MAX_ENDPOINT: usize = 1024;

/// Whether an address is one anyone on the internet could reach: none of loopback,
/// private, link-local, shared (CGNAT), documentation, benchmarking, multicast,
/// broadcast, reserved or unspecified ranges, IPv4 inside IPv6 judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32);
                return public_v4(v4);
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo...)
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0] // discard-only
                || s[0] == 0) // the rest of ::/16 (IPv4-compatible, reserved)
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Checks an endpoint before it is saved: a URL of at most [`MAX_ENDPOINT`] bytes,
/// `https://` on a host whose every address is public, or under `allow_prefix` (a URL
/// ending in `/`, compared with the endpoint as parsed: `..` and escapes are resolved
/// first). Returns the endpoint as parsed, the form that is stored.
pub async fn check_endpoint(endpoint: &str, allow_prefix: Option<&str>) -> Result<String> {
    let refuse =
        |why: &str| -> Error { AppError::invalid(format!("Push endpoint refused: {why}")).into() };
    if endpoint.len() > MAX_ENDPOINT {
        return Err(refuse("too long"));
    }
    let url = url::Url::parse(endpoint).map_err(|_| refuse("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in the URL"));
    }
    let normal = url.as_str().to_string();
    if allow_prefix.is_some_and(|p| p.ends_with('/') && normal.starts_with(p)) {
        return Ok(normal);
    }
    if url.scheme() != "https" {
        return Err(refuse("only https:// endpoints"));
    }
    let host = url.host().ok_or_else(|| refuse("no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host {
        url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        url::Host::Domain(name) => {
            let found = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::lookup_host((name, port)),
            )
            .await
            .map_err(|_| refuse("its host did not resolve in time"))?
            .map_err(|_| refuse("its host does not resolve"))?;
            found.map(|a| a.ip()).collect()
        }
    };
    if addrs.is_empty() || !addrs.iter().all(|ip| is_public(*ip)) {
        return Err(refuse("not a public address"));
    }
    Ok(normal)
}

/// Resolves names for the push client, keeping public addresses only: what was checked
/// at subscription is checked again at each connection.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err("no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The push client: public addresses only (names resolved through [`PublicOnly`];
/// an address written in the URL was checked when it was saved), no redirects, no
/// proxy from the environment, bounded in time.
pub fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PublicOnly))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| Error::internal(format!("push client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} passed");
        }
        for ip in [
            "8.8.8.8",
            "142.250.1.1",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} refused");
        }
    }

    #[tokio::test]
    async fn endpoints_must_be_public_https() {
        let bad = [
            "http://push.example/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://10.0.0.1/x",
            "https://user:pw@8.8.8.8/x",
            "not a url",
            "file:///etc/passwd",
        ];
        for e in bad {
            assert!(check_endpoint(e, None).await.is_err(), "{e} passed");
        }
        assert!(check_endpoint("https://8.8.8.8/push/abc", None)
            .await
            .is_ok());
        let long = format!("https://8.8.8.8/{}", "a".repeat(MAX_ENDPOINT));
        assert!(check_endpoint(&long, None).await.is_err());
        // The allowed prefix, and only it.
        let allow = Some("http://127.0.0.1:9999/push/");
        assert!(check_endpoint("http://127.0.0.1:9999/push/a", allow)
            .await
            .is_ok());
        assert!(check_endpoint("http://127.0.0.1:9998/push/a", allow)
            .await
            .is_err());
    }
}
