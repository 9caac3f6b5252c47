//! The sign-in and sign-up pages.

use super::title::PageTitle;
use crate::api::admin::load_signup_info;
use crate::api::auth::{SignIn, SignUp};
use crate::model::admin::{SignupInfo, SignupMode};
use crate::model::validate::{PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN};
use crate::model::AppError;
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = move || action_error(*action).map(|e| e.to_string());
    view! {
        <PageTitle text="Sign in" />
        <main class="auth">
            <div class="auth-card">
                <h1 class="brand">"natter"</h1>
                <h2 class="auth-title">"Sign in"</h2>
                <ActionForm action=action attr:class="form">
                    <Credentials new_password=false />
                    <FormError error />
                    <button class="btn btn-primary btn-block" type="submit" disabled=move || action.pending().get()>
                        "Sign in"
                    </button>
                </ActionForm>
                <p class="auth-switch">"No account? " <a href="/signup">"Sign up"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = move || action_error(*action).map(|e| e.to_string());
    // The token of an invitation link (`/signup?invite=…`), sent with the form.
    let invite = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("invite"))
        .unwrap_or_default();
    let info = {
        let invite = invite.clone();
        Resource::new(
            || (),
            move |_| load_signup_info((!invite.is_empty()).then(|| invite.clone())),
        )
    };
    view! {
        <PageTitle text="Sign up" />
        <main class="auth">
            <div class="auth-card">
                <h1 class="brand">"natter"</h1>
                <h2 class="auth-title">"Create your account"</h2>
                <Suspense>
                    {move || Suspend::new(async move { info.await.ok().map(signup_note) })}
                </Suspense>
                <ActionForm action=action attr:class="form">
                    <input type="hidden" name="invite" value=invite />
                    <Credentials new_password=true />
                    <FormError error />
                    <button class="btn btn-primary btn-block" type="submit" disabled=move || action.pending().get()>
                        "Sign up"
                    </button>
                </ActionForm>
                <p class="auth-switch">"Already have an account? " <a href="/login">"Sign in"</a></p>
            </div>
        </main>
    }
}

/// What the sign-up page says before the form: the first administrator, who invited,
/// or why signing up will not work here.
fn signup_note(info: SignupInfo) -> impl IntoView {
    let text = if info.first {
        "This is the first account on this server: it becomes the administrator.".to_string()
    } else if let Some(inviter) = info.inviter {
        format!("{inviter} invited you to natter.")
    } else {
        match info.mode {
            SignupMode::Open => return None,
            SignupMode::Invite => {
                "Sign-up on this server needs an invitation link from an administrator.".into()
            }
            SignupMode::Closed => "Sign-up is closed on this server.".into(),
        }
    };
    Some(view! { <p class="form-note" role="status">{text}</p> })
}

/// The username and password fields, with the rules as hints for new accounts.
#[component]
fn Credentials(new_password: bool) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">"Username"</span>
            <input
                name="username"
                type="text"
                required
                autocomplete="username"
                autocapitalize="none"
                spellcheck="false"
                minlength=new_password.then_some(USERNAME_MIN.to_string())
                maxlength=new_password.then_some(USERNAME_MAX.to_string())
            />
        </label>
        {new_password.then(|| view! {
            <p class="field-hint">{format!("{USERNAME_MIN}–{USERNAME_MAX} characters: a–z, 0–9, _ . -")}</p>
        })}
        <label class="field">
            <span class="field-label">"Password"</span>
            <input
                name="password"
                type="password"
                required
                autocomplete=if new_password { "new-password" } else { "current-password" }
                minlength=new_password.then_some(PASSWORD_MIN.to_string())
            />
        </label>
        {new_password.then(|| view! { <p class="field-hint">{format!("At least {PASSWORD_MIN} characters")}</p> })}
    }
}

/// A form's error message, announced to screen readers.
#[component]
pub fn FormError(error: impl Fn() -> Option<String> + Send + Sync + 'static) -> impl IntoView {
    move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })
}

/// The error a form shows: the server's answer to what this page sent or, before the
/// page has sent anything, the one the router read from the page's address (where a
/// form posted without JavaScript gets its error back, and where any link can put one):
/// that one shows only the server's own fixed messages ([`AppError::from_address`]).
pub fn action_error<I, O>(action: Action<I, Result<O, AppError>>) -> Option<AppError>
where
    I: Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    let err = action.value().get().and_then(Result::err)?;
    // `version` counts the answers this page has received: 0 means the address's.
    Some(if action.version().get() == 0 {
        err.from_address()
    } else {
        err
    })
}
