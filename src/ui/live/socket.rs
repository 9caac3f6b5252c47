//! The browser side of the live connection (built for the browser only): the one
//! per-tab state, its timers and window events, frames in and out, and the outbox's,
//! reads' and presence's effects on [`Live`]. The rules live in the pure modules
//! ([`link`](super::link), [`backoff`](super::backoff), [`outbox`](super::outbox),
//! [`resume`](super::resume), [`reads`](super::reads), [`presence`](super::presence));
//! the links themselves in [`wire`](super::wire). [`super`] is its public face.

use super::backoff::Backoff;
use super::link::{Link, LinkState};
use super::posts::Posts;
use super::reads::{Reads, READ_COALESCE_MS};
use super::resume::Positions;
use super::wire::{open_sse, open_ws, post, probe_ws, Wire};
use super::*;
use crate::model::protocol::{close, ClientFrame};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

type Subscriber = Rc<dyn Fn(&ServerFrame)>;

#[derive(Default)]
pub(super) struct Conn {
    live: Option<Live>,
    user: Option<UserId>,
    pub(super) link: Link<Wire>,
    backoff: Backoff,
    retry_timer: Option<i32>,
    pub(super) last_frame_at: f64,
    last_flush_at: f64,
    pub(super) posts: Posts,
    pub(super) positions: Positions,
    reads: Reads,
    subscribers: Vec<(u64, Subscriber)>,
    next_sub: u64,
    /// This tab's number in `visible` frames (picked once), and when it last said so.
    tab: u64,
    visible_at: f64,
}

/// How often a visible tab says so again (the server forgets it after 45 s).
const VISIBLE_EVERY_MS: f64 = 20_000.0;

thread_local! {
    pub(super) static CONN: RefCell<Conn> = RefCell::new(Conn::default());
}

pub(super) fn now() -> f64 {
    js_sys::Date::now()
}

pub fn start(live: Live, user: UserId) {
    let already = CONN.with_borrow_mut(|c| {
        let already = c.user == Some(user) && c.live.is_some();
        c.live = Some(live);
        c.user = Some(user);
        already
    });
    // Restore the outbox a reload left behind.
    if let Some(saved) = storage::load_outbox(user) {
        live.outbox.update(|o| outbox::restore(o, saved));
    }
    if already {
        return;
    }
    listen_window("online", connect_now);
    listen_window("offline", went_offline);
    listen_document("visibilitychange", || {
        say_visible();
        if tab_visible() {
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

/// Opens a link over the carrier the state says, if none is open and a user is known.
pub(super) fn connect() {
    let Some(carrier) = CONN.with_borrow(|c| c.user.and(c.link.next_carrier())) else {
        return;
    };
    // The first attempt after a page load stays quiet; reconnects say so.
    if CONN.with_borrow(|c| c.backoff.retrying()) {
        set_status(Status::Connecting);
    }
    let wire = match carrier {
        link::Carrier::Sse(_) => open_sse(),
        link::Carrier::WebSocket { .. } => open_ws(),
    };
    match wire {
        Some(wire) => CONN.with_borrow_mut(|c| {
            c.link.opened(wire);
            c.last_frame_at = now();
        }),
        None => schedule_reconnect(),
    }
}

pub(super) fn on_text(text: &str) {
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => handle(frame),
        Err(e) => leptos::logging::warn!("natter: unreadable frame: {e}"),
    }
}

/// The link is gone: reconnect (or, signed out, go to the sign-in page).
pub(super) fn link_lost(code: u16) {
    CONN.with_borrow_mut(|c| c.link.lost());
    if code == close::UNAUTHORIZED {
        let _ = window().location().set_href("/login");
        return;
    }
    schedule_reconnect();
}

/// Resumes every chat this tab holds: a WebSocket sends `resume`; the fallback opens
/// a new stream with it (the old one stays until the new one says `hello`).
fn resume_all() {
    let sse = CONN.with_borrow(|c| match c.link.state() {
        LinkState::SseOpen { .. } => Some(true),
        LinkState::WsOpen { .. } => Some(false),
        _ => None,
    });
    let Some(sse) = sse else { return };
    if sse {
        let successor = open_sse();
        let opened = successor.is_some();
        let older = CONN.with_borrow_mut(|c| {
            if opened {
                c.last_frame_at = now();
            }
            c.link.replace_stream(successor)
        });
        if let Some(older) = older {
            older.close();
        }
        if !opened {
            schedule_reconnect();
        }
    } else {
        let resume = CONN.with_borrow(|c| c.positions.resume());
        send_frame(&resume);
    }
}

/// Waits (backoff with full jitter), then connects.
fn schedule_reconnect() {
    let delay = CONN.with_borrow_mut(|c| c.backoff.next_delay(js_sys::Math::random()));
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
    if let Some(link) = CONN.with_borrow_mut(|c| c.link.lost()) {
        link.close();
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
        CONN.with_borrow_mut(|c| c.backoff.reset());
    }
    connect();
}

fn heartbeat() {
    let now = now();
    let (live, tick) =
        CONN.with_borrow(|c| (c.live, c.link.tick(now, c.last_frame_at, c.last_flush_at)));
    if let Some(live) = live {
        if matches!(live.status.get_untracked(), Status::Offline { .. }) {
            live.now.set(now);
        }
    }
    let Some(tick) = tick else { return };
    if tab_visible() && now - CONN.with_borrow(|c| c.visible_at) >= VISIBLE_EVERY_MS {
        say_visible();
    }
    if tick.dead {
        // No frame, no pong, no heartbeat event: the link is dead even if the browser
        // disagrees.
        if let Some(link) = CONN.with_borrow_mut(|c| c.link.lost()) {
            link.close();
        }
        schedule_reconnect();
    } else if tick.ping {
        send_frame(&ClientFrame::Ping);
    }
    if tick.probe {
        probe_ws();
    }
    // Unacknowledged messages are resent now and then (same client id: harmless).
    if tick.resend {
        flush_outbox();
    }
}

fn handle(frame: ServerFrame) {
    CONN.with_borrow_mut(|c| c.last_frame_at = now());
    let live = CONN.with_borrow(|c| c.live);
    match &frame {
        ServerFrame::Hello { .. } => {
            let (resume, transport, replaced) = CONN.with_borrow_mut(|c| {
                c.backoff.reset();
                let replaced = c.link.hello();
                (c.positions.resume(), c.link.transport(), replaced)
            });
            if let Some(old) = replaced {
                old.close();
            }
            set_status(Status::Online);
            if let Some(live) = live {
                live.transport.set(transport);
            }
            // A stream was opened with its resume already (see `wire::open_sse`).
            if transport == Transport::WebSocket {
                send_frame(&resume);
            }
            say_visible();
            flush_outbox();
        }
        ServerFrame::Ack { client_id, .. } => {
            if let Some(live) = live {
                live.outbox.update(|o| outbox::acked(o, client_id));
                outbox_changed(live);
            }
        }
        ServerFrame::Message { message } => note_position(message.chat_id, message.seq),
        ServerFrame::Synced { chat_id, change } => note_change(*chat_id, *change),
        ServerFrame::Resync => resume_all(),
        f if presence::concerns(f) => {
            if let Some(live) = live {
                live.presence.update(|p| presence::apply(p, f));
            }
        }
        ServerFrame::Error {
            code,
            message,
            client_id: Some(client_id),
        } if outbox::for_good(*code) => {
            if let Some(live) = live {
                live.outbox
                    .update(|o| outbox::refuse(o, client_id, message));
                outbox_changed(live);
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

fn tab_visible() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// Tells the server whether this tab is visible: while one of a person's tabs is, the
/// server sends them no Web Push (the tab shows the message).
fn say_visible() {
    let tab = CONN.with_borrow_mut(|c| {
        if c.tab == 0 {
            c.tab = (js_sys::Math::random() * 9.0e15) as u64 + 1;
        }
        c.visible_at = now();
        c.tab
    });
    send_frame(&ClientFrame::Visible {
        tab,
        visible: tab_visible(),
    });
}

/// Sends every pending message, oldest first (before anything typed later).
fn flush_outbox() {
    let Some(live) = CONN.with_borrow(|c| c.live) else {
        return;
    };
    CONN.with_borrow_mut(|c| c.last_flush_at = now());
    for p in outbox::to_send(&live.outbox.get_untracked()) {
        send_pending(p);
    }
}

pub fn send_pending(p: &Pending) {
    send_frame(&outbox::send_frame(p));
}

/// Sends a frame if the link is open; returns whether it went out.
pub fn send_frame(frame: &ClientFrame) -> bool {
    let link = CONN.with_borrow(|c| c.link.open().cloned());
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    match link {
        Some(Wire::Ws(ws)) => ws.send_with_str(&text).is_ok(),
        Some(Wire::Sse(_)) => {
            post(text);
            true
        }
        None => false,
    }
}

/// Marks `chat` read up to `seq`, throttled (see [`reads`](super::reads)).
pub fn read(chat: ChatId, seq: i64) {
    if CONN.with_borrow_mut(|c| c.reads.read(chat, seq)) {
        flush_reads();
    }
}

/// Sends the pending reads, then holds the next ones back for [`READ_COALESCE_MS`].
fn flush_reads() {
    let pending = CONN.with_borrow_mut(|c| c.reads.take());
    if pending.is_empty() {
        return;
    }
    for (chat_id, seq) in pending {
        if send_frame(&ClientFrame::Read { chat_id, seq }) {
            CONN.with_borrow_mut(|c| c.reads.sent(chat_id, seq));
        }
    }
    let cb = Closure::once_into_js(flush_reads);
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        cb.unchecked_ref(),
        READ_COALESCE_MS,
    );
}

/// Signing out: the outbox's unsent text must not stay in this browser's storage.
pub fn forget_outbox(live: Live) {
    live.outbox.set(Vec::new());
    if let Some(user) = CONN.with_borrow(|c| c.user) {
        storage::forget_outbox(user);
    }
}

pub fn outbox_changed(live: Live) {
    if let Some(user) = CONN.with_borrow(|c| c.user) {
        storage::save_outbox(user, &live.outbox.get_untracked());
    }
}

pub fn note_position(chat: ChatId, seq: i64) {
    CONN.with_borrow_mut(|c| c.positions.note_position(chat, seq));
}

/// The chat's copy in this tab is current to `change` (see [`Positions::note_change`]:
/// a chat new to the tab is resumed on its own at once, if the link is open).
pub fn note_change(chat: ChatId, change: i64) {
    let resume = CONN.with_borrow_mut(|c| {
        let resume = c.positions.note_change(chat, change);
        resume.filter(|_| c.link.open().is_some())
    });
    match resume {
        // The fallback's resume is a new stream (with every chat).
        Some(_) if CONN.with_borrow(|c| c.link.transport() == Transport::Sse) => resume_all(),
        Some(frame) => {
            send_frame(&frame);
        }
        None => {}
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
