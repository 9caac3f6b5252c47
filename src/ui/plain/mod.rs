//! Pages rendered on the server only, without the WASM client: the administration
//! (`/admin`), the account (`/account`), the password reset link (`/reset`), the
//! channel directory (`/channels`) and people's profiles (`/people/{id}`). Plain HTML forms that post to the
//! server functions and are sent back here; nothing on them is live, so nothing of them
//! needs to be in the client every visitor downloads (BENCHMARKS.md, the first-visit
//! budget). The edge (`server::edge::pages`) gathers the data and calls these; they
//! only render. Links to these pages carry `rel="external"`: the client's router must
//! not try to draw them.

pub mod account;
pub mod admin;
pub mod channels;
pub mod profile;
pub mod reset;

use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;

/// A whole document around `body`, titled `title`, styled like the app.
pub fn document(title: &str, body: impl IntoView + 'static) -> String {
    let title = format!("{title} · natter");
    let html = Owner::new().with(|| {
        view! {
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name="theme-color" content="#2563d8" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/pkg/natter.css" />
                <title>{title}</title>
            </head>
            <body>{body}</body>
        }
        .to_html()
    });
    format!("<!DOCTYPE html><html lang=\"en\">{html}</html>")
}

/// The error a form post brought back in this page's address (`__err`), as a page may
/// show it (`AppError::from_address`: no link can put words of its choosing here).
pub fn address_error(encoded: Option<&str>) -> Option<String> {
    use leptos::server_fn::error::ServerFnUrlError;
    let err = ServerFnUrlError::<crate::model::AppError>::decode_err(encoded?);
    Some(err.from_address().to_string())
}

/// A form's error, announced.
pub fn form_error(error: Option<String>) -> impl IntoView {
    error.map(|e| view! { <p class="form-error" role="alert">{e}</p> })
}

/// A page that only says `text` (a refusal, an error).
pub fn message_page(title: &str, text: &str) -> String {
    let (title_owned, text) = (title.to_string(), text.to_string());
    document(
        title,
        view! {
            <main class="page">
                <h1>{title_owned}</h1>
                <p>{text}</p>
                <p><a href="/chats">"Back to chats"</a></p>
            </main>
        },
    )
}
