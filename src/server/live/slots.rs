//! Caps on open WebSockets per user and per client IP, so one account or one address
//! cannot hold an unbounded share of the server's connections (memory, fan-out work).
//!
//! A connection takes a [`Slot`] before the upgrade and gives it back when the slot is
//! dropped (whatever way the connection ends). Taking checks and counts under one lock,
//! so concurrent upgrades cannot overshoot a cap.

use crate::model::UserId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which cap refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    User,
    Ip,
}

#[derive(Debug, Default)]
struct Counts {
    by_user: HashMap<UserId, u32>,
    by_ip: HashMap<IpAddr, u32>,
}

/// The counters, shared by every connection of this process.
#[derive(Debug)]
pub struct Slots {
    per_user: u32,
    per_ip: u32,
    counts: Mutex<Counts>,
}

/// One open connection's place under the caps; released on drop.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    user: UserId,
    ip: Option<IpAddr>,
}

impl Slots {
    pub fn new(per_user: u32, per_ip: u32) -> Arc<Self> {
        Arc::new(Slots {
            per_user,
            per_ip,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Every operation is one increment or decrement: a poisoned map is still sound.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a new connection of `user` from `ip` (unknown for in-process callers),
    /// or which cap is full.
    pub fn acquire(self: &Arc<Self>, user: UserId, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        let mut counts = self.lock();
        if counts.by_user.get(&user).copied().unwrap_or(0) >= self.per_user {
            return Err(Refused::User);
        }
        if let Some(ip) = ip {
            if counts.by_ip.get(&ip).copied().unwrap_or(0) >= self.per_ip {
                return Err(Refused::Ip);
            }
            *counts.by_ip.entry(ip).or_default() += 1;
        }
        *counts.by_user.entry(user).or_default() += 1;
        Ok(Slot {
            slots: self.clone(),
            user,
            ip,
        })
    }

    /// Open connections of `user` (for tests and logs).
    pub fn of_user(&self, user: UserId) -> u32 {
        self.lock().by_user.get(&user).copied().unwrap_or(0)
    }
}

/// Decrements a counter, forgetting keys that reach zero (the maps hold only keys with
/// open connections).
fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: K) {
    if let std::collections::hash_map::Entry::Occupied(mut e) = map.entry(key) {
        *e.get_mut() -= 1;
        if *e.get() == 0 {
            e.remove();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        release(&mut counts.by_user, self.user);
        if let Some(ip) = self.ip {
            release(&mut counts.by_ip, ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_per_ip_and_release_on_drop() {
        let slots = Slots::new(2, 3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let (a, b) = (UserId(1), UserId(2));
        let a1 = slots.acquire(a, Some(ip)).unwrap();
        let _a2 = slots.acquire(a, Some(ip)).unwrap();
        assert_eq!(slots.acquire(a, None).unwrap_err(), Refused::User);
        let _b1 = slots.acquire(b, Some(ip)).unwrap();
        assert_eq!(slots.acquire(b, Some(ip)).unwrap_err(), Refused::Ip);
        // Another address is not affected.
        let _b2 = slots.acquire(b, Some([10, 0, 0, 2].into())).unwrap();
        drop(a1);
        assert_eq!(slots.of_user(a), 1);
        let _b3 = slots.acquire(b, Some(ip));
        assert!(_b3.is_err(), "b already has two");
        let _a3 = slots.acquire(a, Some(ip)).unwrap();
        assert!(slots.lock().by_ip.values().all(|n| *n <= 3));
    }

    #[test]
    fn released_keys_are_forgotten() {
        let slots = Slots::new(5, 5);
        let s = slots
            .acquire(UserId(7), Some([127, 0, 0, 1].into()))
            .unwrap();
        drop(s);
        let counts = slots.lock();
        assert!(counts.by_user.is_empty() && counts.by_ip.is_empty());
    }
}
