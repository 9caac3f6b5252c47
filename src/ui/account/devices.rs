//! /account, "Devices": the browsers that receive notifications (Web Push), each with
//! "Remove", and whether notifications show the start of the text. Plain forms.

use crate::api::push::{load_push_settings, RemovePushDevice, SetPushPreviews};
use crate::model::PushDevice;
use crate::ui::auth::{action_error, FormError};
use crate::ui::time::iso_utc;
use leptos::prelude::*;

#[component]
pub fn Devices() -> impl IntoView {
    let remove = ServerAction::<RemovePushDevice>::new();
    let previews = ServerAction::<SetPushPreviews>::new();
    let settings = Resource::new(
        move || (remove.version().get(), previews.version().get()),
        |_| load_push_settings(),
    );
    let remove_error = move || action_error(*remove).map(|e| e.to_string());
    let previews_error = move || action_error(*previews).map(|e| e.to_string());
    view! {
        <h2 class="auth-title">"Devices"</h2>
        <Transition fallback=|| view! { <p class="field-hint">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let Ok(s) = settings.await else {
                    return view! { <p class="field-hint">"Notifications are not available."</p> }.into_any();
                };
                view! {
                    <p class="field-hint">
                        "These browsers get a notification for a direct message or a mention while \
                         no natter tab of yours is in front. “Enable notifications” in the chat \
                         list adds this one."
                    </p>
                    {if s.devices.is_empty() {
                        view! { <p class="field-hint">"No device receives notifications."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="devices">
                                {s.devices.into_iter().map(|d| view! { <Device d remove /> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <FormError error=remove_error />
                    <ActionForm action=previews attr:class="form">
                        <label class="field">
                            <span class="field-label">"Notification text"</span>
                            <select name="on">
                                <option value="true" selected=s.previews>"The start of the message"</option>
                                <option value="false" selected=!s.previews>"Only “New message” (private)"</option>
                            </select>
                        </label>
                        <FormError error=previews_error />
                        <button class="btn btn-ghost btn-block" type="submit">"Save"</button>
                    </ActionForm>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn Device(d: PushDevice, remove: ServerAction<RemovePushDevice>) -> impl IntoView {
    let added = format!("added {}", day(d.added_at));
    let used = d
        .last_used_at
        .map_or("not used yet".to_string(), |t| format!("last used {}", day(t)));
    let name = if d.this_browser {
        format!("{} (this browser)", d.device)
    } else {
        d.device.clone()
    };
    view! {
        <li>
            <span>
                <span class="member-name">{name}</span>
                <br />
                <span class="device-when">{format!("{added}, {used}")}</span>
            </span>
            <ActionForm action=remove attr:class="mute-form">
                <input type="hidden" name="id" value=d.id.to_string() />
                <button class="btn btn-ghost btn-small" type="submit"
                    aria-label=format!("Remove {}", d.device)>"Remove"</button>
            </ActionForm>
        </li>
    }
}

/// "2026-12-06" (UTC).
fn day(ms: i64) -> String {
    iso_utc(ms).chars().take(10).collect()
}
