//! `/chats/new`: start a direct chat or a group.

use super::auth::{action_error, FormError};
use super::layout::refresh_chat_list;
use super::title::PageTitle;
use crate::api::chats::CreateChat;
use leptos::prelude::*;

#[component]
pub fn NewChat() -> impl IntoView {
    let action = ServerAction::<CreateChat>::new();
    let error = move || action_error(*action).map(|e| e.to_string());
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            refresh_chat_list();
        }
    });
    view! {
        <PageTitle text="New chat" />
        <header class="conv-header">
            <a class="back" href="/chats" aria-label="Back to chats">"←"</a>
            <div class="conv-heading"><h2 class="conv-title">"New chat"</h2></div>
        </header>
        <div class="panel">
            <h2>"New chat"</h2>
            <p class="muted">"One person starts a direct chat. Several people, or a title, make a group."</p>
            <ActionForm action=action attr:class="form">
                <label class="field">
                    <span class="field-label">"Members"</span>
                    <input name="members" type="text" required autocapitalize="none" spellcheck="false" autocomplete="off" />
                </label>
                <p class="field-hint">"Usernames, separated by commas or spaces"</p>
                <label class="field">
                    <span class="field-label">"Title"</span>
                    <input name="title" type="text" maxlength="100" autocomplete="off" />
                </label>
                <p class="field-hint">"Optional: giving a title makes a group"</p>
                <FormError error />
                <button class="btn btn-primary" type="submit" disabled=move || action.pending().get()>"Create"</button>
            </ActionForm>
        </div>
    }
}
