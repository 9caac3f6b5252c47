//! The browser side of the live connection (built for the browser only): the link
//! (a WebSocket, or where that is blocked an SSE stream plus POSTed frames),
//! reconnection with backoff, the heartbeat, resume positions, the outbox kept in
//! `localStorage`, and handing frames to subscribers. [`super`] is its public face.

use super::*;
use crate::model::protocol::{close, ClientFrame, ErrorCode};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, EventSource, MessageEvent, WebSocket};

const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 30_000.0;
const DEAD_AFTER_MS: f64 = 45_000.0;
const PING_AFTER_MS: f64 = 20_000.0;
const RESEND_AFTER_MS: f64 = 10_000.0;
/// A WebSocket that has not opened by then counts as a failed handshake.
const OPEN_TIMEOUT_MS: i32 = 5_000;
/// Failed handshakes in a row (never opened) before the SSE fallback is used.
const WS_FAILURES_BEFORE_SSE: u32 = 2;
/// On the fallback, how often a WebSocket is tried again in the background.
const PROBE_EVERY_MS: f64 = 180_000.0;
/// Read receipts wait this long and go out as one `read` per chat (the newest seq): a
/// busy chat would otherwise send one per message, which the server limits.
const READ_COALESCE_MS: i32 = 500;

type Subscriber = Rc<dyn Fn(&ServerFrame)>;

/// The open link to the server.
#[derive(Clone, PartialEq)]
enum Link {
    Ws(WebSocket),
    /// The fallback: events down this stream, frames up as POSTs (`post`).
    Sse(EventSource),
}

impl Link {
    fn close(&self) {
        match self {
            Link::Ws(ws) => {
                let _ = ws.close();
            }
            Link::Sse(es) => es.close(),
        }
    }
}

#[derive(Default)]
struct Conn {
    live: Option<Live>,
    user: Option<UserId>,
    link: Option<Link>,
    /// A stream being replaced: closed once its successor says `hello` (so the server
    /// never sees this tab without a connection, and presence does not flicker).
    replaced: Option<Link>,
    /// The fallback is in use (WebSocket handshakes kept failing).
    sse: bool,
    /// The current WebSocket has said `hello`; handshakes that failed in a row.
    ws_opened: bool,
    ws_failures: u32,
    /// On the fallback: when to try a WebSocket again, and whether one is being tried.
    probe_at: f64,
    probing: bool,
    /// Frames waiting to be POSTed, in order (one request at a time keeps sends in
    /// order), and whether a request is under way.
    posts: VecDeque<String>,
    posting: bool,
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
    let busy = CONN.with_borrow(|c| c.link.is_some() || c.user.is_none());
    if busy {
        return;
    }
    // The first attempt after a page load stays quiet; reconnects say so.
    if CONN.with_borrow(|c| c.attempt > 0) {
        set_status(Status::Connecting);
    }
    let link = if CONN.with_borrow(|c| c.sse) {
        open_sse()
    } else {
        open_ws()
    };
    match link {
        Some(link) => CONN.with_borrow_mut(|c| {
            c.link = Some(link);
            c.last_frame_at = now();
        }),
        None => schedule_reconnect(),
    }
}

fn is_current(link: &Link) -> bool {
    CONN.with_borrow(|c| c.link.as_ref() == Some(link))
}

fn on_text(text: &str) {
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => handle(frame),
        Err(e) => leptos::logging::warn!("natter: unreadable frame: {e}"),
    }
}

/// The link is gone: reconnect (or, signed out, go to the sign-in page).
fn link_lost(code: u16) {
    CONN.with_borrow_mut(|c| {
        c.link = None;
        c.online = false;
    });
    if code == close::UNAUTHORIZED {
        let _ = window().location().set_href("/login");
        return;
    }
    schedule_reconnect();
}

fn open_ws() -> Option<Link> {
    let url = ws_url()?;
    let ws = WebSocket::new(&url).ok()?;
    CONN.with_borrow_mut(|c| c.ws_opened = false);
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(|ev: MessageEvent| {
        if let Some(text) = ev.data().as_string() {
            on_text(&text);
        }
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let link = Link::Ws(ws.clone());
    let this = link.clone();
    let onclose = Closure::<dyn Fn(CloseEvent)>::new(move |ev: CloseEvent| {
        if !is_current(&this) {
            return;
        }
        // A socket that closed before its `hello`: blocked (a proxy or a filter that
        // refuses or drops the upgrade) or a server that is down. Twice in a row, and
        // the fallback takes over.
        let fall_back = CONN.with_borrow_mut(|c| {
            if !c.ws_opened {
                c.ws_failures += 1;
            }
            if c.ws_failures >= WS_FAILURES_BEFORE_SSE {
                c.sse = true;
                c.probe_at = now() + probe_every_ms();
            }
            c.sse
        });
        if fall_back {
            CONN.with_borrow_mut(|c| {
                c.link = None;
                c.online = false;
            });
            connect();
            return;
        }
        link_lost(ev.code());
    });
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
    // A handshake that hangs (some proxies hold it) counts as failed too.
    let timeout_ms = OPEN_TIMEOUT_MS;
    let this = link.clone();
    let timeout = Closure::once_into_js(move || {
        let stuck = is_current(&this) && !CONN.with_borrow(|c| c.ws_opened);
        if stuck {
            this.close();
        }
    });
    let _ = window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(timeout.unchecked_ref(), timeout_ms);
    Some(link)
}

/// The fallback's stream, opened with what this tab holds (its `resume`): the server
/// replays what is newer first, as after a WebSocket's `resume`.
fn open_sse() -> Option<Link> {
    let (positions, changes) = CONN.with_borrow(|c| (c.positions.clone(), c.changes.clone()));
    let resume = serde_json::to_string(&ClientFrame::Resume { positions, changes }).ok()?;
    let url = format!("/sse?resume={}", js_sys::encode_uri_component(&resume));
    let es = EventSource::new(&url).ok()?;
    let link = Link::Sse(es.clone());
    let this = link.clone();
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        // A replaced stream's frames are in its successor's replay.
        if !is_current(&this) {
            return;
        }
        if let Some(text) = ev.data().as_string() {
            on_text(&text);
        }
    });
    es.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let heartbeat = Closure::<dyn Fn()>::new(|| CONN.with_borrow_mut(|c| c.last_frame_at = now()));
    let _ = es.add_event_listener_with_callback("heartbeat", heartbeat.as_ref().unchecked_ref());
    heartbeat.forget();
    let this = link.clone();
    let onclose = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        this.close();
        if is_current(&this) {
            let code = ev
                .data()
                .as_string()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .and_then(|v| v["code"].as_u64())
                .unwrap_or(1000);
            link_lost(code as u16);
        }
    });
    let _ = es.add_event_listener_with_callback("close", onclose.as_ref().unchecked_ref());
    onclose.forget();
    let this = link.clone();
    // EventSource would reconnect by itself, with the positions of its first request:
    // close it and open a stream with the current ones instead.
    let onerror = Closure::<dyn Fn()>::new(move || {
        this.close();
        if is_current(&this) {
            link_lost(1006);
        }
    });
    es.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    onerror.forget();
    Some(link)
}

/// Resumes every chat this tab holds: a WebSocket sends `resume`; the fallback opens
/// a new stream with it (the old one stays until the new one says `hello`).
fn resume_all() {
    let (sse, online) = CONN.with_borrow(|c| (c.sse, c.online));
    if !online {
        return;
    }
    if sse {
        let old = CONN.with_borrow_mut(|c| c.link.take());
        if let Some(old) = old {
            if let Some(older) = CONN.with_borrow_mut(|c| c.replaced.replace(old)) {
                older.close();
            }
        }
        connect();
    } else {
        let (positions, changes) = CONN.with_borrow(|c| (c.positions.clone(), c.changes.clone()));
        send_frame(&ClientFrame::Resume { positions, changes });
    }
}

/// On the fallback, now and then: if a WebSocket works now (it says `hello`), go back
/// to it (its `resume` picks up exactly where the stream was).
fn probe_ws() {
    let Some(url) = ws_url() else { return };
    let Ok(ws) = WebSocket::new(&url) else { return };
    CONN.with_borrow_mut(|c| {
        c.probing = true;
        c.probe_at = now() + probe_every_ms();
    });
    let probe = ws.clone();
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        let hello = ev
            .data()
            .as_string()
            .and_then(|t| serde_json::from_str::<ServerFrame>(&t).ok())
            .is_some_and(|f| matches!(f, ServerFrame::Hello { .. }));
        let _ = probe.close();
        if !hello {
            return;
        }
        let stream = CONN.with_borrow_mut(|c| {
            c.sse = false;
            c.ws_failures = 0;
            c.probing = false;
            c.online = false;
            c.link.take()
        });
        if let Some(stream) = stream {
            stream.close();
        }
        connect();
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let onclose = Closure::<dyn Fn()>::new(|| CONN.with_borrow_mut(|c| c.probing = false));
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
}

/// [`PROBE_EVERY_MS`], unless `localStorage["natter.ws_probe_ms"]` says otherwise (the
/// end-to-end tests do not wait three minutes).
fn probe_every_ms() -> f64 {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item("natter.ws_probe_ms").ok().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROBE_EVERY_MS)
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
    let link = CONN.with_borrow_mut(|c| {
        c.online = false;
        c.link.take()
    });
    if let Some(link) = link {
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
        CONN.with_borrow_mut(|c| c.attempt = 0);
    }
    connect();
}

fn heartbeat() {
    let (live, link, online, last, last_flush, sse) = CONN.with_borrow(|c| {
        (
            c.live,
            c.link.clone(),
            c.online,
            c.last_frame_at,
            c.last_flush_at,
            c.sse,
        )
    });
    if let Some(live) = live {
        if matches!(live.status.get_untracked(), Status::Offline { .. }) {
            live.now.set(now());
        }
    }
    let Some(link) = link else { return };
    let quiet = now() - last;
    if quiet > DEAD_AFTER_MS {
        // No frame, no pong, no heartbeat event: the link is dead even if the browser
        // disagrees.
        link.close();
        CONN.with_borrow_mut(|c| {
            c.link = None;
            c.online = false;
        });
        schedule_reconnect();
    } else if online && quiet > PING_AFTER_MS && !sse {
        send_frame(&ClientFrame::Ping);
    }
    let probe = CONN.with_borrow(|c| c.sse && c.online && !c.probing && now() >= c.probe_at);
    if probe {
        probe_ws();
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
            let (positions, changes, sse, replaced) = CONN.with_borrow_mut(|c| {
                c.online = true;
                c.attempt = 0;
                if !c.sse {
                    c.ws_opened = true;
                    c.ws_failures = 0;
                }
                (
                    c.positions.clone(),
                    c.changes.clone(),
                    c.sse,
                    c.replaced.take(),
                )
            });
            if let Some(old) = replaced {
                old.close();
            }
            set_status(Status::Online);
            if let Some(live) = CONN.with_borrow(|c| c.live) {
                live.transport.set(if sse {
                    Transport::Sse
                } else {
                    Transport::WebSocket
                });
            }
            // A stream was opened with its resume already (see `open_sse`).
            if !sse {
                send_frame(&ClientFrame::Resume { positions, changes });
            }
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
        ServerFrame::Resync => resume_all(),
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
        ServerFrame::PresenceSnapshot { online, offline } => {
            if let Some(live) = CONN.with_borrow(|c| c.live) {
                live.presence.update(|p| {
                    p.extend(online.iter().map(|u| (*u, (true, None))));
                    p.extend(offline.iter().map(|(u, seen)| (*u, (false, *seen))));
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
        reply_to: p.reply_to.as_ref().map(|r| r.id),
    });
}

/// Sends a frame if the link is open; returns whether it went out.
pub fn send_frame(frame: &ClientFrame) -> bool {
    let link = CONN.with_borrow(|c| if c.online { c.link.clone() } else { None });
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    match link {
        Some(Link::Ws(ws)) => ws.send_with_str(&text).is_ok(),
        Some(Link::Sse(_)) => {
            post(text);
            true
        }
        None => false,
    }
}

/// Queues a frame for `POST /frames`; one request at a time, in order.
fn post(text: String) {
    let start = CONN.with_borrow_mut(|c| {
        c.posts.push_back(text);
        !std::mem::replace(&mut c.posting, true)
    });
    if start {
        leptos::task::spawn_local(drain_posts());
    }
}

async fn drain_posts() {
    loop {
        let next = CONN.with_borrow_mut(|c| {
            let next = c.posts.pop_front();
            c.posting = next.is_some();
            next
        });
        let Some(body) = next else { return };
        match post_one(&body).await {
            Ok((401, _)) => {
                let _ = window().location().set_href("/login");
                return;
            }
            // The answer is a frame (an ack, an error, a pong), or nothing (204).
            Ok((_, text)) if !text.is_empty() => on_text(&text),
            Ok(_) => {}
            Err(_) => {
                // The network: the outbox resends what was not acked; reads and typing
                // are worth nothing late.
                CONN.with_borrow_mut(|c| {
                    c.posts.clear();
                    c.posting = false;
                });
                return;
            }
        }
    }
}

async fn post_one(body: &str) -> Result<(u16, String), JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    init.set_headers(&headers);
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window().fetch_with_str_and_init("/frames", &init))
            .await?
            .dyn_into()?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
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
/// A chat this tab starts to show while the link is already open is resumed on its own
/// at once: the server then keeps it in seq order for this tab (with several nodes, a
/// message from another node can arrive after a later one from this node; the server
/// fills such a gap from SQL only for chats the tab has resumed). Only a chat new to
/// the tab: the `synced` that answers that resume comes back here, and resuming again
/// would never end.
pub fn note_change(chat: ChatId, change: i64) {
    let resume = CONN.with_borrow_mut(|c| {
        let new_here = !c.changes.contains_key(&chat);
        let position = *c.positions.entry(chat).or_insert(0);
        let p = c.changes.entry(chat).or_insert(change);
        *p = (*p).max(change);
        (c.online && new_here).then(|| ClientFrame::Resume {
            positions: BTreeMap::from([(chat, position)]),
            changes: BTreeMap::from([(chat, *p)]),
        })
    });
    match resume {
        // The fallback's resume is a new stream (with every chat).
        Some(_) if CONN.with_borrow(|c| c.sse) => resume_all(),
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
