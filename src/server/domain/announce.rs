//! Presence announcements, coalesced per user: a connection that flaps (opened and
//! closed in a loop, or a page reloaded) costs the user's contacts at most one
//! `presence` frame per [`INTERVAL`], and the database one `last_seen` write per
//! [`INTERVAL`], however often it flaps.
//!
//! This node tells the rest ([`Presence::changed`]: the cluster's presence,
//! then the contacts) what its hub says of a user, and only when that differs from what
//! it told them last:
//! - going online is told at once, unless something was told less than [`INTERVAL`]
//!   ago;
//! - going offline is told after [`INTERVAL`] at the earliest: a user back within it
//!   (a reload, a reconnect) was never gone for the contacts;
//! - after each announcement the user's state is looked at again [`INTERVAL`] later,
//!   and told if it differs by then.
//!
//! So one task per user whose state is in motion, none for a user who sits still; the
//! map holds the users with a connection here, and those told of within the last
//! [`INTERVAL`].

use super::presence::Presence;
use crate::model::UserId;
use crate::server::live::hub::Hub;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Announcements per user at most one per this, and offline no sooner than this.
pub const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Told {
    /// What the contacts were last told: online or not.
    online: bool,
    /// A task is watching the user (it looks again before it ends).
    watching: bool,
}

/// The coalescing of presence announcements (cheap to clone: one handle).
#[derive(Clone)]
pub struct Announcer(Arc<Inner>);

struct Inner {
    users: Mutex<HashMap<UserId, Told>>,
    presence: Presence,
}

impl Announcer {
    pub fn new(presence: Presence) -> Self {
        Announcer(Arc::new(Inner {
            users: Mutex::default(),
            presence,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Told>> {
        // Each critical section is a lookup and a flag change: sound after a panic.
        self.0.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hub's view of `user` changed (their first connection here opened, or their
    /// last one closed): tells the contacts in due time, see the module's comment.
    /// Call it after the hub changed.
    pub fn changed(&self, user: UserId) {
        {
            let mut users = self.lock();
            let told = users.entry(user).or_default();
            if told.watching {
                return; // the watching task looks again before it ends
            }
            told.watching = true;
        }
        tokio::spawn(watch(self.clone(), user));
    }

    /// What to tell about `user` now (`None`: nothing, and the watch ends). Decided under
    /// the lock, with the hub's view read under it too: a change after this is either
    /// seen here or finds no task watching and starts one.
    fn next(&self, hub: &Hub, user: UserId) -> Option<bool> {
        let mut users = self.lock();
        let online = hub.is_online(user);
        let told = users.entry(user).or_default();
        if told.online != online {
            told.online = online;
            return Some(online);
        }
        if online {
            told.watching = false;
        } else {
            // Told offline, and offline: nothing left to remember.
            users.remove(&user);
        }
        None
    }

    /// Users remembered (for tests: the map stays bounded).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Watches `user` until what the contacts were told is what the hub says.
async fn watch(announcer: Announcer, user: UserId) {
    let presence = &announcer.0.presence;
    // Someone who just left may be back in a moment: never tell it at once.
    if !presence.hub().is_online(user) {
        tokio::time::sleep(INTERVAL).await;
    }
    while let Some(online) = announcer.next(presence.hub(), user) {
        if let Err(e) = Box::pin(presence.changed(user, online)).await {
            tracing::warn!(error = %e, "presence update failed");
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
