//! Limits on what a stranger can repeat without a session: sign-in attempts per client
//! network and per (username, network), and sign-ups per network. Each attempt costs
//! an argon2 hash; without these a few hundred requests a second starve the server,
//! and passwords can be guessed without end.
//!
//! **No stranger can lock someone else out.** Failed sign-ins are counted per
//! (username, client network), never per username alone: a guesser's failures lock
//! the username out *for the guesser's network* (doubling from 30 s up to an hour),
//! while its owner signs in from anywhere else as usual. Guessing stays expensive: each
//! network gets [`FREE_FAILURES`] free tries per username and then waits longer each
//! time, and every network is limited per minute across all usernames. (A network is
//! an IPv4 address or an IPv6 /64: `base::net::network`.)
//!
//! **Bounded memory.** A username that cannot exist (over 32 bytes, or characters a
//! username never has) is refused before it reaches any map or hash, so every key is
//! small; each map is swept of recovered keys past [`MAX_KEYS`] entries and, should a
//! flood of fresh keys keep it full, refuses *new* keys (429) rather than grow.
//!
//! Refusals are [`AppError::RateLimited`] (429, with `Retry-After`: see
//! `edge::router::server_fn_error_status`), decided before any hashing.
//!
//! [`UserLimits`]: what a signed-in user writes over HTTP (server functions, and the
//! live protocol's frames POSTed by the SSE fallback), per user, with the quotas a
//! WebSocket has per connection. A server function and a POSTed frame that do the same
//! thing draw on the same bucket.

use crate::model::protocol::{READS_PER_SECOND, READ_BURST, TYPING_BURST, TYPING_PER_SECOND};
use crate::model::validate::USERNAME_MAX;
use crate::model::{AppError, UserId};
use crate::server::base::counters::rate_limited;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sign-in attempts per (username, network) and minute.
const SIGN_IN_PER_USERNAME: u32 = 5;
/// Beyond this many keys a limiter forgets the ones whose limit has recovered; if a
/// flood keeps it this full, new keys are refused instead of stored.
const MAX_KEYS: usize = 100_000;

/// Seconds a refused client is told to wait (the limits are per minute).
pub const RETRY_AFTER_SECS: u32 = 60;

/// Failed sign-ins in a row a (username, network) is allowed before it is locked out;
/// each failure beyond locks it for twice as long as the one before, from
/// [`FIRST_LOCKOUT`] up to [`MAX_LOCKOUT`]. A success ends it; so does an hour
/// without failures.
const FREE_FAILURES: u32 = 5;
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

/// A (username, network)'s failed sign-ins in a row.
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// How long a (username, network) is locked out after `count` failures in a row.
fn lockout_after(count: u32) -> Option<Duration> {
    let beyond = count.checked_sub(FREE_FAILURES + 1)?;
    Some(
        FIRST_LOCKOUT
            .saturating_mul(1 << beyond.min(16))
            .min(MAX_LOCKOUT),
    )
}

/// What failures and the per-username limiter are keyed by: a normalised username of
/// at most [`USERNAME_MAX`] bytes and the client's network (`None` when the router runs
/// without a socket, as in some tests).
type Key = (String, Option<IpAddr>);

/// The normalised username, if it could name an account at all: refused before any
/// map or hash sees it otherwise (an unbounded key would be kept, a username of
/// megabytes hashed).
pub fn sign_in_name(username: &str) -> Option<String> {
    // The byte bound first: the rule below lower-cases its whole input.
    if username.trim().len() > USERNAME_MAX {
        return None;
    }
    crate::model::validate::username(username).ok()
}

pub struct AuthLimits {
    sign_in_ip: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_user: DefaultKeyedRateLimiter<Key>,
    sign_up_ip: DefaultKeyedRateLimiter<IpAddr>,
    failures: Mutex<HashMap<Key, Failures>>,
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
        if limiter.len() > MAX_KEYS {
            // Still full of live keys: a flood. Refusing is safer than growing; the
            // keys recover within the limit's period.
            rate_limited(what);
            return Err(AppError::RateLimited);
        }
    }
    limiter.check_key(key).map_err(|_| {
        rate_limited(what);
        AppError::RateLimited
    })
}

impl AuthLimits {
    /// `sign_in_per_ip` and `sign_up_per_ip`: attempts per client network and minute.
    pub fn new(sign_in_per_ip: u32, sign_up_per_ip: u32) -> Self {
        AuthLimits {
            sign_in_ip: RateLimiter::keyed(per_minute(sign_in_per_ip)),
            sign_in_user: RateLimiter::keyed(per_minute(SIGN_IN_PER_USERNAME)),
            sign_up_ip: RateLimiter::keyed(per_minute(sign_up_per_ip)),
            failures: Mutex::default(),
        }
    }

    /// One sign-in attempt for `name` (from [`sign_in_name`]) from `ip` (the client's
    /// network).
    pub fn sign_in(&self, ip: Option<IpAddr>, name: &str) -> Result<(), AppError> {
        if let Some(ip) = ip {
            check(&self.sign_in_ip, &ip, "sign_in_ip")?;
        }
        let key = (name.to_string(), ip);
        check(&self.sign_in_user, &key, "sign_in_username")?;
        let locked = self
            .failures
            .lock()
            .map_err(|_| AppError::Internal)?
            .get(&key)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| Instant::now() < until);
        if locked {
            rate_limited("sign_in_locked_out");
            return Err(AppError::RateLimited);
        }
        Ok(())
    }

    /// A malformed username: counted against the network only (it names no account).
    pub fn sign_in_malformed(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        match ip {
            Some(ip) => check(&self.sign_in_ip, &ip, "sign_in_ip"),
            None => Ok(()),
        }
    }

    /// A wrong password (or an unknown user) for `name` from `ip`: counts towards that
    /// pair's lock-out.
    pub fn sign_in_failed(&self, ip: Option<IpAddr>, name: &str) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        let now = Instant::now();
        let key = (name.to_string(), ip);
        if failures.len() >= MAX_KEYS && !failures.contains_key(&key) {
            failures.retain(|_, f| {
                now.duration_since(f.last) < MAX_LOCKOUT
                    && f.locked_until.is_some_and(|until| now < until)
            });
            if failures.len() >= MAX_KEYS {
                // Full of live lock-outs: the per-network limits still hold.
                return;
            }
        }
        let f = failures.entry(key).or_insert(Failures {
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
                "sign-in locked out for one network"
            );
            f.locked_until = Some(now + lock);
        }
    }

    /// A successful sign-in ends the pair's run of failures.
    pub fn sign_in_succeeded(&self, ip: Option<IpAddr>, name: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&(name.to_string(), ip));
        }
    }

    pub fn sign_up(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        match ip {
            Some(ip) => check(&self.sign_up_ip, &ip, "sign_up_ip"),
            None => Ok(()),
        }
    }
}

/// Writes over HTTP, each with a per-user bucket of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// A message (`send_message`, a POSTed `send`).
    Send,
    /// An edit or a delete.
    Change,
    /// A read pointer.
    Read,
    /// Typing (POSTed frames only).
    Typing,
    /// Chats and their members: create, add, remove, leave; signing out everywhere.
    Manage,
    /// A search: a read, but the costliest query a user can repeat.
    Search,
}

/// Chats created and member changes per user: a person does a few at a time.
const MANAGE_PER_SECOND: u32 = 2;
const MANAGE_BURST: u32 = 20;
/// Searches per user: a person types a few queries a second at most.
const SEARCH_PER_SECOND: u32 = 5;
const SEARCH_BURST: u32 = 20;

/// Per-user limits on writes over HTTP (on this node), with the quotas a WebSocket has
/// per connection (docs/PROTOCOL.md, "Limits").
pub struct UserLimits {
    sends: DefaultKeyedRateLimiter<UserId>,
    changes: DefaultKeyedRateLimiter<UserId>,
    reads: DefaultKeyedRateLimiter<UserId>,
    typing: DefaultKeyedRateLimiter<UserId>,
    manage: DefaultKeyedRateLimiter<UserId>,
    search: DefaultKeyedRateLimiter<UserId>,
}

impl UserLimits {
    /// `send_rate` / `send_burst`: the `--ws-send-rate` and `--ws-send-burst` settings.
    pub fn new(send_rate: u32, send_burst: u32) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = |rate: u32, burst: u32| Quota::per_second(nz(rate)).allow_burst(nz(burst));
        UserLimits {
            sends: RateLimiter::keyed(quota(send_rate, send_burst)),
            changes: RateLimiter::keyed(quota(send_rate, send_burst)),
            reads: RateLimiter::keyed(quota(READS_PER_SECOND, READ_BURST)),
            typing: RateLimiter::keyed(quota(TYPING_PER_SECOND, TYPING_BURST)),
            manage: RateLimiter::keyed(quota(MANAGE_PER_SECOND, MANAGE_BURST)),
            search: RateLimiter::keyed(quota(SEARCH_PER_SECOND, SEARCH_BURST)),
        }
    }

    /// One `write` by `user`: `Err(RateLimited)` beyond its quota (counted in the
    /// metrics as `http_<write>`).
    pub fn check(&self, write: Write, user: UserId) -> Result<(), AppError> {
        let (limiter, what) = match write {
            Write::Send => (&self.sends, "http_send"),
            Write::Change => (&self.changes, "http_change"),
            Write::Read => (&self.reads, "http_read"),
            Write::Typing => (&self.typing, "http_typing"),
            Write::Manage => (&self.manage, "http_manage"),
            Write::Search => (&self.search, "http_search"),
        };
        check(limiter, &user, what)
    }

    /// [`Self::check`] as a yes or no.
    pub fn allows(&self, write: Write, user: UserId) -> bool {
        self.check(write, user).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_is_limited_per_network_and_per_username_and_network() {
        let limits = AuthLimits::new(3, 2);
        let (ip, other): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for name in ["a", "b", "c"] {
            assert!(limits.sign_in(Some(ip), name).is_ok());
        }
        assert_eq!(limits.sign_in(Some(ip), "d"), Err(AppError::RateLimited));
        assert!(limits.sign_in(Some(other), "d").is_ok());
        // One network's budget for one username...
        let limits = AuthLimits::new(100, 2);
        for _ in 0..SIGN_IN_PER_USERNAME {
            assert!(limits.sign_in(Some(ip), "victim").is_ok());
        }
        assert_eq!(
            limits.sign_in(Some(ip), "victim"),
            Err(AppError::RateLimited)
        );
        // ...is not the owner's, elsewhere.
        assert!(limits.sign_in(Some(other), "victim").is_ok());
        assert!(limits.sign_in(Some(ip), "someone-else").is_ok());
        assert!(limits.sign_up(Some(ip)).is_ok());
        assert!(limits.sign_up(Some(ip)).is_ok());
        assert_eq!(limits.sign_up(Some(ip)), Err(AppError::RateLimited));
        assert!(limits.sign_up(None).is_ok());
    }

    #[test]
    fn a_username_that_cannot_exist_never_becomes_a_key() {
        assert_eq!(sign_in_name(" Alice_1 ").as_deref(), Some("alice_1"));
        assert_eq!(
            sign_in_name(&"a".repeat(USERNAME_MAX)).map(|n| n.len()),
            Some(USERNAME_MAX)
        );
        assert_eq!(sign_in_name(&"a".repeat(USERNAME_MAX + 1)), None);
        assert_eq!(sign_in_name(&"x".repeat(2_000_000)), None);
        assert_eq!(sign_in_name("al ice"), None);
        assert_eq!(sign_in_name("ÅSA"), None);
    }

    #[test]
    fn a_flood_of_new_keys_is_refused_not_stored() {
        let limiter: DefaultKeyedRateLimiter<u32> = RateLimiter::keyed(per_minute(1));
        for k in 0..=MAX_KEYS as u32 {
            let _ = limiter.check_key(&k);
        }
        // Every key is live (used within the minute): the next new one is refused.
        assert_eq!(
            check(&limiter, &u32::MAX, "test"),
            Err(AppError::RateLimited)
        );
        assert!(limiter.len() <= MAX_KEYS + 1);
    }

    #[test]
    fn http_writes_are_limited_per_user() {
        let limits = UserLimits::new(1, 3);
        let (a, b) = (UserId(1), UserId(2));
        assert!((0..3).all(|_| limits.allows(Write::Send, a)));
        assert_eq!(limits.check(Write::Send, a), Err(AppError::RateLimited));
        assert!(
            limits.allows(Write::Send, b),
            "another user has a bucket of their own"
        );
        assert!(
            limits.allows(Write::Change, a),
            "edits and deletes have a bucket of their own"
        );
        for (write, burst) in [
            (Write::Typing, TYPING_BURST),
            (Write::Read, READ_BURST),
            (Write::Manage, MANAGE_BURST),
        ] {
            assert!((0..burst).all(|_| limits.allows(write, a)), "{write:?}");
            assert!(!limits.allows(write, a), "{write:?}");
        }
    }

    #[test]
    fn failures_lock_out_one_network_and_never_the_owner_elsewhere() {
        assert_eq!(lockout_after(FREE_FAILURES), None);
        assert_eq!(lockout_after(FREE_FAILURES + 1), Some(FIRST_LOCKOUT));
        assert_eq!(lockout_after(FREE_FAILURES + 2), Some(FIRST_LOCKOUT * 2));
        assert_eq!(lockout_after(FREE_FAILURES + 4), Some(FIRST_LOCKOUT * 8));
        assert_eq!(lockout_after(1000), Some(MAX_LOCKOUT));

        let limits = AuthLimits::new(1000, 1000);
        let attacker: IpAddr = [10, 0, 0, 9].into();
        let owner: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..FREE_FAILURES {
            limits.sign_in_failed(Some(attacker), "victim");
        }
        assert!(limits.sign_in(Some(attacker), "victim").is_ok(), "not yet");
        limits.sign_in_failed(Some(attacker), "victim");
        assert_eq!(
            limits.sign_in(Some(attacker), "victim"),
            Err(AppError::RateLimited)
        );
        assert!(
            limits.sign_in(Some(owner), "victim").is_ok(),
            "the owner, elsewhere, is not locked out by a stranger"
        );
        assert!(limits.sign_in(Some(attacker), "someone-else").is_ok());
        limits.sign_in_succeeded(Some(attacker), "victim");
        assert!(
            limits.sign_in(Some(attacker), "victim").is_ok(),
            "a success ends it"
        );
    }
}
