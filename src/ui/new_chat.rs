//! `/chats/new`: start a direct chat or a group.

use super::auth::{action_error, FormError};
use super::layout::refresh_chat_list;
use super::title::PageTitle;
use crate::api::account::find_people;
use crate::api::chats::CreateChat;
use leptos::prelude::*;

/// The name being typed in the Members field (after the last comma or space, without
/// a leading `@`), and everything before it.
fn split_last(typed: &str) -> (&str, &str) {
    let at = typed
        .rfind(|c: char| c == ',' || c.is_whitespace())
        .map_or(0, |i| i + 1);
    let (before, last) = typed.split_at(at);
    (before, last.trim_start_matches('@'))
}

#[component]
pub fn NewChat() -> impl IntoView {
    let action = ServerAction::<CreateChat>::new();
    // People suggestions (by username or display name) for the name being typed, as a
    // datalist: each option is the whole field with that name completed.
    let typed = RwSignal::new(String::new());
    let found = LocalResource::new(move || {
        let last = split_last(&typed.get()).1.to_string();
        async move {
            if last.is_empty() {
                Vec::new()
            } else {
                find_people(last).await.unwrap_or_default()
            }
        }
    });
    let options = move || {
        let typed = typed.get();
        let before = split_last(&typed).0.to_string();
        found
            .get()
            .unwrap_or_default()
            .into_iter()
            .map(move |p| {
                let value = format!("{before}{}", p.username);
                let label = if p.display_name.is_empty() {
                    p.username.clone()
                } else {
                    format!("{} (@{})", p.display_name, p.username)
                };
                view! { <option value=value>{label}</option> }
            })
            .collect_view()
    };
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
                    <input name="members" type="text" required autocapitalize="none" spellcheck="false" autocomplete="off"
                        list="people-found" on:input=move |ev| typed.set(event_target_value(&ev)) />
                </label>
                <datalist id="people-found">{options}</datalist>
                <p class="field-hint">"Usernames, separated by commas or spaces; type a name to find people"</p>
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

#[cfg(test)]
mod tests {
    use super::split_last;

    #[test]
    fn the_name_being_typed_is_the_last_one() {
        assert_eq!(split_last("bo"), ("", "bo"));
        assert_eq!(split_last("bob, @ca"), ("bob, ", "ca"));
        assert_eq!(split_last("bob carol "), ("bob carol ", ""));
        assert_eq!(split_last(""), ("", ""));
    }
}
