//! The browser's live connection: one WebSocket per tab (see `docs/PROTOCOL.md`).
//!
//! - Falls back by itself: after two WebSocket handshakes in a row that never open
//!   (or hang for 5 s), the tab uses an SSE stream (`GET /sse`) for frames down and
//!   `POST /frames` for frames up; every 3 minutes it tries a WebSocket again in the
//!   background and moves back when one opens. Either way frames are the same, and
//!   so are the outbox, resume and the guarantees below.
//! - Reconnects by itself: exponential backoff with full jitter (0.5 s doubling to a
//!   30 s cap), never gives up, and retries at once when the browser comes back
//!   `online` or the tab becomes visible.
//! - Notices a dead connection: 45 s without any frame closes it (it pings when quiet).
//! - Outbox: a message is shown as "sending…" until its `ack`; it is kept in
//!   `localStorage` (it survives a reload) and resent in order, with the same client
//!   id, on every (re)connect, so nothing is lost or doubled.
//! - Resume: after `hello` it sends the last seq it holds per chat; the server replays
//!   the rest or says `reset`.
//!
//! Components read [`Live`] (status, outbox) and [`subscribe`] to frames. On the server
//! (SSR) everything here is inert.

use crate::model::protocol::ServerFrame;
use crate::model::{ChatId, UserId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the connection is doing, for the UI.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Status {
    /// Not started (server rendering, or before the user is known).
    Idle,
    Connecting,
    Online,
    /// Waiting to retry; the time (ms since epoch) of the next attempt.
    Offline {
        retry_at: f64,
    },
}

/// Which link carries the live protocol (shown as the status's tooltip).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transport {
    WebSocket,
    /// The fallback: Server-Sent Events down, POSTs up.
    Sse,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::WebSocket => "WebSocket",
            Transport::Sse => "Server-Sent Events + HTTP POST (WebSocket blocked)",
        }
    }
}

/// A message typed but not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: String,
    pub chat_id: ChatId,
    pub body: String,
    /// The message it answers.
    #[serde(default)]
    pub reply_to: Option<crate::model::ReplyTo>,
    /// Its files, already uploaded (the message is queued only once all are stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<crate::model::FileInfo>,
    /// Set when the server refused it for good ("not sent — retry").
    pub failed: Option<String>,
}

/// The live connection's state, provided by the signed-in layout.
#[derive(Clone, Copy)]
pub struct Live {
    pub status: RwSignal<Status>,
    pub transport: RwSignal<Transport>,
    pub outbox: RwSignal<Vec<Pending>>,
    /// Ticks every second while offline (drives the "retrying in N s" countdown).
    pub now: RwSignal<f64>,
    /// Contacts' presence: online, or when last seen (ms since epoch).
    pub presence: RwSignal<std::collections::HashMap<UserId, (bool, Option<i64>)>>,
}

impl Live {
    pub fn new() -> Self {
        Live {
            status: RwSignal::new(Status::Idle),
            transport: RwSignal::new(Transport::WebSocket),
            outbox: RwSignal::new(Vec::new()),
            now: RwSignal::new(0.0),
            presence: RwSignal::new(Default::default()),
        }
    }

    /// Queues a message (shown as "sending…") and sends it when connected.
    pub fn send_message(
        &self,
        chat_id: ChatId,
        body: String,
        reply_to: Option<crate::model::ReplyTo>,
        files: Vec<crate::model::FileInfo>,
    ) {
        let pending = Pending {
            client_id: super::new_client_id(),
            chat_id,
            body,
            reply_to,
            files,
            failed: None,
        };
        self.outbox.update(|o| o.push(pending.clone()));
        imp::outbox_changed(*self);
        imp::send_pending(&pending);
    }

    /// Sends a failed message again (same client id: it cannot be doubled).
    pub fn retry(&self, client_id: &str) {
        let mut again = None;
        self.outbox.update(|o| again = outbox::retry(o, client_id));
        imp::outbox_changed(*self);
        if let Some(p) = again {
            imp::send_pending(&p);
        }
    }

    /// Drops a failed message from the outbox.
    pub fn discard(&self, client_id: &str) {
        self.outbox.update(|o| outbox::discard(o, client_id));
        imp::outbox_changed(*self);
    }

    pub fn typing(&self, chat_id: ChatId) {
        imp::send_frame(&crate::model::protocol::ClientFrame::Typing { chat_id });
    }

    /// Marks a chat read up to `seq` (coalesced: see `reads`).
    pub fn read(&self, _chat_id: ChatId, _seq: i64) {
        imp::read(_chat_id, _seq);
    }

    /// Drops the outbox, in memory and in the browser's storage (on sign-out).
    pub fn forget_outbox(&self) {
        imp::forget_outbox(*self);
    }

    /// Records the newest seq shown for a chat (where `resume` starts).
    pub fn note_position(&self, chat_id: ChatId, seq: i64) {
        imp::note_position(chat_id, seq);
    }

    /// Records the change number a chat's copy is current to (from its page; `synced`
    /// frames move it on).
    pub fn note_change(&self, chat_id: ChatId, change: i64) {
        imp::note_change(chat_id, change);
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts the connection for `user` (browser only; call once from the layout).
pub fn start(live: Live, user: UserId) {
    imp::start(live, user);
}

pub fn use_live() -> Option<Live> {
    use_context::<Live>()
}

/// Calls `f` with every frame received while the calling component lives.
pub fn subscribe(f: impl Fn(&ServerFrame) + 'static) {
    imp::subscribe(f);
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::*;
    pub fn start(_: Live, _: UserId) {}
    pub fn subscribe(_: impl Fn(&ServerFrame) + 'static) {}
    pub fn send_pending(_: &Pending) {}
    pub fn send_frame(_: &crate::model::protocol::ClientFrame) -> bool {
        false
    }
    pub fn read(_: ChatId, _: i64) {}
    pub fn forget_outbox(_: Live) {}
    pub fn outbox_changed(_: Live) {}
    pub fn note_position(_: ChatId, _: i64) {}
    pub fn note_change(_: ChatId, _: i64) {}
}

// The rules, pure (they build and are tested without a browser; on the server only
// the outbox's are used).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod backoff;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod link;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod outbox;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod posts;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod presence;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod reads;
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod resume;

// The browser's side.
#[cfg(feature = "hydrate")]
mod socket;
#[cfg(feature = "hydrate")]
mod storage;
#[cfg(feature = "hydrate")]
mod wire;
#[cfg(feature = "hydrate")]
use socket as imp;
