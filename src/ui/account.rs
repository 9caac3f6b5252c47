//! `/account`: change the password, sign out everywhere, delete the account; who may
//! add me to groups and whom I blocked; the devices that get notifications
//! ([`devices`]). Plain forms: they work without JavaScript too.

mod devices;

use super::auth::{action_error, AddressError, FormError};
use super::title::PageTitle;
use crate::api::account::{
    my_profile, ChangePassword, DeleteAccount, RemoveAvatar, SetProfile, SignOutEverywhere,
};
use crate::api::consent::{consent_settings, SetGroupAdds, UnblockUser};
use crate::model::validate::{DISPLAY_NAME_MAX, PASSWORD_MIN, STATUS_MAX};
use crate::model::{Consent, GroupAdds};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
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
                <AddressError />
                <ProfileSection />
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
                <Privacy />
                <devices::Devices />
                <h2 class="auth-title">"Sessions"</h2>
                // A plain form: the server answers with the sign-in page.
                <form class="form" method="post" action=SignOutEverywhere::PATH>
                    <p class="field-hint">"Signs out every browser and device, this one included."</p>
                    <button class="btn btn-ghost btn-block" type="submit">"Sign out everywhere"</button>
                </form>
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

/// My profile: display name, status, time zone (one plain form), and the avatar (a
/// multipart form to `POST /account/avatar`; "Remove avatar" when there is one). The
/// page comes back after each; an error comes back in its address ([`AddressError`]).
#[component]
fn ProfileSection() -> impl IntoView {
    let mine = Resource::new(|| (), |_| my_profile());
    view! {
        <h2 class="auth-title">"Profile"</h2>
        <Transition fallback=|| view! { <p class="field-hint">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let p = mine.await.ok()?;
                let avatar = p.avatar_url(256);
                let profile_href = format!("/people/{}", p.id);
                Some(view! {
                    <form class="form" method="post" action=SetProfile::PATH>
                        <label class="field">
                            <span class="field-label">"Display name"</span>
                            <input name="display_name" type="text" autocomplete="name"
                                maxlength=DISPLAY_NAME_MAX.to_string() value=p.display_name />
                        </label>
                        <p class="field-hint">"Shown instead of your username; people still find you by both."</p>
                        <label class="field">
                            <span class="field-label">"Status"</span>
                            <input name="status" type="text" maxlength=STATUS_MAX.to_string() value=p.status />
                        </label>
                        <label class="field">
                            <span class="field-label">"Time zone"</span>
                            <input name="time_zone" type="text" autocapitalize="none" spellcheck="false"
                                placeholder="Europe/Berlin" value=p.time_zone />
                        </label>
                        <p class="field-hint">"Your profile shows your local time to others."</p>
                        <button class="btn btn-ghost btn-block" type="submit">"Save profile"</button>
                    </form>
                    <form class="form" method="post" action="/account/avatar" enctype="multipart/form-data">
                        {avatar.clone().map(|src| view! {
                            <img class="avatar avatar-large" src=src width="128" height="128" alt="Your avatar" />
                        })}
                        <label class="field">
                            <span class="field-label">"Avatar"</span>
                            <input name="avatar" type="file" required
                                accept="image/png,image/jpeg,image/gif,image/webp" />
                        </label>
                        <p class="field-hint">"A PNG, JPEG, GIF or WebP picture up to 5 MB, cropped to a square."</p>
                        <button class="btn btn-ghost btn-block" type="submit">"Upload avatar"</button>
                    </form>
                    {avatar.map(|_| view! {
                        <form class="form" method="post" action=RemoveAvatar::PATH>
                            <button class="btn btn-ghost btn-block" type="submit">"Remove avatar"</button>
                        </form>
                    })}
                    <p><a href=profile_href rel="external">"View your profile"</a></p>
                })
            })}
        </Transition>
    }
}

/// Who may add me to groups, and the people I blocked (each with "Unblock").
#[component]
fn Privacy() -> impl IntoView {
    // Plain forms (the page comes back with the change): a rarely used setting need not
    // bring an `ActionForm`'s machinery into every visitor's first download.
    let settings = Resource::new(|| (), |_| consent_settings());
    view! {
        <h2 class="auth-title">"Privacy"</h2>
        <Transition fallback=|| view! { <p class="field-hint">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let Consent { group_adds, blocked } = settings.await.unwrap_or_default();
                view! {
                    <form class="form" method="post" action=SetGroupAdds::PATH>
                        <label class="field">
                            <span class="field-label">"Who can add me to groups"</span>
                            <select name="group_adds">
                                {GroupAdds::ALL.into_iter().map(|g| view! {
                                    <option value=g.as_str() selected=g == group_adds>{g.label()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <p class="field-hint">
                            "Anyone else's add becomes an invitation that you accept or decline."
                        </p>
                        <button class="btn btn-ghost btn-block" type="submit">"Save"</button>
                    </form>
                    <h3 class="field-label">"Blocked people"</h3>
                    {if blocked.is_empty() {
                        view! { <p class="field-hint">"You have not blocked anyone."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="member-list">
                                {blocked.into_iter().map(|b| view! {
                                    <li>
                                        <span class="member-name">{b.username.clone()}</span>
                                        <form class="mute-form" method="post" action=UnblockUser::PATH>
                                            <input type="hidden" name="user_id" value=b.user_id.to_string() />
                                            <button class="btn btn-ghost btn-small" type="submit"
                                                aria-label=format!("Unblock {}", b.username)>"Unblock"</button>
                                        </form>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                }
            })}
        </Transition>
    }
}
