//! Cross-origin request refusal for everything that changes state.
//!
//! `SameSite=Lax` cookies stop other *sites*, not other origins of the same site (a
//! sibling subdomain, another port), so every state-changing request must also come
//! from our own origin:
//! - `Origin` present (browsers send it on every POST): it must be the public origin;
//! - else `Sec-Fetch-Site` present: it must be `same-origin` (or `none`: typed by the
//!   user);
//! - neither: not a browser (a browser would have sent one of them), so no cookie of a
//!   victim's is riding on it; let it through.
//!
//! Safe methods (GET, HEAD, OPTIONS) change nothing and pass. The WebSocket upgrade, a
//! GET, checks its `Origin` itself (strictly: see `conn::socket`).

use axum::http::{header, HeaderMap};

/// Whether `headers` show a request made by a page of `public_origin` (or by no page).
pub fn allowed(public_origin: &str, headers: &HeaderMap) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().ok() == Some(public_origin.trim_end_matches('/'));
    }
    match headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""))
    {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_our_origin_or_no_browser_at_all() {
        let ours = "https://chat.example.org";
        assert!(allowed(
            ours,
            &headers(&[("origin", "https://chat.example.org")])
        ));
        assert!(allowed(&format!("{ours}/"), &headers(&[("origin", ours)])));
        for evil in [
            "https://evil.example",
            "https://sub.chat.example.org",
            "https://chat.example.org:8443",
            "http://chat.example.org",
            "null",
        ] {
            let mut h = HeaderMap::new();
            h.insert("origin", evil.parse().unwrap());
            assert!(!allowed(ours, &h), "{evil}");
        }
        assert!(!allowed(ours, &headers(&[("sec-fetch-site", "same-site")])));
        assert!(!allowed(
            ours,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(allowed(
            ours,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(allowed(ours, &HeaderMap::new()));
        // An Origin decides even when Sec-Fetch-Site claims otherwise.
        assert!(!allowed(
            ours,
            &headers(&[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin")
            ])
        ));
    }
}
