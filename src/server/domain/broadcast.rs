//! `@all` / `@here`: whether a message notifies the whole group, and whom.
//!
//! Decided before the message is queued, so the batch writers only record rows: the
//! sender must be allowed (the group's owner or an admin, or any member when the
//! group's "Anyone can mention @all" setting is on), and the group must not have been
//! notified so in the last `BROADCAST_EVERY_MS` (`Store::claim_broadcast`, one
//! conditional update, so nodes agree). Otherwise the words stay text: the message is
//! sent all the same, as in Mattermost, so nothing the sender wrote is lost.
//! `@here` reaches the members connected at that moment, on any node.

use super::presence::Presence;
use crate::model::{markup, Broadcast, ChatId, User};
use crate::server::base::error::Result;
use crate::server::db::{now_ms, Reach, Store};

/// What deciding a broadcast needs (cheap to clone: handles).
#[derive(Clone)]
pub struct Broadcaster {
    store: Store,
    presence: Presence,
}

impl Broadcaster {
    pub fn new(store: Store, presence: Presence) -> Self {
        Broadcaster { store, presence }
    }

    /// The `@all` / `@here` of `body` by `user` in `chat`, when it may notify now.
    /// Most bodies cost one scan for `@all` / `@here`; the parser then tells a mention
    /// from the same letters in code.
    /// A retry of a stored message (`client_id` already sent) takes no turn: the
    /// committer answers it with the original.
    pub async fn reach(
        &self,
        user: &User,
        chat: ChatId,
        body: &str,
        client_id: &str,
    ) -> Result<Option<Reach>> {
        if !body.contains("@all") && !body.contains("@here") {
            return Ok(None);
        }
        let Some(kind) = Broadcast::asked(&markup::mentions(body)) else {
            return Ok(None);
        };
        if self.store.has_sent(user.id, client_id).await? {
            return Ok(None);
        }
        if !self.store.claim_broadcast(chat, user.id, now_ms()).await? {
            return Ok(None);
        }
        let members = self.store.broadcast_reach(chat, user.id).await?;
        let mut reach = Vec::with_capacity(members.len());
        for (id, name) in members {
            if kind == Broadcast::All || self.presence.online(id).await {
                reach.push(name);
            }
        }
        Ok(Some(Reach { kind, reach }))
    }
}
