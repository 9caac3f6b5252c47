//! Where this tab is in each chat, for `resume`: the newest seq shown and the change
//! number its copy is current to. Pure: `socket` decides when to send.

use crate::model::protocol::ClientFrame;
use crate::model::ChatId;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Positions {
    seqs: BTreeMap<ChatId, i64>,
    /// Per chat, the change number this tab's copy is current to (see `note_change`).
    changes: BTreeMap<ChatId, i64>,
}

impl Positions {
    /// The newest seq shown for a chat (where `resume` starts); never goes back.
    pub fn note_position(&mut self, chat: ChatId, seq: i64) {
        let p = self.seqs.entry(chat).or_insert(seq);
        *p = (*p).max(seq);
    }

    /// The chat's copy in this tab is current to `change`. Only a page load and `synced`
    /// move it, never a live frame: live changes of one chat can arrive out of order
    /// (committed by different requests), so the newest seen says nothing of the ones
    /// before it; a resume from here replays each of them again (harmless: a replay is
    /// the row's current state).
    ///
    /// A chat this tab starts to show while the link is already open is resumed on its
    /// own at once: the server then keeps it in seq order for this tab (with several
    /// nodes, a message from another node can arrive after a later one from this node;
    /// the server fills such a gap from SQL only for chats the tab has resumed). Only a
    /// chat new to the tab: the `synced` that answers that resume comes back here, and
    /// resuming again would never end. Returns that chat's own `resume` when it is new
    /// (the caller sends it if the link is open).
    pub fn note_change(&mut self, chat: ChatId, change: i64) -> Option<ClientFrame> {
        let new_here = !self.changes.contains_key(&chat);
        let position = *self.seqs.entry(chat).or_insert(0);
        let p = self.changes.entry(chat).or_insert(change);
        *p = (*p).max(change);
        new_here.then(|| ClientFrame::Resume {
            positions: BTreeMap::from([(chat, position)]),
            changes: BTreeMap::from([(chat, *p)]),
        })
    }

    /// Every chat this tab holds.
    pub fn resume(&self) -> ClientFrame {
        ClientFrame::Resume {
            positions: self.seqs.clone(),
            changes: self.changes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ChatId = ChatId(1);
    const B: ChatId = ChatId(2);

    fn resume(positions: &[(ChatId, i64)], changes: &[(ChatId, i64)]) -> ClientFrame {
        ClientFrame::Resume {
            positions: positions.iter().copied().collect(),
            changes: changes.iter().copied().collect(),
        }
    }

    #[test]
    fn positions_only_move_forward() {
        let mut p = Positions::default();
        p.note_position(A, 5);
        p.note_position(A, 3);
        p.note_position(B, 1);
        p.note_position(A, 7);
        assert_eq!(p.resume(), resume(&[(A, 7), (B, 1)], &[]));
    }

    #[test]
    fn a_chat_new_to_the_tab_is_resumed_alone_once() {
        let mut p = Positions::default();
        p.note_position(A, 9);
        assert_eq!(p.note_change(A, 4), Some(resume(&[(A, 9)], &[(A, 4)])));
        // Its `synced` comes back here: no second resume.
        assert_eq!(p.note_change(A, 6), None);
        assert_eq!(p.note_change(A, 5), None);
        // A chat with no message shown resumes from seq 0, and is then held.
        assert_eq!(p.note_change(B, 2), Some(resume(&[(B, 0)], &[(B, 2)])));
        assert_eq!(p.resume(), resume(&[(A, 9), (B, 0)], &[(A, 6), (B, 2)]));
    }

    #[test]
    fn a_later_position_is_kept_over_the_zero() {
        let mut p = Positions::default();
        p.note_change(A, 1);
        p.note_position(A, 3);
        assert_eq!(p.resume(), resume(&[(A, 3)], &[(A, 1)]));
    }
}
