//! The message box. Enter sends, Shift+Enter is a newline. Without WASM it is a plain
//! form post (the server redirects back to the chat); with WASM it sends in place.

use super::live::use_live;
use super::new_client_id;
use super::time::now_ms;
use crate::api::messages::{send_message, SendMessage};
use crate::model::{validate, ChatId, Message, ReplyTo};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// `replying`: the message the next one answers (set by a message's Reply button).
#[component]
pub fn Composer(
    chat_id: ChatId,
    on_sent: Callback<Message>,
    replying: RwSignal<Option<ReplyTo>>,
) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let client_id = RwSignal::new(new_client_id());
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let live = use_live();
    let last_typing = StoredValue::new(0.0f64);
    let input = NodeRef::<leptos::html::Textarea>::new();
    // After a send (by Enter or by the button) the box keeps, or gets back, the focus:
    // the next message is typed at once.
    let refocus = move || {
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    };

    // Choosing a message to answer puts the cursor here.
    Effect::new(move |_| {
        if replying.with(Option::is_some) {
            refocus();
        }
    });

    let send = move || {
        let text = body.get_untracked();
        if let Err(e) = validate::body(&text) {
            if !text.trim().is_empty() {
                error.set(Some(e.to_string()));
            }
            return;
        }
        if let Some(live) = live {
            // Through the socket's outbox: shown at once, sent when connected.
            error.set(None);
            body.set(String::new());
            refocus();
            live.send_message(chat_id, text, replying.get_untracked());
            replying.set(None);
            // The others clear "typing" when the message lands; the next key says it again.
            last_typing.set_value(0.0);
            return;
        }
        let id = client_id.get_untracked();
        let reply = replying.get_untracked();
        error.set(None);
        body.set(String::new());
        refocus();
        sending.set(true);
        leptos::task::spawn_local(async move {
            match send_message(chat_id, id, text.clone(), reply.as_ref().map(|r| r.id)).await {
                Ok(m) => {
                    client_id.set(new_client_id());
                    replying.set(None);
                    on_sent.run(m);
                }
                Err(e) => {
                    // Keep the text (and the client id, so a retry cannot duplicate).
                    if body.get_untracked().is_empty() {
                        body.set(text);
                    }
                    error.set(Some(e.to_string()));
                }
            }
            sending.set(false);
        });
    };

    let reply_bar = move || {
        replying.get().map(|r| {
            let text = if r.deleted { "deleted message".to_string() } else { r.snippet.clone() };
            view! {
                <div class="composer-reply">
                    <span class="composer-reply-text">"Replying to " <strong>{r.sender.clone()}</strong> ": " {text}</span>
                    <button class="btn btn-ghost btn-small" type="button" aria-label="Cancel reply"
                        on:click=move |_| { replying.set(None); refocus(); }>"✕"</button>
                </div>
            }
        })
    };

    view! {
        {move || error.get().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        {reply_bar}
        <form class="composer" method="post" action=SendMessage::url()
            on:submit=move |ev| { ev.prevent_default(); send(); }>
            <input type="hidden" name="chat_id" value=chat_id.to_string() />
            <input type="hidden" name="client_id" value=move || client_id.get() />
            {move || replying.get().map(|r| view! { <input type="hidden" name="reply_to" value=r.id.to_string() /> })}
            <label class="visually-hidden" for="composer-input">"Message"</label>
            <textarea id="composer-input" node_ref=input name="body" rows="1" placeholder="Write a message…" required
                maxlength=validate::BODY_MAX.to_string()
                prop:value=move || body.get()
                on:input=move |ev| {
                    body.set(event_target_value(&ev));
                    // At most one typing frame every 3 s.
                    if let Some(live) = live {
                        let now = now_ms();
                        if now - last_typing.get_value() > 3000.0 {
                            last_typing.set_value(now);
                            live.typing(chat_id);
                        }
                    }
                }
                on:keydown=move |ev| {
                    if ev.key() == "Escape" && replying.with_untracked(Option::is_some) {
                        replying.set(None);
                    }
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }></textarea>
            <button class="btn btn-primary btn-send" type="submit" disabled=move || sending.get()>"Send"</button>
        </form>
    }
}
