//! Consent (issue 29): block and unblock people, who may add me to groups, and the
//! group invitations that adds become when that setting does not allow them. The rules
//! are in `server::domain::consent`; every write is limited like other management writes.

use crate::model::{AppError, ChatId, Consent, GroupAdds, Invitation, UserId};
use leptos::prelude::*;

/// My "who can add me to groups" setting and the people I blocked.
#[server(endpoint = "consent_settings")]
pub async fn consent_settings() -> Result<Consent, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.consent.settings(&user).await }).await
}

/// Sets who may add me to groups directly: `anyone`, `shared` (people I share a chat
/// with) or `nobody`; anyone else's add becomes an invitation.
#[server(endpoint = "set_group_adds")]
pub async fn set_group_adds(group_adds: String) -> Result<GroupAdds, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let adds = state.consent.set_group_adds(&user, &group_adds).await?;
        // /account's form comes back saying so.
        leptos_axum::redirect("/account?done=privacy");
        Ok(adds)
    })
    .await
}

/// Blocks a person: no direct messages either way, no adds, no presence either way.
#[server(endpoint = "block_user")]
pub async fn block_user(user_id: UserId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.consent.block(&user, user_id).await
    })
    .await
}

/// Takes a block back.
#[server(endpoint = "unblock_user")]
pub async fn unblock_user(user_id: UserId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.consent.unblock(&user, user_id).await
    })
    .await
}

/// The groups I was invited to and have not answered, newest first (at most 100).
#[server(endpoint = "list_invitations")]
pub async fn list_invitations() -> Result<Vec<Invitation>, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.store.invitations(user.id).await }).await
}

/// Accepts an invitation: I join the group, and the page opens it.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(chat_id: ChatId) -> Result<ChatId, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.consent.accept_invitation(&user, chat_id).await?;
        leptos_axum::redirect(&format!("/chats/{chat_id}"));
        Ok(chat_id)
    })
    .await
}

/// Declines an invitation: it goes, and I never was a member.
#[server(endpoint = "decline_invitation")]
pub async fn decline_invitation(chat_id: ChatId) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.consent.decline_invitation(&user, chat_id).await
    })
    .await
}
