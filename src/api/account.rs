//! The signed-in user's account: change the password, sign out everywhere, delete it.

use crate::model::AppError;
use leptos::prelude::*;

/// Changes the password after checking the current one (limited like a sign-in: a
/// stolen session must not become a way to guess it), then signs out every other
/// session of the account; this one stays signed in.
#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    use crate::model::validate;
    use crate::server::domain::auth;
    use crate::server::edge::calls::{as_user, client_ip, session_token};
    as_user(|state, user| async move {
        let (store, limits) = (&state.store, &state.auth_limits);
        let wrong = "The current password is wrong";
        auth::confirm_password(store, limits, client_ip(), &user, current, wrong).await?;
        validate::password(&new)?;
        let hash = auth::hash_password(new).await?;
        state.store.set_password_hash(user.id, &hash).await?;
        let keep = session_token().map(|t| auth::hash_token(&t));
        let others = state
            .store
            .delete_sessions_of(user.id, keep.as_deref())
            .await?;
        tracing::info!(user = %user.id, others, "password changed; other sessions revoked");
        leptos_axum::redirect("/account?done=password");
        Ok(())
    })
    .await
}

/// Revokes every session of the account, this one included, and goes to sign-in.
#[server(endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.store.delete_sessions_of(user.id, None).await?;
        super::auth::clear_cookie(&state);
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// Deletes the account after checking the password (limited like a sign-in): sessions
/// and group memberships go; messages stay in others' history under "deleted user #…".
#[server(endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::domain::{account, auth};
    use crate::server::edge::calls::as_user_to;
    use crate::server::edge::calls::client_ip;
    as_user_to(Write::Manage, |state, user| async move {
        let (store, limits) = (&state.store, &state.auth_limits);
        let wrong = "The password is wrong";
        auth::confirm_password(store, limits, client_ip(), &user, password, wrong).await?;
        store.refuse_if_last_admin(user.id).await?;
        account::delete(&state.store, &state.notify, &user).await?;
        super::auth::clear_cookie(&state);
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// A person's profile (anyone signed in may read it). 404 `Person`: no such account,
/// or a deleted one.
#[server(endpoint = "profile")]
pub async fn profile(user_id: crate::model::UserId) -> Result<crate::model::Profile, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Read, |state, _user| async move {
        state.profiles.profile(user_id).await
    })
    .await
}

/// People whose username, or a word of whose display name, starts with `prefix` (at
/// most 8, active accounts only): the new-chat form's suggestions.
#[server(endpoint = "find_people")]
pub async fn find_people(prefix: String) -> Result<Vec<crate::model::Profile>, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Search, |state, _user| async move {
        state.profiles.find(&prefix).await
    })
    .await
}

/// My own profile, for /account's form.
#[server(endpoint = "my_profile")]
pub async fn my_profile() -> Result<crate::model::Profile, AppError> {
    use crate::server::edge::calls::as_user;
    as_user(|state, user| async move { state.profiles.profile(user.id).await }).await
}

/// Saves my display name, status and time zone (each may be empty: none).
#[server(endpoint = "set_profile")]
pub async fn set_profile(
    display_name: String,
    status: String,
    time_zone: String,
) -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::domain::profiles::ProfileForm;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        let form = ProfileForm {
            display_name: &display_name,
            status: &status,
            time_zone: &time_zone,
        };
        state.profiles.set(&user, form).await?;
        // A form's post comes back saying so.
        leptos_axum::redirect("/account?done=profile");
        Ok(())
    })
    .await
}

/// Removes my avatar.
#[server(endpoint = "remove_avatar")]
pub async fn remove_avatar() -> Result<(), AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::as_user_to;
    as_user_to(Write::Manage, |state, user| async move {
        state.profiles.remove_avatar(&user).await?;
        leptos_axum::redirect("/account?done=avatar-removed");
        Ok(())
    })
    .await
}
