//! Who is told what: domain changes turned into frames for the members' live
//! connections. Each event is serialised once (`live::frame::encode`); every recipient
//! shares the bytes, and the broker carries them to every node.
//!
//! Every change is published right after it is committed; a failed publish is logged
//! ([`log_publish`]) and never undoes a commit: clients that missed it catch up when
//! they resume.

use crate::model::protocol::ServerFrame;
use crate::model::{ChatId, Message, UserId};
use crate::server::base::error::Result;
use crate::server::db::Store;
use crate::server::live::broker::Broker;
use crate::server::live::frame::{encode, FrameKind};
use std::sync::Arc;

/// Logs a publish that failed after its change was committed.
pub fn log_publish(result: Result<()>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "live publish failed (clients catch up on resume)");
    }
}

/// Tells members about changes (cheap to clone: two handles).
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    broker: Arc<dyn Broker>,
}

impl Notifier {
    pub fn new(store: Store, broker: Arc<dyn Broker>) -> Self {
        Notifier { store, broker }
    }

    /// Sends a frame to every member of a chat (all their connections). Membership is
    /// read now: a member removed a moment ago is not told.
    pub async fn publish_to_chat(
        &self,
        chat: ChatId,
        frame: &ServerFrame,
        kind: FrameKind,
    ) -> Result<()> {
        let members = self.store.member_ids(chat).await?;
        self.broker.publish(&members, encode(frame, kind));
        Ok(())
    }

    pub fn publish_to_users(&self, users: &[UserId], frame: &ServerFrame, kind: FrameKind) {
        self.broker.publish(users, encode(frame, kind));
    }

    /// A new committed message, to every member (the sender's other tabs included).
    pub async fn message_stored(&self, message: &Message) -> Result<()> {
        let kind = FrameKind::Message {
            chat: message.chat_id,
            seq: message.seq,
        };
        let frame = ServerFrame::Message {
            message: message.clone(),
        };
        self.publish_to_chat(message.chat_id, &frame, kind).await
    }

    /// An edit or a delete, as of change number `change` of its chat.
    pub async fn message_changed(&self, message: &Message, change: i64) -> Result<()> {
        let frame = ServerFrame::changed(message.clone(), change);
        self.publish_to_chat(message.chat_id, &frame, FrameKind::Durable)
            .await
    }

    /// Tells `users` that they are now in `chat`.
    pub async fn chat_added(&self, chat: ChatId, users: &[UserId]) -> Result<()> {
        for user in users {
            if let Some(summary) = self.store.chat_summary(chat, *user).await? {
                let frame = ServerFrame::ChatAdded { chat: summary };
                self.publish_to_users(&[*user], &frame, FrameKind::Durable);
            }
        }
        Ok(())
    }

    /// The chat's member list changed (as of `change`): to every member now in it.
    pub async fn members_changed(&self, chat: ChatId, change: i64) -> Result<()> {
        let members = self.store.members(chat).await?;
        let (title, owner) = self.store.title_and_owner(chat).await?;
        let frame = ServerFrame::Members {
            chat_id: chat,
            members,
            change,
            title,
            owner,
        };
        self.publish_to_chat(chat, &frame, FrameKind::Durable).await
    }

    pub fn chat_removed(&self, chat: ChatId, user: UserId) {
        self.publish_to_users(
            &[user],
            &ServerFrame::ChatRemoved { chat_id: chat },
            FrameKind::Durable,
        );
    }
}
