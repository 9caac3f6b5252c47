//! The browser side of the live connection (built for the browser only): the socket,
//! reconnection with backoff, the heartbeat, resume positions, the outbox kept in
//! `localStorage`, and handing frames to subscribers. [`super`] is its public face.

use super::*;
use crate::model::protocol::{close, ClientFrame, ErrorCode};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 30_000.0;
const DEAD_AFTER_MS: f64 = 45_000.0;
const PING_AFTER_MS: f64 = 20_000.0;
const RESEND_AFTER_MS: f64 = 10_000.0;
/// Read receipts wait this long and go out as one `read` per chat (the newest seq): a
/// busy chat would otherwise send one per message, which the server limits.
const READ_COALESCE_MS: i32 = 500;

type Subscriber = Rc<dyn Fn(&ServerFrame)>;

#[derive(Default)]
struct Conn {
    live: Option<Live>,
    user: Option<UserId>,
    ws: Option<WebSocket>,
    online: bool,
    attempt: u32,
    last_frame_at: f64,
    last_flush_at: f64,
    retry_timer: Option<i32>,
    positions: BTreeMap<ChatId, i64>,
    /// Per chat, the change number this tab's copy is current to (see `note_change`).
    changes: BTreeMap<ChatId, i64>,
    /// Read pointers waiting for the throttle's window to end (`read_timer`: one is
    /// open), and the last one sent per chat.
    reads_pending: BTreeMap<ChatId, i64>,
    reads_sent: BTreeMap<ChatId, i64>,
    read_timer: bool,
    subscribers: Vec<(u64, Subscriber)>,
    next_sub: u64,
}

thread_local! {
    static CONN: RefCell<Conn> = RefCell::new(Conn::default());
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn storage_key(user: UserId) -> String {
    format!("natter.outbox.{user}")
}

pub fn start(live: Live, user: UserId) {
    let already = CONN.with_borrow_mut(|c| {
        let already = c.user == Some(user) && c.live.is_some();
        c.live = Some(live);
        c.user = Some(user);
        already
    });
    // Restore the outbox a reload left behind.
    if let Some(saved) = window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(&storage_key(user)).ok().flatten())
        .and_then(|json| serde_json::from_str::<Vec<Pending>>(&json).ok())
    {
        live.outbox.update(|o| {
            for p in saved {
                if !o.iter().any(|x| x.client_id == p.client_id) {
                    o.push(p);
                }
            }
        });
    }
    if already {
        return;
    }
    listen_window("online", connect_now);
    listen_window("offline", went_offline);
    listen_document("visibilitychange", || {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            connect_now();
        }
    });
    let tick = Closure::<dyn Fn()>::new(heartbeat);
    let _ = window().set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        1000,
    );
    tick.forget();
    connect();
}

fn listen_window(event: &str, f: fn()) {
    let cb = Closure::<dyn Fn()>::new(f);
    let _ = window().add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
    cb.forget();
}

fn listen_document(event: &str, f: fn()) {
    let cb = Closure::<dyn Fn()>::new(f);
    let _ = document().add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
    cb.forget();
}

fn set_status(status: Status) {
    if let Some(live) = CONN.with_borrow(|c| c.live) {
        live.status.set(status);
    }
}

fn ws_url() -> Option<String> {
    let loc = window().location();
    let scheme = if loc.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}/ws", loc.host().ok()?))
}

fn connect() {
    let busy = CONN.with_borrow(|c| c.ws.is_some() || c.user.is_none());
    if busy {
        return;
    }
    let Some(url) = ws_url() else { return };
    // The first attempt after a page load stays quiet; reconnects say so.
    if CONN.with_borrow(|c| c.attempt > 0) {
        set_status(Status::Connecting);
    }
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => {
            schedule_reconnect();
            return;
        }
    };
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(|ev: MessageEvent| {
        if let Some(text) = ev.data().as_string() {
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(frame) => handle(frame),
                Err(e) => leptos::logging::warn!("natter: unreadable frame: {e}"),
            }
        }
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let ws_for_close = ws.clone();
    let onclose = Closure::<dyn Fn(CloseEvent)>::new(move |ev: CloseEvent| {
        let current =
            CONN.with_borrow(|c| c.ws.as_ref().map(|w| w == &ws_for_close).unwrap_or(false));
        if !current {
            return;
        }
        CONN.with_borrow_mut(|c| {
            c.ws = None;
            c.online = false;
        });
        if ev.code() == close::UNAUTHORIZED {
            let _ = window().location().set_href("/login");
            return;
        }
        schedule_reconnect();
    });
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
    CONN.with_borrow_mut(|c| {
        c.ws = Some(ws);
        c.last_frame_at = now();
    });
}

/// Full jitter: a random delay in [0, min(cap, base·2^attempt)].
fn schedule_reconnect() {
    let attempt = CONN.with_borrow_mut(|c| {
        c.attempt = c.attempt.saturating_add(1);
        c.attempt
    });
    let ceiling = (BACKOFF_BASE_MS * 2f64.powi(attempt.min(16) as i32)).min(BACKOFF_CAP_MS);
    let delay = (js_sys::Math::random() * ceiling).max(100.0);
    set_status(Status::Offline {
        retry_at: now() + delay,
    });
    let cb = Closure::once_into_js(|| {
        CONN.with_borrow_mut(|c| c.retry_timer = None);
        connect();
    });
    let timer = window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), delay as i32)
        .ok();
    CONN.with_borrow_mut(|c| c.retry_timer = timer);
}

/// The browser lost the network: say so now instead of waiting for a timeout.
fn went_offline() {
    let ws = CONN.with_borrow_mut(|c| {
        c.online = false;
        c.ws.take()
    });
    if let Some(ws) = ws {
        let _ = ws.close();
    }
    let timer = CONN.with_borrow_mut(|c| c.retry_timer.take());
    if let Some(t) = timer {
        window().clear_timeout_with_handle(t);
    }
    schedule_reconnect();
}

/// Retries immediately (the network is back, or the tab is visible again).
fn connect_now() {
    let timer = CONN.with_borrow_mut(|c| c.retry_timer.take());
    if let Some(t) = timer {
        window().clear_timeout_with_handle(t);
        CONN.with_borrow_mut(|c| c.attempt = 0);
    }
    connect();
}

fn heartbeat() {
    let (live, ws, online, last, last_flush) = CONN.with_borrow(|c| {
        (
            c.live,
            c.ws.clone(),
            c.online,
            c.last_frame_at,
            c.last_flush_at,
        )
    });
    if let Some(live) = live {
        if matches!(live.status.get_untracked(), Status::Offline { .. }) {
            live.now.set(now());
        }
    }
    let Some(ws) = ws else { return };
    let quiet = now() - last;
    if quiet > DEAD_AFTER_MS {
        // No frame and no pong: the connection is dead even if the browser disagrees.
        let _ = ws.close();
        CONN.with_borrow_mut(|c| {
            c.ws = None;
            c.online = false;
        });
        schedule_reconnect();
    } else if online && quiet > PING_AFTER_MS {
        send_frame(&ClientFrame::Ping);
    }
    // Unacknowledged messages are resent now and then (same client id: harmless).
    if online && now() - last_flush > RESEND_AFTER_MS {
        flush_outbox();
    }
}

fn handle(frame: ServerFrame) {
    CONN.with_borrow_mut(|c| c.last_frame_at = now());
    match &frame {
        ServerFrame::Hello { .. } => {
            let (positions, changes) = CONN.with_borrow_mut(|c| {
                c.online = true;
                c.attempt = 0;
                (c.positions.clone(), c.changes.clone())
            });
            set_status(Status::Online);
            send_frame(&ClientFrame::Resume { positions, changes });
            flush_outbox();
        }
        ServerFrame::Ack { client_id, .. } => {
            if let Some(live) = CONN.with_borrow(|c| c.live) {
                live.outbox
                    .update(|o| o.retain(|p| &p.client_id != client_id));
                outbox_changed(live);
            }
        }
        ServerFrame::Message { message } => note_position(message.chat_id, message.seq),
        ServerFrame::Synced { chat_id, change } => note_change(*chat_id, *change),
        ServerFrame::Resync => {
            let (positions, changes) =
                CONN.with_borrow(|c| (c.positions.clone(), c.changes.clone()));
            send_frame(&ClientFrame::Resume { positions, changes });
        }
        ServerFrame::Presence {
            user_id,
            online,
            last_seen,
        } => {
            if let Some(live) = CONN.with_borrow(|c| c.live) {
                live.presence.update(|p| {
                    p.insert(*user_id, (*online, *last_seen));
                });
            }
        }
        ServerFrame::Error {
            code,
            message,
            client_id: Some(client_id),
        } => {
            let for_good = !matches!(code, ErrorCode::RateLimited | ErrorCode::Internal);
            if for_good {
                if let Some(live) = CONN.with_borrow(|c| c.live) {
                    live.outbox.update(|o| {
                        if let Some(p) = o.iter_mut().find(|p| &p.client_id == client_id) {
                            p.failed = Some(message.clone());
                        }
                    });
                    outbox_changed(live);
                }
            }
        }
        _ => {}
    }
    let subscribers: Vec<Subscriber> =
        CONN.with_borrow(|c| c.subscribers.iter().map(|(_, s)| s.clone()).collect());
    for s in subscribers {
        s(&frame);
    }
}

/// Sends every pending message, oldest first (before anything typed later).
fn flush_outbox() {
    let Some(live) = CONN.with_borrow(|c| c.live) else {
        return;
    };
    CONN.with_borrow_mut(|c| c.last_flush_at = now());
    for p in live.outbox.get_untracked() {
        if p.failed.is_none() {
            send_pending(&p);
        }
    }
}

pub fn send_pending(p: &Pending) {
    send_frame(&ClientFrame::Send {
        client_id: p.client_id.clone(),
        chat_id: p.chat_id,
        body: p.body.clone(),
    });
}

/// Sends a frame if the socket is open; returns whether it went out.
pub fn send_frame(frame: &ClientFrame) -> bool {
    let ws = CONN.with_borrow(|c| if c.online { c.ws.clone() } else { None });
    match (ws, serde_json::to_string(frame)) {
        (Some(ws), Ok(text)) => ws.send_with_str(&text).is_ok(),
        _ => false,
    }
}

/// Marks `chat` read up to `seq`, throttled: the first `read` goes out at once (the
/// other side's "Seen" should not wait), then at most one per chat every
/// [`READ_COALESCE_MS`], carrying the newest seq; none that would not move it.
pub fn read(chat: ChatId, seq: i64) {
    let now = CONN.with_borrow_mut(|c| {
        if c.reads_sent.get(&chat).is_some_and(|sent| *sent >= seq) {
            return false;
        }
        let p = c.reads_pending.entry(chat).or_insert(seq);
        *p = (*p).max(seq);
        !c.read_timer
    });
    if now {
        flush_reads();
    }
}

/// Sends the pending reads, then holds the next ones back for [`READ_COALESCE_MS`].
fn flush_reads() {
    let pending = CONN.with_borrow_mut(|c| {
        c.read_timer = false;
        std::mem::take(&mut c.reads_pending)
    });
    if pending.is_empty() {
        return;
    }
    for (chat_id, seq) in pending {
        if send_frame(&ClientFrame::Read { chat_id, seq }) {
            CONN.with_borrow_mut(|c| c.reads_sent.insert(chat_id, seq));
        }
    }
    CONN.with_borrow_mut(|c| c.read_timer = true);
    let cb = Closure::once_into_js(flush_reads);
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        cb.unchecked_ref(),
        READ_COALESCE_MS,
    );
}

/// Signing out: the outbox's unsent text must not stay in this browser's storage.
pub fn forget_outbox(live: Live) {
    live.outbox.set(Vec::new());
    let user = CONN.with_borrow(|c| c.user);
    if let (Some(user), Some(storage)) = (user, window().local_storage().ok().flatten()) {
        let _ = storage.remove_item(&storage_key(user));
    }
}

pub fn outbox_changed(live: Live) {
    let Some(user) = CONN.with_borrow(|c| c.user) else {
        return;
    };
    let Some(storage) = window().local_storage().ok().flatten() else {
        return;
    };
    let outbox = live.outbox.get_untracked();
    if outbox.is_empty() {
        let _ = storage.remove_item(&storage_key(user));
    } else if let Ok(json) = serde_json::to_string(&outbox) {
        let _ = storage.set_item(&storage_key(user), &json);
    }
}

pub fn note_position(chat: ChatId, seq: i64) {
    CONN.with_borrow_mut(|c| {
        let p = c.positions.entry(chat).or_insert(seq);
        *p = (*p).max(seq);
    });
}

/// The chat's copy in this tab is current to `change`. Only a page load and `synced`
/// move it, never a live frame: live changes of one chat can arrive out of order
/// (committed by different requests), so the newest seen says nothing of the ones
/// before it; a resume from here replays each of them again (harmless: a replay is the
/// row's current state).
///
/// A chat shown while the socket is already open is resumed on its own at once: the
/// server then keeps it in seq order for this tab (with several nodes, a message from
/// another node can arrive after a later one from this node; the server fills such a
/// gap from SQL only for chats the tab has resumed).
pub fn note_change(chat: ChatId, change: i64) {
    let resume = CONN.with_borrow_mut(|c| {
        let position = *c.positions.entry(chat).or_insert(0);
        let p = c.changes.entry(chat).or_insert(change);
        *p = (*p).max(change);
        c.online.then(|| ClientFrame::Resume {
            positions: BTreeMap::from([(chat, position)]),
            changes: BTreeMap::from([(chat, *p)]),
        })
    });
    if let Some(frame) = resume {
        send_frame(&frame);
    }
}

pub fn subscribe(f: impl Fn(&ServerFrame) + 'static) {
    let id = CONN.with_borrow_mut(|c| {
        c.next_sub += 1;
        let id = c.next_sub;
        c.subscribers.push((id, Rc::new(f)));
        id
    });
    on_cleanup(move || {
        CONN.with_borrow_mut(|c| c.subscribers.retain(|(i, _)| *i != id));
    });
}
