#![recursion_limit = "256"]
//! natter: a self-hosted real-time chat.
//!
//! - [`model`][]: types shared by server and browser (ids, wire types, errors, validation).
//! - [`api`][]: server functions, one file per feature; called from the UI, run on the server.
//! - [`ui`][]: Leptos pages and components (rendered on the server, hydrated in the browser).
//! - `server` (feature `ssr`): configuration, router, auth, storage.

pub mod api;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;

/// The WASM entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
}
