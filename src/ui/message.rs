//! One message: bubble, author, time, edit/delete for the author. Text is always
//! rendered as text nodes; only `http(s)://` words become links.

use super::time::Time;
use crate::api::messages::{DeleteMessage, EditMessage};
use crate::model::{Message, UserId};
use leptos::prelude::*;

#[component]
pub fn MessageView(
    message: Message,
    me: UserId,
    show_author: bool,
    /// Called with the new version after an edit or delete.
    on_change: Callback<Message>,
) -> impl IntoView {
    let own = message.sender_id == me;
    let class = if own { "msg msg-own" } else { "msg msg-other" };
    let editing = RwSignal::new(false);
    let delete = ServerAction::<DeleteMessage>::new();
    let edit = ServerAction::<EditMessage>::new();
    Effect::new(move |_| {
        if let Some(Ok(m)) = delete.value().get() {
            on_change.run(m);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(m)) = edit.value().get() {
            editing.set(false);
            on_change.run(m);
        }
    });
    let action_error = move || {
        delete
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| edit.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    };
    let id = message.id;
    let body = message.body.clone();
    let draft = RwSignal::new(message.body.clone());
    let bubble = {
        let message = message.clone();
        move || {
            if editing.get() {
                return view! {
                    <form class="msg-edit" on:submit=move |ev| {
                        ev.prevent_default();
                        edit.dispatch(EditMessage { message_id: id, body: draft.get_untracked() });
                    }>
                        <label class="visually-hidden" for=format!("edit-{id}")>"Edit message"</label>
                        <textarea id=format!("edit-{id}") prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                        <div class="msg-edit-actions">
                            <button class="btn btn-primary btn-small" type="submit">"Save"</button>
                            <button class="btn btn-ghost btn-small" type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                        </div>
                    </form>
                }
                .into_any();
            }
            let text = if message.deleted {
                view! { <p class="msg-body msg-deleted">"message deleted"</p> }.into_any()
            } else {
                view! { <p class="msg-body">{linkify(&message.body)}</p> }.into_any()
            };
            view! {
                <div class="msg-bubble">
                    {text}
                    <span class="msg-meta">
                        {(message.edited_at.is_some() && !message.deleted).then(|| view! { <span class="msg-edited">"edited"</span> })}
                        <Time ms=message.created_at />
                    </span>
                </div>
            }
            .into_any()
        }
    };
    let actions = (own && !message.deleted).then(|| {
        view! {
            <div class="msg-actions">
                <button class="btn btn-ghost btn-small" type="button" on:click=move |_| {
                    draft.set(body.clone());
                    editing.set(true);
                }>"Edit"</button>
                <ActionForm action=delete>
                    <input type="hidden" name="message_id" value=id.to_string() />
                    <button class="btn btn-ghost btn-small btn-danger" type="submit">"Delete"</button>
                </ActionForm>
            </div>
        }
    });
    view! {
        <article class=class data-seq=message.seq>
            {(show_author && !own).then(|| view! { <div class="msg-author">{message.sender.clone()}</div> })}
            {bubble}
            {actions}
            {action_error}
        </article>
    }
}

/// Splits text into text nodes and links for `http://` / `https://` words.
pub fn linkify(text: &str) -> Vec<AnyView> {
    let mut out: Vec<AnyView> = Vec::new();
    let mut plain = String::new();
    for chunk in text.split_inclusive(char::is_whitespace) {
        let word = chunk.trim_end_matches(char::is_whitespace);
        let space = &chunk[word.len()..];
        let url = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        let is_link = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > "https://".len();
        if is_link {
            if !plain.is_empty() {
                out.push(std::mem::take(&mut plain).into_any());
            }
            let href = url.to_string();
            let text = href.clone();
            out.push(view! { <a href=href target="_blank" rel="noopener noreferrer nofollow">{text}</a> }.into_any());
            plain.push_str(&word[url.len()..]);
            plain.push_str(space);
        } else {
            plain.push_str(chunk);
        }
    }
    if !plain.is_empty() {
        out.push(plain.into_any());
    }
    out
}
