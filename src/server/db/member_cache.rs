//! Who is in each chat, kept in memory for fan-out: every message goes to its chat's
//! members, and asking SQLite for them each time cost more than the insert itself.
//!
//! Entries are filled on first use and dropped by every membership change made through
//! [`Store`](super::Store) (the only writer of `chat_members`). A generation counter
//! stops a lookup that raced with a change from caching the old list. Several server
//! processes sharing one database would need these invalidations carried by the broker.

use crate::model::{ChatId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Beyond this many chats the cache starts over (a bound on memory, not an LRU).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct MemberCache {
    map: Mutex<HashMap<ChatId, Arc<[UserId]>>>,
    generation: AtomicU64,
}

impl MemberCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChatId, Arc<[UserId]>>> {
        // Each operation is a single insert/remove/get: a poisoned map is still sound.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, chat: ChatId) -> Option<Arc<[UserId]>> {
        self.lock().get(&chat).cloned()
    }

    /// The generation to pass to [`MemberCache::fill`] after loading from the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a list loaded while `generation` was current, unless something changed since.
    pub fn fill(&self, chat: ChatId, members: Arc<[UserId]>, generation: u64) {
        let mut map = self.lock();
        if self.generation.load(Ordering::Acquire) != generation || members.is_empty() {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(chat, members);
    }

    pub fn invalidate(&self, chat: ChatId) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.remove(&chat);
    }
}
