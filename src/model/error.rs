//! The one error type the browser sees.
//!
//! Server code keeps the cause in `server::Error`; only these kinds (with
//! user-facing messages) ever cross the wire. `Internal` carries no detail.

use super::protocol::ErrorCode;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input broke a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// No valid session.
    #[error("Please sign in")]
    Unauthorized,
    /// Wrong username or password (one message for both, on purpose).
    #[error("Wrong username or password")]
    BadCredentials,
    /// Signed in but not allowed.
    #[error("You are not allowed to do that")]
    Forbidden,
    /// Missing, or not visible to this user (non-members learn nothing).
    #[error("{0} not found")]
    NotFound(String),
    /// Clashes with existing data (e.g. a taken username).
    #[error("{0}")]
    Conflict(String),
    /// Over a size or storage limit (a file); the message says which.
    #[error("{0}")]
    TooLarge(String),
    /// Slow down.
    #[error("Too many requests, try again in a moment")]
    RateLimited,
    /// Our fault; details are in the server log only.
    #[error("Something went wrong on our side, please try again")]
    Internal,
    /// The request never made it (network, decoding).
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 400,
            AppError::Unauthorized | AppError::BadCredentials => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::TooLarge(_) => 413,
            AppError::RateLimited => 429,
            AppError::Internal => 500,
            AppError::Transport(_) => 502,
        }
    }

    /// The `error` frame's code for this error (the live protocol's view of the kinds
    /// above; see [`ErrorCode::status`] for the way back to HTTP).
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Invalid(_) | AppError::Conflict(_) | AppError::TooLarge(_) => {
                ErrorCode::Invalid
            }
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Forbidden | AppError::Unauthorized | AppError::BadCredentials => {
                ErrorCode::Forbidden
            }
            AppError::RateLimited => ErrorCode::RateLimited,
            AppError::Internal | AppError::Transport(_) => ErrorCode::Internal,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into())
    }

    pub fn chat_not_found() -> Self {
        AppError::NotFound("Chat".into())
    }

    /// This error as a page may show it when it came in the page's address rather than
    /// from the server: a form posted without JavaScript gets its error back in the
    /// redirect's query (`?__path=…&__err=…`, base64 JSON), and so can any link anyone
    /// writes. The kinds with fixed messages stay; a message that carries text is kept
    /// only if it is one of the server's own fixed ones, else it becomes a generic one,
    /// so no link can put chosen words into a form's error box.
    pub fn from_address(self) -> Self {
        match self {
            AppError::Invalid(m) | AppError::Conflict(m) if is_fixed_message(&m) => {
                AppError::Invalid(m)
            }
            AppError::NotFound(m) if ["Chat", "Message", "Member"].contains(&m.as_str()) => {
                AppError::NotFound(m)
            }
            AppError::Invalid(_)
            | AppError::Conflict(_)
            | AppError::NotFound(_)
            | AppError::TooLarge(_)
            | AppError::Transport(_) => AppError::Invalid(ADDRESS_ERROR.into()),
            fixed => fixed,
        }
    }
}

/// What a form shows for an error from its address that is not a known fixed message.
pub const ADDRESS_ERROR: &str = "That did not work. Please check what you entered and try again.";

/// The fixed messages of `Invalid` and `Conflict` that a plain form post can get back:
/// the input rules, and the few the server states in words of its own.
fn is_fixed_message(m: &str) -> bool {
    const SERVER: [&str; 17] = [
        "That username is taken",
        "The current password is wrong",
        "The password is wrong",
        "A group needs a title",
        "Add someone other than yourself",
        "Message is empty",
        // The instance's administration (`server::db::{instance, people}`,
        // `server::domain::admin`, `api::auth`), pinned by a test there.
        "Sign-up is closed on this server",
        "Sign-up needs an invitation link on this server",
        "This invitation link is not valid any more",
        "Too many invitations are open: revoke some or let them expire",
        "natter needs an administrator: make someone else administrator first",
        "Reactivate this person first",
        "You cannot deactivate yourself",
        "This link is not valid any more: ask an administrator for a new one",
        "An invitation is valid for 1, 7 or 30 days",
        "This account is deactivated: ask an administrator",
        "The owner manages the group already",
    ];
    SERVER.contains(&m)
        || super::validate::fixed_rule_messages()
            .iter()
            .any(|r| r == m)
}

impl ErrorCode {
    /// The HTTP status of a request refused with this code (`POST /frames`).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadFrame | ErrorCode::Invalid => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Forbidden => 403,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(msg) | E::MissingArg(msg) | E::Deserialization(msg) => {
                AppError::Invalid(format!("Bad request: {msg}"))
            }
            E::Request(msg) | E::Response(msg) => AppError::Transport(msg),
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate;

    #[test]
    fn an_address_keeps_only_the_servers_own_messages() {
        let chosen = "Your account is locked: call +1 555 0100";
        for e in [
            AppError::Invalid(chosen.into()),
            AppError::Conflict(chosen.into()),
            AppError::NotFound(chosen.into()),
            AppError::Transport(chosen.into()),
        ] {
            let shown = e.from_address().to_string();
            assert!(!shown.contains("555"), "{shown}");
            assert_eq!(shown, ADDRESS_ERROR);
        }
        // The server's own answers to a plain form post survive the trip.
        let genuine = [
            validate::username("a").unwrap_err(),
            validate::username("a b!").unwrap_err(),
            validate::password("short").unwrap_err(),
            validate::password(&"x".repeat(validate::PASSWORD_MAX + 1)).unwrap_err(),
            validate::title(&"x".repeat(validate::TITLE_MAX + 1)).unwrap_err(),
            validate::member_list(" , ").unwrap_err(),
            AppError::Conflict("That username is taken".into()),
            AppError::BadCredentials,
            AppError::RateLimited,
            AppError::chat_not_found(),
        ];
        for e in genuine {
            let text = e.to_string();
            assert_eq!(e.from_address().to_string(), text);
        }
    }
}
