//! One message: bubble, author, time, the original it answers, its reactions; reply and
//! react for everyone, edit and delete for the author. The body is formatted by
//! [`super::formatted`]: text nodes and checked links, never HTML.

use super::auth::action_error;
use super::files::Attachments;
use super::formatted::formatted;
use super::search::message_href;
use super::time::Time;
use crate::api::messages::{DeleteMessage, EditMessage, ReactMessage};
use crate::model::{Message, MessageId, Reaction, ReplyTo, UserId};
use leptos::prelude::*;
use leptos::reactive::computed::Selector;
use std::sync::Arc;

/// Edit and delete, shared by every message of a conversation: one pair of actions and
/// their effects per page, not per message (a page of 50 messages used to build 100
/// actions, 100 effects and 150 signals, a tenth of the server's render time).
#[derive(Clone)]
pub struct MessageActions {
    edit: ServerAction<EditMessage>,
    delete: ServerAction<DeleteMessage>,
    /// The message being edited (one at a time, as in every chat app).
    editing: RwSignal<Option<MessageId>>,
    /// Notifies only the two messages whose editing state changed, not all of them.
    is_editing: Selector<Option<MessageId>>,
    draft: RwSignal<String>,
    react: ServerAction<ReactMessage>,
    /// The message the reaction picker is open for (one picker per page).
    picking: RwSignal<Option<MessageId>>,
    /// The message the composer's next message answers.
    pub replying: RwSignal<Option<ReplyTo>>,
}

/// The reactions offered first; any other single emoji can be typed.
const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

impl MessageActions {
    /// `on_change` gets the new version of a message after an edit or delete.
    pub fn new(on_change: Callback<Message>) -> Self {
        let edit = ServerAction::<EditMessage>::new();
        let delete = ServerAction::<DeleteMessage>::new();
        let react = ServerAction::<ReactMessage>::new();
        let editing = RwSignal::new(None);
        let picking = RwSignal::new(None);
        Effect::new(move |_| {
            if let Some(Ok(m)) = react.value().get() {
                picking.set(None);
                on_change.run(m);
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(m)) = delete.value().get() {
                on_change.run(m);
            }
        });
        Effect::new(move |_| {
            if let Some(Ok(m)) = edit.value().get() {
                editing.set(None);
                on_change.run(m);
            }
        });
        MessageActions {
            edit,
            delete,
            editing,
            is_editing: Selector::new(move || editing.get()),
            draft: RwSignal::new(String::new()),
            react,
            picking,
            replying: RwSignal::new(None),
        }
    }

    /// The page's one reaction picker, open for the message whose React was pressed.
    pub fn picker(&self) -> impl IntoView {
        let (react, picking) = (self.react, self.picking);
        move || {
            picking
                .get()
                .map(|id| view! { <ReactionPicker message=id react picking /> })
        }
    }

    /// The last edit or delete failure, for the line under the messages.
    pub fn error(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let (edit, delete, react) = (self.edit, self.delete, self.react);
        move || {
            action_error(*delete)
                .or_else(|| action_error(*edit))
                .or_else(|| action_error(*react))
                .map(|e| e.to_string())
        }
    }
}

#[component]
pub fn MessageView(
    message: Message,
    me: UserId,
    /// My username, whose `@mentions` stand out.
    me_name: Arc<str>,
    show_author: bool,
    actions: MessageActions,
    /// The message the chat was opened at.
    #[prop(optional)]
    highlight: bool,
    /// Follows one of the same author's a moment before: no name, less space.
    #[prop(optional)]
    continued: bool,
) -> impl IntoView {
    let own = message.sender_id == me;
    let class = format!(
        "msg {}{}{}",
        if own { "msg-own" } else { "msg-other" },
        if highlight { " msg-target" } else { "" },
        if continued { " msg-cont" } else { "" },
    );
    let show_author = show_author && !continued;
    let MessageActions {
        edit,
        delete,
        editing,
        is_editing,
        draft,
        react,
        picking,
        replying,
    } = actions;
    let id = message.id;
    let body = message.body.clone();
    let reader = me_name.clone();
    let bubble = {
        let message = message.clone();
        move || {
            if is_editing.selected(&Some(id)) {
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
                            <button class="btn btn-ghost btn-small" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </div>
                    </form>
                }
                .into_any();
            }
            let text = if message.deleted {
                view! { <p class="msg-body msg-deleted">"message deleted"</p> }.into_any()
            } else {
                formatted(
                    crate::model::markup::tree_of(
                        &message.body,
                        message.formatted.as_deref(),
                        &me_name,
                    ),
                    &me_name,
                )
            };
            let files = (!message.deleted && !message.files.is_empty())
                .then(|| view! { <Attachments files=message.files.clone() /> });
            view! {
                <div class="msg-bubble">
                    {text}
                    {files}
                    <span class="msg-meta">
                        {(message.edited_at.is_some() && !message.deleted).then(|| view! { <span class="msg-edited">"edited"</span> })}
                        <Time ms=message.created_at />
                    </span>
                </div>
            }
            .into_any()
        }
    };
    let quote = message.reply_to.clone().map(|r| {
        let text = if r.deleted {
            "deleted message".to_string()
        } else {
            r.snippet.clone()
        };
        view! {
            <a class="msg-reply" href=message_href(message.chat_id, r.seq)>
                <span class="msg-reply-author">{r.sender.clone()}</span>
                <span class="msg-reply-text">{text}</span>
            </a>
        }
    });
    let reactions = (!message.reactions.is_empty()).then(|| {
        let chips = message
            .reactions
            .iter()
            .map(|r| view! { <ReactionChip reaction=r.clone() message=id me_name=reader.clone() react /> })
            .collect_view();
        view! { <div class="msg-reactions">{chips}</div> }
    });
    let actions = (!message.deleted).then(|| {
        // Built on a click, not for every message of the page.
        let (seq, sender, text) = (message.seq, message.sender.clone(), message.body.clone());
        view! {
            <div class="msg-actions">
                <button class="btn btn-ghost btn-small" type="button"
                    on:click=move |_| replying.set(Some(ReplyTo {
                        id,
                        seq,
                        sender: sender.clone(),
                        snippet: crate::model::snippet(&text),
                        deleted: false,
                    }))>"Reply"</button>
                <button class="btn btn-ghost btn-small" type="button" aria-haspopup="dialog"
                    on:click=move |_| picking.update(|p| *p = if *p == Some(id) { None } else { Some(id) })>"React"</button>
                {own.then(|| view! {
                    <button class="btn btn-ghost btn-small" type="button" on:click=move |_| {
                        draft.set(body.clone());
                        editing.set(Some(id));
                    }>"Edit"</button>
                    <ActionForm action=delete>
                        <input type="hidden" name="message_id" value=id.to_string() />
                        <button class="btn btn-ghost btn-small btn-danger" type="submit">"Delete"</button>
                    </ActionForm>
                })}
            </div>
        }
    });
    view! {
        <article class=class id=format!("m{}", message.seq)>
            {(show_author && !own).then(|| view! {
                <div class="msg-author">
                    <a href=format!("/people/{}", message.sender_id) rel="external"><bdi>{message.sender.clone()}</bdi></a>
                </div>
            })}
            {quote}
            {bubble}
            {reactions}
            {actions}
        </article>
    }
}

/// One emoji under a message with its count: pressed when it is mine, pressing it
/// toggles mine (a plain form post without JavaScript).
#[component]
fn ReactionChip(
    reaction: Reaction,
    message: MessageId,
    me_name: Arc<str>,
    react: ServerAction<ReactMessage>,
) -> impl IntoView {
    let mine = reaction.users.iter().any(|u| **u == *me_name);
    let count = reaction.users.len();
    let who = reaction.users.join(", ");
    let label = format!("{} {count}: {who}", reaction.emoji);
    let class = if mine {
        "reaction reaction-mine"
    } else {
        "reaction"
    };
    view! {
        <ActionForm action=react attr:class="reaction-form">
            <input type="hidden" name="message_id" value=message.to_string() />
            <input type="hidden" name="emoji" value=reaction.emoji.clone() />
            <input type="hidden" name="on" value=(!mine).to_string() />
            <button class=class type="submit" aria-pressed=mine.to_string() aria-label=label title=who>
                {reaction.emoji.clone()}" "{count}
            </button>
        </ActionForm>
    }
}

/// The reaction picker: a few common emoji and a field for any other one.
#[component]
fn ReactionPicker(
    message: MessageId,
    react: ServerAction<ReactMessage>,
    picking: RwSignal<Option<MessageId>>,
) -> impl IntoView {
    let other = RwSignal::new(String::new());
    let choose = move |emoji: String| {
        react.dispatch(ReactMessage {
            message_id: message,
            emoji,
            on: true,
        });
    };
    let first = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = first.get() {
            let _ = b.focus();
        }
    });
    view! {
        <div class="react-picker" role="dialog" aria-label="Add a reaction"
            on:keydown=move |ev| if ev.key() == "Escape" { picking.set(None) }>
            {QUICK_REACTIONS.iter().enumerate().map(|(i, e)| {
                let emoji = e.to_string();
                let node = (i == 0).then_some(first);
                view! {
                    <button class="btn btn-ghost btn-small react-choice" type="button" node_ref=node.unwrap_or_default()
                        on:click=move |_| choose(emoji.clone())>{*e}</button>
                }
            }).collect_view()}
            <form class="react-other" on:submit=move |ev| {
                ev.prevent_default();
                let e = other.get_untracked();
                if !e.trim().is_empty() {
                    choose(e);
                    other.set(String::new());
                }
            }>
                <input type="text" aria-label="Any emoji" placeholder="🙂" size="3" maxlength="16"
                    prop:value=move || other.get() on:input=move |ev| other.set(event_target_value(&ev)) />
                <button class="btn btn-ghost btn-small" type="submit">"Add"</button>
            </form>
        </div>
    }
}
