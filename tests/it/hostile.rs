//! Issue 29's cheap attacks, each against the real server: what a stranger sends must
//! stay cheap for us and inert for everyone else. On both databases (`test_both_dbs!`),
//! but for the SQLite file's own permissions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::server::Reply;
use leptos::server_fn::ServerFn;
use natter::api::auth::{SignIn, SignUp};
use natter::api::chats::{CreateChat, ListChats};
use natter::api::messages::{OpenChat, SendMessage};
use natter::api::search::SearchMessages;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn send(s: &common::server::TestServer, req: Request<Body>) -> Reply {
    s.request(req).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair(k, v)
                .finish()
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn call(
    s: &common::server::TestServer,
    path: &str,
    pairs: &[(&str, &str)],
    cookie: Option<&str>,
) -> Reply {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(s, req.body(Body::from(form(pairs))).unwrap()).await
}

/// Reads until the server closes the connection; how long that took.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

test_both_dbs!(half_a_request_line_or_an_idle_connection_is_dropped);
async fn half_a_request_line_or_an_idle_connection_is_dropped() {
    let s = common::server::start_with(|c| c.header_timeout_secs = 1).await;
    // Half a request line, then nothing.
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /login HT").await.unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(took.is_some(), "a half-sent request holds its connection");
    // Connected and silent.
    let mut silent = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5))
        .await
        .is_some());
    // A kept-alive connection that goes idle after a request is closed too.
    let mut idle = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(5))
        .await
        .is_some());
    // A request sent in time is answered.
    let mut quick = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    quick
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    quick.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

test_both_dbs!(a_megabyte_username_is_refused_before_any_limiter_or_hash);
async fn a_megabyte_username_is_refused_before_any_limiter_or_hash() {
    let s = common::server::start().await;
    let huge = "x".repeat(1 << 20);
    for _ in 0..3 {
        let r = call(
            &s,
            SignIn::PATH,
            &[("username", &huge), ("password", "password123")],
            None,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            &r.body[..200.min(r.body.len())]
        );
    }
}

test_both_dbs!(control_characters_get_a_clear_400_on_both_databases);
async fn control_characters_get_a_clear_400_on_both_databases() {
    let (s, chat, [alice, ..]) = common::server::dm().await;
    let chat = chat.0.to_string();
    for body in ["nul \u{0} inside", "bell \u{7}", "\u{202E}txt.exe"] {
        let r = call(
            &s,
            SendMessage::PATH,
            &[("chat_id", &chat), ("client_id", "c1"), ("body", body)],
            Some(&alice),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}: {}", r.body);
        assert!(r.body.contains("control character"), "{}", r.body);
    }
    let r = call(
        &s,
        CreateChat::PATH,
        &[("members", "bob eve"), ("title", "a\u{0}b")],
        Some(&alice),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = call(&s, SearchMessages::PATH, &[("q", "a\u{0}")], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Nothing was stored; a normal message still goes through (the writer is healthy).
    let r = call(
        &s,
        SendMessage::PATH,
        &[
            ("chat_id", &chat),
            ("client_id", "c2"),
            ("body", "fine\ttab\nline"),
        ],
        Some(&alice),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

test_both_dbs!(opening_a_chat_page_marks_nothing_read_but_the_client_call_does);
async fn opening_a_chat_page_marks_nothing_read_but_the_client_call_does() {
    let (s, chat, [alice, bob, _]) = common::server::dm().await;
    let id = chat.0.to_string();
    let r = call(
        &s,
        SendMessage::PATH,
        &[("chat_id", &id), ("client_id", "m1"), ("body", "hello")],
        Some(&alice),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let unread = |body: &str| -> i64 {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v.as_array().unwrap()[0]["unread"].as_i64().unwrap()
    };
    let r = call(&s, ListChats::PATH, &[], Some(&bob)).await;
    assert_eq!(unread(&r.body), 1, "{}", r.body);
    // A GET (a link, a prefetch, an <img> on another site) changes nothing.
    let page = Request::get(format!("/chats/{id}"))
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, &bob)
        .body(Body::empty())
        .unwrap();
    let r = send(&s, page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("hello"));
    let r = call(&s, ListChats::PATH, &[], Some(&bob)).await;
    assert_eq!(unread(&r.body), 1, "GET marked the chat read: {}", r.body);
    // The browser's own call (a POST) does.
    let r = call(&s, OpenChat::PATH, &[("chat_id", &id)], Some(&bob)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(&s, ListChats::PATH, &[], Some(&bob)).await;
    assert_eq!(unread(&r.body), 0, "{}", r.body);
}

test_both_dbs!(over_https_the_session_cookie_is_host_prefixed_and_only_that_counts);
async fn over_https_the_session_cookie_is_host_prefixed_and_only_that_counts() {
    let s = common::server::start_with(|c| c.public_origin = "https://chat.example".into()).await;
    let r = call(
        &s,
        SignUp::PATH,
        &[("username", "alice"), ("password", "password123")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.starts_with("__Host-natter_session="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"));
    let cookie = set.split(';').next().unwrap().to_string();
    let r = call(&s, ListChats::PATH, &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same token under the plain name (as a plain-http page could plant it) is
    // no session at all.
    let planted = cookie.replace("__Host-natter_session", "natter_session");
    let r = call(&s, ListChats::PATH, &[], Some(&planted)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

test_both_dbs!(a_forged_request_id_never_reaches_the_logs);
async fn a_forged_request_id_never_reaches_the_logs() {
    let s = common::server::start().await;
    let id = |r: &Reply| {
        r.headers
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let long = "x".repeat(65);
    for forged in [
        long.as_bytes(),
        b"two words",
        b"{\"json\":1}",
        b"tab\there",
        b"\xffbytes",
    ] {
        let req = Request::get("/healthz")
            .header(
                "x-request-id",
                axum::http::HeaderValue::from_bytes(forged).unwrap(),
            )
            .body(Body::empty())
            .unwrap();
        let r = send(&s, req).await;
        assert_ne!(id(&r).as_bytes(), forged);
        assert_eq!(id(&r).len(), 36, "a fresh UUID instead of {forged:?}");
    }
    let req = Request::get("/healthz")
        .header("x-request-id", "nginx-42.a_b:c")
        .body(Body::empty())
        .unwrap();
    assert_eq!(id(&send(&s, req).await), "nginx-42.a_b:c");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_file_is_created_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    // SQLite only: a PostgreSQL server keeps its own files.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", path.display());
    let store = natter::server::db::Store::open(&url, 1).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("fresh.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    let backup = dir.path().join("copy.db");
    store.backup_to(&backup).await.unwrap();
    assert_eq!(mode(&backup), 0o600);
    store.close().await;
}

test_both_dbs!(made_up_http_methods_share_one_metrics_label);
async fn made_up_http_methods_share_one_metrics_label() {
    natter::server::base::counters::install();
    let s = common::server::start().await;
    for m in ["FOO1", "BAR2", "X-ATTACK"] {
        let req = Request::builder()
            .method(axum::http::Method::from_bytes(m.as_bytes()).unwrap())
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        send(&s, req).await;
    }
    let text = natter::server::base::counters::install().unwrap().render();
    for m in ["FOO1", "BAR2", "X-ATTACK"] {
        assert!(!text.contains(m), "method {m} became a label");
    }
    assert!(text.contains("method=\"other\""), "{text}");
}

test_both_dbs!(a_node_reaches_redis_only_with_its_password);
/// The cluster's Redis takes a password (`redis://:PASSWORD@…`, and every cluster test
/// uses one): a node with it is connected, a node without it is not.
async fn a_node_reaches_redis_only_with_its_password() {
    let redis = common::redis::TestRedis::start().await;
    let good = redis.url.clone();
    let s = common::server::start_with(|c| c.redis_url = Some(good)).await;
    let healthy = |s: &common::server::TestServer| s.state.broker.connected();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !healthy(&s) {
        assert!(Instant::now() < deadline, "not connected with the password");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bad = format!("redis://:wrong@127.0.0.1:{}", redis.port);
    let t = common::server::start_with(|c| c.redis_url = Some(bad)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!healthy(&t), "connected with a wrong password");
}

test_both_dbs!(a_node_reaches_redis_over_tls_with_a_private_ca);
/// `rediss://`: a node reaches a TLS-only Redis (Debian's redis-server, built with
/// TLS) whose certificate a private CA signed, trusted through `SSL_CERT_FILE`; the same
/// node without the CA refuses the certificate.
async fn a_node_reaches_redis_over_tls_with_a_private_ca() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=natter test CA",
        "-keyout",
        &d("ca.key"),
        "-out",
        &d("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &d("redis.key"),
        "-out",
        &d("redis.csr"),
    ]);
    std::fs::write(d("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &d("redis.csr"),
        "-CA",
        &d("ca.pem"),
        "-CAkey",
        &d("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &d("ext.cnf"),
        "-out",
        &d("redis.pem"),
    ]);
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let tls_port = free();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _redis = Kill(
        Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--tls-port",
                &tls_port.to_string(),
                "--tls-auth-clients",
                "no",
            ])
            .args([
                "--tls-cert-file",
                &d("redis.pem"),
                "--tls-key-file",
                &d("redis.key"),
            ])
            .args([
                "--tls-ca-cert-file",
                &d("ca.pem"),
                "--requirepass",
                "tls-secret",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    let node = |trust_ca: bool| {
        let port = free();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
        cmd.args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--public-origin", &format!("http://127.0.0.1:{port}")])
            .args([
                "--database-url",
                &format!("sqlite://{}", d(&format!("n{port}.db"))),
            ])
            .env(
                "NATTER_REDIS_URL",
                format!("rediss://:tls-secret@127.0.0.1:{tls_port}"),
            )
            .env("LEPTOS_SITE_ROOT", dir.path())
            .env("LEPTOS_OUTPUT_NAME", "natter")
            .env("RUST_LOG", "warn")
            .env_remove("SSL_CERT_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if trust_ca {
            cmd.env("SSL_CERT_FILE", d("ca.pem"));
        } else {
            cmd.env("SSL_CERT_FILE", d("redis.key")); // no certificate at all
        }
        (Kill(cmd.spawn().unwrap()), port)
    };
    let health = |port: u16| async move {
        let url = format!("http://127.0.0.1:{port}/healthz");
        match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    let (_trusting, port) = node(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health(port).await;
        if h.contains("redis: ok") {
            break;
        }
        assert!(Instant::now() < deadline, "no TLS link to Redis: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_doubting, port) = node(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !health(port).await.starts_with("ok") {
        assert!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h = health(port).await;
    assert!(
        h.contains("redis: unreachable"),
        "a certificate no CA vouches for was accepted: {h}"
    );
}

test_both_dbs!(a_body_that_never_arrives_is_cut_off);
/// Review of issue 29: a body announced and never sent (or sent a byte at a time) does
/// not hold its connection past `--request-timeout-secs`.
async fn a_body_that_never_arrives_is_cut_off() {
    let s = common::server::start_with(|c| c.request_timeout_secs = 1).await;
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(
        b"POST /api/sign_in HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100000\r\n\r\nuser",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        // A byte now and then: each keeps hyper reading, none completes the body.
        let _ = slow.write_all(b"x").await;
        match tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still open");
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

test_both_dbs!(connections_per_network_are_capped);
/// Review of issue 29: one network cannot hold every connection the process may open.
async fn connections_per_network_are_capped() {
    let s = common::server::start_with(|c| c.max_connections_per_ip = 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    // The sixth is closed without an answer.
    let mut sixth = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let _ = sixth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), sixth.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n]));
    // One closes: a new one is served again.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    again.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

test_both_dbs!(no_form_shows_words_from_a_link);
/// Review of issue 29: every form's error read from the page's address shows only the
/// server's own messages (the consent forms on /account and /chats too).
async fn no_form_shows_words_from_a_link() {
    use leptos::server_fn::error::ServerFnUrlError;
    use natter::model::AppError;
    let s = common::server::start().await;
    let cookie = s.sign_up("alice").await;
    let words = "Security alert: re-enter your password at natter-login.example";
    for (page, form) in [
        ("/account", "/api/set_group_adds"),
        ("/account", "/api/unblock_user"),
        ("/chats", "/api/accept_invitation"),
        ("/chats", "/api/decline_invitation"),
    ] {
        let url = ServerFnUrlError::new(form, AppError::Invalid(words.into()))
            .to_url(&format!("http://127.0.0.1{page}"))
            .unwrap();
        let req = Request::get(format!("{page}?{}", url.query().unwrap()))
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        let r = send(&s, req).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(
            !r.body.contains("natter-login.example"),
            "{page} {form} shows the link's words"
        );
    }
}
