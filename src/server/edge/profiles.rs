//! The profile routes (docs/API.md, "Profiles"):
//!
//! - `POST /account/avatar`: /account's avatar form (multipart, one file `avatar`; the
//!   router limits the body to the largest avatar and a little more, so the parser
//!   never holds more). Back to /account; a refusal is a page that says why (JSON for
//!   a client that asks for it).
//! - `GET /avatars/{id}/{side}`: an avatar's picture (JPEG), for anyone signed in. Its
//!   address carries the avatar's version (`?v=`), so it is cached for good.
//! - `GET /people/{id}`: a person's profile page, rendered on the server only
//!   (`ui::plain::profile`), with "Message" to start a direct chat.

use super::files::signed_in;
use super::pages::{html, status_of};
use crate::model::{AppError, UserId};
use crate::server::app::AppState;
use crate::server::domain::auth::AuthUser;
use crate::server::domain::limits::Write;
use crate::server::domain::profiles::{avatar_too_large, local_time, AVATAR_MAX_BYTES};
use crate::server::Error;
use crate::ui::plain;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};

/// Body limit of `POST /account/avatar`: the picture and the form's framing.
pub const AVATAR_FORM_BYTES: usize = AVATAR_MAX_BYTES + 64 * 1024;

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `POST /account/avatar`.
pub async fn upload_avatar(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let json = wants_json(&headers);
    let outcome = async {
        let user = signed_in(user)?;
        state.user_limits.check(Write::Manage, user.id)?;
        let bytes = read_avatar(form).await?;
        state.profiles.set_avatar(&user, bytes).await
    }
    .await;
    match (outcome, json) {
        (Ok(version), true) => Json(serde_json::json!({ "avatar": version })).into_response(),
        (Ok(_), false) => Redirect::to("/account?done=avatar").into_response(),
        (Err(e), true) => e.into_response(),
        (Err(e), false) => {
            let e = AppError::from(e);
            html(status_of(&e), plain::message_page("Avatar", &e.to_string()))
        }
    }
}

/// The form's `avatar` file, at most [`AVATAR_MAX_BYTES`]; other fields are skipped.
async fn read_avatar(mut form: Multipart) -> Result<Vec<u8>, Error> {
    // Past the router's body limit the parser says 413: the picture is too large.
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            avatar_too_large()
        } else {
            AppError::invalid("The form could not be read")
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        if field.name() != Some("avatar") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
            if bytes.len() + chunk.len() > AVATAR_MAX_BYTES {
                return Err(avatar_too_large().into());
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            break;
        }
        return Ok(bytes);
    }
    Err(AppError::invalid("Choose a picture for the avatar").into())
}

/// An avatar address's version (`?v=`).
#[derive(serde::Deserialize)]
pub struct AvatarQuery {
    v: Option<i64>,
}

/// `GET /avatars/{id}/{side}?v=VERSION`.
pub async fn avatar(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Path((id, side)): Path<(UserId, u32)>,
    query: Result<Query<AvatarQuery>, QueryRejection>,
) -> Result<Response, Error> {
    signed_in(user)?;
    let (jpeg, version) = state.profiles.avatar(id, side).await?;
    let asked = query.ok().and_then(|Query(q)| q.v);
    let mut res = jpeg.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    // An address that names the current version is kept for good (a new avatar has a
    // new address); any other is asked again each time.
    let cache = if asked == Some(version) {
        "private, max-age=31536000, immutable"
    } else {
        "private, no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(res)
}

/// `GET /people/{id}`.
pub async fn person(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Path(id): Path<UserId>,
) -> Response {
    let Some(Extension(AuthUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    let looked_up = match state.user_limits.check(Write::Read, me.id) {
        Ok(()) => state.profiles.profile(id).await,
        Err(e) => Err(e.into()),
    };
    // Names and local times of people: never kept by a cache (`html`: no-store).
    let (status, page) = match looked_up {
        Ok(profile) => {
            let now = local_time(&profile.time_zone, crate::server::db::now_ms());
            let view = plain::profile::ProfileView {
                mine: profile.id == me.id,
                local_time: now,
                profile,
            };
            (StatusCode::OK, plain::profile::page(view))
        }
        Err(e) => {
            let e = AppError::from(e);
            let status = status_of(&e);
            let text = if status == StatusCode::NOT_FOUND {
                "No one here by that address.".to_string()
            } else {
                e.to_string()
            };
            (status, plain::message_page("Profile", &text))
        }
    };
    html(status, page)
}
