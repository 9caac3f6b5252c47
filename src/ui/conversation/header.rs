//! The conversation's header: the chat's title, a direct chat's presence or a group's
//! size, and a group's members panel (add, remove, leave); a direct chat's
//! "Block"/"Unblock".

use super::ReloadChat;
use crate::api::chats::{
    AddMember, LeaveChat, RemoveMember, RenameChat, SetChatSettings, SetMemberRole, SetMuted,
};
use crate::api::consent::{BlockUser, UnblockUser};
use crate::model::{ChatDetail, ChatKind, MemberAdded, UserId};
use crate::ui::auth::{action_error, FormError};
use crate::ui::files::FilesPanel;
use crate::ui::layout::Avatar;
use crate::ui::live::use_live;
use crate::ui::time::hh_mm_local;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// `title`: the chat's title as it is now (a group can be renamed while open).
/// `blocked`: a direct chat whose other member I blocked.
#[component]
pub(super) fn ChatHeader(
    chat: ChatDetail,
    me: UserId,
    title: RwSignal<String>,
    blocked: bool,
) -> impl IntoView {
    let is_group = chat.kind == ChatKind::Group;
    let members = chat.members.len();
    let public = chat.public;
    let other = chat
        .members
        .iter()
        .find(|m| m.user_id != me)
        .map(|m| m.user_id);
    let live = use_live();
    // Groups: their size. Direct chats: the other person's presence, once known.
    let sub = move || {
        if is_group {
            return format!(
                "{members} members{}",
                if public { " · public channel" } else { "" }
            );
        }
        let seen = other.and_then(|o| live.and_then(|l| l.presence.with(|p| p.get(&o).copied())));
        match seen {
            Some((true, _)) => "online".to_string(),
            Some((false, Some(at))) => format!("last seen {}", hh_mm_local(at)),
            _ => "direct chat".to_string(),
        }
    };
    view! {
        <header class="conv-header">
            <a class="back" href="/chats" aria-label="Back to chats">"←"</a>
            <Avatar name=chat.title.clone() group=is_group />
            <div class="conv-heading">
                <h2 class="conv-title">{move || title.get()}</h2>
                <p class="conv-sub">{sub}</p>
                {(!chat.description.is_empty()).then(|| view! {
                    <p class="chat-description">{chat.description.clone()}</p>
                })}
            </div>
            <div class="conv-actions">
                <MuteButton chat_id=chat.id muted=chat.muted />
                {other.filter(|_| !is_group).map(|other| view! { <BlockButton other blocked /> })}
                <FilesPanel chat_id=chat.id />
                {is_group.then(|| view! { <MembersPanel chat me /> })}
            </div>
        </header>
    }
}

/// Mute or unmute notifications from this chat (a plain form post without JavaScript).
#[component]
fn MuteButton(chat_id: crate::model::ChatId, muted: bool) -> impl IntoView {
    // A plain form: the page comes back with the new state (and the list's mark). The
    // header's rare actions are all plain forms: each `ActionForm` would bring a copy
    // of leptos's action machinery into every visitor's first download (BENCHMARKS.md).
    view! {
        <form class="mute-form" method="post" action=SetMuted::PATH>
            <input type="hidden" name="chat_id" value=chat_id.to_string() />
            <input type="hidden" name="muted" value=(!muted).to_string() />
            <button class="btn btn-ghost btn-small" type="submit" aria-pressed=muted.to_string()
                title="No notifications from this chat">
                {if muted { "Muted" } else { "Mute" }}
            </button>
        </form>
    }
}

/// Block or unblock the other person of a direct chat (a plain form post without
/// JavaScript). Blocked: no messages either way here, no adds, no presence; the
/// history stays readable.
#[component]
fn BlockButton(other: UserId, blocked: bool) -> impl IntoView {
    if blocked {
        view! {
            <form class="mute-form" method="post" action=UnblockUser::PATH>
                <input type="hidden" name="user_id" value=other.to_string() />
                <button class="btn btn-ghost btn-small" type="submit">"Unblock"</button>
            </form>
        }
        .into_any()
    } else {
        view! {
            <form class="mute-form" method="post" action=BlockUser::PATH>
                <input type="hidden" name="user_id" value=other.to_string() />
                <button class="btn btn-ghost btn-small btn-danger" type="submit"
                    title="No messages, group adds or presence between you">"Block"</button>
            </form>
        }
        .into_any()
    }
}

/// Group members; the owner and the admins add and remove (admins plain members
/// only), the owner makes admins, everyone can leave.
/// A `<details>` so it opens and closes without JavaScript.
#[component]
fn MembersPanel(chat: ChatDetail, me: UserId) -> impl IntoView {
    let is_owner = chat.creator_id == Some(me);
    let is_manager = is_owner || chat.members.iter().any(|m| m.user_id == me && m.admin);
    let reload = use_context::<ReloadChat>();
    let add = ServerAction::<AddMember>::new();
    let invited = move || matches!(add.value().get(), Some(Ok(MemberAdded::Invited)));
    Effect::new(move |_| {
        if matches!(add.value().get(), Some(Ok(MemberAdded::Added))) {
            if let Some(r) = reload {
                r.0.update(|n| *n += 1);
            }
        }
    });
    let error = move || action_error(*add).map(|e| e.to_string());
    let chat_id = chat.id.to_string();
    let creator_id = chat.creator_id;
    let panel = NodeRef::<leptos::html::Details>::new();
    // Escape closes the panel and puts the focus back on its toggle.
    let close_on_escape = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Escape" {
            return;
        }
        if let Some(details) = panel.get_untracked() {
            if details.has_attribute("open") {
                ev.prevent_default();
                let _ = details.remove_attribute("open");
                if let Some(summary) =
                    details
                        .query_selector("summary")
                        .ok()
                        .flatten()
                        .and_then(|s| {
                            leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(
                                s,
                            )
                            .ok()
                        })
                {
                    let _ = summary.focus();
                }
            }
        }
    };
    view! {
        <details class="members" node_ref=panel on:keydown=close_on_escape>
            <summary class="btn btn-ghost btn-small">"Members"</summary>
            <div class="members-panel">
                <ul class="member-list">
                    {chat.members.clone().into_iter().map(|m| {
                        let owner = creator_id == Some(m.user_id);
                        let plain = !owner && !m.admin;
                        let removable = m.user_id != me && (is_owner || (is_manager && plain));
                        let chat_id = chat_id.clone();
                        let role_id = chat_id.clone();
                        let (make, label) = if m.admin { ("false", "Remove admin") } else { ("true", "Make admin") };
                        let role_name = format!("{label}: {}", m.username);
                        view! {
                            <li>
                                <Avatar name=m.label().to_string() />
                                <a class="member-name" href=format!("/people/{}", m.user_id) rel="external">{m.label().to_string()}</a>
                                {(!m.display_name.is_empty()).then(|| view! { <span class="muted">"@"{m.username.clone()}</span> })}
                                {owner.then(|| view! { <span class="member-tag">"owner"</span> })}
                                {(m.admin && !owner).then(|| view! { <span class="member-tag">"admin"</span> })}
                                {(is_owner && !owner).then(|| view! {
                                    // Plain forms (the page comes back with the change): a
                                    // rare action need not bring an `ActionForm`'s
                                    // machinery into every visitor's client.
                                    <form class="mute-form" method="post" action=SetMemberRole::PATH>
                                        <input type="hidden" name="chat_id" value=role_id />
                                        <input type="hidden" name="user_id" value=m.user_id.to_string() />
                                        <input type="hidden" name="admin" value=make />
                                        <button class="btn btn-ghost btn-small" type="submit"
                                            aria-label=role_name>{label}</button>
                                    </form>
                                })}
                                {removable.then(|| view! {
                                    <form class="mute-form" method="post" action=RemoveMember::PATH>
                                        <input type="hidden" name="chat_id" value=chat_id />
                                        <input type="hidden" name="user_id" value=m.user_id.to_string() />
                                        <button class="btn btn-ghost btn-small btn-danger" type="submit"
                                            aria-label=format!("Remove {}", m.username)>"Remove"</button>
                                    </form>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                {is_manager.then(|| {
                    let chat_id = chat_id.clone();
                    let rename_id = chat_id.clone();
                    let settings_id = chat_id.clone();
                    let title = chat.title.clone();
                    view! {
                        <form class="inline-form" method="post" action=RenameChat::PATH>
                            <input type="hidden" name="chat_id" value=rename_id />
                            <label class="field">
                                <span class="field-label">"Group name"</span>
                                <input name="title" type="text" required maxlength="100" value=title />
                            </label>
                            <button class="btn btn-small" type="submit">"Rename"</button>
                        </form>
                        <form class="form" method="post" action=SetChatSettings::PATH>
                            <input type="hidden" name="chat_id" value=settings_id />
                            <label class="check">
                                <input type="checkbox" name="public" value="true" checked=chat.public />
                                " Public channel"
                            </label>
                            <label class="check">
                                <input type="checkbox" name="anyone_mentions_all" value="true" checked=chat.anyone_mentions_all />
                                " Anyone can mention @all and @here"
                            </label>
                            <label class="field">
                                <span class="field-label">"Description"</span>
                                <input name="description" type="text" maxlength="300" value=chat.description.clone() />
                            </label>
                            <button class="btn btn-small" type="submit">"Save settings"</button>
                        </form>
                        <ActionForm action=add attr:class="inline-form">
                            <input type="hidden" name="chat_id" value=chat_id />
                            <label class="field">
                                <span class="field-label">"Add member"</span>
                                <input name="username" type="text" required autocapitalize="none" spellcheck="false" />
                            </label>
                            <button class="btn btn-small" type="submit">"Add"</button>
                        </ActionForm>
                    }
                })}
                <form method="post" action=LeaveChat::PATH>
                    <input type="hidden" name="chat_id" value=chat_id.clone() />
                    <button class="btn btn-danger btn-small" type="submit">"Leave group"</button>
                </form>
                <FormError error />
                {move || invited().then(|| view! {
                    <p class="form-ok" role="status">"Invited: they join when they accept."</p>
                })}
            </div>
        </details>
    }
}
