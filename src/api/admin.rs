//! The instance's administration (issue 34): every function here but `load_signup_info` and `reset_password` is for active administrators only (403 for anyone else). The
//! administration page (`/admin`) posts to them as plain HTML forms and gets sent back
//! to it; API clients get JSON. Rules: `server::domain::admin`.

use crate::model::admin::{AuditEntry, InstanceFigures, InvitationLink, PeoplePage, SignupInfo};
use crate::model::AppError;
use leptos::prelude::*;

/// What the sign-up page says: the mode, whether this is the instance's first account
/// (the administrator), and who made the invitation `invite` (the token in the link) if
/// it can still be used.
#[server(endpoint = "signup_info")]
pub async fn load_signup_info(invite: Option<String>) -> Result<SignupInfo, AppError> {
    use crate::server::edge::calls::as_anyone;
    as_anyone(|state| async move { state.admin.signup_info(invite.as_deref()).await }).await
}

/// Sets the sign-up mode: `open`, `invite` or `closed`.
#[server(endpoint = "admin_set_signup")]
pub async fn admin_set_signup(mode: String) -> Result<(), AppError> {
    use crate::model::admin::SignupMode;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let mode = SignupMode::parse(&mode).ok_or_else(|| AppError::invalid(MODE_RULE))?;
        state.admin.set_mode(&user, mode).await?;
        leptos_axum::redirect("/admin");
        Ok(())
    })
    .await
}

/// The error for a mode that is none of the three.
pub const MODE_RULE: &str = "Sign-up is open, invite or closed";

/// Makes an invitation link: `uses` `once` or `many`, valid `days` (1, 7 or 30). The
/// link is returned (and shown on /admin) once; only its hash is kept.
#[server(endpoint = "admin_create_invitation")]
pub async fn admin_create_invitation(uses: String, days: i64) -> Result<String, AppError> {
    use crate::model::admin::InvitationUses;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let uses = match uses.as_str() {
            "once" => InvitationUses::Once,
            "many" => InvitationUses::Many,
            _ => return Err(AppError::invalid(USES_RULE).into()),
        };
        let token = state.admin.create_invitation(&user, uses, days).await?;
        leptos_axum::redirect(&format!("/admin?invitation={token}#invitations"));
        Ok(format!(
            "{}/signup?invite={token}",
            state.config.public_origin
        ))
    })
    .await
}

/// The error for `uses` that is neither.
pub const USES_RULE: &str = "An invitation is for one sign-up or many";

/// The invitations that can still be used, newest first.
#[server(endpoint = "admin_invitations")]
pub async fn admin_invitations() -> Result<Vec<InvitationLink>, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.admin.invitations(&user).await }).await
}

#[server(endpoint = "admin_revoke_invitation")]
pub async fn admin_revoke_invitation(id: i64) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.admin.revoke_invitation(&user, id).await?;
        leptos_axum::redirect("/admin#invitations");
        Ok(())
    })
    .await
}

/// One page (`page` from 0) of the people whose name contains `query`, by name.
#[server(endpoint = "admin_people")]
pub async fn admin_people(query: String, page: i64) -> Result<PeoplePage, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.admin.people(&user, &query, page).await }).await
}

/// Deactivates a person: no sign-in, every session and connection ends on every node;
/// their messages stay. Not oneself, not the last administrator.
#[server(endpoint = "admin_deactivate")]
pub async fn admin_deactivate(user_id: i64) -> Result<(), AppError> {
    use crate::model::UserId;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.admin.deactivate(&user, UserId(user_id)).await?;
        // Back to the page without whatever link its address showed.
        leptos_axum::redirect("/admin#people");
        Ok(())
    })
    .await
}

/// Clears a person's display name, status and avatar (an offensive one, say).
#[server(endpoint = "admin_clear_profile")]
pub async fn admin_clear_profile(user_id: i64) -> Result<(), AppError> {
    use crate::model::UserId;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.admin.clear_profile(&user, UserId(user_id)).await?;
        leptos_axum::redirect("/admin#people");
        Ok(())
    })
    .await
}

#[server(endpoint = "admin_reactivate")]
pub async fn admin_reactivate(user_id: i64) -> Result<(), AppError> {
    use crate::model::UserId;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.admin.reactivate(&user, UserId(user_id)).await?;
        // Back to the page without whatever link its address showed.
        leptos_axum::redirect("/admin#people");
        Ok(())
    })
    .await
}

/// Makes a person an administrator (`on`) or not; the last one stays.
#[server(endpoint = "admin_set_admin")]
pub async fn admin_set_admin(user_id: i64, on: bool) -> Result<(), AppError> {
    use crate::model::UserId;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.admin.set_admin(&user, UserId(user_id), on).await?;
        // Back to the page without whatever link its address showed.
        leptos_axum::redirect("/admin#people");
        Ok(())
    })
    .await
}

/// A one-time password reset link for a person (valid 24 hours; a new one replaces
/// the old), for the administrator to hand over.
#[server(endpoint = "admin_reset_link")]
pub async fn admin_reset_link(user_id: i64) -> Result<String, AppError> {
    use crate::model::UserId;
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let token = state.admin.reset_link(&user, UserId(user_id)).await?;
        leptos_axum::redirect(&format!("/admin?reset={token}#people"));
        Ok(format!(
            "{}/reset?token={token}",
            state.config.public_origin
        ))
    })
    .await
}

/// The audit log, newest first, 50 entries before entry `before` (or the newest).
#[server(endpoint = "admin_audit")]
pub async fn admin_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move {
        Ok(state
            .admin
            .audit(&user, before)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    })
    .await
}

/// People, chats, messages, stored bytes, and this node's live connections.
#[server(endpoint = "admin_figures")]
pub async fn admin_figures() -> Result<InstanceFigures, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move {
        let mut figures = state.admin.figures(&user).await?;
        figures.connections = state.hub.connection_count() as i64;
        Ok(figures)
    })
    .await
}

/// Sets a new password through a reset link (`token`), once: every session of the
/// person ends and this browser is signed in.
#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::model::validate;
    use crate::server::domain::auth;
    use crate::server::edge::calls::{as_anyone, client_ip};
    as_anyone(|state| async move {
        state.auth_limits.sign_up(client_ip())?;
        validate::password(&password)?;
        let user = state.admin.use_reset(&token, password).await?;
        let cookie = auth::start_session(&state.store, state.session_rules(), &user).await?;
        super::auth::set_session_cookie(&cookie);
        leptos_axum::redirect("/chats");
        Ok(())
    })
    .await
}
