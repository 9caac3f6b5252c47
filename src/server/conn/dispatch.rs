//! One dispatcher for client frames, whatever carried them: a WebSocket's reader
//! ([`super::reader`]) and the fallback's `POST /frames` ([`super::post`]) both parse
//! with [`parse`] and act with [`dispatch`], so a frame kind is handled the same way
//! on both, or on neither.
//!
//! What differs is passed in or left to the caller: the limits ([`Budget`]: a socket's
//! buckets are its own, a POST's are the user's on this node), and what to do with the
//! [`Outcome`] (a socket pipelines sends and writes frames to its queue; a POST waits
//! for the commit and answers with one frame and a status).

use crate::model::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::model::{AppError, ChatId, User};
use crate::server::domain::chats::Chats;
use crate::server::domain::commit::Queued;
use crate::server::domain::limits::Write;
use crate::server::domain::presence::Presence;
use crate::server::live::frame::ResumeRequest;

/// The limits a frame is held to, per kind of write.
pub(super) trait Budget {
    /// Whether one more `write` fits now (over it, sends and changes are refused, reads
    /// and typing dropped quietly).
    fn allows(&mut self, write: Write) -> bool;
    /// Whether a `resume` naming `chats` chats fits.
    fn allows_resume(&mut self, chats: usize) -> bool;
}

/// What became of a frame.
pub(super) enum Outcome {
    /// A send, queued for the committer: its `ack` (or `error`) comes with the commit.
    Queued {
        client_id: String,
        chat: ChatId,
        queued: Queued,
    },
    /// Done, or dropped quietly (a read or typing over its limit): nothing to answer.
    Done,
    /// Answer with this frame (`pong`).
    Reply(ServerFrame),
    /// The client's `resume`: the connection's own business.
    Resume(Box<ResumeRequest>),
    /// Refused with an `error` frame.
    Refused(Refusal),
}

/// An `error` frame's content.
pub(super) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub client_id: Option<String>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>, client_id: Option<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            client_id,
        }
    }

    /// A refusal by the rules (or our fault: `internal`), as the client may see it.
    pub fn of(err: crate::server::base::error::Error, client_id: Option<String>) -> Self {
        let app = AppError::from(err);
        Refusal::new(app.code(), app.to_string(), client_id)
    }

    pub fn frame(self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message,
            client_id: self.client_id,
        }
    }
}

/// A client frame from its JSON.
pub(super) fn parse(json: &[u8]) -> Result<ClientFrame, Refusal> {
    serde_json::from_slice(json)
        .map_err(|e| Refusal::new(ErrorCode::BadFrame, format!("bad frame: {e}"), None))
}

fn done(outcome: crate::server::base::error::Result<impl Sized>) -> Outcome {
    match outcome {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Refused(Refusal::of(e, None)),
    }
}

fn too_many_changes() -> Outcome {
    Outcome::Refused(Refusal::new(
        ErrorCode::RateLimited,
        "too many changes: slow down",
        None,
    ))
}

/// Acts on one client frame of `user`'s within `budget`.
pub(super) async fn dispatch(
    chats: &Chats,
    presence: &Presence,
    user: &User,
    frame: ClientFrame,
    budget: &mut impl Budget,
) -> Outcome {
    match frame {
        ClientFrame::Send {
            client_id,
            chat_id,
            body,
            reply_to,
            files,
        } => {
            if !budget.allows(Write::Send) {
                return Outcome::Refused(Refusal::new(
                    ErrorCode::RateLimited,
                    "sending too fast",
                    Some(client_id),
                ));
            }
            match chats
                .queue_send(user, chat_id, &client_id, &body, reply_to, &files)
                .await
            {
                Ok(queued) => Outcome::Queued {
                    client_id,
                    chat: chat_id,
                    queued,
                },
                Err(e) => Outcome::Refused(Refusal::of(e, Some(client_id))),
            }
        }
        ClientFrame::Resume { ref positions, .. } if !budget.allows_resume(positions.len()) => {
            too_many_changes()
        }
        ClientFrame::Edit { .. } | ClientFrame::Delete { .. } | ClientFrame::React { .. }
            if !budget.allows(Write::Change) =>
        {
            too_many_changes()
        }
        // Best effort: the excess is dropped quietly (a later `read` carries a higher
        // seq anyway; typing is a hint).
        ClientFrame::Read { .. } if !budget.allows(Write::Read) => Outcome::Done,
        ClientFrame::Typing { .. } if !budget.allows(Write::Typing) => Outcome::Done,
        ClientFrame::Edit { message_id, body } => done(chats.edit(user, message_id, &body).await),
        ClientFrame::Delete { message_id } => done(chats.delete(user, message_id).await),
        ClientFrame::React {
            message_id,
            emoji,
            on,
        } => done(chats.react(user, message_id, &emoji, on).await),
        ClientFrame::Typing { chat_id } => done(chats.typing(user, chat_id).await),
        ClientFrame::Read { chat_id, seq } => done(chats.mark_read(user, chat_id, seq).await),
        ClientFrame::Resume { positions, changes } => {
            Outcome::Resume(Box::new(ResumeRequest { positions, changes }))
        }
        ClientFrame::Ping => Outcome::Reply(ServerFrame::Pong),
        // A hint, limited like typing.
        ClientFrame::Visible { .. } if !budget.allows(Write::Typing) => Outcome::Done,
        ClientFrame::Visible { tab, visible } => {
            presence.tab_visible(user.id, tab, visible).await;
            Outcome::Done
        }
    }
}
