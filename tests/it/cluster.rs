//! Two natter nodes on one PostgreSQL database and one Redis, each a real server on its
//! own port, with real WebSocket clients on either. PostgreSQL only (`test_postgres!`:
//! ignored unless asked for, and needs `NATTER_TEST_PG`; see tests/it/common/mod.rs and
//! `scripts/test.sh`) and Debian's `redis-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::redis::TestRedis;
use common::server::{send, start_node, Client, TestServer};
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::{ChatId, Message};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Two nodes sharing a fresh database and `redis`, both subscribed.
async fn two_nodes(redis: &TestRedis) -> (TestServer, TestServer) {
    assert!(common::on_postgres(), "the cluster runs on PostgreSQL");
    let db = common::test_db().await;
    let second = common::connect_db(&db).await;
    let with_redis = |c: &mut natter::server::config::Config| c.redis_url = Some(redis.url.clone());
    let one = start_node(db, with_redis).await;
    let two = start_node(second, with_redis).await;
    wait_connected(&[&one, &two], true).await;
    (one, two)
}

async fn wait_connected(nodes: &[&TestServer], up: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while nodes.iter().any(|n| n.state.broker.connected() != up) {
        assert!(
            Instant::now() < deadline,
            "brokers did not become connected={up}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that keeps what it was shown, per chat by seq, and answers `resync` with
/// `resume` from what it holds (as the browser does).
struct Tab {
    client: Client,
    chat: ChatId,
    seen: BTreeMap<i64, Message>,
    duplicates: usize,
    acks: BTreeMap<String, i64>,
}

impl Tab {
    /// Connects and resumes `chat` from 0, as a browser showing the (empty) chat does:
    /// the connection then keeps that chat in seq order, filling any gap from SQL (a
    /// message from another node can arrive after a later one from this node).
    async fn open(node: &TestServer, cookie: &str, chat: ChatId) -> Tab {
        let mut client = node.connect_raw(cookie).await;
        client
            .send(&ClientFrame::Resume {
                positions: BTreeMap::from([(chat, 0)]),
                changes: Default::default(),
            })
            .await;
        loop {
            if client.next().await == ServerFrame::Resumed {
                break;
            }
        }
        Tab {
            client,
            chat,
            seen: BTreeMap::new(),
            duplicates: 0,
            acks: BTreeMap::new(),
        }
    }

    /// Handles one frame; returns it.
    async fn step(&mut self) -> ServerFrame {
        let frame = loop {
            match self.client.next_any(Duration::from_secs(5)).await {
                Some(ServerFrame::Presence { .. } | ServerFrame::PresenceSnapshot { .. }) => {
                    continue
                }
                Some(frame) => break frame,
                None => panic!(
                    "no frame within 5 s; holding seqs {:?}, acks {}",
                    self.seen.keys().collect::<Vec<_>>(),
                    self.acks.len()
                ),
            }
        };
        match &frame {
            ServerFrame::Message { message } if message.chat_id == self.chat => {
                let again = self.seen.insert(message.seq, message.clone()).is_some();
                self.duplicates += usize::from(again);
            }
            ServerFrame::Ack { client_id, seq, .. } => {
                self.acks.insert(client_id.clone(), *seq);
            }
            ServerFrame::Resync => {
                let last = self.seen.keys().next_back().copied().unwrap_or(0);
                self.client
                    .send(&ClientFrame::Resume {
                        positions: BTreeMap::from([(self.chat, last)]),
                        changes: Default::default(),
                    })
                    .await;
            }
            _ => {}
        }
        frame
    }

    /// Reads until `done` holds (10 s at most).
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Tab) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.step().await;
        }
    }

    fn bodies(&self) -> Vec<&str> {
        self.seen.values().map(|m| m.body.as_str()).collect()
    }
}

/// alice (signed up on node one) and bob (on node two) in a direct chat, each with a
/// tab on their node. Returns the chat, alice's cookie and the two tabs.
async fn dm_across(one: &TestServer, two: &TestServer) -> (ChatId, String, Tab, Tab) {
    let a = one.sign_up("alice").await;
    let b = two.sign_up("bob").await;
    let chat = one.create_chat(&a, "bob", "").await;
    let alice = Tab::open(one, &a, chat).await;
    let bob = Tab::open(two, &b, chat).await;
    (chat, a, alice, bob)
}

test_postgres!(messages_edits_typing_and_reads_cross_nodes);
async fn messages_edits_typing_and_reads_cross_nodes() {
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let (chat, _, mut alice, mut bob) = dm_across(&one, &two).await;

    alice.client.send(&send(chat, "a1", "from node one")).await;
    bob.until("the message on node two", |t| t.seen.len() == 1)
        .await;
    bob.client
        .send(&ClientFrame::Read {
            chat_id: chat,
            seq: 1,
        })
        .await;
    loop {
        if let ServerFrame::Read { seq, .. } = alice.step().await {
            assert_eq!(seq, 1);
            break;
        }
    }
    bob.client.send(&send(chat, "b1", "from node two")).await;
    alice
        .until("the reply on node one", |t| t.seen.len() == 2)
        .await;

    let first = alice.seen[&1].id;
    alice
        .client
        .send(&ClientFrame::Edit {
            message_id: first,
            body: "edited on one".into(),
        })
        .await;
    loop {
        if let ServerFrame::Edited { message, .. } = bob.step().await {
            assert_eq!(message.body, "edited on one");
            break;
        }
    }
    bob.client
        .send(&ClientFrame::Typing { chat_id: chat })
        .await;
    loop {
        if let ServerFrame::Typing { username, .. } = alice.step().await {
            assert_eq!(username, "bob");
            break;
        }
    }
}

test_postgres!(concurrent_senders_on_two_nodes_get_gapless_seqs);
/// Senders on both nodes at once into one chat: seqs stay 1..N without gaps, each
/// message reaches both sides once; a retry on the other node gets the original back.
async fn concurrent_senders_on_two_nodes_get_gapless_seqs() {
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let (chat, a, mut alice, mut bob) = dm_across(&one, &two).await;
    const EACH: usize = 60;
    for i in 0..EACH {
        alice
            .client
            .send(&send(chat, &format!("a{i}"), &format!("a{i}")))
            .await;
        bob.client
            .send(&send(chat, &format!("b{i}"), &format!("b{i}")))
            .await;
    }
    let all = 2 * EACH;
    alice
        .until("every message on node one", |t| t.seen.len() == all)
        .await;
    bob.until("every message on node two", |t| t.seen.len() == all)
        .await;
    for tab in [&alice, &bob] {
        let seqs: Vec<i64> = tab.seen.keys().copied().collect();
        assert_eq!(seqs, (1..=all as i64).collect::<Vec<_>>());
        assert_eq!(tab.duplicates, 0);
    }
    // Each side's own sends are in its order.
    let mine: Vec<&str> = alice
        .bodies()
        .into_iter()
        .filter(|b| b.starts_with('a'))
        .collect();
    assert_eq!(mine, (0..EACH).map(|i| format!("a{i}")).collect::<Vec<_>>());

    // alice retries "a7" through node two: the original comes back, nothing is stored.
    alice
        .until("the ack of a7", |t| t.acks.contains_key("a7"))
        .await;
    let original = alice.acks["a7"];
    let mut again = Tab::open(&two, &a, chat).await;
    again.client.send(&send(chat, "a7", "a7")).await;
    again
        .until("the retry's ack", |t| t.acks.contains_key("a7"))
        .await;
    assert_eq!(again.acks["a7"], original);
    let stored = one
        .db
        .store
        .history(chat, None, 500)
        .await
        .unwrap()
        .messages;
    assert_eq!(stored.len(), all);
}

test_postgres!(a_redis_outage_loses_nothing_that_was_acked);
/// Redis dies while alice (node one) keeps sending; bob (node two) misses the live
/// events. When Redis is back, node two tells bob to resync and he gets everything that
/// was committed meanwhile, in order, once.
async fn a_redis_outage_loses_nothing_that_was_acked() {
    let mut redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let (chat, _, mut alice, mut bob) = dm_across(&one, &two).await;
    alice.client.send(&send(chat, "m0", "before")).await;
    bob.until("the first message", |t| t.seen.len() == 1).await;

    redis.stop();
    wait_connected(&[&two], false).await;
    // The node says so, and stays up: pages and sends do not need Redis.
    let health = reqwest::get(format!("http://{}/healthz", two.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.text().await.unwrap().contains("redis: unreachable"));
    // … but not ready: its users would miss the other nodes' events.
    let ready = reqwest::get(format!("http://{}/readyz", two.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("redis: unreachable"));
    for i in 1..=5 {
        alice
            .client
            .send(&send(chat, &format!("m{i}"), &format!("during {i}")))
            .await;
    }
    alice
        .until("five acks during the outage", |t| t.acks.len() == 6)
        .await;
    // Sends are acked (committed) with Redis down.
    assert_eq!(
        one.db
            .store
            .history(chat, None, 50)
            .await
            .unwrap()
            .messages
            .len(),
        6
    );

    redis.restart().await;
    wait_connected(&[&one, &two], true).await;
    alice.client.send(&send(chat, "m6", "after")).await;
    bob.until("every message after the outage", |t| t.seen.len() == 7)
        .await;
    assert_eq!(
        bob.seen.keys().copied().collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert_eq!(bob.duplicates, 0);
    assert_eq!(bob.bodies()[6], "after");
}

test_postgres!(a_sign_out_on_one_node_takes_effect_on_the_other);
/// A sign-out on node one ends the session on node two at once (its cached copy is
/// invalidated through Redis), not after the cache's 60 s.
async fn a_sign_out_on_one_node_takes_effect_on_the_other() {
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let a = one.sign_up("alice").await;
    let hash = natter::server::domain::auth::hash_token(a.trim_start_matches("natter_session="));
    // Node two has the session cached.
    assert!(two.db.store.session_user(&hash).await.unwrap().is_some());
    one.db.store.delete_session(&hash).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while two.db.store.session_user(&hash).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "node two still accepts the session"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

test_postgres!(presence_follows_connections_on_every_node);
/// Presence is cluster-wide: bob is online while any node holds a connection of his,
/// announced once when the first opens and once when the last closes (with last seen).
async fn presence_follows_connections_on_every_node() {
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let a = one.sign_up("alice").await;
    let b = two.sign_up("bob").await;
    one.create_chat(&a, "bob", "").await;
    let mut alice = one.connect(&a).await;
    let bob_id = natter::model::UserId(2);
    // The next presence frame about bob within `wait` (None: none came).
    async fn about_bob(
        alice: &mut Client,
        bob: natter::model::UserId,
        wait: Duration,
    ) -> Option<(bool, Option<i64>)> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match alice.next_any(left).await? {
                ServerFrame::Presence {
                    user_id,
                    online,
                    last_seen,
                } if user_id == bob => return Some((online, last_seen)),
                ServerFrame::PresenceSnapshot { online, offline } => {
                    if online.contains(&bob) {
                        return Some((true, None));
                    }
                    if let Some((_, seen)) = offline.iter().find(|(u, _)| *u == bob) {
                        return Some((false, *seen));
                    }
                }
                _ => continue,
            }
        }
        None
    }
    let on_two = two.connect(&b).await;
    assert_eq!(
        about_bob(&mut alice, bob_id, Duration::from_secs(5)).await,
        Some((true, None))
    );
    // A second connection on the other node: nothing new to say.
    let on_one = one.connect(&b).await;
    assert_eq!(
        about_bob(&mut alice, bob_id, Duration::from_millis(500)).await,
        None
    );
    // A new connection of alice's learns that bob is online, though not on her node.
    drop(on_one);
    // (`connect_raw`: the snapshot comes right after `hello`.)
    let mut alice_again = one.connect_raw(&a).await;
    assert_eq!(
        about_bob(&mut alice_again, bob_id, Duration::from_secs(5)).await,
        Some((true, None))
    );
    // Closing node two's connection leaves none: offline, with last seen.
    drop(on_two);
    let (online, last_seen) = about_bob(&mut alice, bob_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!online && last_seen.is_some());
}

test_postgres!(users_of_a_killed_node_go_offline_and_everyone_resyncs_after_the_ttl);
/// A node killed with SIGKILL says no goodbye: its users' presence entries expire and
/// another node's sweeper announces them offline, within 4/3 of the TTL (2 s here).
async fn users_of_a_killed_node_go_offline_and_everyone_resyncs_after_the_ttl() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let redis = TestRedis::start().await;
    let (one, url) = node_with_short_ttl(&redis).await;
    let a = one.sign_up("alice").await;
    let b = one.sign_up("bob").await;
    one.create_chat(&a, "bob", "").await;
    let mut alice = one.connect(&a).await;

    // Node two is a real process, so that it can be killed.
    let (mut two, port, origin, _site) = node_process(&url, &redis.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut bob = loop {
        let mut req = format!("ws://127.0.0.1:{port}/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("cookie", b.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(req).await {
            break ws;
        }
        assert!(Instant::now() < deadline, "node two did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _hello = bob.next().await;
    let bob_id = natter::model::UserId(2);
    assert!(
        presence_of(&mut alice, bob_id, true, Duration::from_secs(5)).await,
        "bob online"
    );
    two.kill().unwrap(); // SIGKILL: no goodbye
    two.wait().unwrap();
    let killed = Instant::now();
    // Bob goes offline, and alice's connection is told to resync: the dead node may
    // have committed events it never published.
    let (mut offline, mut resynced) = (false, false);
    while !(offline && resynced) {
        let left = Duration::from_secs(6).saturating_sub(killed.elapsed());
        match alice.next_any(left).await {
            Some(ServerFrame::Presence {
                user_id,
                online: false,
                ..
            }) if user_id == bob_id => offline = true,
            Some(ServerFrame::Resync) => resynced = true,
            Some(_) => {}
            None => panic!("after the TTL: bob offline {offline}, resync {resynced}"),
        }
    }
    // Not before the node's word ran out.
    assert!(
        killed.elapsed() >= Duration::from_millis(500),
        "{:?}",
        killed.elapsed()
    );
}

/// One in-process node with a presence TTL of 2 s on a fresh database, and that
/// database's URL (for a second node as a process: [`node_process`]).
async fn node_with_short_ttl(redis: &TestRedis) -> (TestServer, String) {
    assert!(common::on_postgres(), "the cluster runs on PostgreSQL");
    let db = common::test_db().await;
    let url = db.url.clone();
    let one = start_node(db, |c| {
        c.redis_url = Some(redis.url.clone());
        c.presence_ttl_secs = 2;
    })
    .await;
    (one, url)
}

/// A natter node as a process of its own (presence TTL 2 s) on `db` and `redis`: the
/// child, its port and origin, and its (empty) site folder.
fn node_process(db: &str, redis: &str) -> (std::process::Child, u16, String, tempfile::TempDir) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let site = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--public-origin",
            &origin,
        ])
        .args(["--database-url", db, "--redis-url", redis])
        .args(["--presence-ttl-secs", "2"])
        .env("LEPTOS_SITE_ROOT", site.path())
        .env("LEPTOS_OUTPUT_NAME", "natter")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, port, origin, site)
}

test_postgres!(a_node_stopped_on_purpose_makes_no_one_resync);
/// A node stopped on purpose (SIGTERM) says goodbye: no one resyncs for it.
async fn a_node_stopped_on_purpose_makes_no_one_resync() {
    let redis = TestRedis::start().await;
    let (one, url) = node_with_short_ttl(&redis).await;
    let a = one.sign_up("alice").await;
    let mut alice = one.connect(&a).await;
    let (mut two, port, _, _site) = node_process(&url, &redis.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "node two did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past one beat of node two, so it is in the set of nodes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SAFETY: a plain signal to our own child.
    assert_eq!(unsafe { libc::kill(two.id() as i32, libc::SIGTERM) }, 0);
    assert!(two.wait().unwrap().success());
    // Well past the TTL and a sweep of node one: nothing but presence, no resync.
    let quiet_until = Instant::now() + Duration::from_secs(4);
    while let Some(frame) = alice
        .next_any(quiet_until.saturating_duration_since(Instant::now()))
        .await
    {
        assert_ne!(
            frame,
            ServerFrame::Resync,
            "a goodbye must not cost a resync"
        );
    }
}

/// Whether a presence frame saying `user` is `online` arrives within `wait`.
async fn presence_of(
    client: &mut Client,
    user: natter::model::UserId,
    online: bool,
    wait: Duration,
) -> bool {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_any(left).await {
            Some(ServerFrame::Presence {
                user_id, online: o, ..
            }) if user_id == user && o == online => return true,
            Some(_) => continue,
            None => return false,
        }
    }
    false
}

test_postgres!(an_sse_stream_on_one_node_with_posts_on_the_other);
/// The fallback without sticky sessions: a stream held by node one, its user's frames
/// POSTed to node two (and a WebSocket user on node two), each frame where it belongs.
async fn an_sse_stream_on_one_node_with_posts_on_the_other() {
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let a = one.sign_up("alice").await;
    let b = two.sign_up("bob").await;
    let chat = one.create_chat(&a, "bob", "").await;
    let mut alice = one
        .sse(&a, &common::sse::resume_query(&[(chat, 0)], &[]))
        .await;
    let mut bob = Tab::open(&two, &b, chat).await;
    // alice POSTs on node two; her stream on node one shows her own message, bob's
    // socket on node two shows it too.
    let seq = match two.post_frame(&a, &send(chat, "a1", "posted on two")).await {
        (200, Some(ServerFrame::Ack { seq, .. })) => seq,
        other => panic!("expected an ack, got {other:?}"),
    };
    let mut seen = Vec::new();
    while seen.len() < 2 {
        if let ServerFrame::Message { message } = alice.next().await {
            seen.push((message.seq, message.body));
            if seen.len() == 1 {
                bob.client
                    .send(&send(chat, "b1", "from bob's socket"))
                    .await;
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            (seq, "posted on two".to_string()),
            (seq + 1, "from bob's socket".to_string())
        ]
    );
    bob.until("both messages", |t| t.seen.len() == 2).await;
    assert_eq!(bob.duplicates, 0);
}

test_postgres!(a_revocation_on_one_node_closes_sockets_on_the_other_within_a_second);
/// A revocation on one node closes the revoked sessions' sockets on the other within a
/// second (close 4001): a password change made on node one ends alice's other device's
/// socket on node two (her socket of the session that changed it stays), and bob's
/// account deleted on node one ends his socket on node two. Nothing sent after the
/// close is stored.
async fn a_revocation_on_one_node_closes_sockets_on_the_other_within_a_second() {
    use leptos::server_fn::ServerFn;
    use natter::api::account::{ChangePassword, DeleteAccount};
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let a = one.sign_up("alice").await;
    let b = one.sign_up("bob").await;
    let chat = one.create_chat(&a, "bob", "").await;
    let other_device = two.sign_in("alice").await;
    let mut kept = two.connect(&a).await;
    let mut other = two.connect(&other_device).await;
    let mut bob = two.connect(&b).await;

    let (status, _, body) = one
        .call(
            ChangePassword::PATH,
            "current=password123&new=password456".into(),
            Some(&a),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    other.expect_revoked().await;
    other
        .try_send(&send(chat, "late", "after the revocation"))
        .await;
    kept.send(&ClientFrame::Ping).await;
    assert_eq!(kept.next().await, ServerFrame::Pong);

    let (status, _, body) = one
        .call(DeleteAccount::PATH, "password=password123".into(), Some(&b))
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    let frames = bob.expect_revoked().await;
    assert!(
        !frames.iter().any(|f| matches!(f, ServerFrame::Ack { .. })),
        "{frames:?}"
    );
    assert!(one
        .state
        .store
        .messages_after(chat, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

test_postgres!(a_deactivation_on_one_node_closes_sockets_and_sessions_on_the_other);
/// An administrator on node one deactivates bob: his sockets on node two close
/// (4001), and his cookie opens nothing on node two (whose session cache had it).
async fn a_deactivation_on_one_node_closes_sockets_and_sessions_on_the_other() {
    use leptos::server_fn::ServerFn;
    use natter::api::admin::AdminDeactivate;
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let root = one.sign_up("root").await;
    let bob = one.sign_up("bob").await;
    let mut socket = two.connect(&bob).await;
    let bob_id = one
        .state
        .store
        .users_by_names(&["bob".to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .id;
    let (status, _, body) = one
        .call(
            AdminDeactivate::PATH,
            format!("user_id={bob_id}"),
            Some(&root),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    socket.expect_revoked().await;
    let (status, _, body) = two
        .call(
            natter::api::auth::CurrentUser::PATH,
            String::new(),
            Some(&bob),
        )
        .await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "null"));
    assert!(two
        .try_connect(Some(&bob), Some(&two.origin))
        .await
        .is_err());
}

test_postgres!(here_reaches_who_is_connected_on_the_other_node);
/// Issue 34: the owner's `@here` on node one mentions bob, connected to node two only,
/// and not cat, connected nowhere; the message reaches bob's socket with `broadcast`.
async fn here_reaches_who_is_connected_on_the_other_node() {
    use natter::model::Broadcast;
    let redis = TestRedis::start().await;
    let (one, two) = two_nodes(&redis).await;
    let ann = one.sign_up("ann").await;
    let bob = one.sign_up("bob").await;
    one.sign_up("cat").await;
    let chat = one.create_chat(&ann, "bob cat", "Team").await;
    let mut bob_ws = two.connect(&bob).await;
    let mut ann_ws = one.connect(&ann).await;
    let store = &one.state.store;
    let ids = store
        .users_by_names(&["bob".to_string(), "cat".to_string()])
        .await
        .unwrap();
    let id_of = |name: &str| ids.iter().find(|u| u.username == name).unwrap().id;
    // Node one learns of bob's connection on node two through Redis.
    let mut seen = false;
    for _ in 0..100 {
        if one.state.presence.online(id_of("bob")).await {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "node one never saw bob online on node two");
    ann_ws.send(&send(chat, "h1", "@here standup")).await;
    let message = loop {
        if let ServerFrame::Message { message } = bob_ws.next().await {
            break message;
        }
    };
    assert_eq!(message.broadcast, Some(Broadcast::Here));
    let mentioned = |list: Vec<natter::model::ChatSummary>| {
        list.into_iter().find(|c| c.id == chat).unwrap().mentioned
    };
    assert!(mentioned(store.list_chats(id_of("bob")).await.unwrap()));
    assert!(!mentioned(store.list_chats(id_of("cat")).await.unwrap()));
}
