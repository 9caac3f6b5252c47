//! /account, "Devices": the browsers that receive notifications (Web Push), each with
//! "Remove", and whether notifications show the start of the text.
//!
//! Plain HTML forms that post to the server functions, with or without the WASM (the
//! server answers a form's post by sending the browser back to this page): an
//! `ActionForm` per action would put a copy of leptos's action machinery into the
//! client for a page visited now and then (BENCHMARKS.md, the first-visit budget).

use crate::api::push::{load_push_settings, RemovePushDevice, SetPushPreviews};
use crate::model::PushDevice;
use crate::ui::time::iso_utc;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn Devices() -> impl IntoView {
    let settings = Resource::new(|| (), |_| load_push_settings());
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
                                {s.devices.into_iter().map(|d| view! { <Device d /> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <form class="form" method="post" action=SetPushPreviews::PATH>
                        <label class="field">
                            <span class="field-label">"Notification text"</span>
                            <select name="on">
                                <option value="true" selected=s.previews>"The start of the message"</option>
                                <option value="false" selected=!s.previews>"Only “New message” (private)"</option>
                            </select>
                        </label>
                        <button class="btn btn-ghost btn-block" type="submit">"Save"</button>
                    </form>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn Device(d: PushDevice) -> impl IntoView {
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

/// "2026-12-06" (UTC).
fn day(ms: i64) -> String {
    iso_utc(ms).chars().take(10).collect()
}
