//! `/search?q=`: messages of my chats that match, newest first, each a link that opens
//! its chat at the message. The query box is the sidebar's ([`SearchBox`]); without
//! JavaScript it is a plain GET form.

use super::time::Time;
use super::title::PageTitle;
use crate::api::search::search_messages;
use crate::model::{MessageId, SearchHit};
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};

/// The link that opens a chat at one of its messages (scrolled to and highlighted).
pub fn message_href(chat: impl std::fmt::Display, seq: i64) -> String {
    format!("/chats/{chat}?at={seq}#m{seq}")
}

/// The sidebar's search field; on `/search` it shows the current query.
#[component]
pub fn SearchBox() -> impl IntoView {
    let query = use_query_map();
    let location = use_location();
    let current = move || {
        if location.pathname.get() == "/search" {
            query.read().get("q").unwrap_or_default()
        } else {
            String::new()
        }
    };
    view! {
        <Form method="GET" action="/search" attr:class="search-box" attr:role="search">
            <label class="visually-hidden" for="search-q">"Search"</label>
            <input id="search-q" type="search" name="q" placeholder="Search messages"
                maxlength=crate::api::search::MAX_QUERY_CHARS prop:value=current />
        </Form>
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let before = move || {
        query
            .read()
            .get("before")
            .and_then(|s| s.parse::<i64>().ok())
            .map(MessageId)
    };
    let results = Resource::new(
        move || (q(), before()),
        |(q, before)| search_messages(q, before),
    );
    view! {
        <PageTitle text="Search" />
        <section class="search-page" aria-labelledby="search-title">
            <h2 id="search-title">
                {move || {
                    let q = q();
                    if q.trim().is_empty() { "Search".to_string() } else { format!("Messages with “{}”", q.trim()) }
                }}
            </h2>
            <Suspense fallback=|| view! { <p class="muted">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(_) if q().trim().is_empty() => view! {
                            <p class="muted">"Type words to find in the messages of your chats."</p>
                        }.into_any(),
                        Ok(page) if page.hits.is_empty() => view! {
                            <p class="muted">"No messages found."</p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next_before.map(|b| format!(
                                "/search?q={}&before={}",
                                form_urlencoded::byte_serialize(q().as_bytes()).collect::<String>(),
                                b.0
                            ));
                            view! {
                                <ol class="search-results">
                                    {page.hits.into_iter().map(|hit| view! { <Hit hit /> }).collect_view()}
                                </ol>
                                {next.map(|href| view! { <a class="btn btn-ghost" href=href>"Older results"</a> })}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Hit(hit: SearchHit) -> impl IntoView {
    let pieces = hit
        .snippet
        .into_iter()
        .map(|(text, matched)| {
            if matched {
                view! { <mark>{text}</mark> }.into_any()
            } else {
                text.into_any()
            }
        })
        .collect_view();
    view! {
        <li>
            <a class="search-hit" href=message_href(hit.chat_id, hit.seq)>
                <span class="search-hit-top">
                    <span class="search-hit-chat">{hit.chat_title}</span>
                    <span class="muted">" · "{hit.sender}</span>
                    <Time ms=hit.created_at class="chat-time" />
                </span>
                <span class="search-hit-text">{pieces}</span>
            </a>
        </li>
    }
}
