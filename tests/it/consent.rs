//! Issue 29, consent: blocks (no direct messages, no adds, no presence either way),
//! "who can add me to groups" (else an invitation to accept or decline), and presence
//! only between people who accepted a conversation. On SQLite and PostgreSQL
//! (`test_both_dbs!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::http::StatusCode;
use common::server::{send, start, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::chats::AddMember;
use natter::api::consent::{
    AcceptInvitation, BlockUser, DeclineInvitation, SetGroupAdds, UnblockUser,
};
use natter::api::messages::{OpenChat, SendMessage};
use natter::model::protocol::ServerFrame;
use natter::model::{ChatId, UserId};
use std::time::Duration;

async fn id(s: &TestServer, name: &str) -> UserId {
    s.db.store
        .users_by_names(&[name.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .id
}

/// POSTs `body` as `cookie`: (status, body).
async fn post(s: &TestServer, path: &str, body: String, cookie: &str) -> (StatusCode, String) {
    let (status, _, body) = s.call(path, body, Some(cookie)).await;
    (status, body)
}

async fn say(s: &TestServer, cookie: &str, chat: ChatId, client_id: &str) -> (StatusCode, String) {
    post(
        s,
        SendMessage::PATH,
        format!("chat_id={chat}&client_id={client_id}&body=hello"),
        cookie,
    )
    .await
}

async fn create(s: &TestServer, cookie: &str, members: &str, title: &str) -> (StatusCode, String) {
    post(
        s,
        natter::api::chats::CreateChat::PATH,
        format!("members={}&title={title}", members.replace(' ', "+")),
        cookie,
    )
    .await
}

async fn sees(s: &TestServer, who: UserId, whom: UserId) -> bool {
    s.db.store
        .contacts_last_seen(who)
        .await
        .unwrap()
        .iter()
        .any(|(u, _)| *u == whom)
}

/// Whether a presence frame (or snapshot entry) about `user` arrives within `wait`.
async fn hears_about(client: &mut common::server::Client, user: UserId, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        match client.next_any(left).await {
            Some(ServerFrame::Presence { user_id, .. }) if user_id == user => return true,
            Some(ServerFrame::PresenceSnapshot { online, offline }) => {
                if online.contains(&user) || offline.iter().any(|(u, _)| *u == user) {
                    return true;
                }
            }
            Some(_) => continue,
            None => return false,
        }
    }
    false
}

test_both_dbs!(a_blocked_person_cannot_write_add_or_see_presence);
async fn a_blocked_person_cannot_write_add_or_see_presence() {
    let s = start().await;
    let a = s.sign_up("alice").await; // anyone may add alice and bob (as before)
    let b = s.sign_up("bob").await;
    let (alice, bob) = (id(&s, "alice").await, id(&s, "bob").await);
    let dm = s.create_chat_as_is(&a, "bob", "").await;
    assert_eq!(say(&s, &b, dm, "b1").await.0, StatusCode::OK);
    assert!(sees(&s, alice, bob).await && sees(&s, bob, alice).await);

    // Bob blocks alice.
    let (status, body) = post(&s, BlockUser::PATH, format!("user_id={alice}"), &b).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!sees(&s, alice, bob).await && !sees(&s, bob, alice).await);

    // No messages either way in the direct chat, with a clear error.
    let (status, body) = say(&s, &a, dm, "a1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("does not accept messages from you"), "{body}");
    let (status, body) = say(&s, &b, dm, "b2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("You blocked"), "{body}");
    // Nor over the WebSocket.
    let mut ws = s.connect(&a).await;
    ws.send(&send(dm, "a2", "still there?")).await;
    loop {
        match ws.next().await {
            ServerFrame::Error { client_id, .. } => {
                assert_eq!(client_id.as_deref(), Some("a2"));
                break;
            }
            ServerFrame::Ack { .. } | ServerFrame::Message { .. } => panic!("sent"),
            _ => continue,
        }
    }
    // The history stays readable for both.
    for cookie in [&a, &b] {
        let (status, body) = post(&s, OpenChat::PATH, format!("chat_id={dm}"), cookie).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("hello"), "{body}");
    }

    // No new direct chat, no group with bob, no add of bob.
    let (status, body) = create(&s, &a, "bob", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = create(&s, &a, "bob", "Trip").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    s.sign_up("carol").await;
    let group = s.create_chat(&a, "carol", "Trip").await;
    let (status, body) = post(
        &s,
        AddMember::PATH,
        format!("chat_id={group}&username=bob"),
        &a,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(!s.db.store.is_member(group, bob).await.unwrap());
    assert!(!s.db.store.is_invited(group, bob).await.unwrap());

    // Presence: bob coming online tells alice nothing.
    let mut alice_ws = s.connect(&a).await;
    let _bob_ws = s.connect(&b).await;
    assert!(!hears_about(&mut alice_ws, bob, Duration::from_millis(500)).await);

    // Unblocking gives it all back.
    let (status, body) = post(&s, UnblockUser::PATH, format!("user_id={alice}"), &b).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(hears_about(&mut alice_ws, bob, Duration::from_secs(2)).await);
    assert!(sees(&s, alice, bob).await);
    assert_eq!(say(&s, &a, dm, "a3").await.0, StatusCode::OK);
    let (status, _) = post(&s, UnblockUser::PATH, format!("user_id={alice}"), &b).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to unblock");
    let (status, _) = post(&s, BlockUser::PATH, format!("user_id={bob}"), &b).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not oneself");
}

test_both_dbs!(nobody_turns_adds_into_invitations_to_accept_or_decline);
async fn nobody_turns_adds_into_invitations_to_accept_or_decline() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let c = s.sign_up("carol").await;
    let carol = id(&s, "carol").await;
    let (status, body) = post(&s, SetGroupAdds::PATH, "group_adds=nobody".into(), &c).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = post(&s, SetGroupAdds::PATH, "group_adds=friends".into(), &c).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Even someone carol writes with cannot put her into a group.
    let dm = s.create_chat(&a, "carol", "").await;
    assert_eq!(say(&s, &c, dm, "c1").await.0, StatusCode::OK);
    let trip = s.create_chat_as_is(&a, "carol", "Trip").await;
    assert!(!s.db.store.is_member(trip, carol).await.unwrap());
    let (status, _) = post(&s, OpenChat::PATH, format!("chat_id={trip}"), &c).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "invisible until accepted");
    assert!(!s
        .db
        .store
        .list_chats(carol)
        .await
        .unwrap()
        .iter()
        .any(|c| c.id == trip));
    s.sign_up("dave").await;
    let party = s.create_chat_as_is(&a, "dave", "Party").await;
    let (status, body) = post(
        &s,
        AddMember::PATH,
        format!("chat_id={party}&username=carol"),
        &a,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("invited"), "{body}");
    let invited = s.db.store.invitations(carol).await.unwrap();
    assert_eq!(invited.len(), 2, "{invited:?}");
    assert_eq!(invited[0].inviter, "alice");

    // Accept: a member; decline: gone, and never a member.
    let (status, body) = post(&s, AcceptInvitation::PATH, format!("chat_id={trip}"), &c).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.db.store.is_member(trip, carol).await.unwrap());
    let (status, body) = post(&s, DeclineInvitation::PATH, format!("chat_id={party}"), &c).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!s.db.store.is_member(party, carol).await.unwrap());
    assert!(s.db.store.invitations(carol).await.unwrap().is_empty());
    let (status, _) = post(&s, AcceptInvitation::PATH, format!("chat_id={party}"), &c).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a declined invitation is gone"
    );
}

test_both_dbs!(a_stranger_cannot_add_me_directly_by_default);
async fn a_stranger_cannot_add_me_directly_by_default() {
    let s = start().await;
    let e = s.sign_up("eve").await;
    let b = s.sign_up_as_is("bob").await; // the default: people I share a chat with
    let bob = id(&s, "bob").await;
    let spam = s.create_chat_as_is(&e, "bob", "Spam").await;
    assert!(!s.db.store.is_member(spam, bob).await.unwrap());
    assert!(s.db.store.is_invited(spam, bob).await.unwrap());

    // Opening a direct chat with bob does not make eve someone bob shares a chat with...
    let dm = s.create_chat_as_is(&e, "bob", "").await;
    let more = s.create_chat_as_is(&e, "bob", "More spam").await;
    assert!(!s.db.store.is_member(more, bob).await.unwrap());
    // ...until bob writes back.
    assert_eq!(say(&s, &b, dm, "b1").await.0, StatusCode::OK);
    let trip = s.create_chat_as_is(&e, "bob", "Trip").await;
    assert!(s.db.store.is_member(trip, bob).await.unwrap());
}

test_both_dbs!(presence_is_hidden_until_both_accept_a_conversation);
async fn presence_is_hidden_until_both_accept_a_conversation() {
    let s = start().await;
    let a = s.sign_up_as_is("alice").await;
    let b = s.sign_up_as_is("bob").await;
    let (alice, bob) = (id(&s, "alice").await, id(&s, "bob").await);
    let dm = s.create_chat_as_is(&a, "bob", "").await;
    assert!(!sees(&s, alice, bob).await && !sees(&s, bob, alice).await);
    let mut alice_ws = s.connect(&a).await;
    let mut bob_ws = s.connect(&b).await;
    assert!(
        !hears_about(&mut alice_ws, bob, Duration::from_millis(500)).await,
        "opening a chat with bob must not show alice bob's presence"
    );
    assert!(!hears_about(&mut bob_ws, alice, Duration::from_millis(200)).await);

    // Bob answers: both accepted it, and both are told at once.
    assert_eq!(say(&s, &b, dm, "b1").await.0, StatusCode::OK);
    assert!(sees(&s, alice, bob).await && sees(&s, bob, alice).await);
    assert!(hears_about(&mut alice_ws, bob, Duration::from_secs(2)).await);
    assert!(hears_about(&mut bob_ws, alice, Duration::from_secs(2)).await);

    // A group: only members who accepted it (here: by accepting the invitation).
    let c = s.sign_up_as_is("carol").await;
    let carol = id(&s, "carol").await;
    let trip = s.create_chat_as_is(&a, "carol", "Trip").await;
    assert!(!sees(&s, alice, carol).await);
    post(&s, AcceptInvitation::PATH, format!("chat_id={trip}"), &c).await;
    assert!(sees(&s, alice, carol).await && sees(&s, carol, alice).await);
}

test_both_dbs!(a_block_stops_edits_and_reactions_in_the_direct_chat);
/// Review of issue 29: a block stops edits and reactions in the direct chat too (on the
/// API, the WebSocket and `POST /frames`), not only new messages; deleting one's own
/// message stays allowed.
async fn a_block_stops_edits_and_reactions_in_the_direct_chat() {
    use natter::api::messages::{DeleteMessage, EditMessage, ReactMessage};
    let s = start().await;
    let m = s.sign_up("mallory").await;
    let v = s.sign_up("vic").await;
    let mallory = id(&s, "mallory").await;
    let dm = s.create_chat_as_is(&m, "vic", "").await;
    let (status, body) = say(&s, &m, dm, "m1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mine: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mine = mine["id"].as_i64().unwrap();
    assert_eq!(say(&s, &v, dm, "v1").await.0, StatusCode::OK);
    let (status, body) = post(&s, BlockUser::PATH, format!("user_id={mallory}"), &v).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = post(
        &s,
        EditMessage::PATH,
        format!("message_id={mine}&body=EDITED+after+block+%40vic"),
        &m,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "edit after a block: {body}");
    let (status, body) = post(
        &s,
        ReactMessage::PATH,
        format!("message_id={mine}&emoji=%F0%9F%91%8D&on=true"),
        &m,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "react after a block: {body}");
    // Over the WebSocket too.
    let mut ws = s.connect(&m).await;
    ws.send(&natter::model::protocol::ClientFrame::Edit {
        message_id: natter::model::MessageId(mine),
        body: "again".into(),
    })
    .await;
    match ws.next().await {
        ServerFrame::Error { .. } => {}
        other => panic!("expected an error frame, got {other:?}"),
    }
    // Taking one's own words back is still allowed.
    let (status, body) = post(&s, DeleteMessage::PATH, format!("message_id={mine}"), &m).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

test_both_dbs!(invitations_end_with_a_block_and_are_capped_per_inviter);
/// Review of issue 29: an invitation does not outlive a block either way, and one person
/// cannot bury another in invitations.
async fn invitations_end_with_a_block_and_are_capped_per_inviter() {
    let s = start().await;
    let e = s.sign_up("eve").await;
    let v = s.sign_up_as_is("vic").await; // the default: a stranger's add is an invitation
    let vic = id(&s, "vic").await;
    s.sign_up("zed").await;
    let group = s.create_chat_as_is(&e, "zed vic", "Party").await;
    assert_eq!(s.db.store.invitations(vic).await.unwrap().len(), 1);
    // The inviter blocks the invitee: the invitation goes, accepting finds nothing.
    let (status, body) = post(&s, BlockUser::PATH, format!("user_id={vic}"), &e).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.db.store.invitations(vic).await.unwrap().is_empty());
    let (status, _) = post(&s, AcceptInvitation::PATH, format!("chat_id={group}"), &v).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // From one inviter: at most a handful pending.
    let spammer = s.sign_up("spammer").await;
    for i in 0..12 {
        s.create_chat_as_is(&spammer, "zed vic", &format!("Spam{i}"))
            .await;
    }
    let pending = s.db.store.invitations(vic).await.unwrap();
    assert_eq!(
        pending.len() as i64,
        natter::server::db::INVITATIONS_PER_INVITER,
        "{pending:?}"
    );
}
