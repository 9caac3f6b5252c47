//! The scale seam: everything that fans out goes through [`Broker::publish`].
//!
//! [`LocalBroker`] hands frames straight to this process's [`Hub`]. A broker for
//! several server processes (Redis, NATS…) would publish `(users, frame)` to a channel
//! and have every process's subscriber call `Hub::send_to_users`, without any change
//! to the connection code.

use super::hub::{Frame, Hub};
use crate::model::UserId;
use std::sync::Arc;

pub trait Broker: Send + Sync + 'static {
    /// Delivers `frame` to every open connection of `users`, wherever it is.
    fn publish(&self, users: &[UserId], frame: Frame);
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
