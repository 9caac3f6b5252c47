//! What travels to a connection: a frame serialised once and shared by all its
//! recipients ([`Frame`]), how it may be treated when a queue is full ([`FrameKind`]),
//! and the other things a connection's queue carries ([`Outbound`]). The hub, the
//! queues, the brokers and the domain's notifier all speak these types, so they sit
//! below all of them.

use crate::model::protocol::ServerFrame;
use crate::model::ChatId;
use axum::extract::ws::{CloseFrame, Utf8Bytes};
use std::sync::Arc;

/// How a connection's outgoing task treats a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FrameKind {
    /// May be dropped when the queue is full (typing, presence).
    Ephemeral,
    /// Must arrive, or the connection is closed so the client resumes.
    Durable,
    /// A new message: durable, and ordered/deduplicated by seq per chat.
    Message { chat: ChatId, seq: i64 },
}

/// One serialised frame, shared by all its recipients (cloning is a refcount bump).
///
/// A handle to shared data rather than the data itself, so a queue slot is two words.
#[derive(Clone, Debug)]
pub struct Frame(Arc<FrameData>);

#[derive(Debug)]
pub struct FrameData {
    pub text: Utf8Bytes,
    pub kind: FrameKind,
}

impl Frame {
    pub fn new(text: Utf8Bytes, kind: FrameKind) -> Self {
        Frame(Arc::new(FrameData { text, kind }))
    }
}

impl std::ops::Deref for Frame {
    type Target = FrameData;
    fn deref(&self) -> &FrameData {
        &self.0
    }
}

/// What a connection's outgoing task receives through its [`Queue`](super::queue::Queue) (two words: see [`Frame`]).
#[derive(Debug)]
pub enum Outbound {
    Frame(Frame),
    /// Replay what the client missed (sent by the connection's own reader).
    Resume(Box<ResumeRequest>),
    /// The client's first frame was not `resume`: stop holding messages back.
    Ready,
}
const _: () = assert!(std::mem::size_of::<Outbound>() <= 16);

/// A client's `resume`: per chat, the last seq it holds and the change number its copy
/// is current to.
#[derive(Debug, Default)]
pub struct ResumeRequest {
    pub positions: std::collections::BTreeMap<ChatId, i64>,
    pub changes: std::collections::BTreeMap<ChatId, i64>,
}

/// Serialises a frame once, for every recipient.
pub fn encode(frame: &ServerFrame, kind: FrameKind) -> Frame {
    Frame::new(encode_text(frame), kind)
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

/// A close frame with a fixed reason (the reader and the outgoing task both end
/// connections with one).
pub fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}
