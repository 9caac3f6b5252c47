//! Limits on how fast live connections (`/ws` and `/sse` together) are opened, per user
//! and per client address, on this node. The caps in [`super::slots`] bound how many
//! are open at once; these bound the churn: every open costs a session check, a
//! presence snapshot (a query per contact) and a registration, and a loop of opens and
//! closes cost each contact two presence frames per turn before presence was coalesced
//! (`super::announce`).
//!
//! Each key may open as many connections at once as its cap allows (a browser restoring
//! every tab after a restart), at least [`MIN_BURST`], then one more per second for
//! every [`BURST_PER_RATE`] of that burst: with the defaults 30 at once then 1 a second
//! per user, and 200 at once then 10 a second per address. An IPv6 client counts by its
//! /64 (one host is given a whole /64). Beyond: `429` with `Retry-After`, before the
//! upgrade.

use crate::model::UserId;
use crate::server::base::net::network;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Opens allowed at once, at least (per user: more than the 20 tabs the cap allows).
pub const MIN_BURST: u32 = 30;
/// The burst refills at one open a second per this many of it.
pub const BURST_PER_RATE: u32 = 20;
/// Beyond this many keys a limiter forgets the ones whose bucket is full again.
const MAX_KEYS: usize = 100_000;

/// Which limit refused an open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    User,
    Ip,
}

pub struct OpenLimits {
    by_user: DefaultKeyedRateLimiter<UserId>,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(cap: u32) -> Quota {
    let burst = cap.max(MIN_BURST);
    let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(nz(burst / BURST_PER_RATE)).allow_burst(nz(burst))
}

impl OpenLimits {
    /// `per_user` / `per_ip`: the caps on open connections (`--ws-max-per-user`,
    /// `--ws-max-per-ip`), which size the bursts.
    pub fn new(per_user: u32, per_ip: u32) -> Self {
        OpenLimits {
            by_user: RateLimiter::keyed(quota(per_user)),
            by_ip: RateLimiter::keyed(quota(per_ip)),
            clock: DefaultClock::default(),
        }
    }

    /// One open by `user` from `ip` (unknown for in-process callers), or which limit
    /// refused it and how long until it would pass. The address is checked first, so
    /// a flood from one address does not spend its users' own budgets.
    pub fn check(&self, user: UserId, ip: Option<IpAddr>) -> Result<(), (Refused, Duration)> {
        if let Some(ip) = ip {
            self.one(&self.by_ip, &network(ip))
                .map_err(|wait| (Refused::Ip, wait))?;
        }
        self.one(&self.by_user, &user)
            .map_err(|wait| (Refused::User, wait))
    }

    fn one<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), Duration> {
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys held (for tests: the maps stay bounded).
    pub fn keys(&self) -> usize {
        self.by_user.len() + self.by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_are_limited_per_user_and_per_address() {
        let limits = OpenLimits::new(3, 40);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let (a, b) = (UserId(1), UserId(2));
        for _ in 0..MIN_BURST {
            assert!(limits.check(a, Some(ip)).is_ok());
        }
        let (refused, wait) = limits.check(a, Some(ip)).unwrap_err();
        assert_eq!(refused, Refused::User);
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // b has a budget of its own, until the address's (40) is spent.
        for _ in 0..(40 - MIN_BURST - 1) {
            assert!(limits.check(b, Some(ip)).is_ok());
        }
        assert_eq!(limits.check(b, Some(ip)).unwrap_err().0, Refused::Ip);
        assert!(limits.check(b, Some([10, 0, 0, 2].into())).is_ok());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let limits = OpenLimits::new(1000, MIN_BURST);
        // Other users from ever new addresses of one /64 share its budget...
        for i in 0..MIN_BURST {
            let ip = if i % 2 == 0 { a } else { b };
            assert!(limits.check(UserId(i.into()), Some(ip)).is_ok());
        }
        assert_eq!(
            limits.check(UserId(999), Some(b)).unwrap_err().0,
            Refused::Ip
        );
        // ...while the next /64 has its own.
        assert!(limits.check(UserId(999), Some(c)).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(network(mapped), IpAddr::from([10, 0, 0, 1]));
    }
}
