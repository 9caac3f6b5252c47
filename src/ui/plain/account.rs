//! `/account`: my profile (display name, status, time zone, avatar), the password, who
//! may add me to groups and whom I blocked, the devices that get notifications, signing
//! out everywhere and deleting the account. Every action is a plain form posting to
//! its server function (or `POST /account/avatar`), which sends the browser back here:
//! nothing on this page is live, so none of it is in the client every visitor downloads
//! (BENCHMARKS.md, the first-visit budget).

use super::{document, form_error};
use crate::api::account::{
    ChangePassword, DeleteAccount, RemoveAvatar, SetProfile, SignOutEverywhere,
};
use crate::api::consent::{SetGroupAdds, UnblockUser};
use crate::api::push::{RemovePushDevice, SetPushPreviews};
use crate::model::validate::{DISPLAY_NAME_MAX, PASSWORD_MIN, STATUS_MAX};
use crate::model::{Consent, GroupAdds, Profile, PushDevice};
use crate::ui::time::iso_utc;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// What the page shows (gathered by `server::edge::pages::account`).
pub struct AccountView {
    pub profile: Profile,
    pub consent: Consent,
    /// Whether notification texts show the start of the message.
    pub previews: bool,
    pub devices: Vec<PushDevice>,
    /// The error a form's post brought back (`__err`).
    pub error: Option<String>,
    /// What a form's post just did (`?done=`), as a fixed sentence.
    pub done: Option<&'static str>,
}

/// The sentence for `?done=WORD` (only these words: no address puts words here).
pub fn done_message(word: &str) -> Option<&'static str> {
    match word {
        "profile" => Some("Profile saved."),
        "avatar" => Some("Avatar saved."),
        "password" => Some("Password changed. Other sessions are signed out."),
        "avatar-removed" => Some("Avatar removed."),
        "privacy" => Some("Privacy saved."),
        "devices" => Some("Notification settings saved."),
        _ => None,
    }
}

pub fn page(v: AccountView) -> String {
    let done = v
        .done
        .map(|d| view! { <p class="form-ok" role="status">{d}</p> });
    let body = view! {
        <main class="auth">
            <div class="auth-card">
                <h1 class="auth-title">"Your account"</h1>
                <p><a href="/chats">"Back to chats"</a></p>
                {form_error(v.error)}
                {done}
                {profile_section(v.profile)}
                {password_section()}
                {privacy_section(v.consent)}
                {devices_section(v.devices, v.previews)}
                <h2 class="auth-title">"Sessions"</h2>
                <form class="form" method="post" action=SignOutEverywhere::PATH>
                    <p class="field-hint">"Signs out every browser and device, this one included."</p>
                    <button class="btn btn-ghost btn-block" type="submit">"Sign out everywhere"</button>
                </form>
                <h2 class="auth-title">"Delete account"</h2>
                <form class="form" method="post" action=DeleteAccount::PATH>
                    <p class="field-hint">
                        "This cannot be undone. You leave every group and are signed out everywhere; \
                         your username becomes free for anyone. The messages you sent stay in the \
                         other people's history, from “deleted user”."
                    </p>
                    <label class="field">
                        <span class="field-label">"Your password, to confirm"</span>
                        <input name="password" type="password" required autocomplete="current-password" />
                    </label>
                    <button class="btn btn-danger btn-block" type="submit">"Delete my account"</button>
                </form>
            </div>
        </main>
    };
    document("Account", body)
}

/// Display name, status, time zone (one form), the avatar (a multipart form to
/// `POST /account/avatar`; "Remove avatar" when there is one) and a link to the profile.
fn profile_section(p: Profile) -> impl IntoView {
    let avatar = p.avatar_url(256);
    let profile_href = format!("/people/{}", p.id);
    view! {
        <h2 class="auth-title">"Profile"</h2>
        <form class="form" method="post" action=SetProfile::PATH>
            <label class="field">
                <span class="field-label">"Display name"</span>
                <input name="display_name" type="text" autocomplete="name"
                    maxlength=DISPLAY_NAME_MAX.to_string() value=p.display_name />
            </label>
            <p class="field-hint">"Shown instead of your username; people find you by both."</p>
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
        <p><a href=profile_href>"View your profile"</a></p>
    }
}

fn password_section() -> impl IntoView {
    view! {
        <h2 class="auth-title">"Change password"</h2>
        <form class="form" method="post" action=ChangePassword::PATH>
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
            <button class="btn btn-primary btn-block" type="submit">"Change password"</button>
        </form>
    }
}

/// Who may add me to groups, and the people I blocked (each with "Unblock").
fn privacy_section(consent: Consent) -> impl IntoView {
    let Consent {
        group_adds,
        blocked,
    } = consent;
    view! {
        <h2 class="auth-title">"Privacy"</h2>
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
}

/// The browsers that receive notifications (Web Push), each with "Remove", and whether
/// notifications show the start of the text.
fn devices_section(devices: Vec<PushDevice>, previews: bool) -> impl IntoView {
    view! {
        <h2 class="auth-title">"Devices"</h2>
        <p class="field-hint">
            "These browsers get a notification for a direct message or a mention while \
             no natter tab of yours is in front. “Enable notifications” in the chat \
             list adds this one."
        </p>
        {if devices.is_empty() {
            view! { <p class="field-hint">"No device receives notifications."</p> }.into_any()
        } else {
            view! {
                <ul class="devices">
                    {devices.into_iter().map(device).collect_view()}
                </ul>
            }.into_any()
        }}
        <form class="form" method="post" action=SetPushPreviews::PATH>
            <label class="field">
                <span class="field-label">"Notification text"</span>
                <select name="on">
                    <option value="true" selected=previews>"The start of the message"</option>
                    <option value="false" selected=!previews>"Only “New message” (private)"</option>
                </select>
            </label>
            <button class="btn btn-ghost btn-block" type="submit">"Save"</button>
        </form>
    }
}

fn device(d: PushDevice) -> impl IntoView {
    let day = |ms: i64| iso_utc(ms).chars().take(10).collect::<String>();
    let added = format!("added {}", day(d.added_at));
    let used = d.last_used_at.map_or("not used yet".to_string(), |t| {
        format!("last used {}", day(t))
    });
    let name = if d.this_browser {
        format!("{} (this browser)", d.device)
    } else {
        d.device.clone()
    };
    view! {
        <li>
            <span>
                <span class="member-name">{name.clone()}</span>
                <br />
                <span class="device-when">{format!("{added}, {used}")}</span>
            </span>
            <form class="mute-form" method="post" action=RemovePushDevice::PATH>
                <input type="hidden" name="id" value=d.id.to_string() />
                <button class="btn btn-ghost btn-small" type="submit"
                    aria-label=format!("Remove {name}")>"Remove"</button>
            </form>
        </li>
    }
}
