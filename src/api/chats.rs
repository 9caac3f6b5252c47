//! The chat list, creating chats, and group membership.

use crate::model::{AppError, ChatId, ChatSummary, MemberAdded, UserId};
use leptos::prelude::*;

/// The signed-in user's chats, most recently active first.
#[server(endpoint = "list_chats")]
pub async fn list_chats() -> Result<Vec<ChatSummary>, AppError> {
    use crate::server::{auth, error::reply};
    reply(
        async {
            let (state, user) = auth::signed_in()?;
            state.store.list_chats(user.id).await
        }
        .await,
    )
}

/// Creates a direct chat (one member, no title) or a group, then opens it.
#[server(endpoint = "create_chat")]
pub async fn create_chat(members: String, title: String) -> Result<ChatId, AppError> {
    use crate::server::{auth, chat, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            let id = chat::create(&state, &user, &members, &title).await?;
            leptos_axum::redirect(&format!("/chats/{id}"));
            Ok(id)
        }
        .await,
    )
}

/// The group's creator adds a member by username; when the person's "who can add me"
/// setting does not allow it, they are invited instead (`"invited"`).
#[server(endpoint = "add_member")]
pub async fn add_member(chat_id: ChatId, username: String) -> Result<MemberAdded, AppError> {
    use crate::server::{auth, chat, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            chat::add_member(&state, &user, chat_id, &username).await
        }
        .await,
    )
}

/// The group's creator removes a member.
#[server(endpoint = "remove_member")]
pub async fn remove_member(chat_id: ChatId, user_id: UserId) -> Result<(), AppError> {
    use crate::server::{auth, chat, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            chat::remove_member(&state, &user, chat_id, user_id).await
        }
        .await,
    )
}

/// A member leaves a group and goes back to the chat list.
#[server(endpoint = "leave_chat")]
pub async fn leave_chat(chat_id: ChatId) -> Result<(), AppError> {
    use crate::server::{auth, chat, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            chat::leave(&state, &user, chat_id).await?;
            leptos_axum::redirect("/chats");
            Ok(())
        }
        .await,
    )
}

/// Mutes (`muted` = true) or unmutes a chat I am in: no notifications from it; its
/// unread count still shows. Returns the new state.
#[server(endpoint = "set_muted")]
pub async fn set_muted(chat_id: ChatId, muted: bool) -> Result<bool, AppError> {
    use crate::server::{auth, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            if !state.store.set_muted(chat_id, user.id, muted).await? {
                return Err(AppError::chat_not_found().into());
            }
            Ok(muted)
        }
        .await,
    )
}

/// Renames a group (its creator only). Members get the new title live.
#[server(endpoint = "rename_chat")]
pub async fn rename_chat(chat_id: ChatId, title: String) -> Result<(), AppError> {
    use crate::server::{auth, chat, error::reply, limits::Write};
    reply(
        async {
            let (state, user) = auth::signed_in_to(Write::Manage)?;
            chat::rename(&state, &user, chat_id, &title).await
        }
        .await,
    )
}
