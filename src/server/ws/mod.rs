//! Live delivery over one WebSocket per tab (`GET /ws`).
//!
//! - [`hub`]: the registry of open connections, and fan-out into their queues.
//! - [`queue`]: one connection's bounded outbound queue (nothing allocated while empty).
//! - [`broker`]: the publish seam (in-process now; an external broker later).
//! - [`session`]: one connection: upgrade checks, reader and writer tasks, resume,
//!   heartbeat, rate limits, one cleanup path.
//! - [`events`]: turning domain changes into frames, serialised once per event.

pub mod broker;
pub mod events;
pub mod hub;
pub mod queue;
pub mod session;

pub use broker::{Broker, LocalBroker};
pub use hub::Hub;
