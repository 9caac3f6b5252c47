//! `/reset?token=…`: a person sets a new password through the link an administrator
//! gave them (`api::admin::reset_password`).

use super::{document, form_error};
use crate::api::admin::ResetPassword;
use crate::model::validate::PASSWORD_MIN;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The page for `token`: the form if the link can be used (for `name`), else why not.
pub fn page(token: &str, name: Option<String>, error: Option<String>) -> String {
    let token = token.to_string();
    let body = view! {
        <main class="auth">
            <div class="auth-card">
                <h1 class="brand">"natter"</h1>
                {match name {
                    Some(name) => view! {
                        <h2 class="auth-title">{format!("A new password for {name}")}</h2>
                        <form class="form" method="post" action=ResetPassword::PATH>
                            <input type="hidden" name="token" value=token />
                            <label class="field">
                                <span class="field-label">"New password"</span>
                                <input name="password" type="password" required autocomplete="new-password"
                                    minlength=PASSWORD_MIN.to_string() />
                            </label>
                            <p class="field-hint">
                                {format!("At least {PASSWORD_MIN} characters. Every other session of the account is signed out.")}
                            </p>
                            {form_error(error)}
                            <button class="btn btn-primary btn-block" type="submit">"Set password"</button>
                        </form>
                    }.into_any(),
                    None => view! {
                        <h2 class="auth-title">"This link is not valid any more"</h2>
                        <p class="field-hint">
                            "A password reset link works once, for 24 hours. Ask an administrator for a new one."
                        </p>
                        <p class="auth-switch"><a href="/login">"Sign in"</a></p>
                    }.into_any(),
                }}
            </div>
        </main>
    };
    document("Reset password", body)
}
