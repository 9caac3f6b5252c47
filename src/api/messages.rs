//! Opening a chat, history pages, sending, editing, deleting, read pointers.

use crate::model::{AppError, ChatId, ChatView, HistoryPage, Message, MessageId};
use leptos::prelude::*;

/// A chat with its newest page of history, or the page before `before` (a seq), or the
/// page around message `at` (a seq; the page says `has_newer`). Called by the browser
/// (a POST), it marks the chat read when the page is the newest; rendering `GET
/// /chats/:id` changes nothing (a link, a prefetch or an `<img>` on another site must not
/// mark anything read): the hydrated page sends its read pointer itself.
#[server(endpoint = "open_chat")]
pub async fn open_chat(
    chat_id: ChatId,
    before: Option<i64>,
    at: Option<i64>,
) -> Result<ChatView, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move {
        let from_page_render =
            use_context::<http::request::Parts>().is_some_and(|p| p.method == http::Method::GET);
        state
            .chats
            .open(&user, chat_id, before, at, !from_page_render)
            .await
    })
    .await
}

/// The page of messages after `after` (a seq), oldest first, for scrolling down from a
/// message opened in the past.
#[server(endpoint = "newer_messages")]
pub async fn newer_messages(chat_id: ChatId, after: i64) -> Result<HistoryPage, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.chats.newer(&user, chat_id, after).await }).await
}

/// The page of messages before `before` (a seq), oldest first.
#[server(endpoint = "older_messages")]
pub async fn older_messages(chat_id: ChatId, before: i64) -> Result<HistoryPage, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.chats.older(&user, chat_id, before).await }).await
}

/// Sends a message. `client_id` makes it idempotent: a retry returns the original.
#[server(endpoint = "send_message")]
pub async fn send_message(
    chat_id: ChatId,
    client_id: String,
    body: String,
    #[server(default)] reply_to: Option<MessageId>,
) -> Result<Message, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Send, |state, user| async move {
        state
            .chats
            .send(&user, chat_id, &client_id, &body, reply_to, &[])
            .await
    })
    .await
}

/// Adds (`on`) or takes back my `emoji` reaction on a message of a chat I am in; returns
/// the message as it is now. Idempotent.
#[server(endpoint = "react_message")]
pub async fn react_message(
    message_id: MessageId,
    emoji: String,
    on: bool,
) -> Result<Message, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Change, |state, user| async move {
        state.chats.react(&user, message_id, &emoji, on).await?;
        state
            .store
            .message(message_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Message".into()).into())
    })
    .await
}

/// Edits one's own message.
#[server(endpoint = "edit_message")]
pub async fn edit_message(message_id: MessageId, body: String) -> Result<Message, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Change, |state, user| async move {
        state.chats.edit(&user, message_id, &body).await
    })
    .await
}

/// Deletes one's own message (it shows as "message deleted").
#[server(endpoint = "delete_message")]
pub async fn delete_message(message_id: MessageId) -> Result<Message, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Change, |state, user| async move {
        state.chats.delete(&user, message_id).await
    })
    .await
}

/// Moves the read pointer forward; returns where it now is.
#[server(endpoint = "mark_read")]
pub async fn mark_read(chat_id: ChatId, seq: i64) -> Result<i64, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Read, |state, user| async move {
        state.chats.mark_read(&user, chat_id, seq).await
    })
    .await
}
