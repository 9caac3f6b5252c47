//! Presence: who is online, told to the people who may see it. A user's contacts hear
//! when they come online (their first connection on any node) and go offline (their
//! last one closed on every node); a new connection gets a snapshot of its contacts.
//! Which contacts may see whom is the database's answer (`db::consent`: accepted chats,
//! no block); how often a flapping user is told is [`super::announce`]'s.

use super::notify::Notifier;
use crate::model::protocol::ServerFrame;
use crate::model::UserId;
use crate::server::base::error::Result;
use crate::server::db::{now_ms, Store};
use crate::server::live::cluster_presence::ClusterPresence;
use crate::server::live::frame::{encode, FrameKind};
use crate::server::live::hub::{ConnId, Hub};
use std::sync::Arc;

/// What presence reads and tells (cheap to clone).
#[derive(Clone)]
pub struct Presence {
    store: Store,
    hub: Arc<Hub>,
    /// Who is online on the other nodes (several nodes only).
    cluster: Option<Arc<ClusterPresence>>,
    notify: Notifier,
    /// Visible tabs on one node (several nodes: `cluster` keeps them).
    tabs: Arc<crate::server::live::tabs::Tabs>,
}

/// How long a tab's `visible` frame counts: its heartbeat comes every 20 s.
pub const TAB_VISIBLE_MS: i64 = 45_000;

impl Presence {
    pub fn new(
        store: Store,
        hub: Arc<Hub>,
        cluster: Option<Arc<ClusterPresence>>,
        notify: Notifier,
    ) -> Self {
        Presence {
            store,
            hub,
            cluster,
            notify,
            tabs: Arc::default(),
        }
    }

    /// `user`'s tab `tab` says whether it is visible (a `visible` frame).
    pub async fn tab_visible(&self, user: UserId, tab: u64, visible: bool) {
        let until = visible.then(|| crate::server::db::now_ms() + TAB_VISIBLE_MS);
        match &self.cluster {
            Some(cluster) => cluster.set_tab(user, tab, until).await,
            None => self.tabs.set(user, tab, until),
        }
    }

    /// Whether `user` has a visible natter tab on any node (then no Web Push: the tab
    /// shows the message).
    pub async fn any_tab_visible(&self, user: UserId) -> bool {
        match &self.cluster {
            Some(cluster) => cluster.any_tab_visible(user).await,
            None => self.tabs.any(user),
        }
    }

    /// This node's connections.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Whether `user` is online on any node.
    pub async fn online(&self, user: UserId) -> bool {
        self.hub.is_online(user)
            || match &self.cluster {
                Some(cluster) => cluster.online_elsewhere(user).await,
                None => false,
            }
    }

    /// A user came online (first connection) or went offline (last one closed): tell
    /// everyone who shares a chat with them.
    ///
    /// With several nodes, only a change for the whole cluster is announced: the first
    /// connection on any node, the last one closed on every node (`live::cluster_presence`).
    pub async fn changed(&self, user: UserId, online: bool) -> Result<()> {
        if let Some(cluster) = &self.cluster {
            let changed = if online {
                cluster.arrive(user).await
            } else {
                cluster.leave(user).await
            };
            if !changed {
                return Ok(());
            }
        }
        let last_seen = if online {
            None
        } else {
            let now = now_ms();
            self.store.set_last_seen(user, now).await?;
            Some(now)
        };
        let contacts = self.store.contact_ids(user).await?;
        let frame = ServerFrame::Presence {
            user_id: user,
            online,
            last_seen,
        };
        self.notify
            .publish_to_users(&contacts, &frame, FrameKind::Ephemeral);
        Ok(())
    }

    /// Tells a new connection who of its contacts is online, and when the others were
    /// last seen, in one frame.
    pub async fn send_snapshot(&self, user: UserId, conn: ConnId) -> Result<()> {
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for (contact, last_seen) in self.store.contacts_last_seen(user).await? {
            if self.online(contact).await {
                online.push(contact);
            } else {
                offline.push((contact, last_seen));
            }
        }
        let frame = ServerFrame::PresenceSnapshot { online, offline };
        self.hub
            .send_to_conn(user, conn, &encode(&frame, FrameKind::Ephemeral));
        Ok(())
    }

    /// A `presence` frame with `user`'s state now.
    pub async fn frame_of(&self, user: UserId) -> Result<ServerFrame> {
        let online = self.online(user).await;
        Ok(ServerFrame::Presence {
            user_id: user,
            online,
            last_seen: if online {
                None
            } else {
                self.store.last_seen(user).await?
            },
        })
    }

    /// Tells `to`'s connections the presence of `about` (a snapshot adds to what a client
    /// knows; it replaces nothing).
    pub async fn show(&self, to: UserId, about: &[(UserId, Option<i64>)]) -> Result<()> {
        let (mut online_now, mut offline) = (Vec::new(), Vec::new());
        for (u, seen) in about {
            if self.online(*u).await {
                online_now.push(*u);
            } else {
                offline.push((*u, *seen));
            }
        }
        let frame = ServerFrame::PresenceSnapshot {
            online: online_now,
            offline,
        };
        self.notify
            .publish_to_users(&[to], &frame, FrameKind::Ephemeral);
        Ok(())
    }
}
