//! Read receipts, throttled: the first `read` goes out at once (the other side's
//! "Seen" should not wait), then at most one per chat every [`READ_COALESCE_MS`],
//! carrying the newest seq; none that would not move the pointer. Pure: `socket` sends
//! and runs the timer.

use crate::model::ChatId;
use std::collections::BTreeMap;

/// Read receipts wait this long and go out as one `read` per chat (the newest seq): a
/// busy chat would otherwise send one per message, which the server limits.
pub const READ_COALESCE_MS: i32 = 500;

#[derive(Debug, Default)]
pub struct Reads {
    /// Read pointers waiting for the throttle's window to end, and the last one sent
    /// per chat.
    pending: BTreeMap<ChatId, i64>,
    sent: BTreeMap<ChatId, i64>,
    /// A window is open (its timer calls [`Reads::take`]).
    holding: bool,
}

impl Reads {
    /// `chat` is read up to `seq`; true if the reads should go out now (no window open).
    pub fn read(&mut self, chat: ChatId, seq: i64) -> bool {
        if self.sent.get(&chat).is_some_and(|sent| *sent >= seq) {
            return false;
        }
        let p = self.pending.entry(chat).or_insert(seq);
        *p = (*p).max(seq);
        !self.holding
    }

    /// The reads to send now. If there are any, a window opens: the caller ends it
    /// after [`READ_COALESCE_MS`] by calling this again.
    pub fn take(&mut self) -> BTreeMap<ChatId, i64> {
        let pending = std::mem::take(&mut self.pending);
        self.holding = !pending.is_empty();
        pending
    }

    /// This read went out.
    pub fn sent(&mut self, chat: ChatId, seq: i64) {
        self.sent.insert(chat, seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ChatId = ChatId(1);
    const B: ChatId = ChatId(2);

    fn send_all(reads: &mut Reads) -> Vec<(ChatId, i64)> {
        let out: Vec<_> = reads.take().into_iter().collect();
        for (chat, seq) in &out {
            reads.sent(*chat, *seq);
        }
        out
    }

    #[test]
    fn the_first_read_goes_at_once_then_the_newest_per_window() {
        let mut reads = Reads::default();
        assert!(reads.read(A, 3));
        assert_eq!(send_all(&mut reads), [(A, 3)]);
        assert!(!reads.read(A, 4), "held: a window is open");
        assert!(!reads.read(A, 6));
        assert!(!reads.read(A, 5));
        assert!(!reads.read(B, 1));
        assert_eq!(send_all(&mut reads), [(A, 6), (B, 1)]);
        // Nothing new in that window: it closes, and the next read goes at once.
        assert_eq!(send_all(&mut reads), []);
        assert!(reads.read(B, 2));
    }

    #[test]
    fn a_read_that_would_not_move_the_pointer_is_dropped() {
        let mut reads = Reads::default();
        reads.read(A, 5);
        send_all(&mut reads);
        send_all(&mut reads);
        assert!(!reads.read(A, 5));
        assert!(!reads.read(A, 2));
        assert_eq!(send_all(&mut reads), []);
    }

    #[test]
    fn a_read_not_sent_can_go_later() {
        let mut reads = Reads::default();
        assert!(reads.read(A, 5));
        // Offline: taken but not sent.
        assert_eq!(reads.take().into_iter().collect::<Vec<_>>(), [(A, 5)]);
        assert_eq!(reads.take().len(), 0);
        assert!(reads.read(A, 5), "not marked sent, so not dropped");
    }
}
