//! `/chats/:id`: the conversation. Non-members get the same "Chat not found" (and a 404)
//! as for a chat that does not exist.

use super::auth::FormError;
use super::composer::Composer;
use super::files::ImageViewer;
use super::layout::refresh_chat_list;
use super::live::{self, use_live, Live};
use super::message::{MessageActions, MessageView};
use super::time::{now_ms, DaySeparator};
use super::title::PageTitle;
use crate::api::messages::{newer_messages, older_messages, open_chat};
use crate::model::protocol::{ServerFrame, TYPING_TTL_MS};
use crate::model::{AppError, ChatId, ChatKind, ChatView, Message, UserId};
use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

mod header;
use header::ChatHeader;

/// Bump to reload the open chat (after membership changes).
#[derive(Clone, Copy)]
struct ReloadChat(RwSignal<u32>);

#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let reload = RwSignal::new(0u32);
    provide_context(ReloadChat(reload));
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<ChatId>().ok())
    };
    let before = move || {
        query
            .read()
            .get("before")
            .and_then(|s| s.parse::<i64>().ok())
    };
    let at = move || query.read().get("at").and_then(|s| s.parse::<i64>().ok());
    let data = Resource::new(
        move || (id(), before(), at(), reload.get()),
        |(id, before, at, _)| async move {
            match id {
                Some(id) => open_chat(id, before, at).await,
                None => Err(AppError::chat_not_found()),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <div class="placeholder"><p class="muted">"Loading…"</p></div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Conversation data=view at=at() /> }.into_any(),
                    Err(err) => view! { <ChatError err /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ChatError(err: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::edge::calls::set_status(&err);
    let (title, text) = match err {
        AppError::NotFound(_) => (
            "Chat not found",
            "It does not exist, or you are not a member.".to_string(),
        ),
        other => ("Could not open this chat", other.to_string()),
    };
    view! {
        <PageTitle text=title />
        <div class="placeholder">
            <h2>{title}</h2>
            <p>{text}</p>
            <a class="btn" href="/chats">"Back to chats"</a>
        </div>
    }
}

/// `at`: the seq of the message the chat was opened at (from a search result, a reply,
/// a link), scrolled to and highlighted; the page around it may not be the newest.
#[component]
fn Conversation(data: ChatView, at: Option<i64>) -> impl IntoView {
    let ChatView {
        me,
        chat,
        page,
        blocked,
    } = data;
    let chat_id = chat.id;
    let is_group = chat.kind == ChatKind::Group;
    let messages = RwSignal::new(page.messages);
    let has_more = RwSignal::new(page.has_more);
    // Newer messages exist beyond the page (opened at an older message): live messages
    // wait until scrolling down has loaded up to the newest.
    let has_newer = RwSignal::new(page.has_newer);
    let loading = RwSignal::new(false);
    let log_ref = NodeRef::<html::Div>::new();

    // Keep the newest message in view whenever one is appended, once the page shows the
    // newest (not while reading in the past, nor when the last newer page arrives).
    let last_seq = Memo::new(move |_| messages.with(|m| m.last().map(|m| m.seq)));
    let follow_bottom = StoredValue::new(!page.has_newer && at.is_none());
    Effect::new(move |_| {
        last_seq.track();
        if follow_bottom.get_value() {
            if let Some(log) = log_ref.get() {
                log.set_scroll_top(log.scroll_height());
            }
        }
        follow_bottom.set_value(!has_newer.get_untracked());
    });
    if let Some(at) = at {
        Effect::new(move |_| scroll_to_message(at));
    }

    // A message edited, deleted or sent over HTTP: put it in place, refresh the list.
    let on_change = Callback::new(move |m: Message| {
        upsert(messages, m);
        refresh_chat_list();
    });
    let actions = MessageActions::new(on_change);
    let action_error = actions.error();
    let replying = actions.replying;
    let actions_for_picker = actions.clone();

    let members = RwSignal::new(chat.members.clone());
    // A group's title changes live when it is renamed.
    let title = RwSignal::new(chat.title.clone());
    let typing = RwSignal::new(Vec::<(UserId, String, f64)>::new());
    let live = use_live();
    if let Some(live) = live {
        let open = OpenChat {
            messages,
            has_newer,
            members,
            title,
            typing,
            owner: StoredValue::new(chat.creator_id),
        };
        follow_live(live, chat_id, me.id, open);
        // Rendering `GET /chats/:id` marks nothing read (no state change on a GET): the
        // page says so itself once it shows the newest messages.
        let my_read = chat
            .members
            .iter()
            .find(|m| m.user_id == me.id)
            .map_or(0, |m| m.last_read_seq);
        // Once the live link is up (a `read` sent before it would be dropped).
        let told = StoredValue::new(false);
        Effect::new(move |_| {
            if !matches!(live.status.get(), live::Status::Online) || told.get_value() {
                return;
            }
            told.set_value(true);
            if let (Some(seq), false) = (last_seq.get_untracked(), has_newer.get_untracked()) {
                if seq > my_read && page_visible() {
                    live.read(chat_id, seq);
                }
            }
        });
        Effect::new(move |_| {
            if let (Some(seq), false) = (last_seq.get(), has_newer.get()) {
                live.note_position(chat_id, seq);
            }
        });
        // Back to a hidden tab: what arrived meanwhile is read now.
        if let Some(super::layout::PageHidden(hidden)) = use_context() {
            Effect::new(move |was_hidden: Option<bool>| {
                let now_hidden = hidden.get();
                if was_hidden == Some(true) && !now_hidden && !has_newer.get_untracked() {
                    if let Some(seq) = last_seq.get_untracked() {
                        live.read(chat_id, seq);
                    }
                }
                now_hidden
            });
            // On screen: this chat's notifications in this browser go (public/sw.js).
            Effect::new(move |_| {
                if !hidden.get() {
                    super::notify::chat_shown(chat_id.0);
                }
            });
        }
        // Where `resume` starts for edits, deletes, read pointers and members.
        let last_change = chat.last_change;
        Effect::new(move |_| live.note_change(chat_id, last_change));
    }

    let first_seq = move || messages.with(|m| m.first().map(|m| m.seq));
    let load_older = move || {
        let Some(before) = first_seq() else { return };
        if loading.get_untracked() || !has_more.get_untracked() {
            return;
        }
        loading.set(true);
        let old_height = log_ref
            .get_untracked()
            .map(|l| l.scroll_height())
            .unwrap_or(0);
        leptos::task::spawn_local(async move {
            if let Ok(page) = older_messages(chat_id, before).await {
                has_more.set(page.has_more);
                messages.update(|list| {
                    let mut older = page.messages;
                    older.retain(|m| m.seq < before);
                    older.append(list);
                    *list = older;
                });
                // Keep the reader's place: the old content moved down by the new height.
                request_animation_frame(move || {
                    if let Some(log) = log_ref.get_untracked() {
                        log.set_scroll_top(log.scroll_height() - old_height);
                    }
                });
            }
            loading.set(false);
        });
    };

    let load_newer = move || {
        let Some(after) = last_seq.get_untracked() else {
            return;
        };
        if loading.get_untracked() || !has_newer.get_untracked() {
            return;
        }
        loading.set(true);
        leptos::task::spawn_local(async move {
            if let Ok(page) = newer_messages(chat_id, after).await {
                messages.update(|list| {
                    list.extend(page.messages.into_iter().filter(|m| m.seq > after));
                });
                has_newer.set(page.has_newer);
            }
            loading.set(false);
        });
    };

    let me_id = me.id;
    let me_name: std::sync::Arc<str> = me.username.as_str().into();
    let viewer = super::files::provide_viewer();
    let attachments = RwSignal::new(Vec::<super::attach::Attachment>::new());
    // The document's title reads a signal of its own, reference-counted rather than in
    // the view's arena: leptos_meta reads it while it streams the page's head, outside
    // any arena (an arena signal panicked there, once in ~8 000 pages under load), and
    // again after the chat is left.
    let doc_title = ArcRwSignal::new(chat.title.clone());
    Effect::new({
        let doc_title = doc_title.clone();
        move |_| doc_title.set(title.get())
    });
    view! {
        <PageTitle text=move || doc_title.get() />
        <ChatHeader chat=chat.clone() me=me.id title blocked />
        <div class="log" role="log" aria-label="Messages" node_ref=log_ref
            // Files dropped on the conversation are attached to the next message.
            on:dragover=|ev| ev.prevent_default()
            on:drop=move |ev| {
                #[cfg(feature = "hydrate")]
                if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
                    if files.length() > 0 {
                        ev.prevent_default();
                        super::attach::start_all(chat_id, &files, attachments);
                    }
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = ev;
            }
            on:scroll=move |_| {
                let Some(log) = log_ref.get_untracked() else { return };
                if log.scroll_top() < 80 {
                    load_older();
                } else if log.scroll_top() + log.client_height() > log.scroll_height() - 80 {
                    load_newer();
                }
            }>
            {move || has_more.get().then(|| view! {
                <div class="log-top">
                    <a class="btn btn-ghost btn-small load-older"
                        href=move || format!("?before={}", first_seq().unwrap_or(0))
                        on:click=move |ev| { ev.prevent_default(); load_older(); }>
                        {move || if loading.get() { "Loading…" } else { "Load older messages" }}
                    </a>
                </div>
            })}
            {move || messages.with(Vec::is_empty).then(|| view! { <p class="empty">"No messages yet. Say hello!"</p> })}
            <For
                each=move || with_previous(messages)
                key=|(m, prev)| (m.id, m.edited_at, m.deleted, m.reactions.clone(), m.reply_to.as_ref().map(|r| r.deleted), *prev)
                children=move |(m, prev)| {
                    // A run of one author's messages a few minutes apart reads as one.
                    let continued = prev.is_some_and(|(at, who)| who == m.sender_id && m.created_at - at < GROUP_GAP_MS);
                    view! {
                        <DaySeparator ms=m.created_at prev=prev.map(|(at, _)| at) />
                        <MessageView highlight=Some(m.seq) == at continued message=m me=me_id me_name=me_name.clone() show_author=is_group actions=actions.clone() />
                    }
                }
            />
            {move || has_newer.get().then(|| view! {
                <div class="log-bottom">
                    <a class="btn btn-ghost btn-small load-newer"
                        href=move || format!("?at={}", last_seq.get().unwrap_or(0) + crate::model::PAGE_SIZE / 2)
                        on:click=move |ev| { ev.prevent_default(); load_newer(); }>
                        {move || if loading.get() { "Loading…" } else { "Load newer messages" }}
                    </a>
                    <a class="btn btn-ghost btn-small" href=format!("/chats/{chat_id}")>"Jump to latest"</a>
                </div>
            })}
            {move || live.map(|live| view! { <PendingMessages live chat_id messages /> })}
            {move || seen_line(me_id, is_group, messages, members)}
        </div>
        {actions_for_picker.picker()}
        <FormError error=action_error />
        <div class="typing" aria-live="polite">{move || typing_line(typing)}</div>
        <ImageViewer viewer />
        <Composer chat_id on_sent=on_change replying=replying members=members me=me_id attachments />
    }
}

/// Messages of one author closer together than this are shown as one run.
const GROUP_GAP_MS: i64 = 5 * 60_000;

/// Each message with the time and author of the one above it.
fn with_previous(messages: RwSignal<Vec<Message>>) -> Vec<(Message, Option<(i64, UserId)>)> {
    messages.with(|list| {
        let mut prev = None;
        list.iter()
            .map(|m| {
                let item = (m.clone(), prev);
                prev = Some((m.created_at, m.sender_id));
                item
            })
            .collect()
    })
}

/// Scrolls the log to message `seq` (centred), after the page has rendered.
fn scroll_to_message(seq: i64) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Some(el) = document().get_element_by_id(&format!("m{seq}")) {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            el.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = seq;
}

/// Inserts or replaces by seq, keeping seq order: a message seen twice (page and socket,
/// or replay and live) is shown once.
fn upsert(messages: RwSignal<Vec<Message>>, m: Message) {
    messages.update(|list| match list.binary_search_by_key(&m.seq, |x| x.seq) {
        Ok(i) => list[i] = m,
        Err(i) => list.insert(i, m),
    });
}

/// What live frames change in an open chat.
#[derive(Clone, Copy)]
struct OpenChat {
    messages: RwSignal<Vec<Message>>,
    /// Newer messages exist beyond the page shown.
    has_newer: RwSignal<bool>,
    members: RwSignal<Vec<crate::model::Member>>,
    title: RwSignal<String>,
    /// Who is typing (id, name), and until when.
    typing: RwSignal<Vec<(UserId, String, f64)>>,
    /// The group's owner as last told.
    owner: StoredValue<Option<UserId>>,
}

/// Applies live frames for this chat: new, edited and deleted messages, reactions,
/// typing, read pointers, members and title, and `reset` (reload the newest page).
fn follow_live(live: Live, chat_id: ChatId, me: UserId, open: OpenChat) {
    let OpenChat {
        messages,
        has_newer,
        members,
        title,
        typing,
        owner,
    } = open;
    let reload = use_context::<ReloadChat>();
    let navigate = leptos_router::hooks::use_navigate();
    live::subscribe(move |frame| match frame {
        // Reading in the past: new messages come with the newer pages (or, for one of my
        // own, by going to the newest).
        ServerFrame::Message { message }
            if message.chat_id == chat_id
                && has_newer.get_untracked()
                && message.sender_id == me =>
        {
            navigate(&format!("/chats/{chat_id}"), Default::default())
        }
        ServerFrame::Message { message }
            if message.chat_id == chat_id && has_newer.get_untracked() => {}
        ServerFrame::Message { message } if message.chat_id == chat_id => {
            upsert(messages, message.clone());
            typing.update(|t| t.retain(|(id, _, _)| *id != message.sender_id));
            if message.sender_id != me && page_visible() {
                live.read(chat_id, message.seq);
            }
        }
        ServerFrame::Edited { message, .. } | ServerFrame::Deleted { message, .. }
            if message.chat_id == chat_id =>
        {
            let beyond = messages.with_untracked(|m| m.last().is_some_and(|l| message.seq > l.seq));
            if !(beyond && has_newer.get_untracked()) {
                upsert(messages, message.clone())
            }
            if message.deleted {
                // Replies quoting it now say "deleted message".
                messages.update(|list| {
                    for m in list.iter_mut() {
                        if let Some(r) = m.reply_to.as_mut().filter(|r| r.id == message.id) {
                            r.deleted = true;
                            r.snippet.clear();
                        }
                    }
                });
            }
        }
        ServerFrame::Reactions {
            chat_id: c,
            seq,
            reactions,
            ..
        } if *c == chat_id => messages.update(|list| {
            if let Ok(i) = list.binary_search_by_key(seq, |m| m.seq) {
                list[i].reactions = reactions.clone();
            }
        }),
        ServerFrame::Typing {
            chat_id: c,
            user_id,
            username,
        } if *c == chat_id => {
            let until = now_ms() + TYPING_TTL_MS as f64;
            let (id, name) = (*user_id, username.clone());
            typing.update(|t| {
                t.retain(|(i, _, _)| *i != id);
                t.push((id, name, until));
            });
            set_timeout(
                move || typing.update(|t| t.retain(|(_, _, until)| *until > now_ms())),
                std::time::Duration::from_millis(TYPING_TTL_MS + 50),
            );
        }
        ServerFrame::Members {
            chat_id: c,
            members: now,
            title: renamed,
            owner: now_owner,
            ..
        } if *c == chat_id => {
            // My part in the group changed (I became its owner, or an admin, or no
            // longer am): the header's controls come from the chat as loaded, so load it.
            let my_admin = |list: &[crate::model::Member]| {
                list.iter().find(|m| m.user_id == me).map(|m| m.admin)
            };
            let mine_before = (
                owner.get_value() == Some(me),
                members.with_untracked(|l| my_admin(l)),
            );
            let mine_now = (*now_owner == Some(me), my_admin(now));
            owner.set_value(*now_owner);
            members.set(now.clone());
            if let Some(t) = renamed {
                title.set(t.clone());
            }
            // (Removed from it: `chat_removed` takes me away instead.)
            if mine_before != mine_now && mine_now.1.is_some() {
                if let Some(r) = reload {
                    r.0.update(|n| *n += 1);
                }
            }
        }
        ServerFrame::Read {
            chat_id: c,
            user_id,
            seq,
            ..
        } if *c == chat_id => {
            members.update(|list| {
                if let Some(m) = list.iter_mut().find(|m| m.user_id == *user_id) {
                    m.last_read_seq = m.last_read_seq.max(*seq);
                }
            });
        }
        ServerFrame::Reset { chat_id: c } if *c == chat_id => {
            if let Some(r) = reload {
                r.0.update(|n| *n += 1);
            }
        }
        _ => {}
    });
}

fn page_visible() -> bool {
    #[cfg(feature = "hydrate")]
    {
        document().visibility_state() == web_sys::VisibilityState::Visible
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

fn typing_line(typing: RwSignal<Vec<(UserId, String, f64)>>) -> Option<String> {
    let names: Vec<String> = typing.with(|t| t.iter().map(|(_, n, _)| n.clone()).collect());
    match names.as_slice() {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        _ => Some("Several people are typing…".to_string()),
    }
}

/// Under my last message, when it is the newest: "Seen" once the other person's read
/// pointer passed it (direct chats), "Seen by N" with how many members did (groups).
fn seen_line(
    me: UserId,
    is_group: bool,
    messages: RwSignal<Vec<Message>>,
    members: RwSignal<Vec<crate::model::Member>>,
) -> Option<impl IntoView> {
    let last = messages.with(|m| m.last().map(|m| (m.sender_id, m.seq)));
    let (sender, seq) = last.filter(|(sender, _)| *sender == me)?;
    let _ = sender;
    let seen = members.with(|m| {
        m.iter()
            .filter(|m| m.user_id != me && m.last_read_seq >= seq)
            .count()
    });
    let text = match (is_group, seen) {
        (_, 0) => return None,
        (false, _) => "Seen".to_string(),
        (true, n) => format!("Seen by {n}"),
    };
    Some(view! { <p class="msg-seen">{text}</p> })
}

/// My messages not yet acknowledged: "sending…", or "not sent" with Retry.
#[component]
fn PendingMessages(live: Live, chat_id: ChatId, messages: RwSignal<Vec<Message>>) -> impl IntoView {
    let pending = move || {
        live.outbox.with(|o| {
            o.iter()
                .filter(|p| p.chat_id == chat_id)
                .filter(|p| !messages.with(|m| m.iter().any(|m| m.client_id == p.client_id)))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <For each=pending key=|p| (p.client_id.clone(), p.failed.clone()) let:p>
            {
                let failed = p.failed.clone();
                let class = if failed.is_some() { "msg msg-own msg-pending msg-failed" } else { "msg msg-own msg-pending" };
                let retry_id = p.client_id.clone();
                let discard_id = p.client_id.clone();
                view! {
                    <article class=class>
                        <div class="msg-bubble">
                            {super::formatted::formatted(crate::model::markup::parse_plain(&p.body, ""), "")}
                            // Its files, stored already: shown as they will be once sent.
                            {(!p.files.is_empty()).then(|| view! { <super::files::Attachments files=p.files.clone() /> })}
                            <span class="msg-meta">
                                <span class="msg-status">{if failed.is_some() { "not sent" } else { "sending…" }}</span>
                            </span>
                        </div>
                        {failed.map(|why| view! {
                            <div class="msg-actions msg-actions-visible">
                                <span class="muted">{why}</span>
                                <button class="btn btn-ghost btn-small" type="button"
                                    on:click=move |_| live.retry(&retry_id)>"Retry"</button>
                                <button class="btn btn-ghost btn-small btn-danger" type="button"
                                    on:click=move |_| live.discard(&discard_id)>"Discard"</button>
                            </div>
                        })}
                    </article>
                }
            }
        </For>
    }
}
