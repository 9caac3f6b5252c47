//! The storage layer against a real database, a SQLite file and PostgreSQL
//! (`test_both_dbs!`): sequence numbers under concurrency, idempotent retries, cursor
//! pagination, unread counts, direct-chat uniqueness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use natter::model::{AppError, ChatId, User};
use natter::server::db::Store;
use natter::server::Error;

async fn user(store: &Store, name: &str) -> User {
    store.create_user(name, "not-a-real-hash").await.unwrap()
}

fn app_err(e: Error) -> AppError {
    match e {
        Error::App(a) => a,
        other => panic!("expected a user error, got {other:?}"),
    }
}

test_both_dbs!(usernames_are_unique_ignoring_case);
async fn usernames_are_unique_ignoring_case() {
    let db = common::test_db().await;
    user(&db.store, "alice").await;
    let err = db.store.create_user("ALICE", "x").await.unwrap_err();
    assert!(matches!(app_err(err), AppError::Conflict(_)));
}

test_both_dbs!(one_direct_chat_per_pair);
async fn one_direct_chat_per_pair() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (c1, created1) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let (c2, created2) = db.store.find_or_create_dm(b.id, a.id).await.unwrap();
    assert!(created1);
    assert!(!created2);
    assert_eq!(c1, c2);
}

test_both_dbs!(sequence_numbers_have_no_gaps_under_concurrent_inserts);
async fn sequence_numbers_have_no_gaps_under_concurrent_inserts() {
    let db = common::test_db().await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(user(&db.store, &format!("user{i}")).await);
    }
    let ids: Vec<_> = users.iter().skip(1).map(|u| u.id).collect();
    let chat = db
        .store
        .create_group(users[0].id, Some("race"), &ids)
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for u in &users {
        for n in 0..40 {
            let store = db.store.clone();
            let uid = u.id;
            tasks.push(tokio::spawn(async move {
                store
                    .insert_message(chat, uid, &format!("c{n}"), "hi")
                    .await
                    .unwrap()
                    .0
                    .seq
            }));
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=160).collect::<Vec<i64>>());
    let page = db.store.history(chat, None, 200).await.unwrap();
    assert_eq!(page.messages.len(), 160);
    assert!(page.messages.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
}

test_both_dbs!(a_retried_send_returns_the_original);
async fn a_retried_send_returns_the_original() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (chat, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let (m1, first) = db
        .store
        .insert_message(chat, a.id, "cid-1", "hello")
        .await
        .unwrap();
    let (m2, second) = db
        .store
        .insert_message(chat, a.id, "cid-1", "hello again")
        .await
        .unwrap();
    assert_eq!(first, natter::server::db::Inserted::New);
    assert_eq!(second, natter::server::db::Inserted::Duplicate);
    assert_eq!(m1, m2);
    assert_eq!(m2.body, "hello");
    // The retry did not use up a sequence number.
    let (m3, _) = db
        .store
        .insert_message(chat, a.id, "cid-2", "next")
        .await
        .unwrap();
    assert_eq!(m3.seq, 2);
    // Another sender may use the same client id.
    let (m4, _) = db
        .store
        .insert_message(chat, b.id, "cid-1", "bob's")
        .await
        .unwrap();
    assert_eq!(m4.seq, 3);
}

test_both_dbs!(non_members_cannot_send_or_read);
async fn non_members_cannot_send_or_read() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let eve = user(&db.store, "eve").await;
    let (chat, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let err = db
        .store
        .insert_message(chat, eve.id, "x", "let me in")
        .await
        .unwrap_err();
    assert!(matches!(app_err(err), AppError::NotFound(_)));
    assert!(db
        .store
        .chat_for_member(chat, eve.id)
        .await
        .unwrap()
        .is_none());
    assert!(db
        .store
        .chat_for_member(ChatId(9999), a.id)
        .await
        .unwrap()
        .is_none());
    assert!(db.store.list_chats(eve.id).await.unwrap().is_empty());
}

test_both_dbs!(history_pages_by_cursor);
async fn history_pages_by_cursor() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (chat, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    for i in 1..=120 {
        db.store
            .insert_message(chat, a.id, &format!("m{i}"), &format!("message {i}"))
            .await
            .unwrap();
    }
    let p1 = db.store.history(chat, None, 50).await.unwrap();
    let seqs =
        |p: &natter::model::HistoryPage| p.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&p1), (71..=120).collect::<Vec<_>>());
    assert!(p1.has_more);
    let p2 = db.store.history(chat, Some(71), 50).await.unwrap();
    assert_eq!(seqs(&p2), (21..=70).collect::<Vec<_>>());
    assert!(p2.has_more);
    let p3 = db.store.history(chat, Some(21), 50).await.unwrap();
    assert_eq!(seqs(&p3), (1..=20).collect::<Vec<_>>());
    assert!(!p3.has_more);
    assert_eq!(p3.messages[0].body, "message 1");
}

test_both_dbs!(unread_counts_follow_the_read_pointer);
async fn unread_counts_follow_the_read_pointer() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (chat, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    for i in 0..3 {
        db.store
            .insert_message(chat, a.id, &format!("a{i}"), "from alice")
            .await
            .unwrap();
    }
    let unread = |list: Vec<natter::model::ChatSummary>| list[0].unread;
    assert_eq!(unread(db.store.list_chats(b.id).await.unwrap()), 3);
    // Own messages are never unread.
    assert_eq!(unread(db.store.list_chats(a.id).await.unwrap()), 0);
    assert_eq!(
        db.store.mark_read(chat, b.id, 2).await.unwrap(),
        (2, Some(1))
    );
    assert_eq!(unread(db.store.list_chats(b.id).await.unwrap()), 1);
    // The pointer never moves back and never past the end; a call that does not move
    // it says so (nothing to tell the other members).
    assert_eq!(db.store.mark_read(chat, b.id, 1).await.unwrap(), (2, None));
    assert_eq!(db.store.mark_read(chat, b.id, 2).await.unwrap(), (2, None));
    assert_eq!(
        db.store.mark_read(chat, b.id, 99).await.unwrap(),
        (3, Some(2))
    );
    assert_eq!(db.store.mark_read(chat, b.id, 99).await.unwrap(), (3, None));
    assert_eq!(unread(db.store.list_chats(b.id).await.unwrap()), 0);
    // Bob replying marks everything up to his message read.
    db.store
        .insert_message(chat, a.id, "a9", "more")
        .await
        .unwrap();
    db.store
        .insert_message(chat, b.id, "b1", "reply")
        .await
        .unwrap();
    assert_eq!(unread(db.store.list_chats(b.id).await.unwrap()), 0);
    assert_eq!(unread(db.store.list_chats(a.id).await.unwrap()), 1);
}

test_both_dbs!(chat_list_is_sorted_by_activity_with_previews);
async fn chat_list_is_sorted_by_activity_with_previews() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let c = user(&db.store, "carol").await;
    let (dm_b, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let (dm_c, _) = db.store.find_or_create_dm(a.id, c.id).await.unwrap();
    db.store
        .insert_message(dm_c, c.id, "1", "older")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    db.store
        .insert_message(dm_b, b.id, "1", "newest")
        .await
        .unwrap();
    let list = db.store.list_chats(a.id).await.unwrap();
    assert_eq!(
        list.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(),
        vec!["bob", "carol"]
    );
    let p = list[0].preview.clone().unwrap();
    assert_eq!(
        (p.sender.as_str(), p.body.as_str(), p.deleted),
        ("bob", "newest", false)
    );
}

test_both_dbs!(only_authors_edit_and_delete);
async fn only_authors_edit_and_delete() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (chat, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let (m, _) = db
        .store
        .insert_message(chat, a.id, "1", "typo")
        .await
        .unwrap();
    assert!(db.store.edit_message(m.id, b.id, "hacked").await.is_err());
    let (edited, _) = db.store.edit_message(m.id, a.id, "fixed").await.unwrap();
    assert_eq!(edited.body, "fixed");
    assert!(edited.edited_at.is_some());
    assert!(db.store.delete_message(m.id, b.id).await.is_err());
    let (deleted, _) = db.store.delete_message(m.id, a.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.body, "");
    let p = db.store.list_chats(b.id).await.unwrap()[0]
        .preview
        .clone()
        .unwrap();
    assert!(p.deleted);
    assert!(db.store.edit_message(m.id, a.id, "undead").await.is_err());
}

test_both_dbs!(sessions_expire_and_revoke);
async fn sessions_expire_and_revoke() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let now = natter::server::db::now_ms();
    db.store
        .create_session(b"live", a.id, now + 60_000)
        .await
        .unwrap();
    db.store
        .create_session(b"dead", a.id, now - 1)
        .await
        .unwrap();
    assert_eq!(
        db.store.session_user(b"live").await.unwrap().unwrap().id,
        a.id
    );
    assert!(db.store.session_user(b"dead").await.unwrap().is_none());
    assert_eq!(db.store.delete_expired_sessions().await.unwrap(), 1);
    db.store.delete_session(b"live").await.unwrap();
    assert!(db.store.session_user(b"live").await.unwrap().is_none());
}

test_both_dbs!(the_writer_statements_prepare_ahead_and_then_serve_a_batch);
/// The writer prepares its statements at start (so the first message does not wait for
/// SQLite to parse and plan them); the batch path then uses the same cached statements.
async fn the_writer_statements_prepare_ahead_and_then_serve_a_batch() {
    use natter::server::db::NewMessage;
    let db = common::test_db().await;
    db.store.warm_batch_conn().await.unwrap();
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (dm, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let stored = db
        .store
        .insert_messages(&[NewMessage {
            chat: dm,
            sender: a.id,
            client_id: "w1".into(),
            body: "first".into(),
            reply: None,
            files: Vec::new(),
            broadcast: None,
        }])
        .await
        .unwrap();
    let (message, _) = stored[0].as_ref().unwrap();
    assert_eq!((message.seq, message.body.as_str()), (1, "first"));
}

/// Alice, Bob and Eve; a DM between Alice and Bob, and Alice's group with all three.
struct BatchChats {
    db: common::TestDb,
    a: User,
    b: User,
    eve: User,
    dm: ChatId,
    group: ChatId,
}

async fn batch_chats() -> BatchChats {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let eve = user(&db.store, "eve").await;
    let (dm, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let group = db
        .store
        .create_group(a.id, Some("g"), &[b.id, eve.id])
        .await
        .unwrap();
    BatchChats {
        db,
        a,
        b,
        eve,
        dm,
        group,
    }
}

/// A message of a batch, its body saying who sent which client id.
fn msg(chat: ChatId, sender: &User, cid: &str) -> natter::server::db::NewMessage {
    natter::server::db::NewMessage {
        chat,
        sender: sender.id,
        client_id: cid.into(),
        body: format!("{cid} from {}", sender.username),
        reply: None,
        files: Vec::new(),
        broadcast: None,
    }
}

test_both_dbs!(a_batch_stores_in_order_and_settles_each_message);
/// One group-commit batch mixing two chats, a stranger, a retry of a stored message and
/// a repeat inside the batch: each gets the right outcome, seqs stay gap-free per chat,
/// and what the batch returns is what a later read finds.
async fn a_batch_stores_in_order_and_settles_each_message() {
    use natter::server::db::Inserted;
    let BatchChats {
        db,
        a,
        b,
        eve,
        dm,
        group,
    } = batch_chats().await;
    let (stored_before, _) = db
        .store
        .insert_message(dm, a.id, "old", "stored earlier")
        .await
        .unwrap();
    let batch = vec![
        msg(dm, &a, "a1"),
        msg(group, &b, "b1"),
        msg(dm, &eve, "e1"), // not a member of the DM
        msg(dm, &b, "b2"),
        msg(dm, &a, "old"), // retry of a stored message
        msg(group, &a, "a2"),
        msg(dm, &a, "a1"),     // repeat within the batch
        msg(group, &a, "old"), // client id already used in another chat
        msg(group, &b, "b2"),  // b2 went to the DM earlier in this batch
    ];
    let out = db.store.insert_messages(&batch).await.unwrap();
    assert_eq!(out.len(), batch.len());
    let ok = |i: usize| out[i].clone().unwrap();
    assert_eq!((ok(0).0.seq, ok(0).1), (2, Inserted::New));
    assert_eq!((ok(1).0.seq, ok(1).1), (1, Inserted::New));
    assert!(matches!(out[2], Err(AppError::NotFound(_))));
    assert_eq!(ok(3).0.seq, 3);
    assert_eq!(ok(3).0.sender, "bob");
    assert_eq!(ok(4), (stored_before.clone(), Inserted::Duplicate));
    assert_eq!((ok(5).0.seq, ok(5).1), (2, Inserted::New));
    assert_eq!(ok(6), (ok(0).0, Inserted::Duplicate));
    assert!(matches!(out[7], Err(AppError::Invalid(_))));
    assert!(matches!(out[8], Err(AppError::Invalid(_))));

    let page = db.store.history(dm, None, 50).await.unwrap();
    let stored: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.seq, m.body.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (1, "stored earlier"),
            (2, "a1 from alice"),
            (3, "b2 from bob")
        ]
    );
    assert_eq!(page.messages[1], ok(0).0);
    let detail = db
        .store
        .chat_for_member(group, a.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.last_seq, 2);
    // Senders have read their own messages.
    let bob = detail.members.iter().find(|m| m.user_id == b.id).unwrap();
    assert_eq!(bob.last_read_seq, 1);
}

test_both_dbs!(a_batch_without_retries_settles_each_message_unchecked);
/// A batch with no retry in it is written without looking up earlier copies (the
/// writer's common case; a retry sends the batch down the looked-up path that
/// `a_batch_stores_in_order_and_settles_each_message` covers): members' messages get
/// gap-free seqs in batch order per chat, a stranger's is refused without using up a
/// seq, and the chats' last seq and the senders' read pointers move.
async fn a_batch_without_retries_settles_each_message_unchecked() {
    use natter::server::db::Inserted;
    let BatchChats {
        db,
        a,
        b,
        eve,
        dm,
        group,
    } = batch_chats().await;
    let (before, _) = db
        .store
        .insert_message(dm, b.id, "before", "stored earlier")
        .await
        .unwrap();
    let batch = vec![
        msg(dm, &a, "a1"),
        msg(group, &eve, "e1"),
        msg(dm, &eve, "e2"), // not a member of the DM
        msg(dm, &b, "b1"),
        msg(group, &a, "a2"),
        msg(dm, &a, "a3"),
    ];
    let out = db.store.insert_messages(&batch).await.unwrap();
    assert_eq!(out.len(), batch.len());
    assert!(matches!(out[2], Err(AppError::NotFound(_))));
    let ok: Vec<_> = [0, 1, 3, 4, 5]
        .iter()
        .map(|&i| out[i].clone().unwrap())
        .collect();
    assert!(ok.iter().all(|(_, how)| *how == Inserted::New));
    let got: Vec<_> = ok
        .iter()
        .map(|(m, _)| (m.chat_id, m.seq, m.sender.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (dm, 2, "alice", "a1 from alice"),
            (group, 1, "eve", "e1 from eve"),
            (dm, 3, "bob", "b1 from bob"),
            (group, 2, "alice", "a2 from alice"),
            (dm, 4, "alice", "a3 from alice"),
        ]
    );
    // Ids follow the batch's order, after the earlier message's.
    let ids: Vec<i64> = ok.iter().map(|(m, _)| m.id.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > before.id.0);

    // What the batch returned is what was stored.
    let page = db.store.history(dm, None, 50).await.unwrap();
    assert_eq!(page.messages[0], before);
    assert_eq!(
        page.messages[1..],
        [ok[0].0.clone(), ok[2].0.clone(), ok[4].0.clone()]
    );
    let detail = db.store.chat_for_member(dm, a.id).await.unwrap().unwrap();
    assert_eq!(detail.last_seq, 4);
    let read = |d: &natter::model::ChatDetail, u: &User| {
        d.members
            .iter()
            .find(|m| m.user_id == u.id)
            .unwrap()
            .last_read_seq
    };
    // Senders have read their own messages, up to their newest.
    assert_eq!((read(&detail, &a), read(&detail, &b)), (4, 3));
    let detail = db
        .store
        .chat_for_member(group, a.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.last_seq, 2);
    assert_eq!(
        (read(&detail, &a), read(&detail, &eve), read(&detail, &b)),
        (2, 1, 0)
    );

    // A batch of refusals only changes nothing.
    let out = db
        .store
        .insert_messages(&[msg(dm, &eve, "e3")])
        .await
        .unwrap();
    assert!(matches!(out[0], Err(AppError::NotFound(_))));
    let detail = db.store.chat_for_member(dm, a.id).await.unwrap().unwrap();
    assert_eq!(detail.last_seq, 4);
}

test_both_dbs!(message_text_is_stored_exactly);
/// Batches travel to SQLite as JSON: every character must come back exactly as sent.
async fn message_text_is_stored_exactly() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (dm, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let bodies = [
        r#"quotes " and \ backslash \n not a newline"#,
        "real\nnewline\tand tab",
        "emoji 🦀👩‍👩‍👧 and accents é ü",
        "<script>alert(1)</script> & [1, 2] {\"k\": null}",
        "0",
        "   spaces kept   ",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let (m, _) = db
            .store
            .insert_message(dm, a.id, &format!("t{i}"), body)
            .await
            .unwrap();
        assert_eq!(m.body, *body);
    }
    let page = db.store.history(dm, None, 50).await.unwrap();
    let stored: Vec<&str> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(stored, bodies);
}

test_both_dbs!(a_failing_batch_rolls_back_and_the_writer_stores_the_rest);
/// A batch that fails in the database is rolled back whole, leaves the writer's connection
/// usable, and the writer then stores its messages one by one, so only the bad one fails.
async fn a_failing_batch_rolls_back_and_the_writer_stores_the_rest() {
    use natter::server::db::NewMessage;
    use natter::server::domain::commit::Committer;
    use natter::server::domain::notify::Notifier;
    use natter::server::live::broker::LocalBroker;
    use natter::server::live::hub::Hub;
    use sqlx::Connection;
    use std::sync::Arc;

    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (dm, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    // A failure only the database knows about, from a second connection.
    if common::on_postgres() {
        let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$
             BEGIN
               IF NEW.body = 'boom' THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
               RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_boom BEFORE INSERT ON messages
             FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
        )
        .execute(&mut other)
        .await
        .unwrap();
    } else {
        let mut other = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN NEW.body = 'boom'
             BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END",
        )
        .execute(&mut other)
        .await
        .unwrap();
    }
    let msg = |cid: &str, body: &str| NewMessage {
        chat: dm,
        sender: a.id,
        client_id: cid.into(),
        body: body.into(),
        reply: None,
        files: Vec::new(),
        broadcast: None,
    };

    // The store: the whole batch fails and nothing of it stays.
    let batch = [msg("1", "one"), msg("2", "boom"), msg("3", "three")];
    assert!(db.store.insert_messages(&batch).await.is_err());
    assert!(db
        .store
        .history(dm, None, 50)
        .await
        .unwrap()
        .messages
        .is_empty());

    // The committer: the same batch, queued together, settles message by message.
    let broker = Arc::new(LocalBroker::new(Arc::new(Hub::new())));
    let writer = Committer::start(db.store.clone(), Notifier::new(db.store.clone(), broker));
    let mut pending = Vec::new();
    for m in batch {
        pending.push(writer.enqueue(m).await.unwrap());
    }
    let mut outcomes = Vec::new();
    for p in pending {
        outcomes.push(p.await.unwrap());
    }
    assert!(matches!(&outcomes[0], Ok(Ok((m, _))) if m.seq == 1 && m.body == "one"));
    assert!(outcomes[1].is_err(), "the refused message fails");
    assert!(matches!(&outcomes[2], Ok(Ok((m, _))) if m.seq == 2 && m.body == "three"));
    let stored: Vec<String> = db
        .store
        .history(dm, None, 50)
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(stored, ["one", "three"]);
}

/// A commit never checkpoints the WAL by itself (the message writer would sit in two
/// `fsync`s while every sender waits for its ack): the WAL grows past SQLite's default of
/// 1 000 pages without the database file changing, and the checkpoint task then copies it.
#[tokio::test]
async fn the_wal_is_checkpointed_by_its_own_task_not_by_commits() {
    use natter::server::db::NewMessage;
    // SQLite's own write-ahead log (PostgreSQL checkpoints by itself): SQLite only.
    let db = common::test_db().await;
    let path = db.url.trim_start_matches("sqlite://").to_string();
    let file_size = || std::fs::metadata(&path).unwrap().len();
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let (dm, _) = db.store.find_or_create_dm(a.id, b.id).await.unwrap();
    let before = file_size();

    // 40 batches × 50 messages × 3 000 bytes: ~6 MB, ~1 500 pages of WAL.
    let body = "x".repeat(3000);
    for round in 0..40 {
        let batch: Vec<NewMessage> = (0..50)
            .map(|i| NewMessage {
                chat: dm,
                sender: a.id,
                client_id: format!("c{round}-{i}"),
                body: body.clone(),
                reply: None,
                files: Vec::new(),
                broadcast: None,
            })
            .collect();
        let stored = db.store.insert_messages(&batch).await.unwrap();
        assert!(stored.iter().all(|s| s.is_ok()));
    }
    assert_eq!(
        file_size(),
        before,
        "a commit checkpointed the WAL by itself"
    );

    let task = db.store.spawn_checkpointer();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while file_size() < before + 5_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpoint task did not copy the WAL into the database file"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    task.abort();
}

test_both_dbs!(group_size_limit_holds_under_concurrent_adds);
/// Concurrent adds to a group one short of the limit: exactly one gets in.
async fn group_size_limit_holds_under_concurrent_adds() {
    use natter::server::db::Added;
    let db = common::test_db().await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(user(&db.store, &format!("user{i}")).await);
    }
    let chat = db
        .store
        .create_group(users[0].id, Some("g"), &[users[1].id, users[2].id])
        .await
        .unwrap();
    let max = 4;
    let adds = users[3..]
        .iter()
        .map(|u| db.store.add_member(chat, u.id, max));
    let outcomes = futures::future::join_all(adds).await;
    let outcomes: Vec<Added> = outcomes.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Added::Added(_)))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(db.store.members(chat).await.unwrap().len(), max);
    assert_eq!(
        db.store.add_member(chat, users[1].id, max).await.unwrap(),
        Added::AlreadyMember
    );
}

test_both_dbs!(removed_authors_cannot_edit_or_delete);
/// A member removed from a group can no longer change what they wrote there.
async fn removed_authors_cannot_edit_or_delete() {
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let chat = db
        .store
        .create_group(a.id, Some("g"), &[b.id])
        .await
        .unwrap();
    let (m, _) = db
        .store
        .insert_message(chat, b.id, "b1", "mine")
        .await
        .unwrap();
    assert!(db.store.remove_member(chat, b.id).await.unwrap().is_some());
    let err = db
        .store
        .edit_message(m.id, b.id, "changed")
        .await
        .unwrap_err();
    assert!(matches!(app_err(err), AppError::NotFound(_)));
    let err = db.store.delete_message(m.id, b.id).await.unwrap_err();
    assert!(matches!(app_err(err), AppError::NotFound(_)));
    assert_eq!(db.store.message(m.id).await.unwrap().unwrap().body, "mine");
}

test_both_dbs!(changes_are_numbered_and_can_be_replayed);
/// Every durable change besides a new message takes the chat's next change number, and
/// what changed after a number can be read back (what `resume` replays).
async fn changes_are_numbered_and_can_be_replayed() {
    use natter::server::db::Added;
    let db = common::test_db().await;
    let a = user(&db.store, "alice").await;
    let b = user(&db.store, "bob").await;
    let c = user(&db.store, "carol").await;
    let chat = db
        .store
        .create_group(a.id, Some("g"), &[b.id])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let (m, _) = db
            .store
            .insert_message(chat, a.id, &format!("m{i}"), "text")
            .await
            .unwrap();
        ids.push(m.id);
    }
    let detail = |db: &common::TestDb| {
        let store = db.store.clone();
        async move { store.chat_for_member(chat, a.id).await.unwrap().unwrap() }
    };
    assert_eq!(
        detail(&db).await.last_change,
        0,
        "new messages take no change number"
    );
    assert_eq!(
        db.store.edit_message(ids[0], a.id, "v2").await.unwrap().1,
        1
    );
    assert_eq!(
        db.store.mark_read(chat, b.id, 3).await.unwrap(),
        (3, Some(2))
    );
    assert_eq!(db.store.delete_message(ids[1], a.id).await.unwrap().1, 3);
    assert_eq!(
        db.store.add_member(chat, c.id, 10).await.unwrap(),
        Added::Added(4)
    );
    assert_eq!(db.store.remove_member(chat, c.id).await.unwrap(), Some(5));
    assert_eq!(detail(&db).await.last_change, 5);

    // After change 1: the delete (the edit is older), bob's read, the member list.
    let changed = db.store.changed_messages(chat, 1, 3, 100).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].deleted && changed[0].body.is_empty());
    let rest = db.store.chat_changes(chat, 1).await.unwrap();
    assert_eq!(rest.reads, vec![(b.id, 3, 2)]);
    let (members, at) = rest.members.unwrap();
    assert_eq!((members.len(), at), (2, 5));
    // Messages past `upto_seq` are replayed whole elsewhere, not as changes.
    assert!(db
        .store
        .changed_messages(chat, 0, 0, 100)
        .await
        .unwrap()
        .is_empty());
    // From the newest change on: nothing.
    assert!(db
        .store
        .changed_messages(chat, 5, 3, 100)
        .await
        .unwrap()
        .is_empty());
    let none = db.store.chat_changes(chat, 5).await.unwrap();
    assert!(none.reads.is_empty() && none.members.is_none());
}
