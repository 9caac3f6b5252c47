//! The live machinery under the domain: what carries frames to connections on this
//! node and the others. Nothing here knows the rules of chats.
//!
//! - [`frame`]: a frame serialised once and shared; what a connection's queue carries.
//! - [`queue`]: one connection's bounded outbound queue (nothing allocated while empty).
//! - [`hub`]: the registry of this node's connections, and fan-out into their queues;
//!   it closes the connections of revoked sessions.
//! - [`slots`]: caps on open connections per user and per address.
//! - [`opens`]: limits on opening connections per user and per address.
//! - [`broker`]: the publish seam; [`redis_broker`]: the one for several nodes.
//! - [`cluster_presence`]: who is online on any node (Redis), for several nodes, and
//!   whose tabs are visible there; [`tabs`]: whose tabs are visible, on one node.

pub mod broker;
pub mod cluster_presence;
pub mod frame;
pub mod hub;
pub mod opens;
pub mod queue;
pub mod redis_broker;
pub mod slots;
pub mod tabs;
