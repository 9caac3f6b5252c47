//! The one error type the browser sees.
//!
//! Server code keeps the cause in `server::Error`; only these kinds (with
//! user-facing messages) ever cross the wire. `Internal` carries no detail.

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
            AppError::RateLimited => 429,
            AppError::Internal => 500,
            AppError::Transport(_) => 502,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into())
    }

    pub fn chat_not_found() -> Self {
        AppError::NotFound("Chat".into())
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
