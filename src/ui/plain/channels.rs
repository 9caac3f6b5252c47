//! `/channels`: the directory of public channels, each with its description, size and
//! "Join" (or "Open" for one's own), and a search by title. Joining is a plain form that
//! posts to `api::chats::join_channel`, which opens the channel.

use super::{document, form_error};
use crate::api::chats::JoinChannel;
use crate::model::Channel;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

pub fn page(channels: Vec<Channel>, query: String, error: Option<String>) -> String {
    let searching = !query.is_empty();
    let body = view! {
        <main class="admin">
            <header class="admin-header">
                <h1>"Channels"</h1>
                <p><a href="/chats">"Back to chats"</a></p>
                {form_error(error)}
            </header>
            <section class="admin-section" aria-labelledby="channels-title">
                <h2 id="channels-title">"Public channels"</h2>
                <p class="field-hint">
                    "Anyone on this server can join a public channel. Owners and admins of a group \
                     make it public in its Members panel."
                </p>
                <form class="inline-form" method="get" action="/channels" role="search">
                    <label class="field">
                        <span class="field-label">"Find channels"</span>
                        <input type="search" name="q" value=query maxlength="100" />
                    </label>
                    <button class="btn btn-ghost" type="submit">"Search"</button>
                </form>
                {if channels.is_empty() {
                    let text = if searching { "No public channel matches." } else { "No public channel yet." };
                    view! { <p class="field-hint">{text}</p> }.into_any()
                } else {
                    view! {
                        <ul class="channels">
                            {channels.into_iter().map(|c| view! { <ChannelItem c /> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </main>
    };
    document("Channels", body)
}

#[component]
fn ChannelItem(c: Channel) -> impl IntoView {
    let label = format!("channel-{}", c.id);
    let size = if c.members == 1 {
        "1 member".to_string()
    } else {
        format!("{} members", c.members)
    };
    let id = c.id.to_string();
    view! {
        <li>
            <div>
                <h3 class="channel-title" id=label.clone()>{c.title.clone()}</h3>
                {(!c.description.is_empty()).then(|| view! { <p class="channel-description">{c.description.clone()}</p> })}
                <p class="field-hint">{size}</p>
            </div>
            {if c.joined {
                view! { <a class="btn btn-ghost btn-small" href=format!("/chats/{}", c.id) aria-describedby=label>"Open"</a> }.into_any()
            } else {
                view! {
                    <form class="mute-form" method="post" action=JoinChannel::PATH>
                        <input type="hidden" name="chat_id" value=id />
                        <button class="btn btn-primary btn-small" type="submit" aria-describedby=label>"Join"</button>
                    </form>
                }.into_any()
            }}
        </li>
    }
}
