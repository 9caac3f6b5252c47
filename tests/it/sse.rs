//! The fallback transport through a real server on an ephemeral port: a real SSE stream
//! read as it arrives, and frames POSTed over real HTTP (both databases: see
//! tests/it/common/mod.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::{dm, send, TestServer};
use common::sse::{resume_query, Event, Stream};
use natter::model::protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use natter::model::{ChatId, Message, MessageId, Reaction};
use std::time::Duration;

async fn next_message(s: &mut Stream) -> Message {
    loop {
        match s.next().await {
            ServerFrame::Message { message } => return message,
            ServerFrame::Resumed
            | ServerFrame::Read { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::PresenceSnapshot { .. } => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn next_reactions(s: &mut Stream) -> (MessageId, Vec<Reaction>) {
    loop {
        match s.next().await {
            ServerFrame::Reactions {
                message_id,
                reactions,
                ..
            } => return (message_id, reactions),
            ServerFrame::Read { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::PresenceSnapshot { .. } => {}
            other => panic!("expected reactions, got {other:?}"),
        }
    }
}

/// How many messages the chat holds in the database.
async fn stored(s: &TestServer, chat: ChatId) -> usize {
    s.state
        .store
        .messages_after(chat, 0, 100)
        .await
        .unwrap()
        .len()
}

async fn acked_seq(s: &TestServer, cookie: &str, frame: &ClientFrame) -> i64 {
    match s.post_frame(cookie, frame).await {
        (200, Some(ServerFrame::Ack { seq, .. })) => seq,
        other => panic!("expected an ack, got {other:?}"),
    }
}

test_both_dbs!(the_stream_carries_each_frame_as_it_happens);
async fn the_stream_carries_each_frame_as_it_happens() {
    let (s, chat, [a, b, _]) = dm().await;
    let mut alice = s.sse(&a, "").await;
    // One at a time: each message must arrive before the next is even sent (a stream
    // buffered by compression or a proxy would deliver them only at the end).
    for i in 1..=3 {
        let seq = acked_seq(&s, &b, &send(chat, &format!("c{i}"), &format!("hi {i}"))).await;
        let m = tokio::time::timeout(Duration::from_secs(2), next_message(&mut alice))
            .await
            .expect("the message did not arrive on its own");
        assert_eq!((m.seq, m.body.as_str()), (seq, format!("hi {i}").as_str()));
    }
    // Typing crosses too (a POST from bob, an event for alice).
    assert_eq!(
        s.post_frame(&b, &ClientFrame::Typing { chat_id: chat })
            .await,
        (204, None)
    );
    loop {
        match alice.next().await {
            ServerFrame::Typing { chat_id, .. } => {
                assert_eq!(chat_id, chat);
                break;
            }
            ServerFrame::Read { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::PresenceSnapshot { .. } => {}
            other => panic!("expected typing, got {other:?}"),
        }
    }
}

test_both_dbs!(the_stream_answers_with_event_stream_headers_uncompressed);
async fn the_stream_answers_with_event_stream_headers_uncompressed() {
    let (s, _, [a, ..]) = dm().await;
    let res = s.sse_raw(Some(&a), "").await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-encoding").is_none(), "{h:?}");
}

test_both_dbs!(a_post_send_is_acked_after_commit_and_a_retry_returns_the_original);
async fn a_post_send_is_acked_after_commit_and_a_retry_returns_the_original() {
    let (s, chat, [a, ..]) = dm().await;
    let frame = send(chat, "once", "only once");
    let first = s.post_frame(&a, &frame).await;
    let (200, Some(ServerFrame::Ack { seq, id, .. })) = first else {
        panic!("expected an ack, got {first:?}");
    };
    // Committed before the answer: it is in the database now.
    let stored = s.state.store.messages_after(chat, 0, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].seq, stored[0].id), (seq, id));
    // The same client id again (a retry after a lost answer): the original, nothing new.
    let again = s.post_frame(&a, &frame).await;
    assert!(
        matches!(again, (200, Some(ServerFrame::Ack { seq: s2, id: i2, .. })) if s2 == seq && i2 == id),
        "{again:?}"
    );
    assert_eq!(
        s.state
            .store
            .messages_after(chat, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

test_both_dbs!(a_reopened_stream_gets_everything_it_missed_first);
async fn a_reopened_stream_gets_everything_it_missed_first() {
    let (s, chat, [a, b, _]) = dm().await;
    let kept = acked_seq(&s, &b, &send(chat, "k", "kept")).await;
    // alice's tab was online, then went offline.
    drop(s.sse(&a, "").await);
    // Offline: bob sends three, edits the kept one.
    let mut missed = Vec::new();
    for i in 0..3 {
        missed.push(
            acked_seq(
                &s,
                &b,
                &send(chat, &format!("m{i}"), &format!("missed {i}")),
            )
            .await,
        );
    }
    let edit = ClientFrame::Edit {
        message_id: s.state.store.messages_after(chat, 0, 1).await.unwrap()[0].id,
        body: "kept, edited".into(),
    };
    assert_eq!(s.post_frame(&b, &edit).await, (204, None));
    // Back: the stream opens with what alice holds (the first message, change 0).
    let mut alice = s
        .sse(&a, &resume_query(&[(chat, kept)], &[(chat, 0)]))
        .await;
    let mut got = Vec::new();
    let mut edited = None;
    loop {
        match alice.next().await {
            ServerFrame::Message { message } => got.push(message.seq),
            ServerFrame::Edited { message, .. } => edited = Some(message.body),
            ServerFrame::Resumed => break,
            _ => {}
        }
    }
    assert_eq!(got, missed, "the missed messages, in order, once");
    assert_eq!(edited.as_deref(), Some("kept, edited"));
}

test_both_dbs!(strangers_other_origins_and_bad_bodies_are_refused_clearly);
async fn strangers_other_origins_and_bad_bodies_are_refused_clearly() {
    let (s, chat, [a, _, e]) = dm().await;
    // No session.
    assert_eq!(s.sse_raw(None, "").await.status(), 401);
    let (status, _) = s
        .post_raw(
            None,
            &s.origin,
            serde_json::to_string(&send(chat, "x", "hi")).unwrap(),
        )
        .await;
    assert_eq!(status, 401);
    // Not a member: nothing learned, nothing stored.
    let (status, answer) = s.post_frame(&e, &send(chat, "x", "let me in")).await;
    assert_eq!(status, 404);
    assert!(matches!(
        answer,
        Some(ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        })
    ));
    assert_eq!(stored(&s, chat).await, 0);
    // Another origin, riding alice's cookie.
    let (status, _) = s
        .post_raw(
            Some(&a),
            "http://evil.example",
            serde_json::to_string(&send(chat, "x", "hi")).unwrap(),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(stored(&s, chat).await, 0);
    let res = reqwest::Client::new()
        .get(format!("http://{}/sse", s.addr))
        .header("cookie", &a)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Malformed, oversized, and a resume (the stream's) get a 4xx with a message.
    let (status, body) = s.post_raw(Some(&a), &s.origin, "{not json".into()).await;
    assert_eq!(status, 400);
    assert!(body.contains("bad frame"), "{body}");
    let big = serde_json::to_string(&send(chat, "big", &"x".repeat(MAX_FRAME_BYTES))).unwrap();
    let (status, body) = s.post_raw(Some(&a), &s.origin, big).await;
    assert_eq!(status, 413);
    assert!(body.contains("too big"), "{body}");
    let (status, answer) = s
        .post_frame(
            &a,
            &ClientFrame::Resume {
                positions: Default::default(),
                changes: Default::default(),
            },
        )
        .await;
    assert_eq!(status, 400);
    assert!(matches!(
        answer,
        Some(ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        })
    ));
    let res = s.sse_raw(Some(&a), "?resume=%7B").await;
    assert_eq!(res.status(), 400);
}

test_both_dbs!(a_signed_out_stream_is_closed_with_its_code);
async fn a_signed_out_stream_is_closed_with_its_code() {
    let (s, _, [a, ..]) = dm().await;
    let mut alice = s.sse(&a, "").await;
    let token = a.split_once('=').unwrap().1;
    s.state
        .store
        .delete_session(&natter::server::domain::auth::hash_token(token))
        .await
        .unwrap();
    // The session is checked on every heartbeat; the close event names the reason.
    let close = loop {
        match alice.event_within(Duration::from_secs(60)).await {
            Some(Event::Close { code, .. }) => break code,
            Some(_) => continue,
            None => panic!("the stream stayed open"),
        }
    };
    assert_eq!(close, natter::model::protocol::close::UNAUTHORIZED);
}

test_both_dbs!(a_flood_of_posted_sends_is_refused_with_retry_after);
async fn a_flood_of_posted_sends_is_refused_with_retry_after() {
    let s = common::server::start_with(|c| {
        c.ws_send_rate = 1;
        c.ws_send_burst = 2;
    })
    .await;
    let a = s.sign_up("alice").await;
    s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    for i in 0..2 {
        acked_seq(&s, &a, &send(chat, &format!("f{i}"), "within the burst")).await;
    }
    let res = reqwest::Client::new()
        .post(format!("http://{}/frames", s.addr))
        .header("content-type", "application/json")
        .header("origin", &s.origin)
        .header("cookie", &a)
        .body(serde_json::to_string(&send(chat, "f2", "one too many")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let answer: ServerFrame = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(
        matches!(&answer, ServerFrame::Error { code: ErrorCode::RateLimited, client_id: Some(id), .. } if id == "f2"),
        "{answer:?}"
    );
    assert_eq!(stored(&s, chat).await, 2);
}

test_both_dbs!(a_posted_reaction_reaches_the_stream_and_strangers_and_bad_emoji_change_nothing);
async fn a_posted_reaction_reaches_the_stream_and_strangers_and_bad_emoji_change_nothing() {
    let (s, chat, [a, b, e]) = dm().await;
    let mut alice = s.sse(&a, "").await;
    acked_seq(&s, &b, &send(chat, "r1", "react to me")).await;
    let m = next_message(&mut alice).await;
    let react = |emoji: &str, on| ClientFrame::React {
        message_id: m.id,
        emoji: emoji.into(),
        on,
    };
    assert_eq!(s.post_frame(&a, &react("👍", true)).await, (204, None));
    let (id, list) = next_reactions(&mut alice).await;
    assert_eq!(id, m.id);
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].emoji.as_str(), list[0].users.clone()),
        ("👍", vec!["alice".to_string()])
    );

    // Not a member: the same answer as for a message that does not exist.
    let (status, answer) = s.post_frame(&e, &react("🎉", true)).await;
    assert_eq!(status, 404);
    assert!(
        matches!(
            answer,
            Some(ServerFrame::Error {
                code: ErrorCode::NotFound,
                ..
            })
        ),
        "{answer:?}"
    );
    // Not one emoji: a 400 with an error frame.
    let (status, answer) = s.post_frame(&a, &react("<b>hi</b>", true)).await;
    assert_eq!(status, 400, "{answer:?}");
    assert!(
        matches!(answer, Some(ServerFrame::Error { .. })),
        "{answer:?}"
    );
    let stored = s.state.store.message(m.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions.len(), 1, "{:?}", stored.reactions);

    // Taken back: the stream hears the empty list.
    assert_eq!(s.post_frame(&a, &react("👍", false)).await, (204, None));
    let (id, list) = next_reactions(&mut alice).await;
    assert_eq!((id, list.len()), (m.id, 0));
}

test_both_dbs!(a_stream_resume_naming_too_many_chats_is_refused);
/// A stream's `resume` naming more than `RESUME_MAX_CHATS` chats: `400`, nothing looked up.
async fn a_stream_resume_naming_too_many_chats_is_refused() {
    use natter::model::protocol::RESUME_MAX_CHATS;
    let (s, chat, [a, ..]) = dm().await;
    let many: Vec<_> = (1..=RESUME_MAX_CHATS as i64 + 1)
        .map(|i| (ChatId(i), 0))
        .collect();
    let res = s.sse_raw(Some(&a), &resume_query(&many, &[])).await;
    // (The body may come compressed: the status says it.)
    assert_eq!(res.status(), 400);
    let mut ok = s.sse(&a, &resume_query(&[(chat, 0)], &[])).await;
    while ok.next().await != ServerFrame::Resumed {}
}

test_both_dbs!(stream_opens_are_limited_with_socket_opens);
/// Streams draw on the same budget of opens as sockets: after a loop of socket opens,
/// a stream is refused with `429` and `Retry-After`.
async fn stream_opens_are_limited_with_socket_opens() {
    let (s, _, [a, ..]) = dm().await;
    let mut spent = false;
    for _ in 0..natter::server::live::opens::MIN_BURST + 30 {
        match s.try_connect(Some(&a), Some(&s.origin)).await {
            Ok(c) => c.close().await,
            Err(_) => {
                spent = true;
                break;
            }
        }
    }
    assert!(spent, "socket opens were never refused");
    // (A second try, in case the budget's next open came due right between.)
    let mut res = s.sse_raw(Some(&a), "").await;
    if res.status() == 200 {
        res = s.sse_raw(Some(&a), "").await;
    }
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}

test_both_dbs!(a_revoked_sessions_stream_closes_at_once);
/// "Sign out everywhere" ends a stream of another session within a second, and that
/// session's POSTed frames are refused (nothing stored).
async fn a_revoked_sessions_stream_closes_at_once() {
    use leptos::server_fn::ServerFn;
    use natter::api::account::SignOutEverywhere;
    let (s, chat, [a, ..]) = dm().await;
    let other_device = s.sign_in("alice").await;
    let mut stream = s.sse(&other_device, "").await;
    let (status, _, body) = s
        .call(SignOutEverywhere::PATH, String::new(), Some(&a))
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    let (posted, _) = s
        .post_frame(&other_device, &send(chat, "late", "after the revocation"))
        .await;
    assert_eq!(posted, 401);
    let close = loop {
        match stream.event_within(Duration::from_secs(1)).await {
            Some(Event::Close { code, .. }) => break code,
            Some(_) => continue,
            None => panic!("the stream stayed open"),
        }
    };
    assert_eq!(close, natter::model::protocol::close::UNAUTHORIZED);
    assert!(s
        .state
        .store
        .messages_after(chat, 0, 10)
        .await
        .unwrap()
        .is_empty());
}
