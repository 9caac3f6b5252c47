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
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sign-in attempts per username and minute, from anywhere.
const SIGN_IN_PER_USERNAME: u32 = 5;
/// Beyond this many keys a limiter forgets the ones whose limit has recovered.
const MAX_KEYS: usize = 100_000;

/// Seconds a refused client is told to wait (the limits are per minute).
pub const RETRY_AFTER_SECS: u32 = 60;

/// Failed sign-ins in a row a username is allowed before it is locked out; each
/// failure beyond locks it for twice as long as the one before, from
/// [`FIRST_LOCKOUT`] up to [`MAX_LOCKOUT`]. A success ends it; so does an hour
/// without failures.
const FREE_FAILURES: u32 = 5;
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

/// A username's failed sign-ins in a row.
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// How long a username is locked out after `count` failures in a row.
fn lockout_after(count: u32) -> Option<Duration> {
    let beyond = count.checked_sub(FREE_FAILURES + 1)?;
    Some(
        FIRST_LOCKOUT
            .saturating_mul(1 << beyond.min(16))
            .min(MAX_LOCKOUT),
    )
}

pub struct AuthLimits {
    sign_in_ip: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_user: DefaultKeyedRateLimiter<String>,
    sign_up_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Per username (typed, normalised), whether or not it exists.
    failures: Mutex<HashMap<String, Failures>>,
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n)
}

fn check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    what: &'static str,
) -> Result<(), AppError> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|_| {
        super::metrics::rate_limited(what);
        AppError::RateLimited
    })
}

impl AuthLimits {
    /// `sign_in_per_ip` and `sign_up_per_ip`: attempts per client IP and minute.
    pub fn new(sign_in_per_ip: u32, sign_up_per_ip: u32) -> Self {
        AuthLimits {
            sign_in_ip: RateLimiter::keyed(per_minute(sign_in_per_ip)),
            sign_in_user: RateLimiter::keyed(per_minute(SIGN_IN_PER_USERNAME)),
            sign_up_ip: RateLimiter::keyed(per_minute(sign_up_per_ip)),
            failures: Mutex::default(),
        }
    }

    /// One sign-in attempt for `username` (as typed, normalised here) from `ip`
    /// (unknown when the router runs without a socket, as in some tests).
    pub fn sign_in(&self, ip: Option<IpAddr>, username: &str) -> Result<(), AppError> {
        if let Some(ip) = ip {
            check(&self.sign_in_ip, &ip, "sign_in_ip")?;
        }
        let name = username.trim().to_lowercase();
        check(&self.sign_in_user, &name, "sign_in_username")?;
        let locked = self
            .failures
            .lock()
            .map_err(|_| AppError::Internal)?
            .get(&name)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| Instant::now() < until);
        if locked {
            super::metrics::rate_limited("sign_in_locked_out");
            return Err(AppError::RateLimited);
        }
        Ok(())
    }

    /// A wrong password (or an unknown user) for `username`: counts towards its
    /// lock-out.
    pub fn sign_in_failed(&self, username: &str) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        let now = Instant::now();
        if failures.len() > MAX_KEYS {
            failures.retain(|_, f| now.duration_since(f.last) < MAX_LOCKOUT);
        }
        let f = failures
            .entry(username.trim().to_lowercase())
            .or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
        if now.duration_since(f.last) >= MAX_LOCKOUT {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if let Some(lock) = lockout_after(f.count) {
            tracing::info!(
                failures = f.count,
                seconds = lock.as_secs(),
                "sign-in locked out"
            );
            f.locked_until = Some(now + lock);
        }
    }

    /// A successful sign-in ends the username's run of failures.
    pub fn sign_in_succeeded(&self, username: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&username.trim().to_lowercase());
        }
    }

    pub fn sign_up(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        match ip {
            Some(ip) => check(&self.sign_up_ip, &ip, "sign_up_ip"),
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
        check(&self.sends, &user, "post_send").is_ok()
    }

    /// `edit` and `delete`.
    pub fn change(&self, user: UserId) -> bool {
        check(&self.changes, &user, "post_change").is_ok()
    }

    pub fn read(&self, user: UserId) -> bool {
        check(&self.reads, &user, "post_read").is_ok()
    }

    pub fn typing(&self, user: UserId) -> bool {
        check(&self.typing, &user, "post_typing").is_ok()
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

    #[test]
    fn failures_in_a_row_lock_a_username_out_for_longer_each_time() {
        assert_eq!(lockout_after(FREE_FAILURES), None);
        assert_eq!(lockout_after(FREE_FAILURES + 1), Some(FIRST_LOCKOUT));
        assert_eq!(lockout_after(FREE_FAILURES + 2), Some(FIRST_LOCKOUT * 2));
        assert_eq!(lockout_after(FREE_FAILURES + 4), Some(FIRST_LOCKOUT * 8));
        assert_eq!(lockout_after(1000), Some(MAX_LOCKOUT));

        let limits = AuthLimits::new(1000, 1000);
        let ip: IpAddr = [10, 0, 0, 9].into();
        for _ in 0..FREE_FAILURES {
            limits.sign_in_failed("Victim ");
        }
        assert!(limits.sign_in(Some(ip), "victim").is_ok(), "not yet");
        limits.sign_in_failed("victim");
        assert_eq!(
            limits.sign_in(Some(ip), "VICTIM"),
            Err(AppError::RateLimited)
        );
        assert!(limits.sign_in(Some(ip), "someone-else").is_ok());
        limits.sign_in_succeeded("victim");
        assert!(
            limits.sign_in(Some(ip), "victim").is_ok(),
            "a success ends it"
        );
    }
}
