//! Live delivery through a real server on an ephemeral port and real WebSocket clients
//! (both databases: `test_both_dbs!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::{dm, send, start, start_with, Client};
use natter::model::protocol::{close, ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use natter::model::Message;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Error as WsError;

const QUIET: Duration = Duration::from_millis(300);

async fn next_message(c: &mut Client) -> Message {
    loop {
        match c.next().await {
            ServerFrame::Message { message } => return message,
            ServerFrame::Ack { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::Members { .. }
            | ServerFrame::Resumed => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn next_ack(c: &mut Client) -> (String, i64) {
    loop {
        match c.next().await {
            ServerFrame::Ack { client_id, seq, .. } => return (client_id, seq),
            ServerFrame::Message { .. }
            | ServerFrame::Read { .. }
            | ServerFrame::Members { .. } => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
}

test_both_dbs!(upgrade_needs_a_session_and_our_origin);
async fn upgrade_needs_a_session_and_our_origin() {
    let (s, _, [a, ..]) = dm().await;
    let status = |e: WsError| match e {
        WsError::Http(res) => res.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    };
    let origin = s.origin.clone();
    assert_eq!(
        status(s.try_connect(None, Some(&origin)).await.err().unwrap()),
        401
    );
    assert_eq!(
        status(
            s.try_connect(Some("natter_session=forged"), Some(&origin))
                .await
                .err()
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            s.try_connect(Some(&a), Some("http://evil.example"))
                .await
                .err()
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(s.try_connect(Some(&a), None).await.err().unwrap()),
        403
    );
    s.connect(&a).await;
}

test_both_dbs!(messages_reach_members_only_on_every_connection);
async fn messages_reach_members_only_on_every_connection() {
    let (s, chat, [a, b, e]) = dm().await;
    let mut alice = s.connect(&a).await;
    let mut alice2 = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    let mut bob2 = s.connect(&b).await;
    let mut eve = s.connect(&e).await;
    alice.send(&send(chat, "c1", "hi bob")).await;
    let (cid, seq) = next_ack(&mut alice).await;
    assert_eq!((cid.as_str(), seq), ("c1", 1));
    for c in [&mut alice2, &mut bob, &mut bob2] {
        let m = next_message(c).await;
        assert_eq!(
            (m.seq, m.body.as_str(), m.sender.as_str()),
            (1, "hi bob", "alice")
        );
    }
    eve.expect_silence(QUIET).await;
}

test_both_dbs!(a_resend_is_acked_again_but_stored_and_delivered_once);
async fn a_resend_is_acked_again_but_stored_and_delivered_once() {
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    alice.send(&send(chat, "same", "once")).await;
    alice.send(&send(chat, "same", "once")).await;
    let first = next_ack(&mut alice).await;
    let second = next_ack(&mut alice).await;
    assert_eq!(first, second);
    assert_eq!(next_message(&mut bob).await.seq, 1);
    bob.expect_silence(QUIET).await;
    assert_eq!(
        s.db.store
            .history(chat, None, 10)
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
}

test_both_dbs!(an_ack_means_committed);
async fn an_ack_means_committed() {
    let (s, chat, [a, ..]) = dm().await;
    let mut alice = s.connect(&a).await;
    for i in 0..20 {
        alice
            .send(&send(chat, &format!("c{i}"), &format!("m{i}")))
            .await;
        let (_, seq) = next_ack(&mut alice).await;
        // Read through a separate connection of the pool: the row is there.
        let page = s.db.store.history(chat, Some(seq + 1), 1).await.unwrap();
        assert_eq!(page.messages[0].seq, seq);
        assert_eq!(page.messages[0].body, format!("m{i}"));
    }
}

test_both_dbs!(bad_sends_get_errors_with_the_client_id);
async fn bad_sends_get_errors_with_the_client_id() {
    let (s, chat, [a, _, e]) = dm().await;
    let mut alice = s.connect(&a).await;
    alice.send(&send(chat, "empty", "   ")).await;
    match alice.next().await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::Invalid);
            assert_eq!(client_id.as_deref(), Some("empty"));
        }
        other => panic!("{other:?}"),
    }
    let mut eve = s.connect(&e).await;
    eve.send(&send(chat, "sneak", "let me in")).await;
    assert!(matches!(
        eve.next().await,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));
    eve.send(&ClientFrame::Typing { chat_id: chat }).await;
    assert!(matches!(
        eve.next().await,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));
}

test_both_dbs!(resume_replays_exactly_what_was_missed);
async fn resume_replays_exactly_what_was_missed() {
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    for i in 1..=3 {
        alice.send(&send(chat, &format!("early{i}"), "seen")).await;
        next_ack(&mut alice).await;
    }
    // Bob was offline for 5 messages.
    for i in 1..=5 {
        alice
            .send(&send(chat, &format!("missed{i}"), &format!("missed {i}")))
            .await;
        next_ack(&mut alice).await;
    }
    let mut bob = s.connect_raw(&b).await;
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 3)]),
        changes: Default::default(),
    })
    .await;
    for seq in 4..=8 {
        let m = next_message(&mut bob).await;
        assert_eq!(m.seq, seq);
        assert_eq!(m.body, format!("missed {}", seq - 3));
    }
    assert_eq!(bob.next().await, ServerFrame::Resumed);
    bob.expect_silence(QUIET).await;
}

test_both_dbs!(resume_has_no_gap_and_no_duplicate_while_messages_keep_coming);
async fn resume_has_no_gap_and_no_duplicate_while_messages_keep_coming() {
    let s = start_with(|c| {
        c.ws_send_rate = 100_000;
        c.ws_send_burst = 100_000;
    })
    .await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut alice = s.connect(&a).await;
    for i in 0..200 {
        alice.send(&send(chat, &format!("before{i}"), "x")).await;
        if i % 50 == 49 {
            for _ in 0..50 {
                next_ack(&mut alice).await;
            }
        }
    }
    // Alice keeps sending while Bob connects and resumes from 0.
    let sender = tokio::spawn(async move {
        for batch in 0..6 {
            for i in 0..50 {
                alice
                    .send(&send(chat, &format!("during{batch}-{i}"), "y"))
                    .await;
            }
            for _ in 0..50 {
                next_ack(&mut alice).await;
            }
        }
    });
    let mut bob = s.connect_raw(&b).await;
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 0)]),
        changes: Default::default(),
    })
    .await;
    let mut seqs = Vec::new();
    while seqs.len() < 500 {
        match bob.next().await {
            ServerFrame::Message { message } => seqs.push(message.seq),
            ServerFrame::Resumed | ServerFrame::Read { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    sender.await.unwrap();
    assert_eq!(seqs, (1..=500).collect::<Vec<i64>>());
    bob.expect_silence(QUIET).await;
}

test_both_dbs!(resume_resets_when_it_cannot_close_the_gap);
async fn resume_resets_when_it_cannot_close_the_gap() {
    let (s, chat, [a, b, _]) = dm().await;
    let alice_id = s.db.store.members(chat).await.unwrap()[0].user_id;
    let too_many = natter::model::protocol::RESUME_MAX_MESSAGES + 1;
    for i in 0..too_many {
        s.db.store
            .insert_message(chat, alice_id, &format!("bulk{i}"), "bulk")
            .await
            .unwrap();
    }
    let mut bob = s.connect_raw(&b).await;
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 0)]),
        changes: Default::default(),
    })
    .await;
    assert_eq!(bob.next().await, ServerFrame::Reset { chat_id: chat });
    assert_eq!(bob.next().await, ServerFrame::Resumed);
    // A position from the future (e.g. a restored database) also resets.
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, too_many + 5)]),
        changes: Default::default(),
    })
    .await;
    assert_eq!(bob.next().await, ServerFrame::Reset { chat_id: chat });
    // After a reset, live messages flow from the current position.
    let mut alice = s.connect(&a).await;
    alice.send(&send(chat, "after", "after reset")).await;
    assert_eq!(next_message(&mut bob).await.seq, too_many + 1);
}

test_both_dbs!(malformed_and_oversized_frames_get_errors_and_closes);
async fn malformed_and_oversized_frames_get_errors_and_closes() {
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    alice.send_text("not json".into()).await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    alice
        .send_text(r#"{"type":"launch_missiles"}"#.into())
        .await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    alice
        .send_text(r#"{"type":"send","chat_id":"x"}"#.into())
        .await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    // Still serving this connection.
    alice.send(&ClientFrame::Ping).await;
    assert_eq!(alice.next().await, ServerFrame::Pong);

    let mut big = s.connect(&a).await;
    big.send_text("x".repeat(MAX_FRAME_BYTES + 1)).await;
    assert_eq!(big.close_code(Duration::from_secs(5)).await, Some(1009));

    let mut flood = s.connect(&a).await;
    for _ in 0..60 {
        flood.send_text("{}".into()).await;
    }
    assert_eq!(
        flood.close_code(Duration::from_secs(5)).await,
        Some(close::POLICY)
    );

    // Others are unaffected.
    let mut bob = s.connect(&b).await;
    alice.send(&send(chat, "ok", "still here")).await;
    assert_eq!(next_message(&mut bob).await.body, "still here");
}

test_both_dbs!(send_floods_are_rate_limited);
async fn send_floods_are_rate_limited() {
    let s = start_with(|c| {
        c.ws_send_rate = 1;
        c.ws_send_burst = 5;
    })
    .await;
    let a = s.sign_up("alice").await;
    s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut alice = s.connect(&a).await;
    for i in 0..8 {
        alice.send(&send(chat, &format!("r{i}"), "spam")).await;
    }
    let (mut acked, mut limited) = (0, 0);
    while acked + limited < 8 {
        match alice.next().await {
            ServerFrame::Ack { .. } => acked += 1,
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                client_id: Some(_),
                ..
            } => limited += 1,
            ServerFrame::Message { .. } | ServerFrame::Read { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((acked, limited), (5, 3));
}

test_both_dbs!(typing_and_read_receipts_reach_the_others);
async fn typing_and_read_receipts_reach_the_others() {
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    bob.send(&ClientFrame::Typing { chat_id: chat }).await;
    match alice.next().await {
        ServerFrame::Typing {
            chat_id, username, ..
        } => assert_eq!((chat_id, username.as_str()), (chat, "bob")),
        other => panic!("{other:?}"),
    }
    bob.expect_silence(QUIET).await; // not echoed to the typist
    alice.send(&send(chat, "r1", "read me")).await;
    next_ack(&mut alice).await;
    next_message(&mut bob).await;
    bob.send(&ClientFrame::Read {
        chat_id: chat,
        seq: 1,
    })
    .await;
    loop {
        match alice.next().await {
            ServerFrame::Read { user_id, seq, .. }
                if seq == 1 && user_id != s.db.store.members(chat).await.unwrap()[0].user_id =>
            {
                break
            }
            ServerFrame::Message { .. } | ServerFrame::Read { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        s.db.store
            .list_chats(natter::model::UserId(2))
            .await
            .unwrap()[0]
            .unread,
        0
    );
}

test_both_dbs!(presence_follows_connections);
async fn presence_follows_connections() {
    let (s, _, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    let bob = s.connect(&b).await;
    let online = |f: &ServerFrame| matches!(f, ServerFrame::Presence { online: true, .. });
    let offline = |f: &ServerFrame| {
        matches!(
            f,
            ServerFrame::Presence {
                online: false,
                last_seen: Some(_),
                ..
            }
        )
    };
    let mut seen = Vec::new();
    while let Some(f) = alice.next_any(Duration::from_secs(2)).await {
        seen.push(f);
        if seen.iter().any(online) {
            break;
        }
    }
    assert!(seen.iter().any(online), "{seen:?}");
    drop(bob);
    let mut gone = false;
    while let Some(f) = alice.next_any(Duration::from_secs(3)).await {
        if offline(&f) {
            gone = true;
            break;
        }
    }
    assert!(gone);
}

test_both_dbs!(a_new_connection_gets_one_presence_snapshot);
/// A new connection learns every contact's presence from one `presence_snapshot`
/// right after `hello`: who is online, and when the others were last seen (`None`:
/// never). No `presence` frame per contact comes with it.
async fn a_new_connection_gets_one_presence_snapshot() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let c = s.sign_up("carol").await;
    s.sign_up("dave").await; // dave never connects
    let chat = s.create_chat(&a, "bob carol dave", "Trip").await;
    let id = |name: &'static str| {
        let store = s.db.store.clone();
        async move {
            store
                .members(chat)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.username == name)
                .unwrap()
                .user_id
        }
    };
    let (alice, bob, carol, dave) = (
        id("alice").await,
        id("bob").await,
        id("carol").await,
        id("dave").await,
    );
    let mut bob_online = s.connect(&b).await;
    drop(s.connect(&c).await);
    // Carol's going offline has been announced to her contacts (bob hears it): a
    // connection opened after that gets her in the snapshot, and no late `presence`
    // (under load the announcement could trail the stored last seen; CI saw it once).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            Instant::now() < deadline,
            "carol's going offline never announced"
        );
        if let Some(ServerFrame::Presence {
            user_id,
            online: false,
            ..
        }) = bob_online.next_any(Duration::from_millis(200)).await
        {
            if user_id == carol {
                break;
            }
        }
    }
    // Carol's last connection closed: wait until it is stored as her last seen.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s
        .db
        .store
        .contacts_last_seen(alice)
        .await
        .unwrap()
        .iter()
        .any(|(u, seen)| *u == carol && seen.is_some())
    {
        assert!(Instant::now() < deadline, "carol's last seen never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut client = s.connect_raw(&a).await;
    let mut frames = Vec::new();
    while let Some(f) = client.next_any(Duration::from_millis(500)).await {
        frames.push(f);
    }
    let snapshots: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::PresenceSnapshot { online, offline } => {
                Some((online.clone(), offline.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(snapshots.len(), 1, "{frames:?}");
    let (online, offline) = snapshots[0].clone();
    assert_eq!(online, vec![bob]);
    assert_eq!(offline.len(), 2, "{offline:?}");
    let seen: BTreeMap<_, _> = offline.into_iter().collect();
    assert!(seen[&carol].is_some() && seen[&dave].is_none(), "{seen:?}");
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Presence { .. })),
        "{frames:?}"
    );
}

test_both_dbs!(removed_members_stop_receiving_at_once);
async fn removed_members_stop_receiving_at_once() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let c = s.sign_up("carol").await;
    let chat = s.create_chat(&a, "bob carol", "Trip").await;
    let mut alice = s.connect(&a).await;
    let mut carol = s.connect(&c).await;
    let mut bob = s.connect(&b).await;
    let carol_id =
        s.db.store
            .members(chat)
            .await
            .unwrap()
            .iter()
            .find(|m| m.username == "carol")
            .unwrap()
            .user_id;
    let alice_user = natter::model::User {
        id: s.db.store.members(chat).await.unwrap()[0].user_id,
        username: "alice".into(),
    };
    s.state
        .chats
        .remove_member(&alice_user, chat, carol_id)
        .await
        .unwrap();
    assert_eq!(
        carol.next().await,
        ServerFrame::ChatRemoved { chat_id: chat }
    );
    alice.send(&send(chat, "after", "carol is gone")).await;
    assert_eq!(next_message(&mut bob).await.body, "carol is gone");
    carol.expect_silence(QUIET).await;
}

test_both_dbs!(a_client_that_stops_reading_is_cut_off_and_others_stay_fast);
async fn a_client_that_stops_reading_is_cut_off_and_others_stay_fast() {
    let s = start_with(|c| {
        c.ws_send_rate = 100_000;
        c.ws_send_burst = 100_000;
    })
    .await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let z = s.sign_up("zed").await;
    let chat = s.create_chat(&a, "bob zed", "Busy").await;
    let alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    // Zed connects and never reads again.
    let _zed = s.connect(&z).await;

    let body = "z".repeat(4000);
    // More than the 2048-frame queue plus what the socket buffers can hold.
    let total = 4000;
    let reader = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        let mut got = 0;
        while got < total {
            if let ServerFrame::Message { message } = bob.next().await {
                let lag = natter::server::db::now_ms() - message.created_at;
                worst = worst.max(Duration::from_millis(lag.max(0) as u64));
                got += 1;
            }
        }
        worst
    });
    // Alice writes and reads at the same time, like a real client.
    let (mut sink, mut stream) = futures::StreamExt::split(alice.ws);
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < total {
            match futures::StreamExt::next(&mut stream).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    if t.as_str().starts_with(r#"{"type":"ack""#) {
                        acked += 1;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("alice's socket ended: {other:?}"),
            }
        }
    });
    let started = Instant::now();
    for i in 0..total {
        let frame = serde_json::to_string(&send(chat, &format!("b{i}"), &body)).unwrap();
        futures::SinkExt::send(
            &mut sink,
            tokio_tungstenite::tungstenite::Message::Text(frame.into()),
        )
        .await
        .unwrap();
    }
    acks.await.unwrap();
    let worst = reader.await.unwrap();
    let (_, kicked) = s.state.hub.shed_counts();
    assert!(kicked >= 1, "the stalled client was not cut off");
    // Bob kept up: no message took more than a couple of seconds to reach him even
    // though zed's socket was stuck the whole time.
    assert!(
        worst < Duration::from_secs(3),
        "worst delivery lag {worst:?} (run took {:?})",
        started.elapsed()
    );
}

test_both_dbs!(a_removed_member_cannot_edit_or_delete_over_the_socket);
/// A member removed from a group sends `edit` and `delete` for the message they wrote
/// there: refused like a stranger's, and the group hears nothing.
async fn a_removed_member_cannot_edit_or_delete_over_the_socket() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "Team").await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    bob.send(&send(chat, "b1", "original")).await;
    let original = next_message(&mut alice).await;
    next_ack(&mut bob).await;
    let bob_id = original.sender_id;
    let alice_user = natter::model::User {
        id: s.db.store.members(chat).await.unwrap()[0].user_id,
        username: "alice".into(),
    };
    s.state
        .chats
        .remove_member(&alice_user, chat, bob_id)
        .await
        .unwrap();
    loop {
        match bob.next().await {
            ServerFrame::ChatRemoved { chat_id } if chat_id == chat => break,
            ServerFrame::Message { .. } | ServerFrame::Read { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    // The group hears that its member list changed.
    match alice.next().await {
        ServerFrame::Members { members, .. } => assert_eq!(members.len(), 1),
        other => panic!("{other:?}"),
    }
    for frame in [
        ClientFrame::Edit {
            message_id: original.id,
            body: "rewritten".into(),
        },
        ClientFrame::Delete {
            message_id: original.id,
        },
        ClientFrame::Read {
            chat_id: chat,
            seq: 1,
        },
        ClientFrame::Typing { chat_id: chat },
        send(chat, "b2", "still here?"),
    ] {
        bob.send(&frame).await;
        match bob.next().await {
            ServerFrame::Error {
                code: ErrorCode::NotFound,
                ..
            } => {}
            other => panic!("{frame:?}: {other:?}"),
        }
    }
    // Resuming the chat tells him it is gone, and replays nothing.
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 0)]),
        changes: Default::default(),
    })
    .await;
    assert_eq!(bob.next().await, ServerFrame::ChatRemoved { chat_id: chat });
    assert_eq!(bob.next().await, ServerFrame::Resumed);
    alice.expect_silence(QUIET).await;
    let stored = s.db.store.message(original.id).await.unwrap().unwrap();
    assert_eq!((stored.body.as_str(), stored.deleted), ("original", false));
}

test_both_dbs!(reads_publish_only_moves_and_changes_are_rate_limited);
/// `read` frames that do not move the pointer reach nobody; a flood of them is cut
/// down to the connection's read allowance, and a flood of edits is refused like sends.
async fn reads_publish_only_moves_and_changes_are_rate_limited() {
    let s = start_with(|c| {
        c.ws_send_rate = 1;
        c.ws_send_burst = 3;
    })
    .await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    alice.send(&send(chat, "a1", "hello")).await;
    let m = next_message(&mut bob).await;
    next_ack(&mut alice).await;
    bob.send(&ClientFrame::Read {
        chat_id: chat,
        seq: m.seq,
    })
    .await;
    // Every member's connections hear of the move, bob's own (his other tabs) too.
    for c in [&mut alice, &mut bob] {
        match c.next().await {
            ServerFrame::Read { seq, .. } => assert_eq!(seq, m.seq),
            other => panic!("{other:?}"),
        }
    }
    // The same pointer again, many times: nothing to tell anyone.
    for _ in 0..100 {
        bob.send(&ClientFrame::Read {
            chat_id: chat,
            seq: m.seq,
        })
        .await;
    }
    alice.expect_silence(QUIET).await;
    bob.expect_silence(QUIET).await;

    // Edits: the burst passes (less the token alice's `resume` took, plus at most one
    // refilled meanwhile), the rest are refused with rate_limited.
    for i in 0..20 {
        alice
            .send(&ClientFrame::Edit {
                message_id: m.id,
                body: format!("edit {i}"),
            })
            .await;
    }
    let (mut edited, mut limited) = (0, 0);
    while edited + limited < 20 {
        match alice.next().await {
            ServerFrame::Edited { .. } => edited += 1,
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!((1..=4).contains(&edited), "{edited} edits went through");
    assert_eq!(limited, 20 - edited);
}

test_both_dbs!(open_sockets_per_user_are_capped);
/// One account cannot open more sockets than the cap; closing one frees a place.
async fn open_sockets_per_user_are_capped() {
    let s = start_with(|c| c.ws_max_per_user = 3).await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(s.connect(&a).await);
    }
    let refused = s
        .try_connect(Some(&a), Some(&s.origin))
        .await
        .err()
        .unwrap();
    match refused {
        WsError::Http(res) => {
            assert_eq!(res.status().as_u16(), 429);
            assert!(res.headers().contains_key("retry-after"));
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Another user is not affected.
    let _bob = s.connect(&b).await;
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.state.slots.of_user(natter::model::UserId(1)) > 2 {
        assert!(
            Instant::now() < deadline,
            "the closed socket's place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    open.push(s.connect(&a).await);
}

test_both_dbs!(open_sockets_per_ip_are_capped);
/// The same cap per client address (every test client is 127.0.0.1).
async fn open_sockets_per_ip_are_capped() {
    let s = start_with(|c| c.ws_max_per_ip = 2).await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let _a1 = s.connect(&a).await;
    let _b1 = s.connect(&b).await;
    match s
        .try_connect(Some(&b), Some(&s.origin))
        .await
        .err()
        .unwrap()
    {
        WsError::Http(res) => assert_eq!(res.status().as_u16(), 429),
        other => panic!("expected 429, got {other:?}"),
    }
}

test_both_dbs!(resume_replays_edits_deletes_reads_and_members_made_offline);
/// Tried as a user would: bob's tab is offline while alice edits one message, deletes
/// another, reads, adds carol and sends a new one. Bob's resume brings all of it: the
/// new message, then the current state of everything changed since his page's change
/// number, then `synced` with the number to resume from next time.
async fn resume_replays_edits_deletes_reads_and_members_made_offline() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    s.sign_up("carol").await;
    let chat = s.create_chat(&a, "bob", "Trip").await;
    let mut alice = s.connect(&a).await;
    for i in 1..=2 {
        alice
            .send(&send(chat, &format!("a{i}"), &format!("m{i}")))
            .await;
        next_ack(&mut alice).await;
    }
    let members = s.db.store.members(chat).await.unwrap();
    let (alice_id, bob_id) = (members[0].user_id, members[1].user_id);
    // Bob's page: both messages, at change number 0.
    let page =
        s.db.store
            .chat_for_member(chat, bob_id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!((page.last_seq, page.last_change), (2, 0));
    let history = s.db.store.history(chat, None, 10).await.unwrap().messages;

    alice
        .send(&ClientFrame::Edit {
            message_id: history[0].id,
            body: "m1, edited".into(),
        })
        .await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Edited { change: 1, .. }
    ));
    alice
        .send(&ClientFrame::Delete {
            message_id: history[1].id,
        })
        .await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Deleted { change: 2, .. }
    ));
    let alice_user = natter::model::User {
        id: alice_id,
        username: "alice".into(),
    };
    s.state
        .chats
        .add_member(&alice_user, chat, "carol")
        .await
        .unwrap();
    alice.send(&send(chat, "a3", "m3")).await;
    next_ack(&mut alice).await;
    // Bob's read pointer moves from another tab of his.
    s.state
        .chats
        .mark_read(
            &natter::model::User {
                id: bob_id,
                username: "bob".into(),
            },
            chat,
            2,
        )
        .await
        .unwrap();

    let mut bob = s.connect_raw(&b).await;
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 2)]),
        changes: BTreeMap::from([(chat, 0)]),
    })
    .await;
    let mut got = Vec::new();
    loop {
        match bob.next().await {
            ServerFrame::Resumed => break,
            f => got.push(f),
        }
    }
    let kinds: Vec<String> = got
        .iter()
        .map(|f| match f {
            ServerFrame::Message { message } => format!("message {}", message.body),
            ServerFrame::Edited { message, .. } => format!("edited {}", message.body),
            ServerFrame::Deleted { message, .. } => format!("deleted {}", message.seq),
            ServerFrame::Read { user_id, seq, .. } => {
                format!(
                    "read {} {seq}",
                    if *user_id == bob_id { "bob" } else { "?" }
                )
            }
            ServerFrame::Members { members, .. } => format!("members {}", members.len()),
            ServerFrame::Synced { change, .. } => format!("synced {change}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message m3",
            "edited m1, edited",
            "deleted 2",
            "read bob 2",
            "members 3",
            "synced 4"
        ]
    );
    // Resuming from `synced`: only the new message would come, no change again.
    drop(bob);
    let mut bob = s.connect_raw(&b).await;
    bob.send(&ClientFrame::Resume {
        positions: BTreeMap::from([(chat, 3)]),
        changes: BTreeMap::from([(chat, 4)]),
    })
    .await;
    assert_eq!(
        bob.next().await,
        ServerFrame::Synced {
            chat_id: chat,
            change: 4
        }
    );
    assert_eq!(bob.next().await, ServerFrame::Resumed);
}

test_both_dbs!(replies_and_reactions_live_and_after_resume);
/// Issue 17: a reply carries its original; reactions reach every member live, are
/// idempotent, members only, and `resume` replays what was missed (as the message's
/// current state, like an edit).
async fn replies_and_reactions_live_and_after_resume() {
    let (s, chat, [a, b, eve]) = dm().await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    alice.send(&send(chat, "q1", "what time?")).await;
    let original = next_message(&mut bob).await;
    next_ack(&mut alice).await;

    let mut reply = send(chat, "r1", "noon");
    if let ClientFrame::Send { reply_to, .. } = &mut reply {
        *reply_to = Some(original.id);
    }
    bob.send(&reply).await;
    let got = next_message(&mut alice).await;
    next_ack(&mut bob).await;
    let quoted = got.reply_to.expect("the reply names its original");
    assert_eq!(
        (quoted.id, quoted.seq, quoted.sender.as_str()),
        (original.id, 1, "alice")
    );
    assert_eq!(quoted.snippet, "what time?");
    // Stored so: the history says the same.
    let page = s.db.store.history(chat, None, 10).await.unwrap();
    assert_eq!(
        page.messages[1].reply_to.as_ref().unwrap().snippet,
        "what time?"
    );

    // Eve is in no chat with them: replying into it or reacting is "not found".
    let mut evil = s.connect(&eve).await;
    let mut foreign = send(chat, "e1", "hi");
    if let ClientFrame::Send { reply_to, .. } = &mut foreign {
        *reply_to = Some(original.id);
    }
    evil.send(&foreign).await;
    assert!(matches!(
        evil.next().await,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));
    evil.send(&ClientFrame::React {
        message_id: original.id,
        emoji: "👍".into(),
        on: true,
    })
    .await;
    assert!(matches!(
        evil.next().await,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));

    // A reaction reaches both, once; the same again changes nothing and says nothing.
    let react = ClientFrame::React {
        message_id: original.id,
        emoji: "👍".into(),
        on: true,
    };
    bob.send(&react).await;
    for c in [&mut alice, &mut bob] {
        match c.next().await {
            ServerFrame::Reactions {
                message_id,
                seq,
                reactions,
                change,
                ..
            } => {
                assert_eq!((message_id, seq, change), (original.id, 1, 1));
                assert_eq!(reactions[0].emoji, "👍");
                assert_eq!(reactions[0].users, vec!["bob"]);
            }
            other => panic!("expected reactions, got {other:?}"),
        }
    }
    bob.send(&react).await;
    bob.send(&ClientFrame::React {
        message_id: original.id,
        emoji: "not an emoji".into(),
        on: true,
    })
    .await;
    assert!(matches!(
        bob.next().await,
        ServerFrame::Error {
            code: ErrorCode::Invalid,
            ..
        }
    ));
    alice.expect_silence(QUIET).await;

    // Alice goes offline; Bob adds 🎉 and takes 👍 back; her resume replays the result.
    let page =
        s.db.store
            .chat_for_member(chat, original.sender_id)
            .await
            .unwrap()
            .unwrap();
    drop(alice);
    bob.send(&ClientFrame::React {
        message_id: original.id,
        emoji: "🎉".into(),
        on: true,
    })
    .await;
    bob.send(&ClientFrame::React {
        message_id: original.id,
        emoji: "👍".into(),
        on: false,
    })
    .await;
    for want in [2, 3] {
        assert!(
            matches!(bob.next().await, ServerFrame::Reactions { change, .. } if change == want)
        );
    }
    let mut alice = s.connect_raw(&a).await;
    alice
        .send(&ClientFrame::Resume {
            positions: BTreeMap::from([(chat, 2)]),
            changes: BTreeMap::from([(chat, page.last_change)]),
        })
        .await;
    match alice.next().await {
        ServerFrame::Edited { message, change } => {
            assert_eq!((message.id, change), (original.id, 3));
            assert_eq!(message.body, "what time?");
            assert_eq!(message.reactions.len(), 1);
            assert_eq!(
                (
                    message.reactions[0].emoji.as_str(),
                    message.reactions[0].users.as_slice()
                ),
                ("🎉", &["bob".to_string()][..])
            );
        }
        other => panic!("expected the message's current state, got {other:?}"),
    }
    assert!(matches!(
        alice.next().await,
        ServerFrame::Synced { change: 3, .. }
    ));
    assert_eq!(alice.next().await, ServerFrame::Resumed);
}

test_both_dbs!(a_group_rename_arrives_live_and_on_resume);
/// Issue 17: renaming a group (its creator only) arrives live as `members` with the
/// title, and a member who was offline gets it on resume.
async fn a_group_rename_arrives_live_and_on_resume() {
    let s = start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    s.sign_up("eve").await;
    let chat = s.create_chat(&a, "bob", "Trip").await;
    let members = s.db.store.members(chat).await.unwrap();
    let user = |i: usize, name: &str| natter::model::User {
        id: members[i].user_id,
        username: name.into(),
    };
    let (alice, bob) = (user(0, "alice"), user(1, "bob"));
    let page =
        s.db.store
            .chat_for_member(chat, bob.id)
            .await
            .unwrap()
            .unwrap();
    let mut alice_ws = s.connect(&a).await;

    s.state
        .chats
        .rename(&alice, chat, "  Trip to Lyon ")
        .await
        .unwrap();
    match alice_ws.next().await {
        ServerFrame::Members { title, change, .. } => {
            assert_eq!(title.as_deref(), Some("Trip to Lyon"));
            assert_eq!(change, page.last_change + 1);
        }
        other => panic!("expected members, got {other:?}"),
    }
    let refused = s.state.chats.rename(&bob, chat, "Mine now").await;
    assert!(matches!(
        refused,
        Err(natter::server::Error::App(
            natter::model::AppError::Forbidden
        ))
    ));
    let eve = natter::model::User {
        id: natter::model::UserId(members[1].user_id.0 + 1),
        username: "eve".into(),
    };
    let hidden = s.state.chats.rename(&eve, chat, "x").await;
    assert!(matches!(
        hidden,
        Err(natter::server::Error::App(
            natter::model::AppError::NotFound(_)
        ))
    ));
    assert!(s.state.chats.rename(&alice, chat, "   ").await.is_err());

    // Bob was offline: his resume from the page he had brings the new title.
    let mut bob_ws = s.connect_raw(&b).await;
    bob_ws
        .send(&ClientFrame::Resume {
            positions: BTreeMap::from([(chat, 0)]),
            changes: BTreeMap::from([(chat, page.last_change)]),
        })
        .await;
    match bob_ws.next().await {
        ServerFrame::Members { title, .. } => assert_eq!(title.as_deref(), Some("Trip to Lyon")),
        other => panic!("expected members, got {other:?}"),
    }
    let list = s.db.store.list_chats(bob.id).await.unwrap();
    assert_eq!(list[0].title, "Trip to Lyon");
}

test_both_dbs!(a_resume_naming_too_many_chats_is_refused);
/// A `resume` may name at most `RESUME_MAX_CHATS` chats: one naming more is refused
/// whole (before any membership look-up), and the connection still serves a proper one.
async fn a_resume_naming_too_many_chats_is_refused() {
    use natter::model::protocol::RESUME_MAX_CHATS;
    let (s, chat, [a, ..]) = dm().await;
    let mut alice = s.connect_raw(&a).await;
    let positions = (1..=RESUME_MAX_CHATS as i64 + 1)
        .map(|i| (natter::model::ChatId(i), 0))
        .collect();
    alice
        .send(&ClientFrame::Resume {
            positions,
            changes: Default::default(),
        })
        .await;
    match alice.next().await {
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            message,
            ..
        } => assert!(message.contains("at most"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    alice
        .send(&ClientFrame::Resume {
            positions: BTreeMap::from([(chat, 0)]),
            changes: Default::default(),
        })
        .await;
    assert_eq!(alice.next().await, ServerFrame::Resumed);
}

test_both_dbs!(opening_sockets_in_a_loop_is_limited);
/// Opening and closing sockets in a loop is refused after the burst (30 per user), with
/// `429` and `Retry-After` before the upgrade; another user is not affected.
async fn opening_sockets_in_a_loop_is_limited() {
    let (s, _, [a, b, _]) = dm().await;
    let mut refused = None;
    for _ in 0..natter::server::live::opens::MIN_BURST + 30 {
        match s.try_connect(Some(&a), Some(&s.origin)).await {
            Ok(c) => c.close().await,
            Err(WsError::Http(res)) => {
                refused = Some(res);
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let res = refused.expect("a loop of opens is refused");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    let body = String::from_utf8_lossy(res.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("new connections"), "{body}");
    let _bob = s.connect(&b).await;
}

test_both_dbs!(a_flapping_connection_costs_contacts_about_one_presence_frame_a_second);
/// A connection that flaps (opened and closed in a loop) costs a contact about one
/// presence frame a second, not two per turn, and the contact ends up with the truth.
async fn a_flapping_connection_costs_contacts_about_one_presence_frame_a_second() {
    let (s, _, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    let bob_id = natter::model::UserId(2);
    let start = Instant::now();
    for _ in 0..20 {
        s.connect_raw(&b).await.close().await;
    }
    let flapping = start.elapsed();
    let mut told = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match alice.next_any(left).await {
            Some(ServerFrame::Presence {
                user_id, online, ..
            }) if user_id == bob_id => told.push(online),
            Some(_) => {}
            None => break,
        }
    }
    let allowed = flapping.as_secs_f64().ceil() as usize + 2;
    assert!(
        told.len() <= allowed,
        "{} presence frames for 20 turns in {flapping:?}: {told:?}",
        told.len()
    );
    assert_eq!(told.last(), Some(&false), "bob ends offline: {told:?}");
}

test_both_dbs!(a_password_change_closes_the_other_sessions_sockets_at_once);
/// A password change ends the account's other sessions: their sockets close within a
/// second (4001), and a frame sent on one after the change is neither acked nor
/// stored. The session that made the change keeps its socket.
async fn a_password_change_closes_the_other_sessions_sockets_at_once() {
    use leptos::server_fn::ServerFn;
    use natter::api::account::ChangePassword;
    let (s, chat, [a, ..]) = dm().await;
    let other_device = s.sign_in("alice").await;
    let mut kept = s.connect(&a).await;
    let mut other = s.connect(&other_device).await;
    let (status, _, body) = s
        .call(
            ChangePassword::PATH,
            "current=password123&new=password456".into(),
            Some(&a),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    other
        .try_send(&send(chat, "late", "after the revocation"))
        .await;
    let frames = other.expect_revoked().await;
    assert!(
        !frames.iter().any(|f| matches!(f, ServerFrame::Ack { .. })),
        "{frames:?}"
    );
    assert!(s
        .state
        .store
        .messages_after(chat, 0, 10)
        .await
        .unwrap()
        .is_empty());
    kept.send(&ClientFrame::Ping).await;
    assert_eq!(kept.next().await, ServerFrame::Pong);
}

test_both_dbs!(signing_out_everywhere_closes_every_socket_at_once);
/// "Sign out everywhere" closes every socket of the account, this session's included.
async fn signing_out_everywhere_closes_every_socket_at_once() {
    use leptos::server_fn::ServerFn;
    use natter::api::account::SignOutEverywhere;
    let (s, _, [a, b, _]) = dm().await;
    let other_device = s.sign_in("alice").await;
    let mut here = s.connect(&a).await;
    let mut there = s.connect(&other_device).await;
    let mut bob = s.connect(&b).await;
    let (status, _, body) = s
        .call(SignOutEverywhere::PATH, String::new(), Some(&a))
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    for socket in [&mut here, &mut there] {
        socket.expect_revoked().await;
    }
    bob.send(&ClientFrame::Ping).await;
    assert_eq!(bob.next().await, ServerFrame::Pong, "bob is not affected");
}

test_both_dbs!(a_deleted_accounts_sockets_close_at_once);
/// A deleted account's sockets close within a second and receive nothing more (its
/// direct chat goes on for the other person).
async fn a_deleted_accounts_sockets_close_at_once() {
    use leptos::server_fn::ServerFn;
    use natter::api::account::DeleteAccount;
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    let (status, _, body) = s
        .call(DeleteAccount::PATH, "password=password123".into(), Some(&b))
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    alice.send(&send(chat, "a1", "are you still there?")).await;
    let frames = bob.expect_revoked().await;
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Message { .. })),
        "{frames:?}"
    );
}
