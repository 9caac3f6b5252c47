//! `/account`: change the password, sign out everywhere, delete the account. Plain
//! forms: they work without JavaScript too.

use super::auth::{action_error, FormError};
use super::title::PageTitle;
use crate::api::account::{ChangePassword, DeleteAccount, SignOutEverywhere};
use crate::model::validate::PASSWORD_MIN;
use leptos::prelude::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let delete = ServerAction::<DeleteAccount>::new();
    let delete_error = move || action_error(*delete).map(|e| e.to_string());
    let change_error = move || action_error(*change).map(|e| e.to_string());
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <PageTitle text="Account" />
        <main class="auth">
            <div class="auth-card">
                <h1 class="auth-title">"Your account"</h1>
                <p><a href="/chats">"Back to chats"</a></p>
                <h2 class="auth-title">"Change password"</h2>
                <ActionForm action=change attr:class="form">
                    <label class="field">
                        <span class="field-label">"Current password"</span>
                        <input name="current" type="password" required autocomplete="current-password" />
                    </label>
                    <label class="field">
                        <span class="field-label">"New password"</span>
                        <input name="new" type="password" required autocomplete="new-password"
                            minlength=PASSWORD_MIN.to_string() />
                    </label>
                    <p class="field-hint">
                        {format!("At least {PASSWORD_MIN} characters. Your other sessions are signed out.")}
                    </p>
                    <FormError error=change_error />
                    {move || changed().then(|| view! {
                        <p class="form-ok" role="status">"Password changed. Other sessions are signed out."</p>
                    })}
                    <button class="btn btn-primary btn-block" type="submit" disabled=move || change.pending().get()>
                        "Change password"
                    </button>
                </ActionForm>
                <h2 class="auth-title">"Sessions"</h2>
                <ActionForm action=everywhere attr:class="form">
                    <p class="field-hint">"Signs out every browser and device, this one included."</p>
                    <button class="btn btn-ghost btn-block" type="submit">"Sign out everywhere"</button>
                </ActionForm>
                <h2 class="auth-title">"Delete account"</h2>
                <ActionForm action=delete attr:class="form">
                    <p class="field-hint">
                        "This cannot be undone. You leave every group and are signed out everywhere; \
                         your username becomes free for anyone. The messages you sent stay in the \
                         other people's history, from “deleted user”."
                    </p>
                    <label class="field">
                        <span class="field-label">"Your password, to confirm"</span>
                        <input name="password" type="password" required autocomplete="current-password" />
                    </label>
                    <FormError error=delete_error />
                    <button class="btn btn-danger btn-block" type="submit" disabled=move || delete.pending().get()>
                        "Delete my account"
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
