//! `natter backup PATH` (the real binary) while a real server takes a stream of sends:
//! the copy opens as a database and holds every message acked before the backup began,
//! gap-free. SQLite only (PostgreSQL has `pg_dump`; the command refuses it). The shared
//! files the copy names go to a folder beside it, and a server on the copy serves them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::start_with;
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::server::db::Store;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn backup(database_url: &str, path: &std::path::Path) -> std::process::Output {
    backup_with(database_url, &[], path)
}

fn backup_with(database_url: &str, flags: &[&str], path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--database-url", database_url])
        .args(flags)
        .arg("backup")
        .arg(path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_backup_under_write_load_holds_everything_acked_before_it() {
    let s = start_with(|c| {
        c.ws_send_rate = 100_000;
        c.ws_send_burst = 100_000;
    })
    .await;
    let a = s.sign_up("alice").await;
    s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut alice = s.connect(&a).await;

    // Sends keep coming, one after another, each waiting for its ack.
    let acked = Arc::new(AtomicI64::new(0));
    let writer = {
        let acked = acked.clone();
        tokio::spawn(async move {
            for i in 0.. {
                alice
                    .send(&ClientFrame::Send {
                        client_id: format!("c{i}"),
                        chat_id: chat,
                        body: format!("message {i}"),
                        reply_to: None,
                        files: Vec::new(),
                    })
                    .await;
                loop {
                    if let ServerFrame::Ack { seq, .. } = alice.next().await {
                        acked.store(seq, Ordering::SeqCst);
                        break;
                    }
                }
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let before = acked.load(Ordering::SeqCst);
    let out = tokio::task::spawn_blocking({
        let (url, copy) = (s.db.url.clone(), copy.clone());
        move || backup(&url, &copy)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = acked.load(Ordering::SeqCst);
    writer.abort();
    assert!(after > before, "the sends went on during the backup");

    // The copy is a database of its own, gap-free up to some seq ≥ every ack before.
    let restored = Store::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let messages = restored.messages_after(chat, 0, 100_000).await.unwrap();
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
    assert!(
        seqs.len() as i64 >= before,
        "{} messages in the copy, {before} acked before it began",
        seqs.len()
    );
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(messages[0].body, "message 0");

    // A second backup to the same path is refused, the first copy left alone.
    let out = backup(&s.db.url, &copy);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
}

#[tokio::test]
async fn the_shared_files_go_beside_the_copy_and_a_restored_server_serves_them() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    let s = start_with(|_| {}).await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let chat = s.create_chat(&a, "bob", "").await;
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(300, 200, image::Rgb([1, 2, 3])))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut sent = Vec::new();
    for (name, bytes) in [
        ("photo.png", png.clone()),
        ("notes.txt", b"the notes".to_vec()),
    ] {
        let r = s
            .request(
                Request::post(format!("/api/files?chat_id={chat}&name={name}"))
                    .header(header::COOKIE, &a)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(Body::from(bytes))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        sent.push(serde_json::from_str::<natter::model::FileInfo>(&r.body).unwrap());
    }
    let mut alice = s.connect(&a).await;
    alice
        .send(&ClientFrame::Send {
            client_id: "files".into(),
            chat_id: chat,
            body: "two files".into(),
            reply_to: None,
            files: sent.iter().map(|f| f.id).collect(),
        })
        .await;
    while !matches!(alice.next().await, ServerFrame::Ack { .. }) {}

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let files_dir = s.state.config.files_dir().to_str().unwrap().to_string();
    let flags = ["--files-dir", files_dir.as_str()];
    let out = tokio::task::spawn_blocking({
        let (url, copy, files_dir) = (s.db.url.clone(), copy.clone(), files_dir.clone());
        move || backup_with(&url, &["--files-dir", &files_dir], &copy)
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("2 shared files (1 thumbnails)"), "{said}");
    let folder = dir.path().join("copy-files");
    assert_eq!(
        std::fs::read(folder.join("f").join(sent[0].id.to_string())).unwrap(),
        png
    );
    assert!(folder.join("t").join(sent[0].id.to_string()).exists());

    // Restored: a server on the copy and its folder serves both files to bob.
    let restored = common::server::start_node(
        common::open_db(&format!("sqlite://{}", copy.display()), &folder).await,
        |_| {},
    )
    .await;
    for (f, bytes) in sent.iter().zip([png, b"the notes".to_vec()]) {
        // The body is read as text: compare lengths as sent, and the text whole.
        let r = restored
            .request(
                Request::get(f.url())
                    .header(header::COOKIE, &b)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers[header::CONTENT_LENGTH],
            bytes.len().to_string().as_str()
        );
    }
    let notes = restored
        .request(
            Request::get(sent[1].url())
                .header(header::COOKIE, &b)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(notes.body, "the notes");
    let r = restored
        .request(
            Request::get(sent[0].thumb_url())
                .header(header::COOKIE, &b)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // A mistyped --files-dir fails before anything is written, and makes no folder.
    let elsewhere = dir.path().join("no-such-files");
    let out = backup_with(
        &s.db.url,
        &["--files-dir", elsewhere.to_str().unwrap()],
        &dir.path().join("second.db"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no files folder"));
    assert!(!elsewhere.exists() && !dir.path().join("second.db").exists());

    // Again to the same path: refused, as the folder would be.
    let out = backup_with(&s.db.url, &flags, &copy);
    assert!(!out.status.success());
}
