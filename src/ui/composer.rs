//! The message box. Enter sends, Shift+Enter is a newline. Without WASM it is a plain
//! form post (the server redirects back to the chat); with WASM it sends in place, and
//! what is typed but not sent is kept per chat in the browser (across chats and
//! reloads; forgotten on sign-out).

use super::attach::{self, AttachmentList};
use super::live::use_live;
use super::new_client_id;
use super::time::now_ms;
use crate::api::messages::{send_message, SendMessage};
use crate::model::{validate, ChatId, Member, Message, ReplyTo, UserId};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The `@name` being typed at the end of `text` (the part after the `@`, lower case),
/// if the text ends with one.
fn mention_prefix(text: &str) -> Option<String> {
    let at = text.rfind('@')?;
    let before_ok = text[..at].chars().last().is_none_or(char::is_whitespace);
    let word = &text[at + 1..];
    let name_like = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    (before_ok && name_like).then(|| word.to_ascii_lowercase())
}

/// Whether member `m` is a suggestion for the `@prefix` typed (lower case): their
/// username, or a word of their display name, starts with it (ASCII case only:
/// Unicode's case tables would cost every visitor's download ~2 KB).
fn mention_matches(m: &crate::model::Member, prefix: &str) -> bool {
    m.username.starts_with(prefix)
        || m.display_name.split_whitespace().any(|w| {
            w.len() >= prefix.len()
                && w.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
}

/// Most suggestions shown at once.
const MAX_SUGGESTIONS: usize = 6;

/// `replying`: the message the next one answers (set by a message's Reply button).
/// `members` (all but `me`) are offered while an `@name` is typed.
#[component]
pub fn Composer(
    chat_id: ChatId,
    on_sent: Callback<Message>,
    replying: RwSignal<Option<ReplyTo>>,
    members: RwSignal<Vec<Member>>,
    me: UserId,
    /// Files on their way with the next message (dropping on the conversation adds too).
    attachments: RwSignal<Vec<attach::Attachment>>,
) -> impl IntoView {
    let body = RwSignal::new(String::new());
    // False in the server's HTML, true once the page is live: the plain file form (no
    // JavaScript) gives way to the "Attach files" button.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let picker = NodeRef::<leptos::html::Input>::new();
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

    // Mention suggestions: members whose name starts with the `@word` being typed.
    let dismissed = RwSignal::new(false);
    let active = RwSignal::new(0usize);
    let suggestions = Memo::new(move |_| {
        if dismissed.get() {
            return Vec::new();
        }
        let Some(prefix) = body.with(|b| mention_prefix(b)) else {
            return Vec::new();
        };
        let names = members.with(|list| {
            list.iter()
                .filter(|m| m.user_id != me && mention_matches(m, &prefix))
                .map(|m| (m.username.clone(), m.display_name.clone()))
                .take(MAX_SUGGESTIONS)
                .collect::<Vec<_>>()
        });
        // A name typed whole needs no suggestion (and Enter then sends).
        if names.len() == 1 && names[0].0 == prefix {
            return Vec::new();
        }
        names
    });
    let complete = move |name: String| {
        let text = body.get_untracked();
        let at = text.rfind('@').unwrap_or(text.len());
        let done = format!("{}@{name} ", &text[..at]);
        drafts::save(chat_id, &done);
        body.set(done);
        active.set(0);
        refocus();
    };

    // The draft left in this chat, once the page is live.
    Effect::new(move |_| {
        if let Some(draft) = drafts::load(chat_id) {
            if body.get_untracked().is_empty() {
                body.set(draft);
            }
        }
    });
    // Choosing a message to answer puts the cursor here.
    Effect::new(move |_| {
        if replying.with(Option::is_some) {
            refocus();
        }
    });

    let send = move || {
        let text = body.get_untracked();
        let files = match attachments.with_untracked(|list| attach::ready(list)) {
            Ok(files) => files,
            Err(why) => {
                error.set(Some(why.to_string()));
                return;
            }
        };
        let checked = if files.is_empty() {
            validate::body(&text)
        } else {
            validate::caption(&text)
        };
        if let Err(e) = checked {
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
            drafts::save(chat_id, "");
            attachments.set(Vec::new());
            live.send_message(chat_id, text, replying.get_untracked(), files);
            replying.set(None);
            // The others clear "typing" when the message lands; the next key says it again.
            last_typing.set_value(0.0);
            return;
        }
        if !files.is_empty() {
            error.set(Some(
                "Files go out over the live connection: reload the page".into(),
            ));
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
                    drafts::save(chat_id, "");
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

    let suggestion_list = move || {
        let names = suggestions.get();
        (!names.is_empty()).then(|| {
            view! {
                <ul class="mention-suggest" id="mention-list" role="listbox" aria-label="Mention a member">
                    {names.into_iter().enumerate().map(|(i, (name, shown))| {
                        let pick = name.clone();
                        view! {
                            <li id=format!("mention-{i}") role="option"
                                aria-selected=move || (active.get() == i).to_string()
                                on:mousedown=move |ev| { ev.prevent_default(); complete(pick.clone()); }>
                                "@"{name}
                                {(!shown.is_empty()).then(|| view! { <span class="muted">" "{shown}</span> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
        })
    };

    view! {
        {move || error.get().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        {reply_bar}
        {suggestion_list}
        <AttachmentList list=attachments />
        // Without JavaScript: pick files and send them (a plain multipart form). With it,
        // the input is the picker behind "Attach files" and each file uploads at once.
        <form class="attach-form" class:attach-live=move || hydrated.get() method="post"
            enctype="multipart/form-data" action=format!("/chats/{chat_id}/files")>
            <input type="hidden" name="client_id" value=super::new_client_id() />
            <input type="file" name="file" multiple aria-label="Attach files" node_ref=picker
                on:change=move |_| {
                    #[cfg(feature = "hydrate")]
                    if let Some(input) = picker.get_untracked() {
                        if let Some(files) = input.files() {
                            attach::start_all(chat_id, &files, attachments);
                        }
                        input.set_value("");
                    }
                } />
            <button class="btn btn-small" type="submit" hidden=move || hydrated.get()>"Send files"</button>
        </form>
        <form class="composer" method="post" action=SendMessage::url()
            on:submit=move |ev| { ev.prevent_default(); send(); }>
            <button class="btn btn-ghost btn-attach" type="button" aria-label="Attach files"
                hidden=move || !hydrated.get()
                on:click=move |_| {
                    if let Some(input) = picker.get_untracked() {
                        input.click();
                    }
                }>"📎"</button>
            <input type="hidden" name="chat_id" value=chat_id.to_string() />
            <input type="hidden" name="client_id" value=move || client_id.get() />
            {move || replying.get().map(|r| view! { <input type="hidden" name="reply_to" value=r.id.to_string() /> })}
            <label class="visually-hidden" for="composer-input">"Message"</label>
            <textarea id="composer-input" node_ref=input name="body" rows="1" placeholder="Write a message…" required=move || attachments.with(Vec::is_empty)
                maxlength=validate::BODY_MAX.to_string()
                prop:value=move || body.get()
                aria-autocomplete="list"
                aria-controls=move || (!suggestions.with(Vec::is_empty)).then_some("mention-list")
                aria-activedescendant=move || (!suggestions.with(Vec::is_empty)).then(|| format!("mention-{}", active.get()))
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    dismissed.set(false);
                    active.set(0);
                    drafts::save(chat_id, &text);
                    body.set(text);
                    // At most one typing frame every 3 s.
                    if let Some(live) = live {
                        let now = now_ms();
                        if now - last_typing.get_value() > 3000.0 {
                            last_typing.set_value(now);
                            live.typing(chat_id);
                        }
                    }
                }
                on:paste=move |ev| {
                    // A screenshot pasted from the clipboard is attached, not typed.
                    #[cfg(feature = "hydrate")]
                    if let Some(files) = ev.clipboard_data().and_then(|d| d.files()) {
                        if files.length() > 0 {
                            ev.prevent_default();
                            attach::start_all(chat_id, &files, attachments);
                        }
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:keydown=move |ev| {
                    let open = suggestions.with_untracked(Vec::len);
                    if open > 0 {
                        match ev.key().as_str() {
                            "ArrowDown" | "ArrowUp" => {
                                ev.prevent_default();
                                let step = if ev.key() == "ArrowDown" { 1 } else { open - 1 };
                                active.update(|a| *a = (*a + step) % open);
                                return;
                            }
                            "Enter" | "Tab" if !ev.shift_key() => {
                                ev.prevent_default();
                                let pick = suggestions.with_untracked(|s| s.get(active.get_untracked()).map(|p| p.0.clone()));
                                if let Some(name) = pick {
                                    complete(name);
                                }
                                return;
                            }
                            "Escape" => {
                                dismissed.set(true);
                                return;
                            }
                            _ => {}
                        }
                    }
                    if ev.key() == "Escape" && replying.with_untracked(Option::is_some) {
                        replying.set(None);
                    }
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }></textarea>
            <button class="btn btn-primary btn-send" type="submit"
                disabled=move || sending.get() || attachments.with(|l| l.iter().any(|a| a.state == attach::Upload::Sending))>"Send"</button>
        </form>
    }
}

/// Unsent text per chat, in the browser's `localStorage` (`natter.draft.<chat id>`).
pub mod drafts {
    use crate::model::ChatId;

    const PREFIX: &str = "natter.draft.";

    #[cfg(feature = "hydrate")]
    fn storage() -> Option<web_sys::Storage> {
        leptos::prelude::window().local_storage().ok().flatten()
    }

    pub fn load(chat: ChatId) -> Option<String> {
        #[cfg(feature = "hydrate")]
        {
            storage()?
                .get_item(&format!("{PREFIX}{chat}"))
                .ok()
                .flatten()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (chat, PREFIX);
            None
        }
    }

    /// Keeps `text` as the chat's draft (empty: forgets it).
    pub fn save(chat: ChatId, text: &str) {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let key = format!("{PREFIX}{chat}");
            let _ = if text.trim().is_empty() {
                s.remove_item(&key)
            } else {
                s.set_item(&key, text)
            };
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (chat, text);
    }

    /// Forgets every draft (signing out: unsent text must not outlive the session).
    pub fn forget_all() {
        #[cfg(feature = "hydrate")]
        if let Some(s) = storage() {
            let len = s.length().unwrap_or(0);
            let keys: Vec<String> = (0..len)
                .filter_map(|i| s.key(i).ok().flatten())
                .filter(|k| k.starts_with(PREFIX))
                .collect();
            for k in keys {
                let _ = s.remove_item(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mention_prefix;

    #[test]
    fn a_mention_is_being_typed_only_at_a_word_start() {
        assert_eq!(mention_prefix("hi @Ca").as_deref(), Some("ca"));
        assert_eq!(mention_prefix("@").as_deref(), Some(""));
        assert_eq!(mention_prefix("mail me@ex").as_deref(), None);
        assert_eq!(mention_prefix("@carol done").as_deref(), None);
        assert_eq!(mention_prefix("no at sign"), None);
    }
}
