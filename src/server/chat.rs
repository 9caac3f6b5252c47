//! The chat domain: the rules every server function (and later the WebSocket) goes
//! through. Validation and authorization happen here; SQL happens in [`super::db`].
//!
//! Every message enters through [`send`], right where it is committed: live delivery
//! hooks in there.

use super::db::Store;
use super::Result;
use crate::model::{
    validate, AppError, ChatDetail, ChatId, ChatKind, ChatView, HistoryPage, Message, MessageId,
    User, UserId, PAGE_SIZE,
};

/// The chat as a member sees it; anyone else gets the same "not found".
pub async fn chat_for(store: &Store, user: &User, chat: ChatId) -> Result<ChatDetail> {
    store
        .chat_for_member(chat, user.id)
        .await?
        .ok_or_else(|| AppError::chat_not_found().into())
}

/// Opens a chat on its newest page (or the page before `before`), marking it read.
pub async fn open(
    store: &Store,
    user: &User,
    chat: ChatId,
    before: Option<i64>,
) -> Result<ChatView> {
    let detail = chat_for(store, user, chat).await?;
    let page = store.history(chat, before, PAGE_SIZE).await?;
    if before.is_none() && detail.last_seq > 0 {
        store.mark_read(chat, user.id, detail.last_seq).await?;
    }
    Ok(ChatView {
        me: user.clone(),
        chat: detail,
        page,
    })
}

/// An older page of history, for scrolling up.
pub async fn older(store: &Store, user: &User, chat: ChatId, before: i64) -> Result<HistoryPage> {
    if !store.is_member(chat, user.id).await? {
        return Err(AppError::chat_not_found().into());
    }
    store.history(chat, Some(before), PAGE_SIZE).await
}

/// Stores a message (idempotent on the client id) and returns it as committed.
pub async fn send(
    store: &Store,
    user: &User,
    chat: ChatId,
    client_id: &str,
    body: &str,
) -> Result<Message> {
    let body = validate::body(body)?;
    let client_id = validate::client_id(client_id)?;
    let (message, _inserted) = store
        .insert_message(chat, user.id, &client_id, &body)
        .await?;
    Ok(message)
}

pub async fn edit(store: &Store, user: &User, message: MessageId, body: &str) -> Result<Message> {
    let body = validate::body(body)?;
    store.edit_message(message, user.id, &body).await
}

pub async fn delete(store: &Store, user: &User, message: MessageId) -> Result<Message> {
    store.delete_message(message, user.id).await
}

pub async fn mark_read(store: &Store, user: &User, chat: ChatId, seq: i64) -> Result<i64> {
    store.mark_read(chat, user.id, seq).await
}

/// Resolves usernames, failing with the list of unknown ones.
async fn resolve_users(store: &Store, names: &[String]) -> Result<Vec<User>> {
    let users = store.users_by_names(names).await?;
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !users.iter().any(|u| &u.username == *n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(format!("No such user: {}", missing.join(", "))).into());
    }
    Ok(users)
}

/// Creates a chat from the new-chat form: one member and no title is a direct chat
/// (the existing one if the pair already has one); anything else is a group.
pub async fn create(store: &Store, user: &User, members: &str, title: &str) -> Result<ChatId> {
    let title = validate::title(title)?;
    let names: Vec<String> = validate::member_list(members)?
        .into_iter()
        .filter(|n| *n != user.username)
        .collect();
    if names.is_empty() {
        return Err(AppError::invalid("Add someone other than yourself").into());
    }
    let others = resolve_users(store, &names).await?;
    if let ([other], None) = (others.as_slice(), &title) {
        let (id, _created) = store.find_or_create_dm(user.id, other.id).await?;
        return Ok(id);
    }
    let title = title.unwrap_or_else(|| {
        let mut all: Vec<&str> = vec![user.username.as_str()];
        all.extend(others.iter().map(|u| u.username.as_str()));
        let joined = all.join(", ");
        joined.chars().take(validate::TITLE_MAX).collect()
    });
    let ids: Vec<UserId> = others.iter().map(|u| u.id).collect();
    store.create_group(user.id, Some(&title), &ids).await
}

/// Only a group's creator may add and remove members.
async fn group_as_creator(store: &Store, user: &User, chat: ChatId) -> Result<ChatDetail> {
    let detail = chat_for(store, user, chat).await?;
    if detail.kind != ChatKind::Group {
        return Err(AppError::invalid("Direct chats have exactly two members").into());
    }
    if detail.creator_id != Some(user.id) {
        return Err(AppError::Forbidden.into());
    }
    Ok(detail)
}

pub async fn add_member(store: &Store, user: &User, chat: ChatId, username: &str) -> Result<()> {
    let detail = group_as_creator(store, user, chat).await?;
    let name = validate::username(username)?;
    if detail.members.len() >= validate::GROUP_MAX_MEMBERS {
        return Err(AppError::invalid("This group is full").into());
    }
    let found = resolve_users(store, &[name]).await?;
    for u in found {
        store.add_member(chat, u.id).await?;
    }
    Ok(())
}

pub async fn remove_member(store: &Store, user: &User, chat: ChatId, member: UserId) -> Result<()> {
    group_as_creator(store, user, chat).await?;
    if member == user.id {
        return Err(AppError::invalid("Use “Leave group” to leave").into());
    }
    if !store.remove_member(chat, member).await? {
        return Err(AppError::NotFound("Member".into()).into());
    }
    Ok(())
}

/// A member leaves a group (direct chats cannot be left).
pub async fn leave(store: &Store, user: &User, chat: ChatId) -> Result<()> {
    let detail = chat_for(store, user, chat).await?;
    if detail.kind != ChatKind::Group {
        return Err(AppError::invalid("You can't leave a direct chat").into());
    }
    store.remove_member(chat, user.id).await?;
    Ok(())
}
