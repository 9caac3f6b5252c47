//! Issue 17's storage against a real database, SQLite and PostgreSQL
//! (`test_both_dbs!`). Search: word-start matching of every query word, only the reader's
//! chats, newest first in pages, kept in step with edits and deletes, and query text
//! that is only ever words. Reactions: idempotent, members only, capped, and each
//! change takes a change number. Hostile bodies (issue 29): the deepest Markdown of
//! the size limit, sent, listed and rendered through a real server, which stays up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::{send, start, Client, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::chats::ListChats;
use natter::model::protocol::ServerFrame;
use natter::model::{ChatId, ChatSummary, SearchPage, User, SEARCH_PAGE_SIZE};
use natter::server::db::{NewMessage, Store};

async fn user(store: &Store, name: &str) -> User {
    store.create_user(name, "not-a-real-hash").await.unwrap()
}

fn texts(page: &SearchPage) -> Vec<String> {
    page.hits
        .iter()
        .map(|h| {
            h.snippet
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<String>()
        })
        .collect()
}

test_both_dbs!(search_finds_words_in_my_chats_newest_first);
async fn search_finds_words_in_my_chats_newest_first() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b, eve) = (
        user(s, "alice").await,
        user(s, "bob").await,
        user(s, "eve").await,
    );
    let (dm, _) = s.find_or_create_dm(a.id, b.id).await.unwrap();
    let group = s
        .create_group(a.id, Some("Trip"), &[b.id, eve.id])
        .await
        .unwrap();
    s.insert_message(dm, a.id, "c1", "The password is swordfish")
        .await
        .unwrap();
    s.insert_message(group, b.id, "c2", "Swordfishing trip on Friday?")
        .await
        .unwrap();
    s.insert_message(group, a.id, "c3", "nothing to see")
        .await
        .unwrap();

    // Word starts, any case; every word must match; newest first.
    let page = s.search(a.id, "SWORD", None).await.unwrap();
    assert_eq!(page.hits.len(), 2);
    assert_eq!(page.hits[0].chat_title, "Trip");
    assert_eq!(page.hits[0].sender, "bob");
    assert_eq!(
        page.hits[1].chat_title, "bob",
        "a direct chat is titled by the other person"
    );
    assert_eq!(page.hits[1].seq, 1);
    assert!(page.hits[1]
        .snippet
        .iter()
        .any(|(t, hit)| *hit && t == "swordfish"));
    assert!(page.hits[1]
        .snippet
        .iter()
        .any(|(t, hit)| !*hit && t.contains("password")));
    assert_eq!(page.next_before, None);
    let both = s.search(a.id, "sword friday", None).await.unwrap();
    assert_eq!(texts(&both), vec!["Swordfishing trip on Friday?"]);
    assert!(
        s.search(a.id, "fish", None).await.unwrap().hits.is_empty(),
        "not inside words"
    );

    // Eve is only in the group: the direct chat's message is not hers to find.
    let page = s.search(eve.id, "password", None).await.unwrap();
    assert!(page.hits.is_empty(), "{page:?}");
    let page = s.search(eve.id, "sword", None).await.unwrap();
    assert_eq!(texts(&page), vec!["Swordfishing trip on Friday?"]);

    // Query syntax of either database is only words here.
    for q in [
        "\"",
        "sword*",
        "sword OR nothing",
        "NEAR(sword",
        "sword:*",
        "!sword & |",
        "'; DROP TABLE messages; --",
        "",
    ] {
        let page = s.search(a.id, q, None).await;
        assert!(page.is_ok(), "{q}: {page:?}");
    }
    assert_eq!(s.search(a.id, "sword:*", None).await.unwrap().hits.len(), 2);
    assert!(s.search(a.id, "  ", None).await.unwrap().hits.is_empty());
}

test_both_dbs!(search_follows_edits_deletes_and_membership);
async fn search_follows_edits_deletes_and_membership() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b) = (user(s, "alice").await, user(s, "bob").await);
    let group = s.create_group(a.id, Some("Team"), &[b.id]).await.unwrap();
    let (m, _) = s
        .insert_message(group, a.id, "c1", "meet at the harbour")
        .await
        .unwrap();
    assert_eq!(s.search(b.id, "harbour", None).await.unwrap().hits.len(), 1);

    s.edit_message(m.id, a.id, "meet at the station")
        .await
        .unwrap();
    assert!(s
        .search(b.id, "harbour", None)
        .await
        .unwrap()
        .hits
        .is_empty());
    assert_eq!(s.search(b.id, "station", None).await.unwrap().hits.len(), 1);

    s.delete_message(m.id, a.id).await.unwrap();
    assert!(s
        .search(b.id, "station", None)
        .await
        .unwrap()
        .hits
        .is_empty());

    s.insert_message(group, a.id, "c2", "secret after you left")
        .await
        .unwrap();
    assert_eq!(s.search(b.id, "secret", None).await.unwrap().hits.len(), 1);
    s.remove_member(group, b.id).await.unwrap();
    assert!(s
        .search(b.id, "secret", None)
        .await
        .unwrap()
        .hits
        .is_empty());
}

/// SQLite: FTS5's own check that its index agrees with its content table, the messages
/// (an external-content `delete` of words never indexed fails it). PostgreSQL's index
/// is maintained by the database itself: nothing to check.
async fn assert_search_index_agrees(db: &common::TestDb) {
    if common::on_postgres() {
        return;
    }
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
        .execute(&mut conn)
        .await
        .expect("the search index agrees with the messages");
}

test_both_dbs!(search_indexes_after_the_commit_and_stays_in_step);
/// Issue 31: SQLite indexes new messages after their commit (the committer does it when
/// idle; a search first catches up). A message edited or deleted before it was indexed
/// is found as it is now; steps index oldest first; and the index agrees with the
/// messages (FTS5's own integrity check against its content table). PostgreSQL
/// indexes in the commit: the same searches find the same messages.
async fn search_indexes_after_the_commit_and_stays_in_step() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b) = (user(s, "alice").await, user(s, "bob").await);
    let group = s.create_group(a.id, Some("Team"), &[b.id]).await.unwrap();
    let mut sent = Vec::new();
    for (i, body) in ["walrus one", "walrus two", "walrus three"]
        .iter()
        .enumerate()
    {
        sent.push(
            s.insert_message(group, a.id, &format!("w{i}"), body)
                .await
                .unwrap()
                .0,
        );
    }
    // Not yet indexed on SQLite (no committer runs here): edited and deleted first.
    s.edit_message(sent[0].id, a.id, "narwhal one")
        .await
        .unwrap();
    s.delete_message(sent[1].id, a.id).await.unwrap();
    let found = |q: &'static str| async move {
        let page = s.search(b.id, q, None).await.unwrap();
        let mut seqs: Vec<i64> = page.hits.iter().map(|h| h.seq).collect();
        seqs.sort();
        seqs
    };
    assert_eq!(found("walrus").await, vec![3]);
    assert_eq!(found("narwhal").await, vec![1]);
    // The search caught up: nothing is left to index.
    assert_eq!(s.index_pending(100).await.unwrap(), 0);

    for i in 0..3 {
        s.insert_message(group, b.id, &format!("o{i}"), &format!("orca {i}"))
            .await
            .unwrap();
    }
    let step = |n| s.index_pending(n);
    if common::on_postgres() {
        assert_eq!(step(2).await.unwrap(), 0);
    } else {
        assert_eq!(step(2).await.unwrap(), 2);
        assert_eq!(step(2).await.unwrap(), 1);
        assert_eq!(step(2).await.unwrap(), 0);
    }
    // Edited and deleted once indexed: the triggers keep the index in step.
    s.edit_message(sent[2].id, a.id, "beluga three")
        .await
        .unwrap();
    assert_eq!(found("walrus").await, Vec::<i64>::new());
    assert_eq!(found("beluga").await, vec![3]);
    assert_eq!(found("orca").await, vec![4, 5, 6]);
    // Three-letter and four-letter starts come from the prefix index, longer ones
    // from the words; shorter words match whole words only.
    assert_eq!(found("bel").await, vec![3]);
    assert_eq!(found("belu").await, vec![3]);
    assert_eq!(found("or").await, Vec::<i64>::new());

    assert_search_index_agrees(&db).await;
}

test_both_dbs!(a_deleted_newest_message_leaves_its_id_unused_by_the_next);
/// Issue 31's review: SQLite gives a new row the largest id + 1, so a newest message
/// deleted with its chat (the last member left) would hand its id, already covered by
/// the search index's mark, to the next message: that message would never be indexed,
/// and its edit would delete from the index words it never had (FTS5 then reports a
/// corrupt database). Ids never go back below the mark.
async fn a_deleted_newest_message_leaves_its_id_unused_by_the_next() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b, c) = (
        user(s, "alice").await,
        user(s, "bob").await,
        user(s, "carol").await,
    );
    let kept = s.create_group(a.id, Some("Kept"), &[c.id]).await.unwrap();
    let gone = s.create_group(b.id, Some("Gone"), &[c.id]).await.unwrap();
    s.insert_message(kept, a.id, "k1", "walrus").await.unwrap();
    let (newest, _) = s.insert_message(gone, b.id, "g1", "kraken").await.unwrap();
    assert_eq!(s.search(c.id, "kraken", None).await.unwrap().hits.len(), 1);
    // Everyone leaves "Gone": it is deleted, its (newest) message with it.
    s.remove_member(gone, b.id).await.unwrap();
    s.remove_member(gone, c.id).await.unwrap();
    assert!(s.delete_if_abandoned(gone).await.unwrap());
    assert!(s.message(newest.id).await.unwrap().is_none());

    let (next, _) = s.insert_message(kept, a.id, "k2", "squid").await.unwrap();
    assert!(
        next.id.0 > newest.id.0,
        "{:?} reused {:?}",
        next.id,
        newest.id
    );
    assert_eq!(s.search(c.id, "squid", None).await.unwrap().hits.len(), 1);
    s.edit_message(next.id, a.id, "octopus").await.unwrap();
    assert_eq!(s.search(c.id, "octopus", None).await.unwrap().hits.len(), 1);
    assert!(s.search(c.id, "squid", None).await.unwrap().hits.is_empty());
    assert_search_index_agrees(&db).await;
}

#[tokio::test]
/// The committer indexes what it stored once its queue is empty, without a search
/// asking (SQLite; on PostgreSQL the index is part of the commit).
async fn the_committer_indexes_new_messages_when_idle() {
    let s = start().await;
    let alice = s.sign_up("alice").await;
    s.sign_up("bob").await;
    let chat = s.create_chat(&alice, "bob", "").await;
    let mut client = s.connect(&alice).await;
    for i in 0..3 {
        send_acked(&mut client, chat, &format!("i{i}"), "narwhal").await;
    }
    // Watched from a connection of the test's own, which indexes nothing.
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE id > (SELECT upto FROM search_indexed)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the committer left {left} messages unindexed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

test_both_dbs!(search_pages_by_message);
async fn search_pages_by_message() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b) = (user(s, "alice").await, user(s, "bob").await);
    let (dm, _) = s.find_or_create_dm(a.id, b.id).await.unwrap();
    let n = SEARCH_PAGE_SIZE + 5;
    for i in 1..=n {
        s.insert_message(dm, a.id, &format!("c{i}"), &format!("report number {i}"))
            .await
            .unwrap();
    }
    let p1 = s.search(b.id, "report", None).await.unwrap();
    assert_eq!(p1.hits.len() as i64, SEARCH_PAGE_SIZE);
    assert_eq!(p1.hits[0].seq, n);
    let p2 = s.search(b.id, "report", p1.next_before).await.unwrap();
    let seqs: Vec<i64> = p2.hits.iter().map(|h| h.seq).collect();
    assert_eq!(seqs, (1..=5).rev().collect::<Vec<_>>());
    assert_eq!(p2.next_before, None);
}

test_both_dbs!(search_reaches_matches_far_back_and_pages_across_them);
/// PostgreSQL looks through the newest 1 000 messages first, then the chat's newest,
/// then through the search index for older ones, or through the index at once for a
/// rare word (db/search.rs): matches far back, a page that spans them, and pages after
/// it come out whole and newest first, by either plan. SQLite runs it too.
async fn search_reaches_matches_far_back_and_pages_across_them() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b) = (user(s, "alice").await, user(s, "bob").await);
    let (dm, _) = s.find_or_create_dm(a.id, b.id).await.unwrap();
    // 30 needles, then 10 more among 1 500 messages without one.
    let body = |i: usize| match i {
        0..30 => format!("needle in the hay {i}"),
        _ if i.is_multiple_of(150) => format!("needle in the hay {i}"),
        _ => format!("just hay {i}"),
    };
    let batch: Vec<NewMessage> = (0..1530)
        .map(|i| NewMessage {
            chat: dm,
            sender: a.id,
            client_id: format!("c{i}"),
            body: body(i),
            reply: None,
            files: Vec::new(),
            broadcast: None,
        })
        .collect();
    for chunk in batch.chunks(500) {
        s.insert_messages(chunk).await.unwrap();
    }
    let want: Vec<i64> = (0..1530usize)
        .filter(|i| body(*i).starts_with("needle"))
        .map(|i| i as i64 + 1)
        .rev()
        .collect();
    assert_eq!(want.len(), 40);
    for walking in [None, Some(60_000), Some(1_000)] {
        let mut got = Vec::new();
        let mut before = None;
        loop {
            let page = match walking {
                Some(rows) => s
                    .search_walking(b.id, "needle hay", before, rows)
                    .await
                    .unwrap(),
                None => s.search(b.id, "needle hay", before).await.unwrap(),
            };
            assert!(page.hits.len() as i64 <= SEARCH_PAGE_SIZE);
            got.extend(page.hits.iter().map(|h| h.seq));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(got, want, "walking: {walking:?}");
    }
}

test_both_dbs!(search_pages_are_exact_across_busy_quiet_and_others_chats);
/// PostgreSQL walks each of the reader's chats newest first through a window of its
/// newest messages, and searches only the chats whose window cannot be sure of the
/// page further (db/search.rs): with one chat of frequent matches, one of rare
/// matches beyond its window, a small one, and the instance's newest messages in a
/// chat of others, every page is exactly the reader's matches, newest first. SQLite
/// runs it too.
async fn search_pages_are_exact_across_busy_quiet_and_others_chats() {
    let db = common::test_db().await;
    let s = &db.store;
    let (r, a, b, c) = (
        user(s, "reader").await,
        user(s, "alice").await,
        user(s, "bob").await,
        user(s, "carol").await,
    );
    let (x, y) = (user(s, "xavier").await, user(s, "yvonne").await);
    let (busy, _) = s.find_or_create_dm(r.id, a.id).await.unwrap();
    let rare = s.create_group(b.id, Some("Rare"), &[r.id]).await.unwrap();
    let (small, _) = s.find_or_create_dm(r.id, c.id).await.unwrap();
    let (others, _) = s.find_or_create_dm(x.id, y.id).await.unwrap();
    let message = |chat: ChatId, sender: &User, i: usize, body: String| NewMessage {
        chat,
        sender: sender.id,
        client_id: format!("c{}-{i}", chat.0),
        body,
        reply: None,
        files: Vec::new(),
        broadcast: None,
    };
    // Rounds interleave the chats, so their ids interleave; the expected hits are
    // (chat, seq) in the order they were stored, newest first.
    let mut batch = Vec::new();
    let mut want = Vec::new();
    for i in 0..400usize {
        let seq = i as i64 + 1;
        let hit = i % 3 == 0;
        batch.push(message(
            busy,
            &a,
            i,
            format!("{} {i}", if hit { "needles here" } else { "hay" }),
        ));
        if hit {
            want.push((busy, seq));
        }
        if i < 350 {
            let hit = i % 60 == 7;
            batch.push(message(
                rare,
                &b,
                i,
                format!("{} {i}", if hit { "a needle" } else { "other words" }),
            ));
            if hit {
                want.push((rare, seq));
            }
        }
        if i < 4 {
            batch.push(message(small, &c, i, format!("Needle {i}")));
            want.push((small, seq));
        }
    }
    // The instance's newest messages: matches the reader must never see.
    for i in 0..1200usize {
        batch.push(message(others, &x, i, format!("needle {i}")));
    }
    for chunk in batch.chunks(500) {
        s.insert_messages(chunk).await.unwrap();
    }
    want.reverse();
    let rare_hits: Vec<(ChatId, i64)> = want.iter().filter(|(c, _)| *c == rare).copied().collect();
    // Each of PostgreSQL's plans: the index at once, the walks through every chat, and
    // the walks cut short by their budget, the index taking the rest.
    for walking in [None, Some(60_000), Some(1_000)] {
        let search = |q: &'static str, before| async move {
            match walking {
                Some(rows) => s.search_walking(r.id, q, before, rows).await.unwrap(),
                None => s.search(r.id, q, before).await.unwrap(),
            }
        };
        let mut got = Vec::new();
        let mut before = None;
        for _ in 0..20 {
            let page = search("needle", before).await;
            assert!(page.hits.len() as i64 <= SEARCH_PAGE_SIZE);
            got.extend(page.hits.iter().map(|h| (h.chat_id, h.seq)));
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(got, want, "walking: {walking:?}");
        // Words only the rare chat holds, most of them beyond its window.
        let far = search("a needle", None).await;
        let seqs: Vec<(ChatId, i64)> = far.hits.iter().map(|h| (h.chat_id, h.seq)).collect();
        assert_eq!(seqs, rare_hits, "walking: {walking:?}");
    }
}

test_both_dbs!(reactions_are_idempotent_members_only_and_capped);
async fn reactions_are_idempotent_members_only_and_capped() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b, eve) = (
        user(s, "alice").await,
        user(s, "bob").await,
        user(s, "eve").await,
    );
    let (dm, _) = s.find_or_create_dm(a.id, b.id).await.unwrap();
    let (m, _) = s.insert_message(dm, a.id, "c1", "hello").await.unwrap();

    let first = s.react(m.id, b.id, "👍", true).await.unwrap();
    assert_eq!(first.change, Some(1));
    assert_eq!(first.reactions[0].users, vec!["bob"]);
    let again = s.react(m.id, b.id, "👍", true).await.unwrap();
    assert_eq!(
        again.change, None,
        "the same reaction twice changes nothing"
    );
    assert_eq!(again.reactions, first.reactions);
    let mine = s.react(m.id, a.id, "👍", true).await.unwrap();
    assert_eq!(mine.reactions[0].users, vec!["bob", "alice"]);
    assert_eq!(mine.change, Some(2));
    // The change number did not move for the no-op.
    let detail = s.chat_for_member(dm, a.id).await.unwrap().unwrap();
    assert_eq!(detail.last_change, 2);

    // Pages and single reads carry them.
    let page = s.history(dm, None, 10).await.unwrap();
    assert_eq!(page.messages[0].reactions, mine.reactions);
    assert_eq!(
        s.message(m.id).await.unwrap().unwrap().reactions,
        mine.reactions
    );

    // Taking back: once changes, twice does not.
    assert_eq!(
        s.react(m.id, b.id, "👍", false).await.unwrap().change,
        Some(3)
    );
    assert_eq!(s.react(m.id, b.id, "👍", false).await.unwrap().change, None);

    // Not a member: "not found", nothing stored.
    assert!(s.react(m.id, eve.id, "👍", true).await.is_err());
    assert_eq!(
        s.message(m.id).await.unwrap().unwrap().reactions[0].users,
        vec!["alice"]
    );

    // At most 10 different reactions per person and message.
    let emoji = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉"];
    for e in emoji {
        s.react(m.id, a.id, e, true).await.unwrap();
    }
    assert!(s.react(m.id, a.id, "😊", true).await.is_err());
    assert_eq!(s.message(m.id).await.unwrap().unwrap().reactions.len(), 10);

    // A deleted message takes no reactions.
    s.delete_message(m.id, a.id).await.unwrap();
    assert!(s.react(m.id, b.id, "🎉", true).await.is_err());
}

test_both_dbs!(the_chat_list_marks_unread_mentions_and_mutes);
async fn the_chat_list_marks_unread_mentions_and_mutes() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b, c) = (
        user(s, "alice").await,
        user(s, "bob_1").await,
        user(s, "bobx1").await,
    );
    let group = s
        .create_group(a.id, Some("Team"), &[b.id, c.id])
        .await
        .unwrap();
    let entry =
        |list: Vec<natter::model::ChatSummary>| list.into_iter().find(|x| x.id == group).unwrap();

    s.insert_message(group, a.id, "c1", "hello all")
        .await
        .unwrap();
    let bob = entry(s.list_chats(b.id).await.unwrap());
    assert!(!bob.mentioned && !bob.muted && bob.unread == 1);

    // `_` in a name is not a wildcard: "@bob_1" is not "@bobx1".
    let (m, _) = s
        .insert_message(group, a.id, "c2", "over to you, @Bob_1")
        .await
        .unwrap();
    assert!(entry(s.list_chats(b.id).await.unwrap()).mentioned);
    assert!(!entry(s.list_chats(c.id).await.unwrap()).mentioned);
    // Read, it is no longer marked.
    s.mark_read(group, b.id, m.seq).await.unwrap();
    assert!(!entry(s.list_chats(b.id).await.unwrap()).mentioned);

    // A longer name that starts with hers, and her name in code, are not mentions of
    // her (the message shows neither highlighted); a whole "@bob_1!" is.
    for (client, body) in [
        ("c3", "ask @bob_12 instead"),
        ("c4", "type `@bob_1` to ping"),
    ] {
        s.insert_message(group, a.id, client, body).await.unwrap();
        let bob = entry(s.list_chats(b.id).await.unwrap());
        assert!(!bob.mentioned, "{body:?} marked a mention");
    }
    s.insert_message(group, a.id, "c5", "thanks @bob_1!")
        .await
        .unwrap();
    assert!(entry(s.list_chats(b.id).await.unwrap()).mentioned);
    assert!(
        s.chat_summary(group, b.id)
            .await
            .unwrap()
            .unwrap()
            .mentioned,
        "one chat's entry says the same"
    );

    assert!(s.set_muted(group, b.id, true).await.unwrap());
    let bob = entry(s.list_chats(b.id).await.unwrap());
    assert!(bob.muted);
    assert!(s.chat_for_member(group, b.id).await.unwrap().unwrap().muted);
    assert!(
        !entry(s.list_chats(c.id).await.unwrap()).muted,
        "a mute is one member's"
    );
    let outsider = user(s, "eve").await;
    assert!(!s.set_muted(group, outsider.id, true).await.unwrap());
}

/// Sends `body` and waits for its ack (an error frame fails the test).
async fn send_acked(client: &mut Client, chat: ChatId, id: &str, body: &str) {
    client.send(&send(chat, id, body)).await;
    loop {
        match client.next().await {
            ServerFrame::Ack { client_id, .. } if client_id == id => return,
            ServerFrame::Error { .. } => panic!("{id} refused"),
            _ => continue,
        }
    }
}

/// `list_chats` as the owner of `cookie`, over HTTP as the client calls it.
async fn list_chats_http(s: &TestServer, cookie: &str) -> Vec<ChatSummary> {
    let res = reqwest::Client::new()
        .post(format!("{}{}", s.origin, ListChats::PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("cookie", cookie)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

async fn get_page(s: &TestServer, path: &str, cookie: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", s.origin))
        .header("accept", "text/html")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

test_both_dbs!(the_deepest_bodies_are_listed_and_rendered_and_the_server_stays_up);
/// Issue 29: 3 990 `>` and a mention once overflowed the server's stack when the
/// mentioned person's chat list was built, and again at every restart. Every deep body
/// here is stored, listed for the person it mentions, and rendered into the chat's page
/// on the server (on this test's thread, whose stack is a Tokio worker's size); the
/// server answers afterwards.
async fn the_deepest_bodies_are_listed_and_rendered_and_the_server_stays_up() {
    let s = start().await;
    let alice = s.sign_up("alice").await;
    let bob = s.sign_up("bob").await;
    let chat = s.create_chat(&alice, "bob", "").await;
    let mut client = s.connect(&alice).await;
    let fill = |piece: &str, tail: &str| {
        let n = (4000 - tail.chars().count()) / piece.chars().count();
        piece.repeat(n) + tail
    };
    // Lists nested by indentation, one level a line, as deep as the size allows.
    let mut nested_list = String::new();
    for level in 0.. {
        let line = format!("{}- `x` @bob\n", "  ".repeat(level));
        if nested_list.len() + line.len() > 4000 {
            break;
        }
        nested_list.push_str(&line);
    }
    let bodies = [
        fill(">", " @bob"),
        fill("> ", "@bob"),
        fill("- ", "@bob"),
        fill("1. ", "@bob"),
        fill("> - *", "@bob"),
        fill("*_", " @bob"),
        fill("[", " @bob"),
        fill("`", " @bob"),
        fill("&amp;", " @bob"),
        nested_list,
    ];
    for (i, body) in bodies.iter().enumerate() {
        assert!(body.chars().count() <= 4000);
        send_acked(&mut client, chat, &format!("deep{i}"), body).await;
    }

    // The chat list reads every unread message that mentions bob.
    let list = list_chats_http(&s, &bob).await;
    let entry = list.iter().find(|c| c.id == chat).unwrap();
    assert!(entry.mentioned, "{entry:?}");
    assert_eq!(entry.unread, bodies.len() as i64);

    // The server renders the chat with every body in it, for both.
    for cookie in [&bob, &alice] {
        let (status, page) = get_page(&s, &format!("/chats/{}", chat.0), cookie).await;
        assert_eq!(status, 200);
        assert!(page.contains("<blockquote>"), "quotes render");
        assert!(page.contains("<ul><li>"), "lists render");
        assert!(page.contains("<code>x</code>"), "with code inside");
    }

    // Still up: health, a normal send, the list.
    let (status, _) = get_page(&s, "/healthz", &bob).await;
    assert_eq!(status, 200);
    send_acked(&mut client, chat, "after", "still here").await;
    let list = list_chats_http(&s, &bob).await;
    assert_eq!(list.iter().find(|c| c.id == chat).unwrap().last_seq, 11);
}

/// Whether `chat` is marked as mentioning `reader` in their chat list.
async fn mentioned(s: &Store, reader: &User, chat: natter::model::ChatId) -> bool {
    let list = s.list_chats(reader.id).await.unwrap();
    list.into_iter().find(|x| x.id == chat).unwrap().mentioned
}

/// Runs `sql` on the test database directly (what a migration leaves behind, for the
/// backfill test).
async fn raw_sql(url: &str, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
}

test_both_dbs!(recorded_mentions_follow_edits_deletes_reads_and_membership);
/// Issue 29: mentions are recorded when a message is stored (the chat list no longer
/// parses unread messages), and kept in step with edits and deletes.
async fn recorded_mentions_follow_edits_deletes_reads_and_membership() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b, c) = (
        user(s, "alice").await,
        user(s, "bob").await,
        user(s, "carol").await,
    );
    let group = s.create_group(a.id, Some("Two"), &[b.id]).await.unwrap();

    // In code it is not a mention; an edit that makes it one marks it, an edit that
    // takes it out unmarks it, and so does a delete.
    let (m, _) = s
        .insert_message(group, a.id, "m1", "type `@bob` to ping")
        .await
        .unwrap();
    assert!(!mentioned(s, &b, group).await, "a name in code");
    s.edit_message(m.id, a.id, "ping @bob").await.unwrap();
    assert!(mentioned(s, &b, group).await, "added by an edit");
    s.edit_message(m.id, a.id, "ping nobody").await.unwrap();
    assert!(!mentioned(s, &b, group).await, "removed by an edit");
    s.edit_message(m.id, a.id, "ping @bob again").await.unwrap();
    assert!(mentioned(s, &b, group).await);
    s.delete_message(m.id, a.id).await.unwrap();
    assert!(!mentioned(s, &b, group).await, "gone with the message");

    // Only members are recorded: carol, added after a message named her, is not
    // marked by it (nor is anyone by a name that is nobody's); nor is a sender by
    // their own name.
    s.insert_message(group, a.id, "m2", "@carol @nobody @alice")
        .await
        .unwrap();
    s.add_member(group, c.id, 10).await.unwrap();
    assert!(!mentioned(s, &c, group).await, "not a member when named");
    assert!(!mentioned(s, &a, group).await, "one's own name");
    let (m3, _) = s
        .insert_message(group, a.id, "m3", "welcome **@carol**")
        .await
        .unwrap();
    assert!(mentioned(s, &c, group).await);

    // Reading clears the mark; a later mention sets it again.
    s.mark_read(group, c.id, m3.seq).await.unwrap();
    assert!(!mentioned(s, &c, group).await, "read");

    // The batch writer records them too, for each message of a batch.
    let batch: Vec<NewMessage> = [(b.id, "b1", "hi all"), (b.id, "b2", "> @carol look")]
        .into_iter()
        .map(|(sender, client, body)| NewMessage {
            chat: group,
            sender,
            client_id: client.into(),
            body: body.into(),
            reply: None,
            files: Vec::new(),
            broadcast: None,
        })
        .collect();
    for stored in s.insert_messages(&batch).await.unwrap() {
        stored.unwrap();
    }
    assert!(mentioned(s, &c, group).await, "a batch's mention");
    assert!(!mentioned(s, &a, group).await);
}

test_both_dbs!(the_chat_list_finds_a_mention_by_index_whatever_the_unread_count);
/// Issue 29: the chat list's cost does not grow with the unread mentions. 3 000
/// unread messages that mention the reader, from a stranger in a direct chat (the
/// attack): the list still marks the mention, and on SQLite its query looks it up with
/// one search of the `mentions_user` index rather than scanning messages or mentions.
/// (Not a timing assertion; BENCHMARKS.md has the figure.)
async fn the_chat_list_finds_a_mention_by_index_whatever_the_unread_count() {
    let db = common::test_db().await;
    let s = &db.store;
    let (eve, bob) = (user(s, "eve").await, user(s, "bob").await);
    let (dm, _) = s.find_or_create_dm(eve.id, bob.id).await.unwrap();
    for part in 0..12 {
        let batch: Vec<NewMessage> = (0..250)
            .map(|i| NewMessage {
                chat: dm,
                sender: eve.id,
                client_id: format!("e{part}-{i}"),
                body: format!("{} @bob", ">".repeat(20)),
                reply: None,
                files: Vec::new(),
                broadcast: None,
            })
            .collect();
        for stored in s.insert_messages(&batch).await.unwrap() {
            stored.unwrap();
        }
    }
    let list = s.list_chats(bob.id).await.unwrap();
    // Counted up to the cap (issue 31: a channel never read is not walked whole).
    assert_eq!(list[0].unread, natter::model::UNREAD_CAP);
    assert!(list[0].mentioned);

    let plan = s.chat_list_plan(bob.id).await.unwrap();
    if !common::on_postgres() {
        assert!(
            plan.iter()
                .any(|d| d.contains("SEARCH n USING COVERING INDEX mentions_user")),
            "{plan:#?}"
        );
        assert!(!plan.iter().any(|d| d.starts_with("SCAN n")), "{plan:#?}");
    }
}

test_both_dbs!(mentions_stored_before_the_table_are_backfilled_at_start);
/// Issue 29: messages stored before the `mentions` table existed get their rows at the
/// next start (a one-time pass in Rust: only the parser tells a mention from a name in
/// code), and the pass is not repeated.
async fn mentions_stored_before_the_table_are_backfilled_at_start() {
    let db = common::test_db().await;
    let s = &db.store;
    let (a, b) = (user(s, "alice").await, user(s, "bob").await);
    let (dm, _) = s.find_or_create_dm(a.id, b.id).await.unwrap();
    let (coded, _) = s
        .insert_message(dm, a.id, "c1", "`@bob` is code")
        .await
        .unwrap();
    assert!(!mentioned(s, &b, dm).await);
    let (m, _) = s.insert_message(dm, a.id, "c2", "hi @bob").await.unwrap();
    s.mark_read(dm, b.id, coded.seq).await.unwrap();
    assert!(mentioned(s, &b, dm).await);

    // As the migration leaves an old database: no rows, the pass pending.
    raw_sql(
        &db.url,
        "DELETE FROM mentions; INSERT INTO pending_backfills (name) VALUES ('mentions')",
    )
    .await;
    assert!(!mentioned(s, &b, dm).await, "the rows are gone");
    let again = common::connect_db(&db).await;
    assert!(mentioned(&again.store, &b, dm).await, "backfilled");
    again.store.mark_read(dm, b.id, m.seq).await.unwrap();
    assert!(!mentioned(&again.store, &b, dm).await);
    raw_sql(&db.url, "DELETE FROM mentions").await;
    again.store.close().await;
    let third = common::connect_db(&db).await;
    // Done once: with the marker gone, a start does not parse the history again.
    raw_sql(&db.url, "UPDATE chat_members SET last_read_seq = 0").await;
    assert!(!mentioned(&third.store, &b, dm).await, "not run again");
}
