//! Sign up, sign in, sign out, and who am I.

use crate::model::{AppError, Me};
use leptos::prelude::*;

/// Creates an account and signs it in, if the sign-up mode allows it (`invite`: the
/// token of an invitation link; needed when sign-up is by invitation). The first
/// account of a new database becomes its administrator.
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    username: String,
    password: String,
    #[server(default)] invite: Option<String>,
) -> Result<(), AppError> {
    use crate::model::validate;
    use crate::server::domain::auth;
    use crate::server::edge::calls::{as_anyone, client_ip};
    as_anyone(|state| async move {
        state.auth_limits.sign_up(client_ip())?;
        let name = validate::username(&username)?;
        validate::password(&password)?;
        let made = state
            .admin
            .sign_up(&name, password, invite.as_deref())
            .await?;
        let cookie = auth::start_session(&state.store, state.session_rules(), &made.user).await?;
        ssr::set_cookie(&cookie);
        leptos_axum::redirect("/chats");
        Ok(())
    })
    .await
}

/// Signs in; a wrong password and an unknown user get the same answer.
#[server(endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    use crate::server::domain::{auth, limits::sign_in_name};
    use crate::server::edge::calls::{as_anyone, client_ip};
    as_anyone(|state| async move {
        let ip = client_ip();
        // A name no account can have (too long, foreign characters) is refused
        // before any limiter map or hash sees it: only the network's budget counts.
        let Some(name) = sign_in_name(&username) else {
            state.auth_limits.sign_in_malformed(ip)?;
            return Err(AppError::BadCredentials.into());
        };
        // Before any hashing; the same for known and unknown names.
        state.auth_limits.sign_in(ip, &name)?;
        if password.len() > crate::model::validate::PASSWORD_MAX * 4 {
            return Err(AppError::BadCredentials.into());
        }
        let found = state.store.user_credentials(&name).await?;
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let ok = auth::verify_password(password, hash).await?;
        let user = match (ok, user) {
            (true, Some(u)) => u,
            _ => {
                state.auth_limits.sign_in_failed(ip, &name);
                return Err(AppError::BadCredentials.into());
            }
        };
        state.auth_limits.sign_in_succeeded(ip, &name);
        // Told only to whoever knows the password.
        if state
            .store
            .standing(user.id)
            .await?
            .is_some_and(|s| s.deactivated)
        {
            return Err(AppError::invalid(DEACTIVATED).into());
        }
        // Housekeeping on a path that is already slow on purpose.
        state.store.delete_expired_sessions().await?;
        let cookie = auth::start_session(&state.store, state.session_rules(), &user).await?;
        ssr::set_cookie(&cookie);
        leptos_axum::redirect("/chats");
        Ok(())
    })
    .await
}

/// What signing in to a deactivated account (with its password) answers.
pub const DEACTIVATED: &str = "This account is deactivated: ask an administrator";

/// Revokes the session and clears the cookie.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::domain::auth;
    use crate::server::edge::calls::{as_anyone, session_token};
    as_anyone(|state| async move {
        if let Some(token) = session_token() {
            state
                .store
                .delete_session(&auth::hash_token(&token))
                .await?;
        }
        ssr::set_cookie(&auth::session_cookie(
            None,
            0,
            state.config.secure_cookies(),
        ));
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in user (and whether they are an active administrator), or `None`.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    use crate::server::edge::calls::{current_user, reply, state};
    let Ok(user) = current_user() else {
        return Ok(None);
    };
    reply(
        async {
            let admin = state()?.admin.is_admin(&user).await?;
            Ok(Some(Me {
                id: user.id,
                username: user.username,
                admin,
            }))
        }
        .await,
    )
}

/// Clears the session cookie in the response of the current server function.
#[cfg(feature = "ssr")]
pub(crate) fn clear_cookie(state: &crate::server::app::AppState) {
    ssr::set_cookie(&crate::server::domain::auth::session_cookie(
        None,
        0,
        state.config.secure_cookies(),
    ));
}

/// Sets the session cookie in the response of the current server function.
#[cfg(feature = "ssr")]
pub(crate) fn set_session_cookie(value: &str) {
    ssr::set_cookie(value);
}

#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::use_context;

    pub fn set_cookie(value: &str) {
        if let (Some(res), Ok(v)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::HeaderValue::from_str(value),
        ) {
            res.append_header(http::header::SET_COOKIE, v);
        }
    }
}
