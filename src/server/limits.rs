//! Limits on what a stranger can repeat without a session: sign-in attempts per client
//! IP and per username (whether or not the user exists: the answer must not tell), and
//! sign-ups per IP. Each attempt costs an argon2 hash; without these a few hundred
//! requests a second starve the server, and passwords can be guessed without end.
//!
//! Refusals are [`AppError::RateLimited`] (429, with `Retry-After`: see
//! `router::server_fn_error_status`), decided before any hashing.
//!
//! [`FrameLimits`]: the live protocol's frames POSTed over HTTP (the SSE fallback), per
//! user, as a WebSocket limits them per connection.

use crate::model::protocol::{READS_PER_SECOND, READ_BURST, TYPING_BURST, TYPING_PER_SECOND};
use crate::model::{AppError, UserId};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Sign-in attempts per username and minute, from anywhere.
const SIGN_IN_PER_USERNAME: u32 = 5;
/// Beyond this many keys a limiter forgets the ones whose limit has recovered.
const MAX_KEYS: usize = 100_000;

/// Seconds a refused client is told to wait (the limits are per minute).
pub const RETRY_AFTER_SECS: u32 = 60;

pub struct AuthLimits {
    sign_in_ip: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_user: DefaultKeyedRateLimiter<String>,
    sign_up_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n)
}

fn check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), AppError> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|_| AppError::RateLimited)
}

impl AuthLimits {
    /// `sign_in_per_ip` and `sign_up_per_ip`: attempts per client IP and minute.
    pub fn new(sign_in_per_ip: u32, sign_up_per_ip: u32) -> Self {
        AuthLimits {
            sign_in_ip: RateLimiter::keyed(per_minute(sign_in_per_ip)),
            sign_in_user: RateLimiter::keyed(per_minute(SIGN_IN_PER_USERNAME)),
            sign_up_ip: RateLimiter::keyed(per_minute(sign_up_per_ip)),
        }
    }

    /// One sign-in attempt for `username` (as typed, normalised here) from `ip`
    /// (unknown when the router runs without a socket, as in some tests).
    pub fn sign_in(&self, ip: Option<IpAddr>, username: &str) -> Result<(), AppError> {
        if let Some(ip) = ip {
            check(&self.sign_in_ip, &ip)?;
        }
        check(&self.sign_in_user, &username.trim().to_lowercase())
    }

    pub fn sign_up(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        match ip {
            Some(ip) => check(&self.sign_up_ip, &ip),
            None => Ok(()),
        }
    }
}

/// Per-user limits on frames POSTed to `/frames` (on this node), with the quotas a
/// WebSocket has per connection (docs/PROTOCOL.md, "Limits").
pub struct FrameLimits {
    sends: DefaultKeyedRateLimiter<UserId>,
    changes: DefaultKeyedRateLimiter<UserId>,
    reads: DefaultKeyedRateLimiter<UserId>,
    typing: DefaultKeyedRateLimiter<UserId>,
}

impl FrameLimits {
    /// `send_rate` / `send_burst`: the `--ws-send-rate` and `--ws-send-burst` settings.
    pub fn new(send_rate: u32, send_burst: u32) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let sends = || Quota::per_second(nz(send_rate)).allow_burst(nz(send_burst));
        FrameLimits {
            sends: RateLimiter::keyed(sends()),
            changes: RateLimiter::keyed(sends()),
            reads: RateLimiter::keyed(
                Quota::per_second(nz(READS_PER_SECOND)).allow_burst(nz(READ_BURST)),
            ),
            typing: RateLimiter::keyed(
                Quota::per_second(nz(TYPING_PER_SECOND)).allow_burst(nz(TYPING_BURST)),
            ),
        }
    }

    pub fn send(&self, user: UserId) -> bool {
        check(&self.sends, &user).is_ok()
    }

    /// `edit` and `delete`.
    pub fn change(&self, user: UserId) -> bool {
        check(&self.changes, &user).is_ok()
    }

    pub fn read(&self, user: UserId) -> bool {
        check(&self.reads, &user).is_ok()
    }

    pub fn typing(&self, user: UserId) -> bool {
        check(&self.typing, &user).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_is_limited_per_ip_and_per_username() {
        let limits = AuthLimits::new(3, 2);
        let (ip, other): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for name in ["a", "b", "c"] {
            assert!(limits.sign_in(Some(ip), name).is_ok());
        }
        assert_eq!(limits.sign_in(Some(ip), "d"), Err(AppError::RateLimited));
        // The username's own budget, from many addresses (and whatever its case).
        let limits = AuthLimits::new(100, 2);
        for i in 0..SIGN_IN_PER_USERNAME {
            let ip: IpAddr = [10, 0, 1, i as u8].into();
            assert!(limits.sign_in(Some(ip), "Victim").is_ok());
        }
        assert_eq!(
            limits.sign_in(Some(other), "victim"),
            Err(AppError::RateLimited)
        );
        assert!(limits.sign_in(Some(other), "someone-else").is_ok());
        assert!(limits.sign_up(Some(ip)).is_ok());
        assert!(limits.sign_up(Some(ip)).is_ok());
        assert_eq!(limits.sign_up(Some(ip)), Err(AppError::RateLimited));
        assert!(limits.sign_up(None).is_ok());
    }

    #[test]
    fn posted_frames_are_limited_per_user() {
        let limits = FrameLimits::new(1, 3);
        let (a, b) = (UserId(1), UserId(2));
        assert!((0..3).all(|_| limits.send(a)));
        assert!(!limits.send(a), "beyond the burst");
        assert!(limits.send(b), "another user has a bucket of their own");
        assert!(
            limits.change(a),
            "edits and deletes have a bucket of their own"
        );
        assert!((0..TYPING_BURST).all(|_| limits.typing(a)));
        assert!(!limits.typing(a));
        assert!((0..READ_BURST).all(|_| limits.read(a)));
        assert!(!limits.read(a));
    }
}
