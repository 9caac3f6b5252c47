//! A real Server-Sent Events client of natter's fallback (`GET /sse`, `POST /frames`),
//! reading the HTTP body as it arrives, over a real TCP connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::server::TestServer;
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::ChatId;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// One event off the stream.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // a test helper: one event at a time
pub enum Event {
    Frame(ServerFrame),
    Heartbeat,
    Close { code: u16, reason: String },
}

pub struct Stream {
    res: reqwest::Response,
    buffer: String,
    events: VecDeque<Event>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// The `resume` query of a stream that holds `positions` (and `changes`).
pub fn resume_query(positions: &[(ChatId, i64)], changes: &[(ChatId, i64)]) -> String {
    let frame = ClientFrame::Resume {
        positions: positions.iter().copied().collect::<BTreeMap<_, _>>(),
        changes: changes.iter().copied().collect::<BTreeMap<_, _>>(),
    };
    let json = serde_json::to_string(&frame).unwrap();
    let mut q = String::from("?resume=");
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

impl TestServer {
    /// `GET /sse` with `query` (e.g. [`resume_query`]), as a browser's EventSource
    /// sends it (no `Origin` on a same-origin GET), asking for compression as browsers
    /// do: the stream must not be held back by the compression layer.
    pub async fn sse_raw(&self, cookie: Option<&str>, query: &str) -> reqwest::Response {
        let mut req = client()
            .get(format!("http://{}/sse{query}", self.addr))
            .header("accept", "text/event-stream")
            .header("accept-encoding", "gzip, deflate, br, zstd");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    /// Opens a stream and reads its `hello`.
    pub async fn sse(&self, cookie: &str, query: &str) -> Stream {
        let res = self.sse_raw(Some(cookie), query).await;
        assert_eq!(res.status(), 200);
        let mut s = Stream {
            res,
            buffer: String::new(),
            events: VecDeque::new(),
        };
        match s.next().await {
            ServerFrame::Hello { .. } => s,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// `POST /frames` with a raw body from our origin; the status and the answer.
    pub async fn post_raw(
        &self,
        cookie: Option<&str>,
        origin: &str,
        body: String,
    ) -> (u16, String) {
        let mut req = client()
            .post(format!("http://{}/frames", self.addr))
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// POSTs a frame; the status and the frame answered (if any).
    pub async fn post_frame(
        &self,
        cookie: &str,
        frame: &ClientFrame,
    ) -> (u16, Option<ServerFrame>) {
        let (status, body) = self
            .post_raw(
                Some(cookie),
                &self.origin,
                serde_json::to_string(frame).unwrap(),
            )
            .await;
        let answer = (!body.is_empty())
            .then(|| serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")));
        (status, answer)
    }
}

impl Stream {
    /// The next event, waiting at most `wait`.
    pub async fn event_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .ok()?;
            let chunk = chunk.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(e) = parse(&block) {
                    self.events.push_back(e);
                }
            }
        }
    }

    /// The next server frame (heartbeats skipped), within 10 s.
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            match self.event_within(Duration::from_secs(10)).await {
                Some(Event::Frame(f)) => return f,
                Some(Event::Heartbeat) => continue,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }
}

fn parse(block: &str) -> Option<Event> {
    let (mut event, mut data) = ("message", String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event: ") {
            event = v;
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
    match event {
        "message" if !data.is_empty() => Some(Event::Frame(
            serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}")),
        )),
        "heartbeat" => Some(Event::Heartbeat),
        "close" => {
            let v: serde_json::Value = serde_json::from_str(&data).unwrap();
            Some(Event::Close {
                code: v["code"].as_u64().unwrap() as u16,
                reason: v["reason"].as_str().unwrap().to_string(),
            })
        }
        _ => None,
    }
}
