//! Presence across nodes: a user is online while any node holds a connection of theirs.
//!
//! Each node records, per user it holds, an entry with an expiry in Redis
//! (`natter:presence:{user}`: node → expiry in ms), refreshed every third of the TTL while the
//! connection lasts. A node's first connection of a user announces "online" only if no
//! other node has a live entry; its last one announces "offline" (and last seen) only
//! if none is left. A node that dies without saying goodbye stops refreshing: its
//! entries expire after the TTL, and whichever node's sweeper claims an expired entry
//! first announces the user offline if no live entry is left. So "last seen" is right
//! within 4/3 of the TTL (40 s by default) even when a node is killed.
//!
//! The same beat keeps the node itself alive in `natter:nodes` (node → expiry). A node
//! whose entry expires died (or lost Redis) without saying goodbye, and may have
//! committed events it never published: the sweeper that claims its entry has every
//! node tell its connections to `resync` (they catch up from SQL), so such an event
//! reaches everyone within 4/3 of the TTL even in a chat that stays quiet.
//!
//! When two nodes race, both may announce the same change: presence frames are states,
//! so a repeat changes nothing. When Redis is unreachable, each node decides alone, as
//! a single node does.

use super::hub::Hub;
use crate::model::UserId;
use crate::server::db::now_ms;
use redis::aio::MultiplexedConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an entry lives without a refresh, by default (`--presence-ttl-secs`);
/// entries are refreshed and expired ones swept every third of it.
pub const DEFAULT_TTL_SECS: u64 = 30;
/// Every (user, node) entry by expiry, for the sweepers.
const EXPIRIES: &str = "natter:presence:expiries";
/// Every node by expiry.
const NODES: &str = "natter:nodes";

/// What a sweep found gone.
#[derive(Debug, PartialEq, Eq)]
pub enum Swept {
    /// A user whose last entry expired: announce them offline.
    User(UserId),
    /// A node that stopped beating: its unpublished events must be recovered.
    Node,
}

fn key(user: UserId) -> String {
    format!("natter:presence:{user}")
}

/// `user`'s visible tabs (tab → until, ms), on whichever node they are connected.
fn visible_key(user: UserId) -> String {
    format!("natter:visible:{user}")
}

pub struct ClusterPresence {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    node: String,
    ttl: Duration,
}

impl ClusterPresence {
    /// Starts the refresh-and-sweep task. What a sweep finds gone (a user whose last
    /// entry expired, a node that died) is sent on the returned channel.
    pub fn start(
        url: &str,
        node: u64,
        ttl: Duration,
        hub: Arc<Hub>,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<Swept>), redis::RedisError> {
        let presence = Arc::new(ClusterPresence {
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
            node: node.to_string(),
            ttl,
        });
        let beat = ttl / 3;
        let (gone, rx) = mpsc::unbounded_channel();
        let weak = Arc::downgrade(&presence);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(beat);
            loop {
                tick.tick().await;
                let Some(presence) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = presence.beat(&hub, &gone).await {
                    tracing::debug!(error = %e, "redis: presence beat failed");
                }
            }
        });
        Ok((presence, rx))
    }

    async fn conn(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn forget_conn(&self) {
        *self.conn.lock().await = None;
    }

    /// Whether another node has a live entry for `user`.
    async fn elsewhere(
        &self,
        c: &mut MultiplexedConnection,
        user: UserId,
    ) -> redis::RedisResult<bool> {
        let entries: Vec<(String, i64)> =
            redis::cmd("HGETALL").arg(key(user)).query_async(c).await?;
        let now = now_ms();
        Ok(entries
            .iter()
            .any(|(node, expiry)| *node != self.node && *expiry > now))
    }

    async fn record(&self, c: &mut MultiplexedConnection, user: UserId) -> redis::RedisResult<()> {
        let expiry = now_ms() + self.ttl.as_millis() as i64;
        redis::pipe()
            .cmd("HSET")
            .arg(key(user))
            .arg(&self.node)
            .arg(expiry)
            .ignore()
            .cmd("PEXPIRE")
            .arg(key(user))
            .arg(2 * self.ttl.as_millis() as u64)
            .ignore()
            .cmd("ZADD")
            .arg(EXPIRIES)
            .arg(expiry)
            .arg(format!("{user}:{}", self.node))
            .ignore()
            .query_async::<()>(c)
            .await
    }

    /// This node's first connection of `user` opened: whether they came online (no
    /// other node holds one). `true` when Redis cannot tell.
    pub async fn arrive(&self, user: UserId) -> bool {
        let outcome = async {
            let mut c = self.conn().await?;
            let elsewhere = self.elsewhere(&mut c, user).await?;
            self.record(&mut c, user).await?;
            Ok::<_, redis::RedisError>(!elsewhere)
        }
        .await;
        self.settle(outcome).await
    }

    /// This node's last connection of `user` closed: whether they went offline (no other
    /// node holds one). `true` when Redis cannot tell.
    pub async fn leave(&self, user: UserId) -> bool {
        let outcome = async {
            let mut c = self.conn().await?;
            redis::pipe()
                .cmd("HDEL")
                .arg(key(user))
                .arg(&self.node)
                .ignore()
                .cmd("ZREM")
                .arg(EXPIRIES)
                .arg(format!("{user}:{}", self.node))
                .ignore()
                .query_async::<()>(&mut c)
                .await?;
            Ok::<_, redis::RedisError>(!self.elsewhere(&mut c, user).await?)
        }
        .await;
        self.settle(outcome).await
    }

    /// Records that `user`'s tab `tab` is visible until `until` (ms), or not (`None`).
    pub async fn set_tab(&self, user: UserId, tab: u64, until: Option<i64>) {
        let outcome = async {
            let mut c = self.conn().await?;
            match until {
                Some(until) => {
                    let (_, fields): ((), i64) = redis::pipe()
                        .cmd("HSET")
                        .arg(visible_key(user))
                        .arg(tab)
                        .arg(until)
                        .cmd("PEXPIRE")
                        .arg(visible_key(user))
                        .arg(until - now_ms() + 1000)
                        .ignore()
                        .cmd("HLEN")
                        .arg(visible_key(user))
                        .query_async(&mut c)
                        .await?;
                    if fields > crate::server::live::tabs::TABS_PER_USER as i64 {
                        // A client that makes up tab numbers: keep the live ones only,
                        // and at most the cap of them.
                        let mut tabs: Vec<(u64, i64)> = redis::cmd("HGETALL")
                            .arg(visible_key(user))
                            .query_async(&mut c)
                            .await?;
                        tabs.sort_by_key(|(_, until)| std::cmp::Reverse(*until));
                        let now = now_ms();
                        let drop: Vec<u64> = tabs
                            .iter()
                            .enumerate()
                            .filter(|(i, (_, until))| {
                                *i >= crate::server::live::tabs::TABS_PER_USER || *until <= now
                            })
                            .map(|(_, (t, _))| *t)
                            .collect();
                        redis::cmd("HDEL")
                            .arg(visible_key(user))
                            .arg(drop)
                            .query_async::<()>(&mut c)
                            .await?;
                    }
                    Ok(())
                }
                None => {
                    redis::cmd("HDEL")
                        .arg(visible_key(user))
                        .arg(tab)
                        .query_async::<()>(&mut c)
                        .await
                }
            }
        }
        .await;
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "redis: a tab's visibility not recorded");
            self.forget_conn().await;
        }
    }

    /// Whether `user` has a visible tab on any node (`false` when Redis cannot tell: a
    /// push too many rather than one missed).
    pub async fn any_tab_visible(&self, user: UserId) -> bool {
        let outcome = async {
            let mut c = self.conn().await?;
            let tabs: Vec<(u64, i64)> = redis::cmd("HGETALL")
                .arg(visible_key(user))
                .query_async(&mut c)
                .await?;
            let now = now_ms();
            Ok::<_, redis::RedisError>(tabs.iter().any(|(_, until)| *until > now))
        }
        .await;
        outcome.unwrap_or(false)
    }

    /// Whether `user` is online on another node (`false` when Redis cannot tell).
    pub async fn online_elsewhere(&self, user: UserId) -> bool {
        let outcome = async {
            let mut c = self.conn().await?;
            self.elsewhere(&mut c, user).await
        }
        .await;
        match outcome {
            Ok(b) => b,
            Err(_) => {
                self.forget_conn().await;
                false
            }
        }
    }

    async fn settle(&self, outcome: redis::RedisResult<bool>) -> bool {
        match outcome {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "redis: presence unknown; deciding locally");
                self.forget_conn().await;
                true
            }
        }
    }

    /// A node that stops on purpose says so: the others need not resync everyone when
    /// its beat stops (it published everything it committed).
    pub async fn stop(&self) {
        if let Ok(mut c) = self.conn().await {
            let _ = redis::cmd("ZREM")
                .arg(NODES)
                .arg(&self.node)
                .query_async::<()>(&mut c)
                .await;
        }
    }

    /// Refreshes this node's entries, then sweeps expired ones (any node's).
    async fn beat(&self, hub: &Hub, gone: &mpsc::UnboundedSender<Swept>) -> redis::RedisResult<()> {
        let mut c = match self.conn().await {
            Ok(c) => c,
            Err(e) => {
                self.forget_conn().await;
                return Err(e);
            }
        };
        for user in hub.online_users() {
            self.record(&mut c, user).await?;
        }
        let expiry = now_ms() + self.ttl.as_millis() as i64;
        redis::cmd("ZADD")
            .arg(NODES)
            .arg(expiry)
            .arg(&self.node)
            .query_async::<()>(&mut c)
            .await?;
        let dead: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(NODES)
            .arg("-inf")
            .arg(now_ms())
            .arg("LIMIT")
            .arg(0)
            .arg(100)
            .query_async(&mut c)
            .await?;
        for node in dead {
            let claimed: i64 = redis::cmd("ZREM")
                .arg(NODES)
                .arg(&node)
                .query_async(&mut c)
                .await?;
            if claimed == 1 {
                tracing::warn!(node, "presence: a node stopped beating; every node resyncs");
                let _ = gone.send(Swept::Node);
            }
        }
        let expired: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(EXPIRIES)
            .arg("-inf")
            .arg(now_ms())
            .arg("LIMIT")
            .arg(0)
            .arg(1000)
            .query_async(&mut c)
            .await?;
        for entry in expired {
            // The node whose ZREM removes it handles it; the others skip it.
            let claimed: i64 = redis::cmd("ZREM")
                .arg(EXPIRIES)
                .arg(&entry)
                .query_async(&mut c)
                .await?;
            let Some((user, node)) = entry.split_once(':') else {
                continue;
            };
            let Ok(user) = user.parse::<i64>().map(UserId) else {
                continue;
            };
            if claimed == 0 {
                continue;
            }
            redis::cmd("HDEL")
                .arg(key(user))
                .arg(node)
                .query_async::<()>(&mut c)
                .await?;
            let live = self.elsewhere(&mut c, user).await? || hub.is_online(user);
            if !live {
                tracing::info!(user = %user, node, "presence: a node's entry expired; offline");
                let _ = gone.send(Swept::User(user));
            }
        }
        Ok(())
    }
}
