//! `--log-format json`: the server binary writes one JSON object per line, and a
//! request's lines carry the request id its response returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `GET path` with `x-request-id: id`; the response's head.
fn get(port: u16, path: &str, id: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nx-request-id: {id}\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn json_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--public-origin", &format!("http://127.0.0.1:{port}")])
        .args([
            "--database-url",
            &format!("sqlite://{}", dir.path().join("n.db").display()),
        ])
        .args(["--log-format", "json"])
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("RUST_LOG", "info,tower_http=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let head = loop {
        match get(port, "/healthz", "log-test-7") {
            Ok(head) => break head,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("server did not start: {e}"),
        }
    };
    assert!(
        head.to_lowercase().contains("x-request-id: log-test-7"),
        "{head}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();

    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| {
            let l = l.unwrap();
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        })
        .collect();
    let listening = |l: &&serde_json::Value| {
        l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("natter listening"))
    };
    assert!(lines.iter().any(|l| listening(&l)), "{lines:?}");
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "log-test-7")
        .collect();
    assert!(!ours.is_empty(), "no line names the request id: {lines:?}");
    assert!(
        ours.iter().all(|l| l["span"]["path"] == "/healthz"),
        "{ours:?}"
    );
}
