//! The state every handler and server function can reach.

use super::config::Config;
use super::db::Store;
use super::writer::MessageWriter;
use super::ws::{Broker, Hub, LocalBroker};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Store,
    /// This process's open WebSocket connections.
    pub hub: Arc<Hub>,
    /// Where fan-out goes (see `server::ws::broker`).
    pub broker: Arc<dyn Broker>,
    /// Stores and publishes new messages (see `server::writer`).
    pub writer: MessageWriter,
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
        let hub = Arc::new(Hub::new());
        let broker: Arc<dyn Broker> = Arc::new(LocalBroker::new(hub.clone()));
        let writer = MessageWriter::start(store.clone(), broker.clone());
        Ok(AppState {
            leptos_options,
            config: Arc::new(config),
            store,
            hub,
            broker,
            writer,
        })
    }

    /// The state of the current server function or page render.
    pub fn current() -> Result<Self, super::Error> {
        leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| super::Error::internal("AppState missing from context"))
    }
}
