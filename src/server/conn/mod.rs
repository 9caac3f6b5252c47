//! Live connections, the top layer beside `edge`: one WebSocket per tab (`GET /ws`),
//! or, where WebSocket is blocked, a Server-Sent Events stream (`GET /sse`) and POSTed
//! frames (`POST /frames`): the same frames, queue and outgoing task either way.
//!
//! - [`socket`]: `GET /ws`: the upgrade and the socket's two halves.
//! - [`sse`]: `GET /sse`: a connection whose outgoing task writes SSE events.
//! - [`post`]: `POST /frames`: one client frame per request, on any node.
//! - [`dispatch`]: the one dispatcher of client frames, for the socket's reader and for
//!   POSTs alike (the limits passed in: per connection or per user).
//! - [`life`]: how a connection (socket or stream) is admitted, and its life from
//!   registration to its one cleanup.
//! - [`reader`]: a socket's reader task: client frames, pipelined sends, strikes.
//! - [`outgoing`]: a connection's outgoing task: frames out in order, hold-back until
//!   `resume`, replay and gap filling, heartbeat.

mod dispatch;
mod life;
mod outgoing;
pub mod post;
mod reader;
pub mod socket;
pub mod sse;
