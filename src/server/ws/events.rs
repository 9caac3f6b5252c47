//! Domain changes → frames. Each event is serialised once; every recipient shares the
//! bytes.

use super::hub::{Frame, FrameKind};
use super::Broker;
use crate::model::protocol::{ErrorCode, ServerFrame};
use crate::model::{AppError, ChatId, Message, UserId};
use crate::server::db::Store;
use crate::server::state::AppState;
use crate::server::Result;
use axum::extract::ws::Utf8Bytes;

/// Serialises a frame once, for every recipient.
pub fn encode(frame: &ServerFrame, kind: FrameKind) -> Frame {
    Frame::new(encode_text(frame), kind)
}

/// The `error` frame's code for a refusal.
pub fn error_code(app: &AppError) -> ErrorCode {
    match app {
        AppError::Invalid(_) | AppError::Conflict(_) => ErrorCode::Invalid,
        AppError::NotFound(_) => ErrorCode::NotFound,
        AppError::Forbidden | AppError::Unauthorized | AppError::BadCredentials => {
            ErrorCode::Forbidden
        }
        AppError::RateLimited => ErrorCode::RateLimited,
        AppError::Internal | AppError::Transport(_) => ErrorCode::Internal,
    }
}

/// Serialises a frame for one connection.
pub fn encode_text(frame: &ServerFrame) -> Utf8Bytes {
    serde_json::to_string(frame)
        .unwrap_or_else(|e| {
            // Our own types always serialise; never panic on the delivery path regardless.
            tracing::error!(error = %e, "cannot serialise frame");
            r#"{"type":"error","code":"internal","message":"internal error"}"#.to_string()
        })
        .into()
}

/// Sends a frame to every member of a chat (all their connections).
pub async fn publish_to_chat(
    store: &Store,
    broker: &dyn Broker,
    chat: ChatId,
    frame: &ServerFrame,
    kind: FrameKind,
) -> Result<()> {
    let members = store.member_ids(chat).await?;
    broker.publish(&members, encode(frame, kind));
    Ok(())
}

/// A new committed message, to every member (the sender's other tabs included).
pub async fn publish_message(store: &Store, broker: &dyn Broker, message: &Message) -> Result<()> {
    let kind = FrameKind::Message {
        chat: message.chat_id,
        seq: message.seq,
    };
    let frame = ServerFrame::Message {
        message: message.clone(),
    };
    publish_to_chat(store, broker, message.chat_id, &frame, kind).await
}

/// The frame for an edited or deleted message.
pub fn changed_frame(message: Message, change: i64) -> ServerFrame {
    if message.deleted {
        ServerFrame::Deleted { message, change }
    } else {
        ServerFrame::Edited { message, change }
    }
}

impl AppState {
    /// Sends a frame to every member of a chat (all their connections).
    pub async fn publish_to_chat(
        &self,
        chat: ChatId,
        frame: &ServerFrame,
        kind: FrameKind,
    ) -> Result<()> {
        publish_to_chat(&self.store, self.broker.as_ref(), chat, frame, kind).await
    }

    pub fn publish_to_users(&self, users: &[UserId], frame: &ServerFrame, kind: FrameKind) {
        self.broker.publish(users, encode(frame, kind));
    }

    /// An edit or a delete, as of change number `change` of its chat.
    pub async fn message_changed(&self, message: &Message, change: i64) -> Result<()> {
        let frame = changed_frame(message.clone(), change);
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
        let frame = ServerFrame::Members {
            chat_id: chat,
            members,
            change,
            title: self.store.group_title(chat).await?,
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

impl AppState {
    /// A user came online (first connection) or went offline (last one closed): tell
    /// everyone who shares a chat with them.
    ///
    /// With several nodes, only a change for the whole cluster is announced: the first
    /// connection on any node, the last one closed on every node (`ws::presence`).
    pub async fn presence_changed(&self, user: UserId, online: bool) -> Result<()> {
        if let Some(presence) = &self.presence {
            let changed = if online {
                presence.arrive(user).await
            } else {
                presence.leave(user).await
            };
            if !changed {
                return Ok(());
            }
        }
        let last_seen = if online {
            None
        } else {
            let now = crate::server::db::now_ms();
            self.store.set_last_seen(user, now).await?;
            Some(now)
        };
        let contacts = self.store.contact_ids(user).await?;
        let frame = ServerFrame::Presence {
            user_id: user,
            online,
            last_seen,
        };
        self.publish_to_users(&contacts, &frame, FrameKind::Ephemeral);
        Ok(())
    }

    /// Tells a new connection who of its contacts is online, and when the others were
    /// last seen, in one frame.
    pub async fn send_presence_snapshot(
        &self,
        user: UserId,
        conn: super::hub::ConnId,
    ) -> Result<()> {
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for (contact, last_seen) in self.store.contacts_last_seen(user).await? {
            let here = self.hub.is_online(contact)
                || match &self.presence {
                    Some(presence) => presence.online_elsewhere(contact).await,
                    None => false,
                };
            if here {
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
}
