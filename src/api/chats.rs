//! The chat list, creating chats, and group membership.

use crate::model::{AppError, Channel, ChatId, ChatSummary, MemberAdded, UserId};
use leptos::prelude::*;

/// The signed-in user's chats, most recently active first.
#[server(endpoint = "list_chats")]
pub async fn list_chats() -> Result<Vec<ChatSummary>, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.store.list_chats(user.id).await }).await
}

/// Creates a direct chat (one member, no title) or a group, then opens it.
#[server(endpoint = "create_chat")]
pub async fn create_chat(members: String, title: String) -> Result<ChatId, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let id = state.chats.create(&user, &members, &title).await?;
        leptos_axum::redirect(&format!("/chats/{id}"));
        Ok(id)
    })
    .await
}

/// The group's owner or an admin adds a member by username; when the person's "who can add me"
/// setting does not allow it, they are invited instead (`"invited"`).
#[server(endpoint = "add_member")]
pub async fn add_member(chat_id: ChatId, username: String) -> Result<MemberAdded, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.chats.add_member(&user, chat_id, &username).await
    })
    .await
}

/// The group's owner (anyone) or an admin (plain members) removes a member.
#[server(endpoint = "remove_member")]
pub async fn remove_member(chat_id: ChatId, user_id: UserId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.chats.remove_member(&user, chat_id, user_id).await
    })
    .await
}

/// The group's owner makes a member an admin (`admin`) or a plain member again.
#[server(endpoint = "set_member_role")]
pub async fn set_member_role(
    chat_id: ChatId,
    user_id: UserId,
    admin: bool,
) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state
            .chats
            .set_member_role(&user, chat_id, user_id, admin)
            .await
    })
    .await
}

/// The group's owner or an admin sets whether it is a public channel, whether every
/// member may mention `@all` / `@here` (both: present and not `false`, as an HTML
/// checkbox sends them) and its description.
#[server(endpoint = "set_chat_settings")]
pub async fn set_chat_settings(
    chat_id: ChatId,
    #[server(default)] public: Option<String>,
    #[server(default)] anyone_mentions_all: Option<String>,
    description: String,
) -> Result<(), AppError> {
    use crate::server::domain::chats::GroupSettings;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    let checked = |v: Option<String>| v.is_some_and(|v| v != "false");
    let settings = (checked(public), checked(anyone_mentions_all));
    as_user_to(Write::Manage, |state, user| async move {
        let (public, anyone_mentions_all) = settings;
        let settings = GroupSettings {
            public,
            anyone_mentions_all,
            description: &description,
        };
        state.chats.set_settings(&user, chat_id, settings).await
    })
    .await
}

/// The public channels (`query`: part of the title; empty: all), largest first, at
/// most 200, each with whether I am in it.
#[server(endpoint = "list_channels")]
pub async fn list_channels(#[server(default)] query: String) -> Result<Vec<Channel>, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.chats.channels(&user, &query).await }).await
}

/// Joins a public channel and opens it.
#[server(endpoint = "join_channel")]
pub async fn join_channel(chat_id: ChatId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.chats.join(&user, chat_id).await?;
        leptos_axum::redirect(&format!("/chats/{chat_id}"));
        Ok(())
    })
    .await
}

/// A member leaves a group and goes back to the chat list.
#[server(endpoint = "leave_chat")]
pub async fn leave_chat(chat_id: ChatId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.chats.leave(&user, chat_id).await?;
        leptos_axum::redirect("/chats");
        Ok(())
    })
    .await
}

/// Mutes (`muted` = true) or unmutes a chat I am in: no notifications from it; its
/// unread count still shows. Returns the new state.
#[server(endpoint = "set_muted")]
pub async fn set_muted(chat_id: ChatId, muted: bool) -> Result<bool, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        if !state.store.set_muted(chat_id, user.id, muted).await? {
            return Err(AppError::chat_not_found().into());
        }
        Ok(muted)
    })
    .await
}

/// Renames a group (its creator only). Members get the new title live.
#[server(endpoint = "rename_chat")]
pub async fn rename_chat(chat_id: ChatId, title: String) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.chats.rename(&user, chat_id, &title).await
    })
    .await
}
