//! The page's side of the service worker (`public/sw.js`, browser build only): it
//! registers the worker, subscribes this browser to Web Push with the server's VAPID
//! key, and tells the worker which chat a tab shows (it closes that chat's
//! notifications).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    PushManager, PushSubscription, PushSubscriptionOptionsInit, ServiceWorkerRegistration,
};

/// Whether this browser has service workers and Web Push (not in every browser, not
/// on plain `http://` except on localhost).
pub fn supported() -> bool {
    let w = leptos::prelude::window();
    let has =
        |target: &JsValue, name: &str| js_sys::Reflect::has(target, &name.into()).unwrap_or(false);
    has(&w.navigator(), "serviceWorker") && has(&w, "PushManager")
}

/// Registers `/sw.js` (once per page load; the browser keeps one per origin).
pub fn register() {
    if supported() {
        let registering = leptos::prelude::window()
            .navigator()
            .service_worker()
            .register("/sw.js");
        // Awaited so that a refusal (an untrusted certificate, a browser setting) is
        // handled here, not reported as the page's uncaught error: natter works without.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(registering).await;
        });
    }
}

/// Asks the worker to close the notifications of `chat` (a tab shows it now).
pub fn shown(chat: i64) {
    if !supported() {
        return;
    }
    if let Some(worker) = leptos::prelude::window()
        .navigator()
        .service_worker()
        .controller()
    {
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"read".into(), &JsValue::from_f64(chat as f64));
        let _ = worker.post_message(&message);
    }
}

async fn manager() -> Result<PushManager, JsValue> {
    let ready = leptos::prelude::window()
        .navigator()
        .service_worker()
        .ready()?;
    let registration: ServiceWorkerRegistration = JsFuture::from(ready).await?.unchecked_into();
    registration.push_manager()
}

async fn current() -> Result<Option<PushSubscription>, JsValue> {
    let found = JsFuture::from(manager().await?.get_subscription()?).await?;
    Ok((!found.is_null() && !found.is_undefined()).then(|| found.unchecked_into()))
}

/// This browser's subscription as `PushSubscription.toJSON()` gives it.
#[derive(serde::Deserialize)]
pub struct Keys {
    pub endpoint: String,
    pub keys: KeyPair,
}

#[derive(serde::Deserialize)]
pub struct KeyPair {
    pub p256dh: String,
    pub auth: String,
}

/// This browser's subscription (the one it has, else a new one for `key`).
pub async fn subscribe(key: &str) -> Result<Keys, String> {
    let run = async {
        let sub = match current().await? {
            Some(sub) => sub,
            None => {
                let options = PushSubscriptionOptionsInit::new();
                options.set_user_visible_only(true);
                options.set_application_server_key(&JsValue::from_str(key));
                JsFuture::from(manager().await?.subscribe_with_options(&options)?)
                    .await?
                    .unchecked_into()
            }
        };
        js_sys::JSON::stringify(&sub)
    };
    let json: String = run.await.map_err(describe)?.into();
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

/// Ends this browser's subscription; its endpoint, if it had one.
pub async fn unsubscribe() -> Option<String> {
    let sub = current().await.ok().flatten()?;
    let endpoint = sub.endpoint();
    if let Ok(p) = sub.unsubscribe() {
        let _ = JsFuture::from(p).await;
    }
    Some(endpoint)
}

fn describe(e: JsValue) -> String {
    js_sys::Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "this browser could not subscribe".into())
}
