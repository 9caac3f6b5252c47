//! `natter backup PATH` (the real binary) while a real server takes a stream of sends:
//! the copy opens as a database and holds every message acked before the backup began,
//! gap-free. SQLite only (PostgreSQL has `pg_dump`; the command refuses it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::start_with;
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::server::db::Store;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn backup(database_url: &str, path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--database-url", database_url, "backup"])
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
