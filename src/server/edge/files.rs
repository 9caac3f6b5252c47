//! The file routes (docs/API.md, "Files"):
//!
//! - `POST /api/files?chat_id=&name=`: one file as the request's body, streamed to
//!   storage (`domain::files`). Answers the stored file as JSON (`FileInfo`), to be named
//!   in a `send` frame's `files`.
//! - `GET /files/{id}/{name}`: the bytes, for members of the file's chat only (checked
//!   on every request). Images of the safe subset are shown inline; everything else is
//!   an attachment (`application/octet-stream`). Every answer is sandboxed by the
//!   router's CSP and `nosniff`, so an uploaded HTML or SVG never runs in natter's origin.
//! - `GET /thumbs/{id}`: the thumbnail (JPEG) of an image.
//! - `POST /chats/{id}/files`: the composer's plain form (no JavaScript): multipart,
//!   `client_id`, then the files (all together at most `--file-max-mb`: the router
//!   limits the body, so the parser never holds more); uploads them, sends them as one
//!   message and goes back to the chat.

use crate::model::{AppError, ChatId, FileId, FileInfo, User};
use crate::server::app::AppState;
use crate::server::domain::auth::AuthUser;
use crate::server::domain::files::Download;
use crate::server::Error;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::TryStreamExt;

/// Files one `POST /api/files` may carry.
const FILES_PER_UPLOAD: usize = crate::model::validate::FILES_PER_MESSAGE;

pub(super) fn signed_in(user: Option<Extension<AuthUser>>) -> Result<crate::model::User, Error> {
    user.map(|Extension(AuthUser(u))| u)
        .ok_or_else(|| AppError::Unauthorized.into())
}

#[derive(serde::Deserialize)]
pub struct UploadQuery {
    chat_id: ChatId,
    name: String,
}

/// `POST /api/files?chat_id=ID&name=NAME`: one file, the request's body as it is (no
/// multipart to parse: nothing but the file's bytes is ever read, and they stream).
pub async fn upload(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Result<Json<FileInfo>, Error> {
    let user = signed_in(user)?;
    let bytes = Box::pin(body.into_data_stream());
    let file = state.files.upload(&user, q.chat_id, &q.name, bytes).await?;
    Ok(Json(file))
}

/// `POST /chats/{id}/files`: the no-JavaScript way to share files.
pub async fn send_form(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Path(chat): Path<ChatId>,
    mut form: Multipart,
) -> Result<Response, Error> {
    let user = signed_in(user)?;
    // Counted as one of the person's uploads while the body is parsed: the parser holds
    // what precedes a part's data (up to the body limit), so this bounds it per person.
    let _parsing = state.files.claim_user_slot(user.id)?;
    let mut client_id = String::new();
    let mut files = Vec::new();
    // Whatever ends the form early, the files it stored go at once (not after a day,
    // counted against the sender's quota meanwhile).
    let read = read_form(&state, &user, chat, &mut form, &mut client_id, &mut files).await;
    if let Err(e) = read {
        state.files.forget_unsent(&files).await;
        return Err(e);
    }
    if files.is_empty() {
        return Err(AppError::invalid("Choose a file to send").into());
    }
    // Files no message took (a refusal, or a form posted twice whose first message
    // stands) should not wait a day, counting against the quota.
    match state
        .chats
        .send(&user, chat, &client_id, "", None, &files)
        .await
    {
        Ok(sent) => {
            let left: Vec<FileId> = files
                .iter()
                .filter(|id| !sent.files.iter().any(|f| f.id == **id))
                .copied()
                .collect();
            state.files.forget_unsent(&left).await;
        }
        Err(e) => {
            state.files.forget_unsent(&files).await;
            return Err(e);
        }
    }
    Ok(axum::response::Redirect::to(&format!("/chats/{chat}")).into_response())
}

/// `GET /files/{id}/{name}`.
pub async fn download(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Path((id, _name)): Path<(FileId, String)>,
) -> Result<Response, Error> {
    let user = signed_in(user)?;
    Ok(respond(state.files.open(user.id, id, false).await?, false))
}

/// `GET /thumbs/{id}`.
pub async fn thumbnail(
    State(state): State<AppState>,
    user: Option<Extension<AuthUser>>,
    Path(id): Path<FileId>,
) -> Result<Response, Error> {
    let user = signed_in(user)?;
    Ok(respond(state.files.open(user.id, id, true).await?, true))
}

fn respond(download: Download, thumb: bool) -> Response {
    let Download {
        info,
        reading,
        inline,
    } = download;
    let mime = if thumb {
        "image/jpeg"
    } else if inline {
        info.mime.as_str()
    } else {
        "application/octet-stream"
    };
    let disposition = content_disposition(
        if inline || thumb {
            "inline"
        } else {
            "attachment"
        },
        &info.name,
    );
    let mut res = Response::new(Body::from_stream(reading.bytes));
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reading.size));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // Other sites may not embed it (an image tag elsewhere would send the cookie).
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    // A file never changes under its id (ids are never reused); access is checked on
    // every request, so only the browser that fetched it keeps a copy.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    res
}

/// `inline` or `attachment` with the name twice: plain ASCII (anything else as `_`) for
/// old clients, and RFC 5987's UTF-8 form that browsers prefer.
pub fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Reads the no-JavaScript form's parts: its client id, and each file uploaded as it
/// comes (their ids pushed to `files`, so the caller can undo them on an error).
async fn read_form(
    state: &AppState,
    user: &User,
    chat: ChatId,
    form: &mut Multipart,
    client_id: &mut String,
    files: &mut Vec<FileId>,
) -> Result<(), Error> {
    let bad = |e: axum::extract::multipart::MultipartError| -> Error {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::TooLarge("The files are too large together".into()).into();
        }
        AppError::invalid(format!("Bad upload: {}", e.body_text())).into()
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("client_id") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > 256 {
                        return Err(AppError::invalid("Bad client id").into());
                    }
                }
                *client_id = String::from_utf8_lossy(&text).into_owned();
            }
            // A form posted with no file chosen still has one empty, nameless part.
            Some("file") if field.file_name().is_none_or(str::is_empty) => {}
            Some("file") => {
                if files.len() == FILES_PER_UPLOAD {
                    return Err(AppError::invalid(format!(
                        "At most {FILES_PER_UPLOAD} files at once"
                    ))
                    .into());
                }
                let name = field.file_name().unwrap_or("file").to_string();
                let bytes = field.map_err(|e| e.body_text());
                files.push(
                    state
                        .files
                        .upload(user, chat, &name, Box::pin(bytes))
                        .await?
                        .id,
                );
            }
            _ => return Err(AppError::invalid("Unknown form field in an upload").into()),
        }
    }
    Ok(())
}
