//! The pages rendered on the server only (`ui::plain`): `/admin` for administrators,
//! `/reset` for a password reset link and `/channels`, the directory of public
//! channels. They are not routes of the client's app, so the session guard does not
//! know them: each checks its visitor here.

use crate::server::app::AppState;
use crate::server::domain::auth::AuthUser;
use crate::ui::plain;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;

/// `/admin`'s address: the people search and page, and what an action sent back.
#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: i64,
    /// The token of the invitation just made.
    invitation: Option<String>,
    /// The token of the reset link just made.
    reset: Option<String>,
    #[serde(rename = "__err")]
    err: Option<String>,
}

pub async fn admin(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    query: Result<Query<AdminQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(AuthUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let admin = &state.admin;
    let gathered = async {
        let mut figures = admin.figures(&me).await?;
        figures.connections = state.hub.connection_count() as i64;
        let people = admin.people(&me, &q.q, q.page).await?;
        // Whose link it is comes from the link itself (an address naming someone else
        // beside a real link must not mislead), and only a link that still works shows.
        let reset = match q.reset.as_deref().filter(|t| is_token(t)) {
            Some(token) => admin.reset_for(token).await?.map(|user| {
                let link = format!("{}/reset?token={token}", state.config.public_origin);
                (user.username, link)
            }),
            None => None,
        };
        Ok::<_, crate::server::Error>(plain::admin::AdminView {
            figures,
            mode: admin.mode().await?,
            invitations: admin.invitations(&me).await?,
            new_invitation: q
                .invitation
                .as_deref()
                .filter(|t| is_token(t))
                .map(|t| format!("{}/signup?invite={t}", state.config.public_origin)),
            people,
            query: q.q.chars().take(32).collect(),
            page: q.page.max(0),
            reset,
            audit: admin
                .audit(&me, None)
                .await?
                .into_iter()
                .map(|(_, e)| e)
                .collect(),
            error: plain::address_error(q.err.as_deref()),
            me: me.clone(),
        })
    };
    match gathered.await {
        Ok(view) => html(StatusCode::OK, plain::admin::page(view)),
        Err(e) => {
            let e = crate::model::AppError::from(e);
            let status = status_of(&e);
            let text = if status == StatusCode::FORBIDDEN {
                "Only administrators can open this page.".to_string()
            } else {
                e.to_string()
            };
            html(status, plain::message_page("Administration", &text))
        }
    }
}

/// `/reset?token=…`.
#[derive(Debug, Default, Deserialize)]
pub struct ResetQuery {
    #[serde(default)]
    token: String,
    #[serde(rename = "__err")]
    err: Option<String>,
}

pub async fn reset(
    State(state): State<AppState>,
    query: Result<Query<ResetQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let name = match state.admin.reset_for(&q.token).await {
        Ok(user) => user.map(|u| u.username),
        Err(e) => {
            tracing::error!(error = %e, "reset link lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable").into_response();
        }
    };
    let token = if is_token(&q.token) {
        q.token.as_str()
    } else {
        ""
    };
    let status = if name.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    html(
        status,
        plain::reset::page(token, name, plain::address_error(q.err.as_deref())),
    )
}

/// What natter's tokens look like (64 hex digits); nothing else goes into a page.
fn is_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The HTTP status of a refusal, for the server's own pages.
pub(super) fn status_of(e: &crate::model::AppError) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, Html(body)).into_response();
    // Links and names of people: never kept by a cache.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// `GET /account`.
pub async fn account(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    headers: axum::http::HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    use crate::server::domain::auth::{cookie_name, hash_token, token_named};
    let Some(Extension(AuthUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    // What a form's post sent back. A failed post appends its error to the address it
    // came from, so a second failure brings two: the newest is the last. An error
    // hides the note of an earlier success the address still carries.
    let (mut err, mut done) = (None, None);
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "__err" => err = Some(value.into_owned()),
            "done" => done = Some(value.into_owned()),
            _ => {}
        }
    }
    let done = if err.is_some() { None } else { done };
    let session =
        token_named(&headers, cookie_name(state.config.secure_cookies())).map(|t| hash_token(&t));
    let gathered = async {
        Ok::<_, crate::server::Error>(plain::account::AccountView {
            profile: state.profiles.profile(me.id).await?,
            consent: state.consent.settings(&me).await?,
            previews: state.store.push_previews(me.id).await?,
            devices: state.push.devices(me.id, session.as_deref()).await?,
            error: plain::address_error(err.as_deref()),
            done: done.as_deref().and_then(plain::account::done_message),
        })
    };
    match gathered.await {
        Ok(view) => html(StatusCode::OK, plain::account::page(view)),
        Err(e) => {
            let e = crate::model::AppError::from(e);
            let status = status_of(&e);
            html(status, plain::message_page("Account", &e.to_string()))
        }
    }
}

/// `/channels?q=…`.
#[derive(Debug, Default, Deserialize)]
pub struct ChannelsQuery {
    #[serde(default)]
    q: String,
    #[serde(rename = "__err")]
    err: Option<String>,
}

pub async fn channels(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    query: Result<Query<ChannelsQuery>, QueryRejection>,
) -> Response {
    let Some(Extension(AuthUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let query: String = q.q.chars().take(100).collect();
    match state.chats.channels(&me, &query).await {
        Ok(list) => html(
            StatusCode::OK,
            plain::channels::page(list, query, plain::address_error(q.err.as_deref())),
        ),
        Err(e) => {
            let e = crate::model::AppError::from(e);
            let status = status_of(&e);
            html(status, plain::message_page("Channels", &e.to_string()))
        }
    }
}
