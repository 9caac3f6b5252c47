//! Notifications: for a direct message or a mention of me, from a chat I have not
//! muted, never for my own messages. Permission is asked only when the "Enable
//! notifications" button is clicked, never on load.
//!
//! Where the browser has Web Push ([`worker`]), the button subscribes this browser and
//! the server pushes while none of my tabs is visible, even with every tab closed; the
//! page then shows none of its own ("Disable notifications" ends it). Elsewhere, or when
//! the browser's push service refuses, the page notifies while its tab is hidden.

use super::time::Hydrated;
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
pub mod worker;

#[cfg(feature = "hydrate")]
thread_local! {
    /// This browser gets Web Push: the page shows no notifications of its own.
    static PUSHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Registers the service worker (browser only; once the page is live).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn start_worker() {
    #[cfg(feature = "hydrate")]
    worker::register();
}

/// A tab shows `chat` now: its notifications in this browser go.
pub fn chat_shown(chat: i64) {
    #[cfg(feature = "hydrate")]
    worker::shown(chat);
    #[cfg(not(feature = "hydrate"))]
    let _ = chat;
}

/// What the browser allows (only the browser build reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Permission {
    /// Not asked yet: the button shows.
    Ask,
    Granted,
    Denied,
    /// No Notification API here (or not in a browser).
    Unsupported,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn permission() -> Permission {
    #[cfg(feature = "hydrate")]
    {
        let has_api = js_sys::Reflect::has(&window(), &"Notification".into()).unwrap_or(false);
        if !has_api {
            return Permission::Unsupported;
        }
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => Permission::Granted,
            web_sys::NotificationPermission::Denied => Permission::Denied,
            _ => Permission::Ask,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Permission::Unsupported
    }
}

/// Shows a notification; a click on it focuses the tab and calls `open`.
pub fn show(title: &str, body: &str, tag: &str, open: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        if permission() != Permission::Granted || PUSHED.get() {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        if let Ok(n) = web_sys::Notification::new_with_options(title, &options) {
            let shown = n.clone();
            let click = Closure::once_into_js(move || {
                let _ = window().focus();
                shown.close();
                open();
            });
            n.set_onclick(Some(click.unchecked_ref()));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (title, body, tag, open);
}

/// What the button offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Offer {
    /// Nothing (before the page is live, no API, permission denied, or page
    /// notifications already on).
    None,
    Enable,
    Disable,
}

/// "Enable notifications" (permission, then this browser's Web Push subscription) or
/// "Disable notifications" once this browser has one; shown once the page is live.
#[component]
pub fn NotifyButton() -> impl IntoView {
    let hydrated = use_context::<Hydrated>();
    let offer = RwSignal::new(Offer::None);
    let busy = RwSignal::new(false);
    let note = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if hydrated.is_some_and(|h| h.0.get()) {
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move { offer.set(settle().await) });
        }
    });
    let click = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        note.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = if offer.get_untracked() == Offer::Disable {
                disable().await
            } else {
                enable().await
            };
            if let Err(e) = result {
                note.set(Some(e));
            }
            offer.set(settle().await);
            busy.set(false);
        });
    };
    // One element while shown (keyboard focus stays on it across a click), and a live
    // region that is there before its text (else screen readers may not announce it).
    let shown = Memo::new(move |_| offer.get() != Offer::None);
    view! {
        {move || shown.get().then(|| view! {
            <button class="btn btn-ghost btn-small notify-button" type="button"
                on:click=click disabled=move || busy.get()>
                {move || if offer.get() == Offer::Disable { "Disable notifications" } else { "Enable notifications" }}
            </button>
        })}
        <p class="muted notify-note" aria-live="polite">{move || note.get()}</p>
    }
}

/// What to offer now, from the permission and the server's list of this account's
/// devices (the browser may keep a subscription the server has dropped).
#[cfg(feature = "hydrate")]
async fn settle() -> Offer {
    let push = worker::supported();
    let on = push
        && permission() == Permission::Granted
        && crate::api::push::load_push_settings()
            .await
            .is_ok_and(|s| s.devices.iter().any(|d| d.this_browser));
    PUSHED.set(on);
    match permission() {
        _ if on => Offer::Disable,
        Permission::Ask => Offer::Enable,
        Permission::Granted if push => Offer::Enable,
        _ => Offer::None,
    }
}

#[cfg(feature = "hydrate")]
async fn enable() -> Result<(), String> {
    if let Ok(promise) = web_sys::Notification::request_permission() {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    if permission() != Permission::Granted || !worker::supported() {
        return Ok(());
    }
    let settings = crate::api::push::load_push_settings()
        .await
        .map_err(|e| e.to_string())?;
    let sub = worker::subscribe(&settings.key).await.map_err(|e| {
        // Page notifications while a tab is open stay on.
        format!("Notifications show only while natter is open here: {e}")
    })?;
    crate::api::push::push_subscribe(sub.endpoint, sub.keys.p256dh, sub.keys.auth)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(feature = "hydrate")]
async fn disable() -> Result<(), String> {
    // No subscription left in the browser (cleared with the site's data): the server
    // forgets this session's (an empty endpoint says so).
    let endpoint = worker::unsubscribe().await.unwrap_or_default();
    crate::api::push::push_unsubscribe(endpoint)
        .await
        .map_err(|e| e.to_string())
}
