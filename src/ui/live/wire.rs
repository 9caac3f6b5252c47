//! The browser's side of each link (built for the browser only): opening a WebSocket
//! or the fallback's SSE stream and wiring its events into `socket`, the background
//! WebSocket probe, and frames POSTed up on the fallback. What the events mean for the
//! link's state is [`link`](super::link)'s.

use super::link::AfterClose;
use super::socket::{connect, link_lost, now, on_text, CONN};
use super::storage::probe_every_ms;
use super::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, EventSource, MessageEvent, WebSocket};

/// A WebSocket that has not opened by then counts as a failed handshake.
const OPEN_TIMEOUT_MS: i32 = 5_000;

/// An open link's handle.
#[derive(Clone, Debug, PartialEq)]
pub enum Wire {
    Ws(WebSocket),
    /// The fallback: events down this stream, frames up as POSTs (`post`).
    Sse(EventSource),
}

impl Wire {
    pub fn close(&self) {
        match self {
            Wire::Ws(ws) => {
                let _ = ws.close();
            }
            Wire::Sse(es) => es.close(),
        }
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

pub fn open_ws() -> Option<Wire> {
    let url = ws_url()?;
    let ws = WebSocket::new(&url).ok()?;
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(|ev: MessageEvent| {
        if let Some(text) = ev.data().as_string() {
            on_text(&text);
        }
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let link = Wire::Ws(ws.clone());
    let this = link.clone();
    let onclose = Closure::<dyn Fn(CloseEvent)>::new(move |ev: CloseEvent| {
        // A socket that closed before its `hello`: blocked (a proxy or a filter that
        // refuses or drops the upgrade) or a server that is down. Twice in a row, and
        // the fallback takes over.
        let every = probe_every_ms();
        match CONN.with_borrow_mut(|c| c.link.ws_closed(&this, now(), every)) {
            None => {}
            Some(AfterClose::FallBack) => connect(),
            Some(AfterClose::Lost) => link_lost(ev.code()),
        }
    });
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
    // A handshake that hangs (some proxies hold it) counts as failed too.
    let this = link.clone();
    let timeout = Closure::once_into_js(move || {
        let stuck = CONN.with_borrow(|c| c.link.handshaking(&this));
        if stuck {
            this.close();
        }
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        timeout.unchecked_ref(),
        OPEN_TIMEOUT_MS,
    );
    Some(link)
}

fn is_current(link: &Wire) -> bool {
    CONN.with_borrow(|c| c.link.is_current(link))
}

/// The fallback's stream, opened with what this tab holds (its `resume`): the server
/// replays what is newer first, as after a WebSocket's `resume`.
pub fn open_sse() -> Option<Wire> {
    let resume = CONN.with_borrow(|c| c.positions.resume());
    let resume = serde_json::to_string(&resume).ok()?;
    let url = format!("/sse?resume={}", js_sys::encode_uri_component(&resume));
    let es = EventSource::new(&url).ok()?;
    let link = Wire::Sse(es.clone());
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

/// On the fallback, now and then: if a WebSocket works now (it says `hello`), go back
/// to it (its `resume` picks up exactly where the stream was).
pub fn probe_ws() {
    let Some(url) = ws_url() else { return };
    let Ok(ws) = WebSocket::new(&url) else { return };
    let every = probe_every_ms();
    CONN.with_borrow_mut(|c| c.link.probe_started(now(), every));
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
        let stream = CONN.with_borrow_mut(|c| c.link.probe_succeeded());
        if let Some(stream) = stream {
            stream.close();
        }
        connect();
    });
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let onclose = Closure::<dyn Fn()>::new(|| CONN.with_borrow_mut(|c| c.link.probe_ended()));
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    onclose.forget();
}

/// Queues a frame for `POST /frames`; one request at a time, in order.
pub fn post(text: String) {
    if CONN.with_borrow_mut(|c| c.posts.push(text)) {
        leptos::task::spawn_local(drain_posts());
    }
}

async fn drain_posts() {
    loop {
        let Some(body) = CONN.with_borrow_mut(|c| c.posts.next()) else {
            return;
        };
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
                CONN.with_borrow_mut(|c| c.posts.drop_all());
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
