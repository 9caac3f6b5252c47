//! The live protocol (`GET /ws`, or its fallback `GET /sse` + `POST /frames`): one
//! JSON object per frame, tagged by `"type"`. Compiled into the server and the WASM client alike; `docs/PROTOCOL.md`
//! documents every frame, the close codes, the limits and the resume rules.

use super::ids::{ChatId, MessageId, UserId};
use super::types::{ChatSummary, Member, Message, Reaction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped on any incompatible change; sent in `hello`.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest text frame the server reads, in bytes (a 4000-character body is ≤ 16 KB).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A client further behind than this in one chat gets `reset` instead of a replay.
pub const RESUME_MAX_MESSAGES: i64 = 10_000;

/// Chats one `resume` may name (in `positions`, and in `changes`): each costs the
/// server a membership look-up, and a 64 KiB frame could name thousands. A browser tab
/// names the chats it has shown since it loaded. Beyond: the frame is refused whole
/// (`error` `bad_frame` on a socket, `400` for `GET /sse`), before any look-up.
pub const RESUME_MAX_CHATS: usize = 1000;
/// A `resume` costs the connection's `edit`/`delete`/`resume` bucket one token, plus one
/// per this many chats it names (so a full one costs 21 of the bucket's 100).
pub const RESUME_CHATS_PER_TOKEN: usize = 50;

/// The server pings this often and expects some frame back within [`IDLE_TIMEOUT_MS`].
pub const HEARTBEAT_MS: u64 = 25_000;
pub const IDLE_TIMEOUT_MS: u64 = 60_000;

/// `read` frames per second and connection (or, over `POST /frames`, user), and the
/// burst above that (a tab catching up on several chats at once); excess is dropped.
pub const READS_PER_SECOND: u32 = 10;
pub const READ_BURST: u32 = 50;
/// `typing` frames per second and connection (or user), and the burst; excess dropped.
pub const TYPING_PER_SECOND: u32 = 2;
pub const TYPING_BURST: u32 = 5;

/// Typing indicators expire this long after the last `typing` frame.
pub const TYPING_TTL_MS: u64 = 5_000;

/// Close codes (besides 1000 normal, 1001 server going away, 1009 frame too big).
pub mod close {
    /// The session is gone (signed out, here or on another device; the password was
    /// changed elsewhere; the account was deleted; or it expired): sign in again, do
    /// not retry. A revocation closes the session's connections on every node within
    /// a second.
    pub const UNAUTHORIZED: u16 = 4001;
    /// Too many frames, or too many invalid ones: back off before reconnecting.
    pub const POLICY: u16 = 4008;
    /// The client fell too far behind reading: reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4010;
    /// Nothing heard from the client for [`super::IDLE_TIMEOUT_MS`].
    pub const IDLE: u16 = 4011;
}

/// Client → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Store and deliver a message; answered by `ack` once committed.
    Send {
        client_id: String,
        chat_id: ChatId,
        body: String,
        /// The message (of the same chat) this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
        /// Files uploaded to this chat by the sender (`POST /api/files`) and not yet sent,
        /// at most `validate::FILES_PER_MESSAGE`; with files, the body may be empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<crate::model::FileId>,
    },
    Edit {
        message_id: MessageId,
        body: String,
    },
    Delete {
        message_id: MessageId,
    },
    /// Adds (`on`) or takes back one's `emoji` reaction to a message; idempotent.
    React {
        message_id: MessageId,
        emoji: String,
        on: bool,
    },
    /// "I am typing in this chat" (clients send it at most every few seconds).
    Typing {
        chat_id: ChatId,
    },
    /// Move my read pointer forward.
    Read {
        chat_id: ChatId,
        seq: i64,
    },
    /// The last seq the client holds per chat; the server replays what is newer.
    /// `changes`: per chat, the change number the client's copy is current to (from the
    /// page it loaded, or the last `synced`); the server replays the edits, deletes,
    /// read pointers and member list changed after it, then sends `synced`.
    Resume {
        #[serde(deserialize_with = "positions::deserialize")]
        positions: BTreeMap<ChatId, i64>,
        #[serde(
            default,
            skip_serializing_if = "BTreeMap::is_empty",
            deserialize_with = "positions::deserialize"
        )]
        changes: BTreeMap<ChatId, i64>,
    },
    /// Application-level heartbeat (browsers cannot send WebSocket pings).
    Ping,
    /// Whether this tab (`tab`: a number the tab picks once) is visible now: sent when
    /// it changes and every 20 s while visible. A person with a visible tab gets no Web
    /// Push (the tab shows the message); a tab that stops saying so stops counting
    /// after 45 s.
    Visible {
        tab: u64,
        visible: bool,
    },
}

/// Server → client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello {
        protocol: u32,
        user_id: UserId,
        username: String,
        heartbeat_ms: u64,
    },
    /// The message with this client id is committed as `seq` in `chat_id`.
    Ack {
        client_id: String,
        chat_id: ChatId,
        seq: i64,
        id: MessageId,
        ts: i64,
    },
    Message {
        message: Message,
    },
    /// An edit, as of change number `change` of its chat.
    Edited {
        message: Message,
        #[serde(default)]
        change: i64,
    },
    Deleted {
        message: Message,
        #[serde(default)]
        change: i64,
    },
    /// A message's reactions after one was added or taken back, as of change `change`.
    Reactions {
        chat_id: ChatId,
        message_id: MessageId,
        seq: i64,
        reactions: Vec<Reaction>,
        change: i64,
    },
    Typing {
        chat_id: ChatId,
        user_id: UserId,
        username: String,
    },
    Presence {
        user_id: UserId,
        online: bool,
        /// Milliseconds since the epoch; set when offline.
        last_seen: Option<i64>,
    },
    /// Right after `hello`, once per connection: every contact's presence in one frame
    /// (one frame per contact left a burst of up to 199 frames in each idle
    /// connection's write buffer for good; BENCHMARKS.md, "Idle with contacts").
    PresenceSnapshot {
        online: Vec<UserId>,
        /// The others, each with when it was last seen (`null`: never online).
        offline: Vec<(UserId, Option<i64>)>,
    },
    Read {
        chat_id: ChatId,
        user_id: UserId,
        seq: i64,
        #[serde(default)]
        change: i64,
    },
    /// The chat's member list (and a group's title) after a member was added or removed
    /// or the group was renamed.
    Members {
        chat_id: ChatId,
        members: Vec<Member>,
        change: i64,
        /// A group's own title (absent for direct chats and untitled groups).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// The group's owner (it passes on when the owner leaves).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<UserId>,
    },
    /// The end of a chat's replay on `resume`: the client's copy is now current to
    /// change number `change` (send it in the next `resume`).
    Synced {
        chat_id: ChatId,
        change: i64,
    },
    ChatAdded {
        chat: ChatSummary,
    },
    ChatRemoved {
        chat_id: ChatId,
    },
    /// The server cannot close the gap in this chat: reload its newest page.
    Reset {
        chat_id: ChatId,
    },
    /// Every replay asked for by `resume` has been sent.
    Resumed,
    /// The server may have missed live events meant for this connection (its link to
    /// the other nodes was down): send `resume` again, as after a reconnect.
    Resync,
    Error {
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        client_id: Option<String>,
    },
    Pong,
}

impl ServerFrame {
    /// The frame for an edited or deleted message, as of change `change` of its chat.
    pub fn changed(message: Message, change: i64) -> Self {
        if message.deleted {
            ServerFrame::Deleted { message, change }
        } else {
            ServerFrame::Edited { message, change }
        }
    }
}

/// Machine-readable error kinds of `error` frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a known frame.
    BadFrame,
    /// A rule was broken (empty or too long body, bad client id…).
    Invalid,
    /// No such chat or message, or not a member.
    NotFound,
    Forbidden,
    RateLimited,
    /// Our fault; retry later.
    Internal,
}

/// JSON object keys are strings; inside an internally tagged enum serde cannot turn
/// them into integer ids by itself, so `positions` is parsed by hand. At most
/// [`RESUME_MAX_CHATS`] entries are read: the map is refused at the first one beyond,
/// before it grows (or anyone looks anything up).
mod positions {
    use super::{ChatId, RESUME_MAX_CHATS};
    use serde::de::{Error, MapAccess, Visitor};
    use serde::Deserializer;
    use std::collections::BTreeMap;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<ChatId, i64>, D::Error> {
        d.deserialize_map(Positions)
    }

    struct Positions;

    impl<'de> Visitor<'de> for Positions {
        type Value = BTreeMap<ChatId, i64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a map of at most {RESUME_MAX_CHATS} chat ids to numbers")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, i64>()? {
                if out.len() >= RESUME_MAX_CHATS {
                    return Err(A::Error::custom(format!(
                        "a resume names at most {RESUME_MAX_CHATS} chats"
                    )));
                }
                let id = k
                    .parse::<i64>()
                    .map_err(|_| A::Error::custom(format!("chat id {k:?} is not a number")))?;
                out.insert(ChatId(id), v);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_names_at_most_the_cap_of_chats() {
        let frame = |n: usize| {
            let map = (0..n)
                .map(|i| format!("\"{i}\":1"))
                .collect::<Vec<_>>()
                .join(",");
            format!(r#"{{"type":"resume","positions":{{{map}}},"changes":{{"1":2}}}}"#)
        };
        match serde_json::from_str::<ClientFrame>(&frame(RESUME_MAX_CHATS)) {
            Ok(ClientFrame::Resume { positions, .. }) => {
                assert_eq!(positions.len(), RESUME_MAX_CHATS)
            }
            other => panic!("{other:?}"),
        }
        let err = serde_json::from_str::<ClientFrame>(&frame(RESUME_MAX_CHATS + 1)).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn frames_round_trip_as_documented() {
        let resume: ClientFrame =
            serde_json::from_str(r#"{"type":"resume","positions":{"12":41,"15":0}}"#).unwrap();
        assert_eq!(
            resume,
            ClientFrame::Resume {
                positions: BTreeMap::from([(ChatId(12), 41), (ChatId(15), 0)]),
                changes: Default::default(),
            }
        );
        let back: ClientFrame =
            serde_json::from_str(&serde_json::to_string(&resume).unwrap()).unwrap();
        assert_eq!(back, resume);
        assert!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"resume","positions":{"x":1}}"#)
                .is_err()
        );
        let send: ClientFrame =
            serde_json::from_str(r#"{"type":"send","client_id":"c1","chat_id":12,"body":"hello"}"#)
                .unwrap();
        assert!(matches!(
            send,
            ClientFrame::Send {
                chat_id: ChatId(12),
                ..
            }
        ));
        assert_eq!(
            serde_json::to_string(&ServerFrame::Resumed).unwrap(),
            r#"{"type":"resumed"}"#
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Ping).unwrap(),
            r#"{"type":"ping"}"#
        );
        let err = ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow".into(),
            client_id: None,
        };
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"error","code":"rate_limited","message":"slow"}"#
        );
    }
}
