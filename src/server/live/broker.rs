//! The scale seam: everything that fans out goes through [`Broker::publish`].
//!
//! [`LocalBroker`] hands frames straight to this process's [`Hub`]. The broker for
//! several nodes (`super::redis_broker`) also publishes `(users, frame)` to Redis, and
//! every node's subscriber calls `Hub::send_to_users`; the connection code is the same.

use super::frame::Frame;
use super::hub::Hub;
use crate::model::UserId;
use std::sync::Arc;

pub trait Broker: Send + Sync + 'static {
    /// Delivers `frame` to every open connection of `users`, wherever it is.
    fn publish(&self, users: &[UserId], frame: Frame);

    /// Whether events reach the other nodes right now (always, for one node).
    fn connected(&self) -> bool {
        true
    }

    /// Every connection on every node resumes from SQL (some events may never have
    /// been published). Nothing to do for one node.
    fn resync_everyone(&self) {}
}

/// Single-process fan-out.
pub struct LocalBroker {
    hub: Arc<Hub>,
}

impl LocalBroker {
    pub fn new(hub: Arc<Hub>) -> Self {
        LocalBroker { hub }
    }
}

impl Broker for LocalBroker {
    fn publish(&self, users: &[UserId], frame: Frame) {
        self.hub.send_to_users(users, &frame);
    }
}
