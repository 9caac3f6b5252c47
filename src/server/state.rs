//! The state every handler and server function can reach.

use super::config::Config;
use super::db::Store;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Store,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> Result<Self, Box<dyn std::error::Error>> {
        let mut leptos_options = leptos::config::get_configuration(None)?.leptos_options;
        // cargo-leptos bakes this in at compile time; plain `cargo test` builds lack it.
        leptos_options.output_name = env!("CARGO_PKG_NAME").into();
        leptos_options.site_root = config.site_root.clone().into();
        if let Ok(addr) = config.bind.parse() {
            leptos_options.site_addr = addr;
        }
        Ok(AppState {
            leptos_options,
            config: Arc::new(config),
            store,
        })
    }

    /// The state of the current server function or page render.
    pub fn current() -> Result<Self, super::Error> {
        leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| super::Error::internal("AppState missing from context"))
    }
}
