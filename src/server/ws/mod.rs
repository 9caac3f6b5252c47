//! Live delivery over one WebSocket per tab (`GET /ws`), or, where WebSocket is
//! blocked, over a Server-Sent Events stream (`GET /sse`) and POSTed frames
//! (`POST /frames`): the same frames, queue and writer.
//!
//! - [`hub`]: the registry of open connections, and fan-out into their queues; it
//!   closes the connections of revoked sessions.
//! - [`presence`]: who is online on any node (Redis), for several nodes.
//! - [`announce`]: presence changes told to contacts, coalesced per user.
//! - [`queue`]: one connection's bounded outbound queue (nothing allocated while empty).
//! - [`broker`]: the publish seam (in-process now; an external broker later).
//! - [`redis_broker`]: the broker for several nodes, over Redis pub/sub.
//! - [`session`]: one connection: upgrade checks, its two tasks, one cleanup path.
//! - [`slots`]: caps on open connections per user and per IP.
//! - [`opens`]: limits on opening connections per user and per IP.
//! - [`reader`]: the connection's reader task: client frames, pipelined sends, rate
//!   limits and strikes.
//! - [`writer`]: the connection's writer task: frames out in order, hold-back until
//!   `resume`, replay and gap filling, heartbeat. (Not to be confused with
//!   `server::writer`, the tasks that store and publish every new message.)
//! - [`sse`]: the fallback's stream: a connection whose writer writes SSE events.
//! - [`frames`]: the fallback's client frames, one POST each, on any node.
//! - [`events`]: turning domain changes into frames, serialised once per event.

pub mod announce;
pub mod broker;
pub mod events;
pub mod frames;
pub mod hub;
pub mod opens;
pub mod presence;
pub mod queue;
mod reader;
pub mod redis_broker;
pub mod session;
pub mod slots;
pub mod sse;
mod writer;

pub use broker::{Broker, LocalBroker};
pub use hub::Hub;
