//! Issue 34, `@all` / `@here`: who may notify a whole group, how often, whom it reaches
//! (everyone, or everyone connected), and that mutes are respected. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::http::StatusCode;
use common::server::{send, start, Client, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::chats::{SetChatSettings, SetMuted};
use natter::model::protocol::ServerFrame;
use natter::model::{Broadcast, ChatId, User};

async fn user(s: &TestServer, name: &str) -> User {
    s.db.store
        .users_by_names(&[name.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
}

/// Sends `body` and waits for its ack: the message's seq.
async fn send_acked(client: &mut Client, chat: ChatId, id: &str, body: &str) -> i64 {
    client.send(&send(chat, id, body)).await;
    loop {
        match client.next().await {
            ServerFrame::Ack { client_id, seq, .. } if client_id == id => return seq,
            ServerFrame::Error { message, .. } => panic!("{id} refused: {message}"),
            _ => continue,
        }
    }
}

/// The `broadcast` of the live message `seq` as `client` gets it.
async fn live_broadcast(client: &mut Client, seq: i64) -> Option<Broadcast> {
    loop {
        if let ServerFrame::Message { message } = client.next().await {
            if message.seq == seq {
                return message.broadcast;
            }
        }
    }
}

/// Whether `reader`'s chat list marks `chat` as mentioning them, then reads it all (so
/// the next check starts clean).
async fn mentioned_then_read(s: &TestServer, reader: &User, chat: ChatId, seq: i64) -> bool {
    let list = s.db.store.list_chats(reader.id).await.unwrap();
    let marked = list.into_iter().find(|c| c.id == chat).unwrap().mentioned;
    s.db.store.mark_read(chat, reader.id, seq).await.unwrap();
    marked
}

/// Forgets the group's last `@all`, as if its minutes had passed.
async fn turn_passes(s: &TestServer) {
    common::run_sql(&s.db.url, "UPDATE chats SET broadcast_at = NULL").await;
}

test_both_dbs!(all_and_here_notify_as_the_rules_allow);
async fn all_and_here_notify_as_the_rules_allow() {
    let s = start().await;
    let ann_cookie = s.sign_up("ann").await;
    let bob_cookie = s.sign_up("bob").await;
    s.sign_up("cat").await;
    let dan_cookie = s.sign_up("dan").await;
    let chat = s.create_chat(&ann_cookie, "bob cat dan", "Team").await;
    let (ann, bob, cat, dan) = (
        user(&s, "ann").await,
        user(&s, "bob").await,
        user(&s, "cat").await,
        user(&s, "dan").await,
    );
    let (status, _, _) = s
        .call(
            SetMuted::PATH,
            format!("chat_id={chat}&muted=true"),
            Some(&dan_cookie),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // ann and bob are connected; cat and dan are not.
    let mut ann_ws = s.connect(&ann_cookie).await;
    let mut bob_ws = s.connect(&bob_cookie).await;

    // A plain member may not: the words stay text, the message is sent.
    let seq = send_acked(&mut bob_ws, chat, "b1", "@all lunch?").await;
    assert_eq!(live_broadcast(&mut ann_ws, seq).await, None);
    assert!(!mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(!mentioned_then_read(&s, &ann, chat, seq).await);

    // The owner's @here reaches who is connected (bob), not cat, never the sender.
    let seq = send_acked(&mut ann_ws, chat, "a1", "@here standup").await;
    assert_eq!(
        live_broadcast(&mut bob_ws, seq).await,
        Some(Broadcast::Here)
    );
    assert!(mentioned_then_read(&s, &bob, chat, seq).await);
    assert!(!mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(!mentioned_then_read(&s, &dan, chat, seq).await);
    assert!(!mentioned_then_read(&s, &ann, chat, seq).await);

    // Once per few minutes per group: the next one at once stays text.
    let seq = send_acked(&mut ann_ws, chat, "a2", "@all again").await;
    assert_eq!(live_broadcast(&mut bob_ws, seq).await, None);
    assert!(!mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(!mentioned_then_read(&s, &bob, chat, seq).await);

    // Minutes later, @all reaches everyone but the sender and dan, who muted the group;
    // a mention by name still reaches dan.
    turn_passes(&s).await;
    let seq = send_acked(&mut ann_ws, chat, "a3", "@all release today").await;
    assert_eq!(live_broadcast(&mut bob_ws, seq).await, Some(Broadcast::All));
    assert!(mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(mentioned_then_read(&s, &bob, chat, seq).await);
    assert!(!mentioned_then_read(&s, &dan, chat, seq).await);
    assert!(!mentioned_then_read(&s, &ann, chat, seq).await);
    // A retry of it takes no turn: the next @all still notifies.
    turn_passes(&s).await;
    send_acked(&mut ann_ws, chat, "a3", "@all release today").await;
    let seq = send_acked(&mut ann_ws, chat, "a3b", "@all really").await;
    assert!(mentioned_then_read(&s, &cat, chat, seq).await);
    turn_passes(&s).await;
    let seq = send_acked(&mut ann_ws, chat, "a4", "`@all` in code, @dan").await;
    assert_eq!(live_broadcast(&mut bob_ws, seq).await, None);
    assert!(!mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(mentioned_then_read(&s, &dan, chat, seq).await);

    // Only a manager changes the rule; then every member may.
    turn_passes(&s).await;
    let set = format!("chat_id={chat}&anyone_mentions_all=true&description=");
    let (status, _, _) = s
        .call(SetChatSettings::PATH, set.clone(), Some(&bob_cookie))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let seq = send_acked(&mut bob_ws, chat, "b2", "@all still no").await;
    assert!(!mentioned_then_read(&s, &cat, chat, seq).await);
    turn_passes(&s).await;
    let (status, _, _) = s.call(SetChatSettings::PATH, set, Some(&ann_cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let detail =
        s.db.store
            .chat_for_member(chat, bob.id)
            .await
            .unwrap()
            .unwrap();
    assert!(detail.anyone_mentions_all && !detail.public);
    let seq = send_acked(&mut bob_ws, chat, "b3", "@all now yes").await;
    assert_eq!(live_broadcast(&mut ann_ws, seq).await, Some(Broadcast::All));
    assert!(mentioned_then_read(&s, &cat, chat, seq).await);
    assert!(mentioned_then_read(&s, &ann, chat, seq).await);
    assert!(!mentioned_then_read(&s, &bob, chat, seq).await);
}

test_both_dbs!(a_direct_chat_has_no_all_and_the_words_are_no_usernames);
async fn a_direct_chat_has_no_all_and_the_words_are_no_usernames() {
    let s = start().await;
    let ann_cookie = s.sign_up("ann").await;
    s.sign_up("bob").await;
    let chat = s.create_chat(&ann_cookie, "bob", "").await;
    let bob = user(&s, "bob").await;
    let mut ann_ws = s.connect(&ann_cookie).await;
    let seq = send_acked(&mut ann_ws, chat, "a1", "@all hi").await;
    assert!(!mentioned_then_read(&s, &bob, chat, seq).await);

    for word in ["all", "here", "ALL"] {
        let (status, _, _) = s
            .call(
                natter::api::auth::SignUp::PATH,
                format!("username={word}&password=long+enough+pass"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{word}");
    }
}
