//! Small in-memory caches in front of hot, rarely changing rows: who is in each chat
//! (every message fans out to its members) and which session a cookie belongs to (every
//! request and every WebSocket heartbeat asks).
//!
//! [`Store`](super::Store) is the only writer of those tables and drops an entry right
//! after each change it commits. A generation counter stops a lookup that raced with a
//! change from caching what it read before the change; a time-to-live bounds staleness
//! from anything that edits the database behind the server's back. Several server
//! processes sharing one database hear of each other's changes through the broker
//! (`Store::on_invalidate`, `live::redis_broker`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Beyond this many entries a cache starts over (a bound on memory, not an LRU).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct Cache<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Cache {
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // Each operation is a single insert/remove/get: a poisoned map is still sound.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let map = self.lock();
        let (value, at) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// The generation to pass to [`Cache::fill`]: read it before loading from the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a value loaded while `generation` was current, unless something changed since.
    pub fn fill(&self, key: K, value: V, generation: u64) {
        let mut map = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (value, Instant::now()));
    }

    /// Drops every entry (after a time in which invalidations may have been missed).
    pub fn clear(&self) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }

    pub fn invalidate<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_raced_with_a_change_is_dropped() {
        let cache = Cache::new(Duration::from_secs(60));
        let before = cache.generation();
        cache.invalidate(&1);
        cache.fill(1, "stale", before);
        assert_eq!(cache.get(&1), None);
        cache.fill(1, "fresh", cache.generation());
        assert_eq!(cache.get(&1), Some("fresh"));
        cache.invalidate(&1);
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn entries_expire() {
        let cache = Cache::new(Duration::ZERO);
        cache.fill(1, 1, cache.generation());
        assert_eq!(cache.get(&1), None);
    }
}
