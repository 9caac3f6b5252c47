//! The glue of server functions (`crate::api`): the state, the signed-in user, the
//! client's address and session token of the current call, and [`reply`], which turns
//! a server error into what the browser gets. Every signed-in server function is
//! `as_user(|app, user| async move { ... })` (or [`as_user_to`] for one that writes).

use crate::model::{AppError, User};
use crate::server::app::AppState;
use crate::server::base::error::{Error, Result};
use crate::server::base::net::ClientIp;
use crate::server::domain::auth::{cookie_name, token_named, AuthUser};
use crate::server::domain::limits::Write;
use leptos::prelude::use_context;
use std::future::Future;
use std::net::IpAddr;

/// The state of the current server function or page render.
pub fn state() -> Result<AppState> {
    use_context::<AppState>().ok_or_else(|| Error::internal("AppState missing from context"))
}

/// The signed-in user of the current server function or page render.
pub fn current_user() -> Result<User> {
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<AuthUser>().map(|u| u.0.clone()))
        .ok_or_else(|| AppError::Unauthorized.into())
}

/// The state and the signed-in user, for a server function that needs both.
pub fn signed_in() -> Result<(AppState, User)> {
    Ok((state()?, current_user()?))
}

/// [`signed_in`] for a server function that writes: within the user's per-user limit
/// for `write` (shared with the frames the SSE fallback POSTs), or `RateLimited` with a
/// `Retry-After` of a second (the quotas are per second).
pub fn signed_in_to(write: Write) -> Result<(AppState, User)> {
    let (state, user) = signed_in()?;
    if let Err(e) = state.user_limits.check(write, user.id) {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.insert_header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        return Err(e.into());
    }
    Ok((state, user))
}

/// Runs a server function's body for the signed-in user and [`reply`]s.
pub async fn as_user<T, F, Fut>(body: F) -> std::result::Result<T, AppError>
where
    F: FnOnce(AppState, User) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    reply(
        async {
            let (app, user) = signed_in()?;
            body(app, user).await
        }
        .await,
    )
}

/// [`as_user`] for a server function that writes (see [`signed_in_to`]).
pub async fn as_user_to<T, F, Fut>(write: Write, body: F) -> std::result::Result<T, AppError>
where
    F: FnOnce(AppState, User) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    reply(
        async {
            let (app, user) = signed_in_to(write)?;
            body(app, user).await
        }
        .await,
    )
}

/// Runs a server function's body that needs no user (sign-up, sign-in) and [`reply`]s.
pub async fn as_anyone<T, F, Fut>(body: F) -> std::result::Result<T, AppError>
where
    F: FnOnce(AppState) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    reply(async { body(state()?).await }.await)
}

/// The client's network in the current server function (absent when the router runs
/// without a socket).
pub fn client_ip() -> Option<IpAddr> {
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<ClientIp>().copied())
        .map(|ClientIp(ip)| ip)
}

/// The raw session token of the current server function's request.
pub fn session_token() -> Option<String> {
    let secure = state().is_ok_and(|s| s.config.secure_cookies());
    use_context::<http::request::Parts>().and_then(|p| token_named(&p.headers, cookie_name(secure)))
}

/// Finishes a server function: maps the error and sets the HTTP status.
///
/// Plain HTML form posts (JavaScript off) are the exception: leptos answers them with a
/// redirect back to the form carrying the error in the URL, and a 4xx here would
/// replace that redirect with a bare error body.
pub fn reply<T>(result: Result<T>) -> std::result::Result<T, AppError> {
    result.map_err(|e| {
        let app = AppError::from(e);
        set_status(&app);
        app
    })
}

/// Sets the response status for `err` on the current request (see [`reply`]).
pub fn set_status(err: &AppError) {
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let is_form_post = use_context::<http::request::Parts>()
        .map(|p| {
            p.uri.path().starts_with("/api/")
                && p.headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
        })
        .unwrap_or(false);
    if !is_form_post {
        if let Ok(status) = http::StatusCode::from_u16(err.status()) {
            res.set_status(status);
        }
    }
}
