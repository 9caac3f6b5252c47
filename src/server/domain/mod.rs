//! The rules, as small services that each hold only the handles they use (built and
//! wired by `app.rs`; nothing here names the assembled state), so a rule can be tested
//! with a store and a broker.
//!
//! - [`chats`]: every chat operation (open, send, edit, react, read, typing, groups);
//!   its module comment has the one rule for where membership is checked.
//! - [`consent`]: blocks, who may add whom to groups, invitations.
//! - [`account`]: closing an account.
//! - [`admin`]: the instance's administration: sign-up mode, invitation links,
//!   deactivation, password reset links, administrators, the audit log.
//! - [`commit`]: the two tasks that store new messages in groups and publish them.
//! - [`notify`]: who is told what: domain changes turned into frames for members.
//! - [`presence`]: who is online, told to whom; [`announce`] coalesces it per user.
//! - [`auth`]: passwords, session tokens, the cookie.
//! - [`limits`]: sign-in and sign-up limits per address and name; write limits per user.
//! - [`files`]: uploads, thumbnails, members-only reads and the sweeper of files;
//!   [`exif`] strips photos' metadata as they stream in.
//! - [`backup`]: `natter backup`, the database and its files folder.
//! - [`push`]: Web Push to browsers whose natter tab is closed; [`push::guard`] keeps
//!   the endpoints it posts to public.

pub mod account;
pub mod admin;
pub mod announce;
pub mod auth;
pub mod backup;
pub mod broadcast;
pub mod chats;
pub mod commit;
pub mod consent;
pub mod exif;
pub mod files;
pub mod limits;
pub mod notify;
pub mod picture;
pub mod presence;
pub mod profiles;
pub mod push;

#[cfg(test)]
mod tests {
    use super::chats::Chats;
    use super::commit::Committer;
    use super::consent::Consents;
    use super::notify::Notifier;
    use super::presence::Presence;
    use crate::model::protocol::ServerFrame;
    use crate::model::AppError;
    use crate::server::base::error::Error;
    use crate::server::db::Store;
    use crate::server::live::broker::LocalBroker;
    use crate::server::live::frame::{encode, FrameKind, Outbound};
    use crate::server::live::hub::Hub;
    use std::sync::Arc;

    /// The rules run on a store and a broker, wired by hand: no `AppState`, no Leptos
    /// configuration, no sweepers.
    #[tokio::test]
    async fn chat_rules_run_on_a_store_and_a_broker() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rules.db").display());
        let store = Store::connect(&url).await.unwrap();
        let hub = Arc::new(Hub::new());
        let notify = Notifier::new(store.clone(), Arc::new(LocalBroker::new(hub.clone())));
        let presence = Presence::new(store.clone(), hub.clone(), None, notify.clone());
        let consent = Consents::new(store.clone(), notify.clone(), presence.clone());
        let commit = Committer::start(store.clone(), notify.clone());
        let broadcast = super::broadcast::Broadcaster::new(store.clone(), presence);
        let chats = Chats::new(store.clone(), commit, notify, consent, broadcast);
        let alice = store.create_user("alice", "x").await.unwrap();
        let bob = store.create_user("bob", "x").await.unwrap();
        let eve = store.create_user("eve", "x").await.unwrap();
        let hello = encode(&ServerFrame::Pong, FrameKind::Ephemeral);
        let bobs = hub.register(bob.id, &[0; 32], hello);
        let _ = bobs.queue.try_pop(); // the first frame

        let chat = chats.create(&alice, "bob", "").await.unwrap();
        let sent = chats
            .send(&alice, chat, "c1", "hello", None, &[])
            .await
            .unwrap();
        assert_eq!((sent.seq, sent.body.as_str()), (1, "hello"));
        // Bob's connection was told: the chat, then the message.
        let mut told = Vec::new();
        while let Some(Outbound::Frame(frame)) = bobs.queue.try_pop() {
            told.push(frame.text.to_string());
        }
        assert!(
            told.iter()
                .any(|t| t.contains(r#""type":"message""#) && t.contains("hello")),
            "{told:?}"
        );
        // A non-member learns nothing: "not found", as for a chat that does not exist.
        let refused = chats.send(&eve, chat, "c2", "hi", None, &[]).await;
        assert!(
            matches!(refused, Err(Error::App(AppError::NotFound(_)))),
            "{refused:?}"
        );
        assert_eq!(
            store.history(chat, None, 50).await.unwrap().messages.len(),
            1
        );
    }
}
