//! One connection's outbound queue: the hub and the connection's reader push, the
//! connection's outgoing task pops.
//!
//! Why not `tokio::sync::mpsc`: a tokio channel costs ~1 KiB per connection before the
//! first frame (a 128-byte-aligned channel state of ~0.5 KiB and a first block of 32
//! slots), a fifth of what an idle connection cost in all (heaptrack, BENCHMARKS.md).
//! This queue is a `VecDeque` behind a mutex that is only held to push or pop one item:
//! nothing is allocated while it is empty (a drained queue gives its memory back: one
//! small allocation per outgoing wake-up is cheap next to the write that follows). It
//! also carries the request to end the connection (the hub's "too slow", or the
//! reader's close frame), so the outgoing task waits on one thing and its idle state holds no
//! waiter of its own.
//!
//! The outgoing task is woken through one [`AtomicWaker`]: its pop and its end check are polled
//! by the same task, so one waker serves both.

use super::frame::Outbound;
use axum::extract::ws::CloseFrame;
use futures::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::sync::Notify;

pub struct Queue {
    state: Mutex<State>,
    capacity: usize,
    /// Set once `State::end` holds the frame to close the connection with.
    ending: AtomicBool,
    /// The outgoing task: woken on a push and on a request to end.
    outgoing: AtomicWaker,
    /// Notified when a full queue gets room (only the connection's reader waits for it).
    room: Notify,
}

#[derive(Default)]
struct State {
    items: VecDeque<Outbound>,
    /// The outgoing task has ended: nothing more is accepted.
    closed: bool,
    /// How the connection should end, as soon as possible (the first request wins).
    end: Option<CloseFrame>,
}

/// Why [`Queue::try_push`] refused an item.
#[derive(Debug)]
pub enum PushError {
    Full(Outbound),
    Closed,
}

/// The outgoing task has ended (the connection is closing).
#[derive(Debug)]
pub struct Closed;

impl Queue {
    pub fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State::default()),
            capacity,
            ending: AtomicBool::new(false),
            outgoing: AtomicWaker::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a single push, pop or flag change: a panic inside one
        // cannot leave the state half-updated.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues an item without waiting.
    pub fn try_push(&self, item: Outbound) -> Result<(), PushError> {
        {
            let mut state = self.lock();
            if state.closed {
                return Err(PushError::Closed);
            }
            if state.items.len() >= self.capacity {
                return Err(PushError::Full(item));
            }
            state.items.push_back(item);
        }
        self.outgoing.wake();
        Ok(())
    }

    /// Queues an item, waiting while the queue is full.
    pub async fn push(&self, mut item: Outbound) -> Result<(), Closed> {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            // Registered before trying, so a pop between the try and the wait is not missed.
            room.as_mut().enable();
            match self.try_push(item) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed) => return Err(Closed),
                Err(PushError::Full(back)) => {
                    item = back;
                    room.await;
                }
            }
        }
    }

    /// Whether the connection was asked to end (see [`Self::end`]).
    pub fn is_ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
    }

    /// Asks the outgoing task to close the connection with `reason` before anything else queued.
    /// Whether this call ended it (`false`: it was ending already, with the first reason).
    pub fn end(&self, reason: CloseFrame) -> bool {
        let first = {
            let mut state = self.lock();
            let first = state.end.is_none();
            state.end.get_or_insert(reason);
            first
        };
        self.ending.store(true, Ordering::Release);
        self.outgoing.wake();
        first
    }

    /// The next item, without waiting.
    pub fn try_pop(&self) -> Option<Outbound> {
        let mut state = self.lock();
        let was_full = state.items.len() >= self.capacity;
        let item = state.items.pop_front();
        if state.items.is_empty() {
            state.items = VecDeque::new();
        }
        drop(state);
        if was_full && item.is_some() {
            self.room.notify_waiters();
        }
        item
    }

    /// The next item, or `Pending` with the caller's task registered for the next push.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Outbound> {
        if let Some(item) = self.try_pop() {
            return Poll::Ready(item);
        }
        self.outgoing.register(cx.waker());
        // A push may have landed between the first try and the registration.
        match self.try_pop() {
            Some(item) => Poll::Ready(item),
            None => Poll::Pending,
        }
    }

    /// Ready with the close frame once [`Self::end`] was called.
    pub fn poll_end(&self, cx: &mut Context<'_>) -> Poll<CloseFrame> {
        if !self.ending.load(Ordering::Acquire) {
            self.outgoing.register(cx.waker());
            if !self.ending.load(Ordering::Acquire) {
                return Poll::Pending;
            }
        }
        match self.lock().end.take() {
            Some(reason) => Poll::Ready(reason),
            // Already taken: the outgoing task is past it.
            None => Poll::Pending,
        }
    }

    /// Refuses everything from now on and drops what is queued (the outgoing task has ended).
    pub fn close(&self) {
        let items = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.items)
        };
        drop(items);
        self.room.notify_waiters();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn ready() -> Outbound {
        Outbound::Ready
    }

    /// A task pushing one more item into `q`, given time to start waiting for room.
    async fn blocked_push(q: &Arc<Queue>) -> tokio::task::JoinHandle<Result<(), Closed>> {
        let pusher = tokio::spawn({
            let q = q.clone();
            async move { q.push(ready()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        pusher
    }

    #[test]
    fn an_empty_queue_holds_no_memory() {
        let q = Queue::new(512);
        assert_eq!(q.lock().items.capacity(), 0);
        for _ in 0..500 {
            q.try_push(ready()).unwrap();
        }
        assert!(q.lock().items.capacity() >= 500);
        q.try_pop().unwrap();
        assert!(
            q.lock().items.capacity() >= 499,
            "not freed while items remain"
        );
        while q.try_pop().is_some() {}
        assert_eq!(q.lock().items.capacity(), 0);
    }

    #[test]
    fn a_full_queue_refuses_and_a_closed_one_drops_everything() {
        let q = Queue::new(2);
        q.try_push(ready()).unwrap();
        q.try_push(ready()).unwrap();
        assert!(matches!(q.try_push(ready()), Err(PushError::Full(_))));
        q.close();
        assert_eq!(q.len(), 0);
        assert!(matches!(q.try_push(ready()), Err(PushError::Closed)));
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_and_push_waits_for_room() {
        let q = Arc::new(Queue::new(1));
        let popper = tokio::spawn({
            let q = q.clone();
            async move { std::future::poll_fn(|cx| q.poll_pop(cx)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!popper.is_finished());
        q.try_push(ready()).unwrap();
        assert!(matches!(popper.await.unwrap(), Outbound::Ready));

        q.try_push(ready()).unwrap();
        let pusher = blocked_push(&q).await;
        assert!(
            !pusher.is_finished(),
            "push must wait while the queue is full"
        );
        q.try_pop().unwrap();
        tokio::time::timeout(Duration::from_secs(5), pusher)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn close_releases_a_waiting_push_and_end_wakes_the_outgoing_task_with_the_first_reason() {
        let q = Arc::new(Queue::new(1));
        q.try_push(ready()).unwrap();
        let pusher = blocked_push(&q).await;
        q.close();
        assert!(tokio::time::timeout(Duration::from_secs(5), pusher)
            .await
            .unwrap()
            .unwrap()
            .is_err());

        let q = Arc::new(Queue::new(1));
        let ended = tokio::spawn({
            let q = q.clone();
            async move { std::future::poll_fn(|cx| q.poll_end(cx)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!ended.is_finished());
        let frame = |code| CloseFrame {
            code,
            reason: "".into(),
        };
        q.end(frame(4010));
        q.end(frame(1000));
        let reason = tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reason.code, 4010);
    }
}
