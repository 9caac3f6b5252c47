//! One message: bubble, author, time, edit/delete for the author. The body is
//! formatted by [`super::formatted`]: text nodes and checked links, never HTML.

use super::formatted::formatted;
use super::time::Time;
use crate::api::messages::{DeleteMessage, EditMessage};
use crate::model::{Message, MessageId, UserId};
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
}

impl MessageActions {
    /// `on_change` gets the new version of a message after an edit or delete.
    pub fn new(on_change: Callback<Message>) -> Self {
        let edit = ServerAction::<EditMessage>::new();
        let delete = ServerAction::<DeleteMessage>::new();
        let editing = RwSignal::new(None);
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
        }
    }

    /// The last edit or delete failure, for the line under the messages.
    pub fn error(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let (edit, delete) = (self.edit, self.delete);
        move || {
            delete
                .value()
                .get()
                .and_then(|r| r.err())
                .or_else(|| edit.value().get().and_then(|r| r.err()))
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
) -> impl IntoView {
    let own = message.sender_id == me;
    let class = match (own, highlight) {
        (true, false) => "msg msg-own",
        (false, false) => "msg msg-other",
        (true, true) => "msg msg-own msg-target",
        (false, true) => "msg msg-other msg-target",
    };
    let MessageActions {
        edit,
        delete,
        editing,
        is_editing,
        draft,
    } = actions;
    let id = message.id;
    let body = message.body.clone();
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
                view! { <div class="msg-body">{formatted(&message.body, &me_name)}</div> }
                    .into_any()
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
                    editing.set(Some(id));
                }>"Edit"</button>
                <ActionForm action=delete>
                    <input type="hidden" name="message_id" value=id.to_string() />
                    <button class="btn btn-ghost btn-small btn-danger" type="submit">"Delete"</button>
                </ActionForm>
            </div>
        }
    });
    view! {
        <article class=class id=format!("m{}", message.seq) data-seq=message.seq>
            {(show_author && !own).then(|| view! { <div class="msg-author">{message.sender.clone()}</div> })}
            {bubble}
            {actions}
        </article>
    }
}
