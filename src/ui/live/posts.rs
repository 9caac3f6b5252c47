//! Frames going up as `POST /frames` on the fallback: queued, and sent one request at
//! a time (that keeps them in order). Pure: `wire` makes the requests.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Posts {
    queue: VecDeque<String>,
    /// A request is under way (its task takes the next frame when it is done).
    posting: bool,
}

impl Posts {
    /// Queues a frame; true if no request is under way (the caller starts one).
    pub fn push(&mut self, frame: String) -> bool {
        self.queue.push_back(frame);
        !std::mem::replace(&mut self.posting, true)
    }

    /// The next frame to send; `None` ends the requests.
    pub fn next(&mut self) -> Option<String> {
        let next = self.queue.pop_front();
        self.posting = next.is_some();
        next
    }

    /// The network failed: the outbox resends what was not acked; reads and typing
    /// are worth nothing late.
    pub fn drop_all(&mut self) {
        self.queue.clear();
        self.posting = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time_in_order() {
        let mut posts = Posts::default();
        assert!(posts.push("a".into()), "the first starts the requests");
        assert!(!posts.push("b".into()), "one is under way");
        assert_eq!(posts.next().as_deref(), Some("a"));
        assert!(!posts.push("c".into()), "still under way");
        assert_eq!(posts.next().as_deref(), Some("b"));
        assert_eq!(posts.next().as_deref(), Some("c"));
        assert_eq!(posts.next(), None);
        assert!(posts.push("d".into()), "done: the next starts again");
    }

    #[test]
    fn a_network_failure_drops_what_waits() {
        let mut posts = Posts::default();
        posts.push("a".into());
        posts.push("b".into());
        assert_eq!(posts.next().as_deref(), Some("a"));
        posts.drop_all();
        assert!(posts.push("c".into()));
        assert_eq!(posts.next().as_deref(), Some("c"));
    }
}
