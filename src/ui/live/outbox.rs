//! The outbox's rules, on the list a [`Live`](super::Live) shows: messages typed but
//! not acknowledged, oldest first, each with its client id (a resend with the same id
//! cannot be doubled). Pure: keeping the list in `localStorage` is `storage`'s job
//! (it stores [`to_store`]'s answer and reads back with [`from_store`]).

use super::Pending;
use crate::model::protocol::{ClientFrame, ErrorCode};
use crate::model::UserId;

/// Where a user's outbox is kept in the browser (it survives a reload).
pub fn storage_key(user: UserId) -> String {
    format!("natter.outbox.{user}")
}

/// What the browser's storage should hold for this outbox.
#[derive(Debug, PartialEq)]
pub enum Store {
    Remove,
    Write(String),
}

/// `None` if it cannot be written (then the stored copy is left as it is).
pub fn to_store(outbox: &[Pending]) -> Option<Store> {
    if outbox.is_empty() {
        return Some(Store::Remove);
    }
    serde_json::to_string(outbox).ok().map(Store::Write)
}

pub fn from_store(json: &str) -> Option<Vec<Pending>> {
    serde_json::from_str(json).ok()
}

/// Adds what a reload left behind after what is already there (once each).
pub fn restore(outbox: &mut Vec<Pending>, saved: Vec<Pending>) {
    for p in saved {
        if !outbox.iter().any(|x| x.client_id == p.client_id) {
            outbox.push(p);
        }
    }
}

/// What to send, in order: every message not refused for good (oldest first, before
/// anything typed later).
pub fn to_send(outbox: &[Pending]) -> impl Iterator<Item = &Pending> {
    outbox.iter().filter(|p| p.failed.is_none())
}

/// The frame that sends `p`.
pub fn send_frame(p: &Pending) -> ClientFrame {
    ClientFrame::Send {
        client_id: p.client_id.clone(),
        chat_id: p.chat_id,
        body: p.body.clone(),
        reply_to: p.reply_to.as_ref().map(|r| r.id),
        files: p.files.iter().map(|f| f.id).collect(),
    }
}

/// The server committed it.
pub fn acked(outbox: &mut Vec<Pending>, client_id: &str) {
    outbox.retain(|p| p.client_id != client_id);
}

/// Whether an error with `code` refuses a message for good ("not sent — retry"): not
/// when it was rate limited or the server's own fault (the next resend may pass).
pub fn for_good(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::RateLimited | ErrorCode::Internal)
}

/// The server refused it for good, saying `message`.
pub fn refuse(outbox: &mut [Pending], client_id: &str, message: &str) {
    if let Some(p) = outbox.iter_mut().find(|p| p.client_id == client_id) {
        p.failed = Some(message.to_string());
    }
}

/// Clears a refusal so the message goes again (same client id); returns it to send.
pub fn retry(outbox: &mut [Pending], client_id: &str) -> Option<Pending> {
    let p = outbox.iter_mut().find(|p| p.client_id == client_id)?;
    p.failed = None;
    Some(p.clone())
}

pub fn discard(outbox: &mut Vec<Pending>, client_id: &str) {
    outbox.retain(|p| p.client_id != client_id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChatId;

    fn pending(id: &str) -> Pending {
        Pending {
            client_id: id.to_string(),
            chat_id: ChatId(1),
            body: format!("body {id}"),
            reply_to: None,
            files: Vec::new(),
            failed: None,
        }
    }

    fn ids(outbox: &[Pending]) -> Vec<&str> {
        outbox.iter().map(|p| p.client_id.as_str()).collect()
    }

    #[test]
    fn a_restored_outbox_keeps_order_and_does_not_double() {
        let mut outbox = vec![pending("b"), pending("c")];
        restore(&mut outbox, vec![pending("a"), pending("b"), pending("d")]);
        assert_eq!(ids(&outbox), ["b", "c", "a", "d"]);
    }

    #[test]
    fn the_stored_copy_round_trips_and_an_empty_outbox_is_removed() {
        assert_eq!(to_store(&[]), Some(Store::Remove));
        let mut refused_one = pending("x");
        refused_one.failed = Some("too long".into());
        let outbox = vec![pending("w"), refused_one];
        let Some(Store::Write(json)) = to_store(&outbox) else {
            panic!("not written");
        };
        assert_eq!(from_store(&json), Some(outbox));
        assert_eq!(from_store("not json"), None);
        assert_eq!(storage_key(crate::model::UserId(42)), "natter.outbox.42");
    }

    #[test]
    fn sends_go_oldest_first_without_the_refused() {
        let mut outbox = vec![pending("1"), pending("2"), pending("3")];
        refuse(&mut outbox, "2", "empty");
        assert_eq!(
            ids(&to_send(&outbox).cloned().collect::<Vec<_>>()),
            ["1", "3"]
        );
        let ClientFrame::Send {
            client_id, body, ..
        } = send_frame(&outbox[2])
        else {
            panic!("not a send");
        };
        assert_eq!((client_id.as_str(), body.as_str()), ("3", "body 3"));
    }

    #[test]
    fn rate_limits_and_server_faults_are_not_refusals() {
        assert!(!for_good(ErrorCode::RateLimited));
        assert!(!for_good(ErrorCode::Internal));
        for code in [
            ErrorCode::BadFrame,
            ErrorCode::Invalid,
            ErrorCode::NotFound,
            ErrorCode::Forbidden,
        ] {
            assert!(for_good(code), "{code:?}");
        }
        let mut outbox = vec![pending("1"), pending("2")];
        refuse(&mut outbox, "2", "blocked");
        assert_eq!(outbox[0].failed, None);
        assert_eq!(outbox[1].failed.as_deref(), Some("blocked"));
    }

    #[test]
    fn retry_clears_the_refusal_and_keeps_the_client_id() {
        let mut outbox = vec![pending("1"), pending("2")];
        refuse(&mut outbox, "1", "gone");
        let again = retry(&mut outbox, "1");
        assert_eq!(again, Some(pending("1")));
        assert_eq!(ids(&outbox), ["1", "2"], "it keeps its place");
        assert_eq!(retry(&mut outbox, "nope"), None);
    }

    #[test]
    fn an_ack_or_a_discard_removes_only_that_message() {
        let mut outbox = vec![pending("1"), pending("2"), pending("3")];
        acked(&mut outbox, "2");
        assert_eq!(ids(&outbox), ["1", "3"]);
        discard(&mut outbox, "1");
        assert_eq!(ids(&outbox), ["3"]);
        acked(&mut outbox, "unknown");
        assert_eq!(ids(&outbox), ["3"]);
    }
}
