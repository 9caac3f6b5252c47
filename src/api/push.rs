//! Web Push (issue 33): the browser's subscription, the devices list of /account, and
//! private previews. The endpoint a browser hands over is a URL the server will POST
//! to: `domain::push::guard` checks it (public `https://` only).

use crate::model::{AppError, PushSettings};
use leptos::prelude::*;

/// The VAPID key to subscribe with, whether previews show text, and the devices that
/// receive notifications (newest first; `this_browser` marks the one asking).
#[server(endpoint = "push_settings")]
pub async fn load_push_settings() -> Result<PushSettings, AppError> {
    use crate::server::domain::auth::hash_token;
    use crate::server::edge::calls::{as_user, session_token};
    as_user(|state, user| async move {
        let mine = session_token().map(|t| hash_token(&t));
        let devices = state.push.devices(user.id, mine.as_deref()).await?;
        Ok(PushSettings {
            key: state.push.public_key().await?,
            previews: state.store.push_previews(user.id).await?,
            devices,
        })
    })
    .await
}

/// Saves this browser's subscription (`PushSubscription.toJSON()`: the endpoint and the
/// keys `p256dh` and `auth`, base64url) for this session. Errors: 400 (an endpoint
/// that is not public `https://`, keys of the wrong shape), 401, 429.
#[server(endpoint = "push_subscribe")]
pub async fn push_subscribe(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<(), AppError> {
    use crate::server::domain::auth::hash_token;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::{as_user_to, session_token};
    as_user_to(Write::Manage, |state, user| async move {
        let session = session_token()
            .map(|t| hash_token(&t))
            .ok_or(AppError::Unauthorized)?;
        let agent = use_context::<http::request::Parts>()
            .and_then(|p| p.headers.get(http::header::USER_AGENT).cloned())
            .and_then(|v| v.to_str().map(str::to_string).ok())
            .unwrap_or_default();
        state
            .push
            .subscribe(user.id, &session, &endpoint, &p256dh, &auth, &agent)
            .await
    })
    .await
}

/// Forgets this browser's subscription ("Disable notifications"): the one with
/// `endpoint`, or with an empty `endpoint` the one this session made (a browser that no
/// longer has its own). Errors: 401, 429.
#[server(endpoint = "push_unsubscribe")]
pub async fn push_unsubscribe(endpoint: String) -> Result<(), AppError> {
    use crate::server::domain::auth::hash_token;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::{as_user_to, session_token};
    as_user_to(Write::Manage, |state, user| async move {
        if endpoint.is_empty() {
            let mine = session_token().map(|t| hash_token(&t));
            for d in state.store.push_devices(user.id).await? {
                if mine.as_deref() == Some(d.session_hash.as_slice()) {
                    state
                        .store
                        .remove_push_subscription(user.id, Some(d.id), None)
                        .await?;
                }
            }
            return Ok(());
        }
        state
            .store
            .remove_push_subscription(user.id, None, Some(&endpoint))
            .await?;
        Ok(())
    })
    .await
}

/// Removes one of the account's devices (/account, "Remove"). Errors: 404 (not one of
/// yours), 401, 429.
#[server(endpoint = "remove_push_device")]
pub async fn remove_push_device(id: i64) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        if !state
            .store
            .remove_push_subscription(user.id, Some(id), None)
            .await?
        {
            return Err(AppError::NotFound("No such device".into()).into());
        }
        leptos_axum::redirect("/account?done=devices");
        Ok(())
    })
    .await
}

/// Whether notifications show the start of the text (`on`) or only "New message".
#[server(endpoint = "set_push_previews")]
pub async fn set_push_previews(on: bool) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.store.set_push_previews(user.id, on).await?;
        leptos_axum::redirect("/account?done=devices");
        Ok(())
    })
    .await
}
