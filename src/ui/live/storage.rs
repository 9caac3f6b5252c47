//! The browser's `localStorage`, as the live connection uses it (built for the browser
//! only): the outbox's copy (it survives a reload; what is stored is
//! [`outbox`](super::outbox)'s rule) and the end-to-end tests' probe interval.

use super::link::PROBE_EVERY_MS;
use super::outbox::{self, Store};
use super::Pending;
use crate::model::UserId;
use leptos::prelude::window;

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The outbox a reload left behind.
pub fn load_outbox(user: UserId) -> Option<Vec<Pending>> {
    let json = storage()?
        .get_item(&outbox::storage_key(user))
        .ok()
        .flatten()?;
    outbox::from_store(&json)
}

pub fn save_outbox(user: UserId, pending: &[Pending]) {
    let Some(storage) = storage() else {
        return;
    };
    match outbox::to_store(pending) {
        Some(Store::Remove) => {
            let _ = storage.remove_item(&outbox::storage_key(user));
        }
        Some(Store::Write(json)) => {
            let _ = storage.set_item(&outbox::storage_key(user), &json);
        }
        None => {}
    }
}

/// Signing out: the outbox's unsent text must not stay in this browser's storage.
pub fn forget_outbox(user: UserId) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&outbox::storage_key(user));
    }
}

/// [`PROBE_EVERY_MS`], unless `localStorage["natter.ws_probe_ms"]` says otherwise (the
/// end-to-end tests do not wait three minutes). Whole milliseconds: parsing an `f64`
/// would pull float parsing and its tables (~12 KB compressed) into the WASM.
pub fn probe_every_ms() -> f64 {
    storage()
        .and_then(|s| s.get_item("natter.ws_probe_ms").ok().flatten())
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(PROBE_EVERY_MS, f64::from)
}
