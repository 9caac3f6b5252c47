//! `/people/{id}`: a person's profile: avatar, display name and username, status, the
//! local time in their time zone, and "Message" (a plain form that starts or opens the
//! direct chat: `api::chats::create_chat` sends the browser to it).

use super::document;
use crate::api::chats::CreateChat;
use crate::model::Profile;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// What the page shows (gathered by `server::edge::profiles`).
pub struct ProfileView {
    pub profile: Profile,
    /// "14:05, Monday" in their time zone, when they gave one.
    pub local_time: Option<String>,
    /// The visitor's own profile: "Edit profile" instead of "Message".
    pub mine: bool,
}

pub fn page(v: ProfileView) -> String {
    let p = v.profile;
    let label = p.label().to_string();
    let title = label.clone();
    let named = !p.display_name.is_empty();
    let avatar = p.avatar_url(256);
    let username = p.username.clone();
    let zone = p.time_zone.clone();
    let body = view! {
        <main class="admin profile">
            <header class="admin-header profile-header">
                {avatar.map(|src| view! {
                    <img class="avatar avatar-large" src=src width="128" height="128" alt="" />
                })}
                <div>
                    <h1>{label}</h1>
                    {named.then(|| view! { <p class="profile-username">{format!("@{username}")}</p> })}
                    {(!p.status.is_empty()).then(|| view! { <p class="profile-status">{p.status.clone()}</p> })}
                </div>
            </header>
            <section class="admin-section" aria-label="About">
                <dl class="profile-facts">
                    <dt>"Username"</dt>
                    <dd>{username.clone()}</dd>
                    {v.local_time.map(|t| view! {
                        <dt>"Local time"</dt>
                        <dd>{format!("{t} ({zone})")}</dd>
                    })}
                </dl>
                {if p.deactivated {
                    view! { <p class="field-hint">"This account is deactivated."</p> }.into_any()
                } else if v.mine {
                    view! { <p><a class="btn btn-ghost" href="/account">"Edit profile"</a></p> }.into_any()
                } else {
                    view! {
                        <form method="post" action=CreateChat::PATH>
                            <input type="hidden" name="members" value=username />
                            <input type="hidden" name="title" value="" />
                            <button class="btn btn-primary" type="submit">"Message"</button>
                        </form>
                    }.into_any()
                }}
                <p><a href="/chats">"Back to chats"</a></p>
            </section>
        </main>
    };
    document(&title, body)
}
