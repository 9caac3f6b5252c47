//! Shared types: everything that travels between the server and the browser.
//!
//! Compiled into both the server binary and the WASM client, so nothing here
//! may depend on server-only crates (the `sqlx` derives are behind `ssr`).

pub mod admin;
pub mod consent;
pub mod error;
pub mod ids;
pub mod markup;
pub mod protocol;
pub mod push;
pub mod types;
pub mod validate;

pub use consent::{Blocked, Consent, GroupAdds, Invitation, MemberAdded};
pub use error::AppError;
pub use ids::{ChatId, FileId, MessageId, UserId};
pub use push::{PushDevice, PushSettings};
pub use types::*;
