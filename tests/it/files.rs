//! Files shared in chats (issue 32), through a real server: uploads streamed to a real
//! folder or a real S3-compatible server, fetches checked against membership, types from
//! the bytes, limits, the thumbnail, files attached by a real WebSocket `send`, deletion
//! and the sweeper, two nodes serving each other's files, and a node killed (-9) in the
//! middle of an upload. On both databases and both storages (`test_both_stores!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::server::{dm_with, Reply, TestServer};
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::{ChatId, FileId, FileInfo};
use natter::server::blobs::Object;

const BOUNDARY: &str = "natter-test-boundary";

/// A `multipart/form-data` body as the no-JavaScript form posts it: `client_id`, then
/// each (name, bytes) as a `file`.
fn form(client_id: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n{client_id}\r\n"
        )
        .as_bytes(),
    );
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `POST /api/files`: one file, its bytes as the body.
async fn upload(
    s: &TestServer,
    cookie: Option<&str>,
    chat: ChatId,
    name: &str,
    bytes: &[u8],
) -> Reply {
    let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let mut req = Request::post(format!("/api/files?chat_id={chat}&name={name}"))
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    s.request(req.body(Body::from(bytes.to_vec())).unwrap())
        .await
}

async fn uploaded(
    s: &TestServer,
    cookie: &str,
    chat: ChatId,
    files: &[(&str, &[u8])],
) -> Vec<FileInfo> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        let r = upload(s, Some(cookie), chat, name, bytes).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        out.push(serde_json::from_str(&r.body).unwrap());
    }
    out
}

async fn get(
    s: &TestServer,
    cookie: Option<&str>,
    path: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = tower::ServiceExt::oneshot(
        natter::server::edge::router::app(s.state.clone()),
        req.body(Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

/// A real PNG of `w` × `h`.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The files whose bytes are stored whole (a folder's staging files and S3's unfinished
/// multipart uploads are not objects).
async fn stored_files(s: &TestServer) -> Vec<FileId> {
    let mut ids: Vec<FileId> = s
        .state
        .files
        .blobs()
        .objects()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::File(id) => Some(id),
            Object::Thumb(_) => None,
        })
        .collect();
    ids.sort();
    ids
}

/// Every row of `files`: (id, state), state 0 uploading, 1 stored, 2 doomed.
async fn file_rows(url: &str) -> Vec<(i64, i64)> {
    use sqlx::Connection;
    let sql = "SELECT id, CAST(state AS BIGINT) FROM files ORDER BY id";
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    }
}

test_both_stores!(an_image_is_stored_thumbnailed_and_served_to_members_only);
async fn an_image_is_stored_thumbnailed_and_served_to_members_only() {
    let (s, chat, [a, b, e]) = dm_with(|_| {}).await;
    let picture = png(1200, 600);
    let files = uploaded(&s, &a, chat, &[("holiday photo.png", &picture)]).await;
    let [f] = files.as_slice() else {
        panic!("{files:?}")
    };
    assert_eq!(
        (f.name.as_str(), f.mime.as_str()),
        ("holiday photo.png", "image/png")
    );
    assert_eq!((f.width, f.height, f.thumb), (Some(1200), Some(600), true));
    assert_eq!(f.size as usize, picture.len());
    assert_eq!(stored_files(&s).await, [f.id]);

    // Before it is sent, only its uploader sees it.
    assert_eq!(get(&s, Some(&a), &f.url()).await.0, StatusCode::OK);
    assert_eq!(get(&s, Some(&b), &f.url()).await.0, StatusCode::NOT_FOUND);

    // Sent over a real WebSocket: the message frame carries it, and the other member
    // can fetch it from then on.
    let mut alice = s.connect(&a).await;
    let mut bob = s.connect(&b).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "with-photo".into(),
            chat_id: chat,
            body: String::new(),
            reply_to: None,
            files: vec![f.id],
        })
        .await;
    let message = loop {
        if let ServerFrame::Message { message } = bob.next().await {
            break message;
        }
    };
    assert_eq!(message.files, files);
    let (status, headers, bytes) = get(&s, Some(&b), &f.url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, picture);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("inline;"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    let (status, headers, thumb) = get(&s, Some(&b), &f.thumb_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (480, 240));

    // A stranger, a signed-out visitor: nothing (not even that it exists).
    assert_eq!(get(&s, Some(&e), &f.url()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&s, Some(&e), &f.thumb_url()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&s, None, &f.url()).await.0, StatusCode::UNAUTHORIZED);
    // Nor can anyone upload where they are not a member.
    assert_eq!(
        upload(&s, Some(&e), chat, "x.txt", b"x").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        upload(&s, None, chat, "x.txt", b"x").await.status,
        StatusCode::UNAUTHORIZED
    );

    // A reload shows it too (the history carries the files).
    let page = s.db.store.history(chat, None, 50).await.unwrap();
    assert_eq!(page.messages.last().unwrap().files, files);

    // The same file cannot go out in a second message.
    alice
        .send(&ClientFrame::Send {
            client_id: "again".into(),
            chat_id: chat,
            body: "again".into(),
            reply_to: None,
            files: vec![f.id],
        })
        .await;
    loop {
        match alice.next().await {
            ServerFrame::Error { client_id, .. } if client_id.as_deref() == Some("again") => break,
            ServerFrame::Ack { client_id, .. } if client_id == "again" => panic!("sent twice"),
            _ => {}
        }
    }
}

test_both_stores!(a_removed_member_loses_access_at_once);
async fn a_removed_member_loses_access_at_once() {
    let s = common::server::start().await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    s.sign_up("carol").await;
    let group = s.create_chat(&a, "bob carol", "Team").await;
    let [f] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, group, &[("notes.txt", b"plain notes")]).await)
            .unwrap();
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "notes".into(),
            chat_id: group,
            body: "the notes".into(),
            reply_to: None,
            files: vec![f.id],
        })
        .await;
    while !matches!(alice.next().await, ServerFrame::Ack { .. }) {}
    assert_eq!(get(&s, Some(&b), &f.url()).await.0, StatusCode::OK);
    let bob =
        s.db.store
            .users_by_names(&["bob".into()])
            .await
            .unwrap()
            .pop()
            .unwrap();
    s.db.store.remove_member(group, bob.id).await.unwrap();
    assert_eq!(get(&s, Some(&b), &f.url()).await.0, StatusCode::NOT_FOUND);
}

test_both_stores!(types_come_from_the_bytes_and_nothing_runs_in_our_origin);
async fn types_come_from_the_bytes_and_nothing_runs_in_our_origin() {
    let (s, chat, [a, _, _]) = dm_with(|_| {}).await;
    let html = b"<!doctype html><script>fetch('/api/list_chats')</script>";
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>";
    let files = uploaded(&s, &a, chat, &[("cat.png", html), ("logo.svg", svg)]).await;
    for f in &files {
        assert!(!f.thumb && f.width.is_none(), "{f:?}");
        assert_ne!(f.mime, "image/png");
        let (status, headers, _) = get(&s, Some(&a), &f.url()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
        let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("sandbox"));
    }
    // A name is a label, never a path or a header break.
    let [f] = <[FileInfo; 1]>::try_from(
        uploaded(&s, &a, chat, &[("../..\\x\u{202e}y.txt", b"hi")]).await,
    )
    .unwrap();
    assert_eq!(f.name, "x_y.txt");
}

test_both_stores!(limits_refuse_with_a_clear_error_and_leave_nothing);
async fn limits_refuse_with_a_clear_error_and_leave_nothing() {
    let (s, chat, [a, _, _]) = dm_with(|c| {
        c.file_max_mb = 1;
        c.files_quota_mb = 2;
        c.uploads_per_minute = 1000;
    })
    .await;
    let big = vec![7u8; 1_000_001];
    let r = upload(&s, Some(&a), chat, "big.bin", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("too large"), "{}", r.body);
    let r = upload(&s, Some(&a), chat, "empty.bin", b"").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // The quota: two files of 0.9 MB fit, the third does not.
    let part = vec![1u8; 900_000];
    uploaded(&s, &a, chat, &[("1.bin", &part)]).await;
    uploaded(&s, &a, chat, &[("2.bin", &part)]).await;
    let r = upload(&s, Some(&a), chat, "3.bin", &part).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("storage"), "{}", r.body);
    // What was refused is swept at once; what was never sent, once old enough: then
    // no object is left.
    assert_eq!(s.state.files.sweep(0, 0).await.unwrap(), 3);
    let later = natter::server::db::now_ms() + 1000;
    assert_eq!(s.state.files.sweep(later, 0).await.unwrap(), 2);
    assert_eq!(stored_files(&s).await, []);
    assert_eq!(file_rows(&s.db.url).await, []);

    // Eleven files in one message are refused.
    let many: Vec<FileId> = (1..=11).map(FileId).collect();
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "many".into(),
            chat_id: chat,
            body: "x".into(),
            reply_to: None,
            files: many,
        })
        .await;
    loop {
        if let ServerFrame::Error { message, .. } = alice.next().await {
            assert!(message.contains("at most 10 files"), "{message}");
            break;
        }
    }
}

test_both_stores!(a_decompression_bomb_is_shared_as_a_plain_file);
async fn a_decompression_bomb_is_shared_as_a_plain_file() {
    let (s, chat, [a, _, _]) = dm_with(|_| {}).await;
    // A small file whose header claims 100 000 × 100 000 pixels: never decoded.
    let bomb = common::pictures::png_bomb();
    let [f] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, chat, &[("bomb.png", &bomb)]).await).unwrap();
    assert!(!f.thumb && f.width.is_none(), "{f:?}");
    assert_eq!(f.mime, "application/octet-stream");
    assert_eq!(
        get(&s, Some(&a), &f.thumb_url()).await.0,
        StatusCode::NOT_FOUND
    );
}

test_both_stores!(deleting_the_message_deletes_its_files_and_unsent_ones_are_swept);
async fn deleting_the_message_deletes_its_files_and_unsent_ones_are_swept() {
    let (s, chat, [a, b, _]) = dm_with(|_| {}).await;
    let [sent] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, chat, &[("a.txt", b"aaa")]).await).unwrap();
    let [unsent] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, chat, &[("b.txt", b"bbb")]).await).unwrap();
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "doc".into(),
            chat_id: chat,
            body: "doc".into(),
            reply_to: None,
            files: vec![sent.id],
        })
        .await;
    let message_id = loop {
        if let ServerFrame::Ack { id, .. } = alice.next().await {
            break id;
        }
    };
    // A fresh sweep keeps both: one is sent, the other recent.
    assert_eq!(s.state.files.sweep(0, 0).await.unwrap(), 0);
    alice.send(&ClientFrame::Delete { message_id }).await;
    while !matches!(alice.next().await, ServerFrame::Deleted { .. }) {}
    assert_eq!(
        get(&s, Some(&b), &sent.url()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.state.files.sweep(0, 0).await.unwrap(), 1);
    assert_eq!(stored_files(&s).await, [unsent.id]);
    // The unsent one goes once it is older than the cut-off.
    let later = natter::server::db::now_ms() + 1000;
    assert_eq!(s.state.files.sweep(later, 0).await.unwrap(), 1);
    assert_eq!(stored_files(&s).await, []);
}

test_both_stores!(photos_lose_their_exif_location_on_the_way_in);
async fn photos_lose_their_exif_location_on_the_way_in() {
    let (s, chat, [a, b, _]) = dm_with(|_| {}).await;
    // An EXIF block (no orientation) carrying a location, right after the start marker.
    let (jpeg, photo) = common::pictures::jpeg_with_location(40, 20);
    let [f] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, chat, &[("photo.jpg", &photo)]).await).unwrap();
    assert_eq!((f.mime.as_str(), f.thumb), ("image/jpeg", true));
    assert_eq!(f.size as usize, jpeg.len());
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "photo".into(),
            chat_id: chat,
            body: String::new(),
            reply_to: None,
            files: vec![f.id],
        })
        .await;
    while !matches!(alice.next().await, ServerFrame::Ack { .. }) {}
    let (status, _, bytes) = get(&s, Some(&b), &f.url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bytes, jpeg,
        "the stored photo is the original without its EXIF block"
    );
}

test_both_stores!(the_plain_form_sends_files_and_its_body_is_limited);
async fn the_plain_form_sends_files_and_its_body_is_limited() {
    let (s, chat, [a, b, _]) = dm_with(|c| c.file_max_mb = 1).await;
    let post = |cookie: &str, body: Vec<u8>| {
        Request::post(format!("/chats/{chat}/files"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .unwrap()
    };
    // Two files, one message; a file may even be called "thumb".
    let r = s
        .request(post(
            &a,
            form("nojs-1", &[("thumb", b"one"), ("b.txt", b"two")]),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], format!("/chats/{chat}"));
    let page = s.db.store.history(chat, None, 50).await.unwrap();
    let sent = page.messages.last().unwrap();
    let names: Vec<&str> = sent.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["thumb", "b.txt"]);
    let (status, _, bytes) = get(&s, Some(&b), &sent.files[0].url()).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"one"[..]));
    // The same form again (a double click): the same message, nothing sent twice.
    let r = s
        .request(post(&a, form("nojs-1", &[("c.txt", b"three")])))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        s.db.store
            .history(chat, None, 50)
            .await
            .unwrap()
            .messages
            .len(),
        page.messages.len()
    );
    // A body over one file's worth is refused before it is parsed to the end.
    let r = s
        .request(post(
            &a,
            form("nojs-2", &[("big.bin", &vec![0u8; 1_100_000])]),
        ))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    // A form without a file says so.
    let r = s.request(post(&a, form("nojs-3", &[]))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

test_both_stores!(any_node_serves_any_file_and_checks_membership_itself);
/// Two nodes on one database and one storage, as behind a round-robin proxy: a file
/// uploaded through one is served (and refused) by the other, with its thumbnail.
async fn any_node_serves_any_file_and_checks_membership_itself() {
    let (one, chat, [a, b, e]) = dm_with(|_| {}).await;
    let two = common::server::start_node(common::connect_db(&one.db).await, |_| {}).await;
    let picture = png(300, 200);
    let [f] = <[FileInfo; 1]>::try_from(uploaded(&one, &a, chat, &[("map.png", &picture)]).await)
        .unwrap();
    // Not sent yet: the other node refuses the other member too.
    assert_eq!(get(&two, Some(&b), &f.url()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&two, Some(&a), &f.url()).await.2, picture);
    let mut alice = one.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "map".into(),
            chat_id: chat,
            body: "the map".into(),
            reply_to: None,
            files: vec![f.id],
        })
        .await;
    while !matches!(alice.next().await, ServerFrame::Ack { .. }) {}
    let (status, _, bytes) = get(&two, Some(&b), &f.url()).await;
    assert_eq!((status, bytes == picture), (StatusCode::OK, true));
    let (status, headers, _) = get(&two, Some(&b), &f.thumb_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(get(&two, Some(&e), &f.url()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&two, None, &f.thumb_url()).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Bob leaves through node one: node two refuses him at once (it asks the database
    // on every request, it keeps no list of its own).
    let bob = one
        .db
        .store
        .users_by_names(&["bob".into()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    one.db.store.remove_member(chat, bob.id).await.unwrap();
    assert_eq!(get(&two, Some(&b), &f.url()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&two, Some(&b), &f.thumb_url()).await.0,
        StatusCode::NOT_FOUND
    );
}

/// A natter process killed when dropped (a test that fails leaves none behind).
struct Node {
    child: std::process::Child,
    port: u16,
    origin: String,
    _site: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// natter as a process of its own on `s`'s database and file storage, once it is ready.
async fn node_process(s: &TestServer) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let site = tempfile::tempdir().unwrap();
    let config = &s.state.config;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.args([
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--public-origin",
        &origin,
    ])
    .args(["--database-url", &s.db.url])
    .env("LEPTOS_SITE_ROOT", site.path())
    .env("LEPTOS_OUTPUT_NAME", "natter")
    .env("RUST_LOG", "warn")
    .stdout(std::process::Stdio::null());
    match &config.files_url {
        Some(url) => {
            cmd.args(["--files-url", url]);
            for (key, value) in &config.files_s3 {
                cmd.args(["--files-s3", &format!("{key}={value}")]);
            }
        }
        None => {
            cmd.arg("--files-dir").arg(config.files_dir());
        }
    }
    let node = Node {
        child: cmd.spawn().unwrap(),
        port,
        origin,
        _site: site,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::get(format!("{}/readyz", node.origin))
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    node
}

test_both_stores!(storage_and_database_agree_after_a_kill_9_mid_upload);
/// A node killed (SIGKILL: no drop guard, no abort) while a file streams in: the file
/// never shows as stored, what the node had written is found and removed by the
/// sweeper's crash rules (a row "uploading" past the stale age, a folder's staging
/// files), a file stored before is untouched, and the node starts again and serves.
async fn storage_and_database_agree_after_a_kill_9_mid_upload() {
    use tokio::io::AsyncWriteExt;
    let (s, chat, [a, b, _]) = dm_with(|_| {}).await;
    let [kept] =
        <[FileInfo; 1]>::try_from(uploaded(&s, &a, chat, &[("kept.txt", b"kept")]).await).unwrap();
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "kept".into(),
            chat_id: chat,
            body: String::new(),
            reply_to: None,
            files: vec![kept.id],
        })
        .await;
    while !matches!(alice.next().await, ServerFrame::Ack { .. }) {}

    // 6 of 8 MB sent: more than a part (5 MiB on S3, 256 KiB in a folder) is written.
    let mut node = node_process(&s).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", node.port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/files?chat_id={chat}&name=cut.bin HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Origin: {}\r\nCookie: {a}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 8000000\r\n\r\n",
        node.port, node.origin
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&vec![b'x'; 6_000_000]).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let cut = loop {
        if let Some((id, 0)) = file_rows(&s.db.url)
            .await
            .into_iter()
            .find(|r| r.0 != kept.id.0)
        {
            break FileId(id);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // Let the written bytes reach the storage, then the crash.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    drop(tcp);

    // What the crash left: a row still uploading, no whole object for it.
    assert_eq!(file_rows(&s.db.url).await, [(kept.id.0, 1), (cut.0, 0)]);
    assert_eq!(stored_files(&s).await, [kept.id]);
    let staging = |s: &TestServer| -> usize {
        if s.state.config.files_url.is_some() {
            return 0; // S3: an unfinished multipart upload, for the bucket's lifecycle rule
        }
        std::fs::read_dir(s.state.config.files_dir().join("f"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains('#')
            })
            .count()
    };
    let staged = staging(&s);
    if s.state.config.files_url.is_none() {
        assert_eq!(staged, 1, "a folder keeps the cut upload's staging file");
    }

    // The sweeper's crash rules as an hour later (stale age and staging age passed):
    // the row goes, the staging file too.
    let cleaned = s
        .state
        .files
        .blobs()
        .clean_staging(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(cleaned, staged);
    let removed = s
        .state
        .files
        .sweep(0, natter::server::db::now_ms() + 1)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(file_rows(&s.db.url).await, [(kept.id.0, 1)]);
    assert_eq!(stored_files(&s).await, [kept.id]);
    assert_eq!(staging(&s), 0);

    // The node starts again and serves: the kept file, and a new upload.
    let node = node_process(&s).await;
    let http = reqwest::Client::new();
    let got = http
        .get(format!("{}{}", node.origin, kept.url()))
        .header("cookie", &b)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"kept");
    let up = http
        .post(format!(
            "{}/api/files?chat_id={chat}&name=again.txt",
            node.origin
        ))
        .header("cookie", &a)
        .header("origin", &node.origin)
        .body("again")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200, "{}", up.text().await.unwrap());
}

test_both_dbs!(search_finds_messages_by_their_files_names);
/// A message is found by the names of its files, once, by members only, and no longer
/// once it is deleted; a page of hits is cut as text hits are.
async fn search_finds_messages_by_their_files_names() {
    let (s, chat, [a, _, _]) = dm_with(|_| {}).await;
    let alice =
        s.db.store
            .users_by_names(&["alice".into()])
            .await
            .unwrap()
            .pop()
            .unwrap();
    let eve =
        s.db.store
            .users_by_names(&["eve".into()])
            .await
            .unwrap()
            .pop()
            .unwrap();
    let [report, notes] = <[FileInfo; 2]>::try_from(
        uploaded(
            &s,
            &a,
            chat,
            &[
                ("Q3-Quarterly_REPORT.pdf", b"%PDF-1.4 x"),
                ("notes.txt", b"notes"),
            ],
        )
        .await,
    )
    .unwrap();
    let mut client = s.connect(&a).await;
    let send =
        |client_id: &'static str, body: &'static str, files: Vec<FileId>| ClientFrame::Send {
            client_id: client_id.into(),
            chat_id: chat,
            body: body.into(),
            reply_to: None,
            files,
        };
    client
        .send(&send("r", "see attached", vec![report.id, notes.id]))
        .await;
    let sent = loop {
        if let ServerFrame::Ack { id, .. } = client.next().await {
            break id;
        }
    };
    // Its text says "report" too: one hit, not two.
    client
        .send(&send("t", "the report is late", Vec::new()))
        .await;
    while !matches!(client.next().await, ServerFrame::Ack { .. }) {}

    let page =
        s.db.store
            .search(alice.id, "quarterly report", None)
            .await
            .unwrap();
    let ids: Vec<_> = page.hits.iter().map(|h| h.message_id).collect();
    assert_eq!(ids, [sent]);
    let text: String = page.hits[0].snippet.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(text, "File: Q3-Quarterly_REPORT.pdf");
    assert!(page.hits[0]
        .snippet
        .iter()
        .any(|(t, m)| *m && t == "REPORT"));
    assert_eq!(
        s.db.store
            .search(alice.id, "report", None)
            .await
            .unwrap()
            .hits
            .len(),
        2
    );
    assert_eq!(
        s.db.store
            .search(alice.id, "notes txt", None)
            .await
            .unwrap()
            .hits
            .len(),
        1
    );
    assert!(s
        .db
        .store
        .search(eve.id, "report", None)
        .await
        .unwrap()
        .hits
        .is_empty());

    // More hits than a page: the pages join up, each message once.
    let mut more = Vec::new();
    for i in 0..22 {
        let [f] = <[FileInfo; 1]>::try_from(
            uploaded(&s, &a, chat, &[(&format!("scan-{i}.txt"), b"s")]).await,
        )
        .unwrap();
        client
            .send(&ClientFrame::Send {
                client_id: format!("scan{i}"),
                chat_id: chat,
                body: String::new(),
                reply_to: None,
                files: vec![f.id],
            })
            .await;
        let id = loop {
            if let ServerFrame::Ack { id, .. } = client.next().await {
                break id;
            }
        };
        more.push(id);
    }
    let first = s.db.store.search(alice.id, "scan", None).await.unwrap();
    assert_eq!(first.hits.len() as i64, natter::model::SEARCH_PAGE_SIZE);
    let second =
        s.db.store
            .search(alice.id, "scan", first.next_before)
            .await
            .unwrap();
    let mut all: Vec<_> = first
        .hits
        .iter()
        .chain(&second.hits)
        .map(|h| h.message_id)
        .collect();
    all.reverse();
    assert_eq!(all, more);
    assert_eq!(second.next_before, None);

    client.send(&ClientFrame::Delete { message_id: sent }).await;
    while !matches!(client.next().await, ServerFrame::Deleted { .. }) {}
    assert_eq!(
        s.db.store
            .search(alice.id, "quarterly", None)
            .await
            .unwrap()
            .hits,
        []
    );
}
