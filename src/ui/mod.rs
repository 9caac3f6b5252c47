//! Pages and components. Rendered on the server, hydrated in the browser; every form
//! also works as a plain HTML post when the WASM has not loaded.
//!
//! - [`auth`][]: `/login`, `/signup`.
//! - [`boot`][]: the script that loads the WASM after the first paint.
//! - [`layout`][]: the signed-in two-pane shell and the chat list.
//! - [`new_chat`][]: `/chats/new`.
//! - [`conversation`][]: `/chats/:id` (header, members, history).
//! - [`message`][]: one message bubble and its actions; [`formatted`][]: its body
//!   (Markdown subset, links, mentions) as view nodes.
//! - [`search`][]: `/search` and the sidebar's search box.
//! - [`composer`][]: the message box.
//! - [`live`][]: the browser's WebSocket client (reconnect, outbox, resume).
//! - [`title`][]: the document's title, escaped where the server writes it.
//! - [`notify`][]: notifications (direct messages, mentions; asked on a click): Web Push
//!   through the service worker (`public/sw.js`), else the page's own.

mod attach;
mod auth;
mod boot;
mod composer;
mod conversation;
mod files;
mod formatted;
mod invitations;
mod layout;
pub mod live;
mod message;
mod new_chat;
mod notify;
#[cfg(feature = "ssr")]
pub mod plain;
mod search;
mod time;
mod title;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};
use title::{PageTitle, SiteTitle};

/// The HTML document around the app (server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name="description" content="natter: self-hosted real-time chat, direct and in groups, live in the browser." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="manifest" href="/manifest.webmanifest" />
                <meta name="theme-color" content="#2563d8" />
                <AutoReload options=options.clone() />
                <boot::BootScript options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes and the hydration marker.
/// Who may open a page: the session guard (`server::edge::guard`) asks this of every
/// page route of [`App`] (it reads them from the router itself), so a new page is
/// guarded as soon as it is routed, signed-in only unless named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Signed-out visitors go to `/login`.
    SignedIn,
    /// Sign-in and sign-up: signed-in visitors go to `/chats`.
    Guests,
}

/// The access rule of a page route (its path as routed, e.g. `/chats/:id`).
pub fn access(route: &str) -> Access {
    match route {
        "/login" | "/signup" => Access::Guests,
        _ => Access::SignedIn,
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let hydrated = RwSignal::new(false);
    provide_context(time::Hydrated(hydrated));
    // Tells people and tests that the page is live: set once hydration (including
    // Suspense content resolved from the serialised resources) has finished.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        set_timeout(
            move || {
                hydrated.set(true);
                notify::start_worker();
                if let Some(root) = document().document_element() {
                    let _ = root.set_attribute("data-hydrated", "true");
                }
            },
            std::time::Duration::from_millis(0),
        );
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/natter.css" />
        <SiteTitle />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home ssr=SsrMode::Async />
                <Route path=path!("/login") view=auth::LoginPage ssr=SsrMode::Async />
                <Route path=path!("/signup") view=auth::SignupPage ssr=SsrMode::Async />
                // One shell for the chats and search, so moving between them keeps the
                // chat list and the live connection.
                <ParentRoute path=path!("") view=layout::ChatsLayout ssr=SsrMode::Async>
                    <Route path=path!("/chats") view=layout::NoChat ssr=SsrMode::Async />
                    <Route path=path!("/chats/new") view=new_chat::NewChat ssr=SsrMode::Async />
                    <Route path=path!("/chats/:id") view=conversation::ChatPage ssr=SsrMode::Async />
                    <Route path=path!("/search") view=search::SearchPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// `/`: the server redirects before we get here; in the browser, go to the chats.
#[component]
fn Home() -> impl IntoView {
    view! { <Redirect path="/chats" /> }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageTitle text="Not found" />
        <main class="page">
            <div class="placeholder">
                <h2>"Page not found"</h2>
                <p class="muted">"There is nothing at this address."</p>
                <a class="btn" href="/chats">"Back to chats"</a>
            </div>
        </main>
    }
}

/// A fresh client-generated message id (unique per sender is all that matters).
pub fn new_client_id() -> String {
    #[cfg(feature = "ssr")]
    {
        uuid::Uuid::new_v4().to_string()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let part = || (js_sys_random() * 4_294_967_296.0) as u32;
        format!("{:08x}{:08x}{:08x}{:08x}", part(), part(), part(), part())
    }
}

#[cfg(all(not(feature = "ssr"), feature = "hydrate"))]
fn js_sys_random() -> f64 {
    js_sys::Math::random()
}

#[cfg(all(not(feature = "ssr"), not(feature = "hydrate")))]
fn js_sys_random() -> f64 {
    0.5
}
