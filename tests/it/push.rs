//! Web Push (issue 33) against a push service of the tests' own: a small HTTP server
//! that takes the server's requests as a browser's push service would, checks the VAPID
//! JWT (RFC 8292) against the key the server publishes, and decrypts the payload (RFC
//! 8291) with the keys of a "browser" made here, as the browser would. On both
//! databases, and across two nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use common::server::{dm_with, send, TestServer};
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::{ChatId, PushSettings};
use std::time::Duration;
use tokio::sync::mpsc;
use web_push_native::jwt_simple::prelude::*;
use web_push_native::p256;

/// What the push service received.
#[derive(Debug)]
struct Received {
    name: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// The test push service: `POST /push/NAME` answers 201, or 410 for names starting
/// with "gone".
struct PushService {
    origin: String,
    rx: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PushService {
    async fn start() -> PushService {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route(
                "/push/{name}",
                axum::routing::post(
                    |State(tx): State<mpsc::UnboundedSender<Received>>,
                     Path(name): Path<String>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        let gone = name.starts_with("gone");
                        let _ = tx.send(Received {
                            name,
                            headers,
                            body: body.to_vec(),
                        });
                        if gone {
                            StatusCode::GONE
                        } else {
                            StatusCode::CREATED
                        }
                    },
                ),
            )
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        PushService { origin, rx, task }
    }

    /// What `--push-allow-endpoint` lets through.
    fn prefix(&self) -> String {
        format!("{}/push/", self.origin)
    }

    async fn next(&mut self, within: Duration) -> Option<Received> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

/// A browser's side of a subscription: its ECDH key pair and auth secret.
struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        Browser {
            secret: p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()).unwrap(),
            auth: rand::random(),
        }
    }

    fn keys(&self) -> (String, String) {
        use base64ct::Encoding;
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let public = self.secret.public_key().to_encoded_point(false);
        (
            base64ct::Base64UrlUnpadded::encode_string(public.as_bytes()),
            base64ct::Base64UrlUnpadded::encode_string(&self.auth),
        )
    }

    /// Checks the request as a push service does (VAPID, for `key` and `audience`), and
    /// decrypts it as the browser does: the JSON payload.
    /// `contacts`: the VAPID subjects accepted (the nodes' public origins).
    fn open(
        &self,
        r: &Received,
        key: &str,
        audience: &str,
        contacts: &[&str],
    ) -> serde_json::Value {
        use base64ct::Encoding;
        assert_eq!(r.headers["content-encoding"], "aes128gcm");
        assert!(r.headers.contains_key("ttl"));
        let vapid = r.headers["authorization"].to_str().unwrap();
        let rest = vapid.strip_prefix("vapid t=").expect(vapid);
        let (token, k) = rest.split_once(", k=").expect(vapid);
        assert_eq!(k, key, "signed with the key the server publishes");
        let public =
            ES256PublicKey::from_bytes(&base64ct::Base64UrlUnpadded::decode_vec(k).unwrap())
                .unwrap();
        let options = VerificationOptions {
            allowed_audiences: Some(HashSet::from_strings(&[audience])),
            ..Default::default()
        };
        let claims = public
            .verify_token::<NoCustomClaims>(token, Some(options))
            .expect("a valid VAPID JWT for this push service");
        let subject = claims.subject.unwrap_or_default();
        assert!(contacts.contains(&subject.as_str()), "{subject}");
        assert!(claims.expires_at.is_some());
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        let plain = web_push_native::decrypt(r.body.clone(), &self.secret, &auth)
            .expect("the browser can decrypt it");
        serde_json::from_slice(&plain).unwrap()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn subscribe(s: &TestServer, cookie: &str, endpoint: &str, browser: &Browser) -> StatusCode {
    let (p256dh, auth) = browser.keys();
    let (status, _, body) = s
        .call(
            "/api/push_subscribe",
            form(&[("endpoint", endpoint), ("p256dh", &p256dh), ("auth", &auth)]),
            Some(cookie),
        )
        .await;
    assert!(
        status == StatusCode::OK || status.is_client_error(),
        "{status} {body}"
    );
    status
}

async fn settings(s: &TestServer, cookie: &str) -> PushSettings {
    let (status, _, body) = s
        .call("/api/push_settings", String::new(), Some(cookie))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Sends `body` in `chat` and waits for its ack.
/// Tab `tab` of `client`'s person says whether it is visible.
async fn visible(client: &mut common::server::Client, tab: u64, on: bool) {
    client
        .send(&ClientFrame::Visible { tab, visible: on })
        .await;
}

async fn say(client: &mut common::server::Client, chat: ChatId, id: &str, body: &str) {
    client.send(&send(chat, id, body)).await;
    while !matches!(client.next().await, ServerFrame::Ack { .. }) {}
}

test_both_dbs!(a_direct_message_reaches_a_closed_tab_as_a_push_only_the_browser_can_read);
async fn a_direct_message_reaches_a_closed_tab_as_a_push_only_the_browser_can_read() {
    let mut service = PushService::start().await;
    let prefix = service.prefix();
    let (s, chat, [a, b, _]) = dm_with(|c| c.push_allow_endpoint = Some(prefix.clone())).await;
    let phone = Browser::new();
    let endpoint = format!("{}bob-phone", service.prefix());
    assert_eq!(subscribe(&s, &b, &endpoint, &phone).await, StatusCode::OK);
    let bob = settings(&s, &b).await;
    assert_eq!(bob.devices.len(), 1);
    assert!(bob.devices[0].this_browser && bob.previews);
    let audience = service.origin.clone();
    let contact = s.origin.clone();

    let mut alice = s.connect(&a).await;
    say(&mut alice, chat, "m1", "lunch at noon?").await;
    let got = service.next(Duration::from_secs(10)).await.expect("a push");
    assert_eq!(got.name, "bob-phone");
    let payload = phone.open(&got, &bob.key, &audience, &[contact.as_str()]);
    assert_eq!(payload["title"], "alice");
    assert_eq!(payload["body"], "lunch at noon?");
    assert_eq!(payload["url"], format!("/chats/{chat}"));
    assert_eq!(payload["tag"], format!("chat-{chat}"));

    // One's own messages never notify (alice has no device; bob's is not told of his).
    let mut bobs_tab = s.connect(&b).await;
    say(&mut bobs_tab, chat, "m2", "yes").await;
    // Answering reads the chat: the phone's notification of m1 is cleared (a "clear"
    // goes even while a tab is visible; reading_a_chat_clears_… has the details).
    let got = service
        .next(Duration::from_secs(10))
        .await
        .expect("a clear");
    assert_eq!(
        phone.open(&got, &bob.key, &audience, &[contact.as_str()])["kind"],
        "clear"
    );
    // While a tab of bob's is visible, nothing is pushed: the tab shows it.
    visible(&mut bobs_tab, 7, true).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    say(&mut alice, chat, "m3", "see you there").await;
    assert!(
        service.next(Duration::from_millis(3500)).await.is_none(),
        "pushed to a visible tab's owner"
    );
    visible(&mut bobs_tab, 7, false).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Private previews: who and where, not what.
    let (status, _, _) = s
        .call("/api/set_push_previews", form(&[("on", "false")]), Some(&b))
        .await;
    assert_eq!(status, StatusCode::OK);
    say(&mut alice, chat, "m4", "the secret plan").await;
    let got = service.next(Duration::from_secs(10)).await.expect("a push");
    let payload = phone.open(&got, &bob.key, &audience, &[contact.as_str()]);
    assert_eq!(payload["body"], "New message");
    assert!(!String::from_utf8_lossy(&got.body).contains("secret"));

    // A muted chat stays silent.
    let bob_id = s.db.store.users_by_names(&["bob".into()]).await.unwrap()[0].id;
    s.db.store.set_muted(chat, bob_id, true).await.unwrap();
    say(&mut alice, chat, "m5", "are you there?").await;
    assert!(
        service.next(Duration::from_millis(3500)).await.is_none(),
        "pushed in a muted chat"
    );
}

test_both_dbs!(reading_a_chat_clears_its_notification_on_the_other_browsers);
async fn reading_a_chat_clears_its_notification_on_the_other_browsers() {
    let mut service = PushService::start().await;
    let prefix = service.prefix();
    let (s, chat, [a, b, _]) = dm_with(|c| c.push_allow_endpoint = Some(prefix.clone())).await;
    let phone = Browser::new();
    let endpoint = format!("{}bob-phone", service.prefix());
    assert_eq!(subscribe(&s, &b, &endpoint, &phone).await, StatusCode::OK);
    let bob = settings(&s, &b).await;
    let (audience, contact) = (service.origin.clone(), s.origin.clone());

    let mut alice = s.connect(&a).await;
    alice.send(&send(chat, "m1", "lunch at noon?")).await;
    let seq = loop {
        if let ServerFrame::Ack { seq, .. } = alice.next().await {
            break seq;
        }
    };
    let got = service.next(Duration::from_secs(10)).await.expect("a push");
    assert_eq!(
        phone.open(&got, &bob.key, &audience, &[contact.as_str()])["kind"],
        "message"
    );

    // Bob reads it on his laptop, which he is looking at: the phone's notification is
    // cleared by a push that shows nothing (this test's service stands for one that
    // allows it), visible tab or not.
    let mut laptop = s.connect(&b).await;
    visible(&mut laptop, 1, true).await;
    laptop.send(&ClientFrame::Read { chat_id: chat, seq }).await;
    let got = service
        .next(Duration::from_secs(15))
        .await
        .expect("a clear");
    assert_eq!(got.name, "bob-phone");
    let payload = phone.open(&got, &bob.key, &audience, &[contact.as_str()]);
    assert_eq!(payload["kind"], "clear");
    assert_eq!(payload["tag"], format!("chat-{chat}"));
    assert_eq!(payload["body"], "");
    // Once: nothing is left to clear (a clear is not itself "shown").
    assert!(
        service.next(Duration::from_secs(7)).await.is_none(),
        "cleared twice"
    );
    assert_eq!(shown_rows(&s.db.url).await, 0);
    visible(&mut laptop, 1, false).await;

    // A notification left unread for over a week is forgotten, and never stops the
    // pushes that come after it (on PostgreSQL a mistyped query once did).
    say(&mut alice, chat, "m2", "still there?").await;
    service.next(Duration::from_secs(10)).await.expect("a push");
    // (Recorded once the push service has answered.)
    for _ in 0..50 {
        if shown_rows(&s.db.url).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown_rows(&s.db.url).await, 1);
    age_shown_rows(&s.db.url).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(shown_rows(&s.db.url).await, 0, "forgotten");
    say(&mut alice, chat, "m3", "hello?").await;
    let got = service
        .next(Duration::from_secs(10))
        .await
        .expect("a push after the aged row");
    assert_eq!(
        phone.open(&got, &bob.key, &audience, &[contact.as_str()])["body"],
        "hello?"
    );
}

/// Rows of `push_shown`.
async fn shown_rows(url: &str) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM push_shown";
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// Makes every shown notification eight days old.
async fn age_shown_rows(url: &str) {
    common::run_sql(
        url,
        "UPDATE push_shown SET shown_at = shown_at - 8 * 24 * 3600 * 1000",
    )
    .await;
}

test_both_dbs!(mentions_notify_in_groups_and_gone_subscriptions_are_deleted);
async fn mentions_notify_in_groups_and_gone_subscriptions_are_deleted() {
    let mut service = PushService::start().await;
    let prefix = service.prefix();
    let s = common::server::start_with(|c| c.push_allow_endpoint = Some(prefix.clone())).await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let c = s.sign_up("carol").await;
    let group = s.create_chat(&a, "bob carol", "Team").await;
    let laptop = Browser::new();
    let old = Browser::new();
    let ok = format!("{}bob-laptop", service.prefix());
    let gone = format!("{}gone-bob-old", service.prefix());
    assert_eq!(subscribe(&s, &b, &ok, &laptop).await, StatusCode::OK);
    assert_eq!(subscribe(&s, &b, &gone, &old).await, StatusCode::OK);
    assert_eq!(
        subscribe(
            &s,
            &c,
            &format!("{}carol", service.prefix()),
            &Browser::new()
        )
        .await,
        StatusCode::OK
    );
    let key = settings(&s, &b).await.key;

    let mut alice = s.connect(&a).await;
    // A group message without a mention notifies no one.
    say(&mut alice, group, "g1", "morning all").await;
    assert!(service.next(Duration::from_millis(3000)).await.is_none());
    // A mention notifies bob (both his devices), not carol.
    say(&mut alice, group, "g2", "@bob can you review?").await;
    let mut names = Vec::new();
    for _ in 0..2 {
        let got = service.next(Duration::from_secs(10)).await.expect("a push");
        if got.name == "bob-laptop" {
            let payload = laptop.open(&got, &key, &service.origin, &[s.origin.as_str()]);
            assert_eq!(payload["title"], "alice in Team");
        }
        names.push(got.name);
    }
    names.sort();
    assert_eq!(names, ["bob-laptop", "gone-bob-old"]);
    assert!(
        service.next(Duration::from_millis(1500)).await.is_none(),
        "carol was not mentioned"
    );
    // The push service said the old one is gone (410): it is deleted.
    let devices = settings(&s, &b).await.devices;
    assert_eq!(devices.len(), 1, "{devices:?}");

    // Endpoints are URLs the server posts to: private addresses and plain http are
    // refused, and anything but the allowed prefix.
    for bad in [
        "https://127.0.0.1/x",
        "http://example.com/x",
        "https://10.0.0.1/push",
        "https://[::1]/x",
        "not a url",
    ] {
        assert_eq!(
            subscribe(&s, &b, bad, &Browser::new()).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Knowing bob's endpoint takes nothing from him: another person's subscription to
    // it (other keys) is refused, and bob keeps his device.
    assert_eq!(
        subscribe(&s, &c, &ok, &Browser::new()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(settings(&s, &b).await.devices.len(), 1);
    // Keys of the wrong shape are refused.
    let (status, _, _) = s
        .call(
            "/api/push_subscribe",
            form(&[("endpoint", &ok), ("p256dh", "AAAA"), ("auth", "AAAA")]),
            Some(&b),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Removing a device of someone else's is not possible; one's own goes.
    let id = devices[0].id.to_string();
    let (status, _, _) = s
        .call("/api/remove_push_device", form(&[("id", &id)]), Some(&c))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = s
        .call("/api/remove_push_device", form(&[("id", &id)]), Some(&b))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(settings(&s, &b).await.devices.is_empty());

    // Signing out removes that browser's subscription with the session.
    assert_eq!(subscribe(&s, &b, &ok, &laptop).await, StatusCode::OK);
    let bob = s.db.store.users_by_names(&["bob".into()]).await.unwrap()[0].id;
    assert_eq!(s.db.store.push_devices(bob).await.unwrap().len(), 1);
    let (status, _, _) = s.call("/api/sign_out", String::new(), Some(&b)).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    assert!(s.db.store.push_devices(bob).await.unwrap().is_empty());
}

test_postgres!(two_nodes_send_each_push_once_and_share_what_tabs_are_visible);
/// Two nodes on one database and Redis, both running the push planner and sender: a
/// direct message is pushed once, whichever node stored it; a tab visible on one node
/// keeps the other from pushing.
async fn two_nodes_send_each_push_once_and_share_what_tabs_are_visible() {
    let redis = common::redis::TestRedis::start().await;
    let mut service = PushService::start().await;
    let prefix = service.prefix();
    let db = common::test_db().await;
    let second = common::connect_db(&db).await;
    let tweak = |c: &mut natter::server::config::Config| {
        c.redis_url = Some(redis.url.clone());
        c.push_allow_endpoint = Some(prefix.clone());
    };
    let one = common::server::start_node(db, tweak).await;
    let two = common::server::start_node(second, tweak).await;
    let a = one.sign_up("alice").await;
    let b = one.sign_up("bob").await;
    let chat = one.create_chat(&a, "bob", "").await;
    let phone = Browser::new();
    let endpoint = format!("{}bob", service.prefix());
    assert_eq!(subscribe(&one, &b, &endpoint, &phone).await, StatusCode::OK);
    let key = settings(&two, &b).await.key;
    assert_eq!(
        key,
        settings(&one, &b).await.key,
        "one VAPID key for the cluster"
    );

    let mut alice = two.connect(&a).await;
    for i in 0..3 {
        say(&mut alice, chat, &format!("n{i}"), &format!("ping {i}")).await;
        let got = service.next(Duration::from_secs(15)).await.expect("a push");
        let payload = phone.open(
            &got,
            &key,
            &service.origin,
            &[one.origin.as_str(), two.origin.as_str()],
        );
        assert_eq!(payload["body"], format!("ping {i}"));
        assert!(
            service.next(Duration::from_millis(4000)).await.is_none(),
            "pushed twice"
        );
    }

    // Bob's tab is visible through node two: node one's sender holds back too.
    let mut bobs_tab = two.connect(&b).await;
    visible(&mut bobs_tab, 1, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut alice_one = one.connect(&a).await;
    say(&mut alice_one, chat, "v1", "you there?").await;
    assert!(service.next(Duration::from_millis(6000)).await.is_none());
}
