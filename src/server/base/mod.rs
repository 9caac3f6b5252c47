//! The bottom of the server: what every layer may use and which uses nothing of the
//! server above it.
//!
//! - [`error`]: the server-side error that keeps the cause, and its mapping to
//!   `crate::model::AppError`.
//! - [`counters`]: the metrics recorder and the counters every layer bumps.
//! - [`net`]: client addresses: `--trusted-proxy` and the network that limits count.
//! - [`same_origin`]: whether a request comes from a page of our own origin.

pub mod counters;
pub mod error;
pub mod net;
pub mod same_origin;
