//! Server functions, one file per feature. Each is an ordinary async fn on the server
//! and a typed HTTP call (`POST /api/...`) in the browser; every one checks the session
//! and, for chat data, membership (through `server::domain::chats`). Each runs its body
//! through `server::edge::calls` (`as_user`, `as_user_to`): the session, the per-user
//! limit, and the error that reaches the browser.

pub mod account;
pub mod admin;
pub mod auth;
pub mod chats;
pub mod consent;
pub mod files;
pub mod messages;
pub mod push;
pub mod search;
