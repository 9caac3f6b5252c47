//! A chat's shared files (the Files panel). Uploading and fetching the bytes are plain
//! HTTP routes, not server functions (`server::edge::files`, docs/API.md "Files").

use crate::model::{AppError, ChatId, FileId, FileInfo};
use leptos::prelude::*;

/// Files per page of the Files panel.
pub const CHAT_FILES_PAGE: i64 = 30;

/// The files shared in a chat I am a member of, newest first, [`CHAT_FILES_PAGE`] at a
/// time; `before`: the last id of the previous page.
#[server(endpoint = "chat_files")]
pub async fn chat_files(
    chat_id: ChatId,
    #[server(default)] before: Option<FileId>,
) -> Result<Vec<FileInfo>, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Read, |state, user| async move {
        state
            .files
            .of_chat(user.id, chat_id, before, CHAT_FILES_PAGE)
            .await
    })
    .await
}
