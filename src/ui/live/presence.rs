//! Contacts' presence as frames report it: online, or when last seen (ms since the
//! epoch). Pure: `socket` applies it to [`Live::presence`](super::Live::presence).

use crate::model::protocol::ServerFrame;
use crate::model::UserId;
use std::collections::HashMap;

/// Per contact: online, and when last seen.
pub type Presence = HashMap<UserId, (bool, Option<i64>)>;

/// Whether `frame` changes presence (see [`apply`]).
pub fn concerns(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Presence { .. } | ServerFrame::PresenceSnapshot { .. }
    )
}

/// One contact's change, or the snapshot after `hello` (contacts it leaves out keep
/// what was known).
pub fn apply(presence: &mut Presence, frame: &ServerFrame) {
    match frame {
        ServerFrame::Presence {
            user_id,
            online,
            last_seen,
        } => {
            presence.insert(*user_id, (*online, *last_seen));
        }
        ServerFrame::PresenceSnapshot { online, offline } => {
            presence.extend(online.iter().map(|u| (*u, (true, None))));
            presence.extend(offline.iter().map(|(u, seen)| (*u, (false, *seen))));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_then_changes() {
        let mut p = Presence::new();
        p.insert(UserId(9), (true, None));
        let snapshot = ServerFrame::PresenceSnapshot {
            online: vec![UserId(1)],
            offline: vec![(UserId(2), Some(50)), (UserId(3), None)],
        };
        assert!(concerns(&snapshot));
        apply(&mut p, &snapshot);
        assert_eq!(p[&UserId(1)], (true, None));
        assert_eq!(p[&UserId(2)], (false, Some(50)));
        assert_eq!(p[&UserId(3)], (false, None));
        assert_eq!(p[&UserId(9)], (true, None), "not in the snapshot: kept");
        let left = ServerFrame::Presence {
            user_id: UserId(1),
            online: false,
            last_seen: Some(70),
        };
        apply(&mut p, &left);
        assert_eq!(p[&UserId(1)], (false, Some(70)));
        let other = ServerFrame::Resync;
        assert!(!concerns(&other));
        apply(&mut p, &other);
        assert_eq!(p.len(), 4);
    }
}
