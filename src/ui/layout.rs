//! The signed-in shell: chat list on the left, the current route on the right.
//! At phone width only one pane shows (`data-pane`), chosen by the URL.

use super::live::{self, Live, Status, Transport};
use super::notify::{self, NotifyButton};
use super::search::message_href;
use super::time::Time;
use super::title::PageTitle;
use crate::api::auth::{current_user, SignOut};
use crate::api::chats::list_chats;
use crate::model::protocol::ServerFrame;
use crate::model::{markup, snippet, ChatKind, ChatSummary, UserId};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_location, use_navigate};

/// Bump to refetch the chat list (after sending, creating, leaving…).
#[derive(Clone, Copy)]
pub struct ChatListRefresh(pub RwSignal<u32>);

impl ChatListRefresh {
    pub fn bump(&self) {
        self.0.update(|n| *n = n.wrapping_add(1));
    }
}

pub fn refresh_chat_list() {
    if let Some(r) = use_context::<ChatListRefresh>() {
        r.bump();
    }
}

#[component]
pub fn ChatsLayout() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    provide_context(ChatListRefresh(refresh));
    let chats = Resource::new(move || refresh.get(), |_| list_chats());
    let me = Resource::new(|| (), |_| current_user());
    let location = use_location();
    let pane = move || {
        if location.pathname.get() == "/chats" {
            "list"
        } else {
            "chat"
        }
    };

    // The live connection starts once we know who we are (browser only).
    let live = Live::new();
    provide_context(live);
    let my_id = RwSignal::new(None::<UserId>);
    let my_name = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(Some(user))) = me.get() {
            my_id.set(Some(user.id));
            my_name.set(user.username.clone());
            live::start(live, user.id);
        }
    });
    // Keep the list (order, previews, unread badges) current, at most ~5 times a second.
    let refresh_queued = StoredValue::new(false);
    let queue_refresh = move || {
        if !refresh_queued.get_value() {
            refresh_queued.set_value(true);
            set_timeout(
                move || {
                    refresh_queued.set_value(false);
                    refresh.update(|n| *n = n.wrapping_add(1));
                },
                std::time::Duration::from_millis(200),
            );
        }
    };
    // While the tab is hidden, the title counts the unread messages: "(3) Chats · natter".
    let hidden = RwSignal::new(false);
    provide_context(PageHidden(hidden));
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::visibilitychange, move |_| {
            hidden.set(document().hidden())
        });
        on_cleanup(move || handle.remove());
    }
    Effect::new(move |_| {
        let unread: i64 = chats
            .get()
            .and_then(Result::ok)
            .map_or(0, |list| list.iter().map(|c| c.unread).sum());
        title_badge((hidden.get() && unread > 0).then_some(unread));
    });

    let navigate = use_navigate();
    let open_chat = navigate.clone();
    live::subscribe(move |frame| match frame {
        ServerFrame::Message { message } => {
            queue_refresh();
            let mine = Some(message.sender_id) == my_id.get_untracked();
            if !mine && hidden.get_untracked() {
                let list = chats
                    .get_untracked()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let chat = list.iter().find(|c| c.id == message.chat_id);
                let me = my_name.get_untracked();
                let wanted = chat.is_some_and(|c| !c.muted)
                    && (chat.is_some_and(|c| c.kind == ChatKind::Direct)
                        || message.broadcast.is_some()
                        || markup::message_mentions(&message.body, message.formatted.as_deref())
                            .contains(&me));
                if wanted {
                    let title = match chat {
                        Some(c) if c.kind == ChatKind::Group => {
                            format!("{} in {}", message.sender, c.title)
                        }
                        _ => message.sender.clone(),
                    };
                    let href = message_href(message.chat_id, message.seq);
                    let go = open_chat.clone();
                    notify::show(
                        &title,
                        &snippet(&message.body),
                        &format!("chat-{}", message.chat_id),
                        move || go(&href, Default::default()),
                    );
                }
            }
        }
        ServerFrame::Deleted { .. }
        | ServerFrame::ChatAdded { .. }
        | ServerFrame::Members { .. } => queue_refresh(),
        // (Re)connected: what changed while the page loaded or the link was down reaches
        // the list too (resume replays only the chats on screen).
        ServerFrame::Resumed => queue_refresh(),
        ServerFrame::Read { user_id, .. } if Some(*user_id) == my_id.get_untracked() => {
            queue_refresh()
        }
        ServerFrame::ChatRemoved { chat_id } => {
            queue_refresh();
            if location.pathname.get_untracked() == format!("/chats/{chat_id}") {
                navigate("/chats", Default::default());
            }
        }
        _ => {}
    });

    view! {
        <div class="shell" data-pane=pane>
            <aside class="sidebar">
                <header class="sidebar-header">
                    <h1 class="brand">"natter"</h1>
                    <Transition>
                        {move || Suspend::new(async move {
                            me.await.ok().flatten().map(|u| view! {
                                <span class="me">
                                    <span class="visually-hidden">"Signed in as "</span>
                                    {u.username}
                                </span>
                                // A page of the server's own (`ui::plain`): not the client router's.
                                {u.admin.then(|| view! {
                                    <a class="btn btn-ghost btn-small" href="/admin" rel="external">"Administration"</a>
                                })}
                            })
                        })}
                    </Transition>
                    <div class="sidebar-actions">
                        <a class="btn btn-primary btn-small" href="/chats/new">"New chat"</a>
                        <a class="btn btn-ghost btn-small" href="/channels" rel="external">"Browse channels"</a>
                        <a class="btn btn-ghost btn-small" href="/account" rel="external">"Account"</a>

                        // A plain form (the server answers with the sign-in page): an
                        // `ActionForm` would bring its machinery into every first visit.
                        <form class="signout" method="post" action=SignOut::PATH>
                            // Before the form goes: unsent text must not outlive the session.
                            <button class="btn btn-ghost btn-small" type="submit"
                                on:click=move |_| {
                                    live.forget_outbox();
                                    super::composer::drafts::forget_all();
                                }>"Sign out"</button>
                        </form>
                    </div>
                </header>
                <super::search::SearchBox />
                <NotifyButton />
                <ConnectionBanner />
                <super::invitations::Invitations />
                <nav class="chat-list" aria-label="Chats">
                    <Transition fallback=|| view! { <p class="empty">"Loading chats…"</p> }>
                        {move || Suspend::new(async move {
                            match chats.await {
                                Ok(list) if list.is_empty() => view! {
                                    <p class="empty">"No chats yet. Start one with “New chat”."</p>
                                }.into_any(),
                                Ok(list) => view! { <ChatList list /> }.into_any(),
                                Err(e) => view! { <p class="empty" role="alert">{e.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                </nav>
            </aside>
            <main class="conversation">
                <ConnectionBanner />
                <Outlet />
            </main>
        </div>
    }
}

/// Whether the tab is hidden (another tab or window in front), for the title's unread
/// count, notifications, and marking the open chat read when it shows again.
#[derive(Clone, Copy)]
pub struct PageHidden(pub RwSignal<bool>);

/// Puts "(n) " in front of the document's title, or takes it away (`None`).
fn title_badge(unread: Option<i64>) {
    #[cfg(feature = "hydrate")]
    {
        let doc = document();
        let title = doc.title();
        let bare = match title.strip_prefix('(').and_then(|t| t.split_once(") ")) {
            Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit() || c == '+') => {
                rest.to_string()
            }
            _ => title.clone(),
        };
        let want = match unread {
            Some(n) => format!("({}) {bare}", crate::model::unread_label(n)),
            None => bare,
        };
        if want != title {
            doc.set_title(&want);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = unread;
}

#[component]
fn ChatList(list: Vec<ChatSummary>) -> impl IntoView {
    let location = use_location();
    view! {
        <ul>
            {list.into_iter().map(|c| {
                let href = format!("/chats/{}", c.id);
                let current = {
                    let href = href.clone();
                    move || location.pathname.get() == href
                };
                let aria_current = {
                    let current = current.clone();
                    move || current().then_some("page")
                };
                let desc_id = format!("chat-{}-desc", c.id);
                let desc_ref = desc_id.clone();
                let (unread, muted, mentioned) = (c.unread, c.muted, c.mentioned);
                let preview = match &c.preview {
                    None => "No messages yet".to_string(),
                    Some(p) if p.deleted => format!("{}: message deleted", p.sender),
                    Some(p) if c.kind == ChatKind::Group => format!("{}: {}", p.sender, p.body),
                    Some(p) => p.body.clone(),
                };
                view! {
                    <li>
                        <a class="chat-item" href=href aria-current=aria_current aria-label=c.title.clone() aria-describedby=desc_ref>
                            <Avatar name=c.title.clone() group=c.kind == ChatKind::Group />
                            <span class="chat-item-body">
                                <span class="chat-item-top">
                                    <span class="chat-title">{c.title.clone()}</span>
                                    <Time ms=c.last_activity_at class="chat-time" />
                                </span>
                                <span class="chat-item-bottom" id=desc_id>
                                    <span class="chat-preview">{preview}</span>
                                    {muted.then(|| view! { <span class="muted-mark" title="Muted" aria-label="muted">"🔕"</span> })}
                                    {
                                        let current = current.clone();
                                        move || (mentioned && unread > 0 && !current()).then(|| view! {
                                            <span class="badge badge-mention" title="You were mentioned" aria-label="mentioned">"@"</span>
                                        })
                                    }
                                    {move || (unread > 0 && !current()).then(|| {
                                        let label = crate::model::unread_label(unread);
                                        let title = format!("{label} unread");
                                        view! {
                                            <span class=if muted { "badge badge-muted" } else { "badge" } title=title>{label}</span>
                                        }
                                    })}
                                </span>
                            </span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// Says when the live connection is down; quiet while online.
#[component]
fn ConnectionBanner() -> impl IntoView {
    let live = use_context::<Live>();
    move || {
        let live = live?;
        let transport = live.transport.get().label();
        let text = match live.status.get() {
            Status::Idle => return None,
            Status::Online => {
                // Quiet while online: a dot whose tooltip names the link in use.
                let (title, kind) = (
                    format!("Connected over {transport}"),
                    match live.transport.get() {
                        Transport::WebSocket => "websocket",
                        Transport::Sse => "sse",
                    },
                );
                let text = title.clone();
                return Some(
                    view! {
                        <span class="live-dot" title=title data-transport=kind>
                            <span class="visually-hidden">{text}</span>
                        </span>
                    }
                    .into_any(),
                );
            }
            Status::Connecting => "Connecting…".to_string(),
            Status::Offline { retry_at } => {
                let secs = ((retry_at - live.now.get()) / 1000.0).ceil().max(0.0);
                if secs < 1.0 {
                    "Offline — retrying…".to_string()
                } else {
                    format!("Offline — retrying in {secs} s")
                }
            }
        };
        Some(
            view! { <div class="banner banner-warn" role="status" title=format!("Live link: {transport}")>{text}</div> }
                .into_any(),
        )
    }
}

/// A round badge with the first letter of a name.
#[component]
pub fn Avatar(name: String, #[prop(optional)] group: bool) -> impl IntoView {
    // Upper-cased by CSS (`.avatar`): `char::to_uppercase` would ship Unicode's case
    // tables (~2 KB compressed) to the browser for one letter.
    let initial: String = name.chars().take(1).collect();
    let class = if group {
        "avatar avatar-group"
    } else {
        "avatar"
    };
    view! { <span class=class aria-hidden="true">{initial}</span> }
}

/// `/chats` with no chat open.
#[component]
pub fn NoChat() -> impl IntoView {
    view! {
        <PageTitle text="Chats" />
        <div class="placeholder">
            <p>"Select a chat or start a new one"</p>
        </div>
    }
}
