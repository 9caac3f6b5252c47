//! Browser notifications: for a direct message or a mention of me, while the tab is
//! hidden, from a chat I have not muted, never for my own messages. Permission is asked
//! only when the "Enable notifications" button is clicked, never on load.

use super::time::Hydrated;
use leptos::prelude::*;

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
        if permission() != Permission::Granted {
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

/// "Enable notifications", shown once the page is live while the browser has not been
/// asked yet; asks on click.
#[component]
pub fn NotifyButton() -> impl IntoView {
    let hydrated = use_context::<Hydrated>();
    let state = RwSignal::new(Permission::Unsupported);
    Effect::new(move |_| {
        if hydrated.is_some_and(|h| h.0.get()) {
            state.set(permission());
        }
    });
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if let Ok(promise) = web_sys::Notification::request_permission() {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            }
            state.set(permission());
        });
    };
    move || {
        (state.get() == Permission::Ask).then(|| {
            view! {
                <button class="btn btn-ghost btn-small notify-button" type="button" on:click=ask>
                    "Enable notifications"
                </button>
            }
        })
    }
}
