//! Which of a person's tabs are visible, as their `visible` frames say (one node; with
//! several, `cluster_presence` keeps the same in Redis). A tab counts until the time
//! its last frame gave (its heartbeat), so a tab closed without a word stops counting
//! on its own. Bounded: at most [`TABS_PER_USER`] tabs a person, expired ones pruned
//! whenever the person's list is touched, and people without a visible tab have no
//! entry.

use crate::model::UserId;
use crate::server::db::now_ms;
use std::collections::HashMap;
use std::sync::Mutex;

/// Tabs remembered per person (a new one past this replaces the one seen longest ago).
pub const TABS_PER_USER: usize = 16;

#[derive(Default)]
pub struct Tabs {
    visible: Mutex<HashMap<UserId, Vec<(u64, i64)>>>,
}

impl Tabs {
    /// Tab `tab` of `user` is visible until `until` (ms), or hidden (`None`).
    pub fn set(&self, user: UserId, tab: u64, until: Option<i64>) {
        let now = now_ms();
        let mut map = self.visible.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(user).or_default();
        list.retain(|(t, u)| *t != tab && *u > now);
        if let Some(until) = until {
            if list.len() >= TABS_PER_USER {
                list.sort_by_key(|(_, u)| *u);
                list.remove(0);
            }
            list.push((tab, until));
        }
        if list.is_empty() {
            map.remove(&user);
        }
    }

    /// Whether `user` has a tab visible now.
    pub fn any(&self, user: UserId) -> bool {
        let now = now_ms();
        let map = self.visible.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&user)
            .is_some_and(|list| list.iter().any(|(_, until)| *until > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_count_until_their_time_and_stay_bounded() {
        let tabs = Tabs::default();
        let (u, now) = (UserId(1), now_ms());
        assert!(!tabs.any(u));
        tabs.set(u, 7, Some(now + 10_000));
        assert!(tabs.any(u));
        tabs.set(u, 8, Some(now + 10_000));
        tabs.set(u, 7, None);
        assert!(tabs.any(u), "tab 8 is still visible");
        tabs.set(u, 8, None);
        assert!(!tabs.any(u));
        tabs.set(u, 9, Some(now - 1));
        assert!(!tabs.any(u), "expired");
        for t in 0..100 {
            tabs.set(u, t, Some(now + 10_000 + t as i64));
        }
        let len = tabs
            .visible
            .lock()
            .map(|m| m.get(&u).map_or(0, Vec::len))
            .unwrap_or(0);
        assert_eq!(len, TABS_PER_USER);
    }
}
