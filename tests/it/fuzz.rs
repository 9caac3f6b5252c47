//! The protocol decoder against arbitrary input, over the real router: random text,
//! random JSON, valid frames with one field replaced by random JSON, and random bytes,
//! sent on a real WebSocket and POSTed to `/frames`. Every answer is a well-formed
//! server frame (an `error` for what is wrong), a pong, or a documented close; never a
//! panic, a 500 or silence. Random cases, printed when one fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::server::{dm_with, TestServer};
use futures::SinkExt;
use natter::model::protocol::{close, ClientFrame, ServerFrame};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How many inputs of each kind.
const CASES: usize = 40;

/// Close codes docs/PROTOCOL.md lists.
const DOCUMENTED: [u16; 7] = [
    1000,
    1001,
    1009,
    close::UNAUTHORIZED,
    close::POLICY,
    close::SLOW_CONSUMER,
    close::IDLE,
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::from),
        prop_oneof![
            Just("send"),
            Just("edit"),
            Just("delete"),
            Just("resume"),
            Just("read"),
            Just("typing")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid frame of each kind with one field replaced by arbitrary JSON (or removed).
fn mutated_frame(chat: i64) -> impl Strategy<Value = String> {
    let frames = [
        json!({"type": "send", "client_id": "c1", "chat_id": chat, "body": "hi"}),
        json!({"type": "edit", "message_id": 1, "body": "hi"}),
        json!({"type": "delete", "message_id": 1}),
        json!({"type": "typing", "chat_id": chat}),
        json!({"type": "read", "chat_id": chat, "seq": 1}),
        json!({"type": "resume", "positions": {chat.to_string(): 0}, "changes": {}}),
        json!({"type": "ping"}),
    ];
    (
        0..frames.len(),
        "[a-z_]{1,12}",
        prop::option::of(json_value()),
    )
        .prop_map(move |(i, key, value)| {
            let mut frame = frames[i].clone();
            let obj = frame.as_object_mut().unwrap();
            let key = obj
                .keys()
                .nth(key.len() % obj.len())
                .cloned()
                .unwrap_or(key);
            match value {
                Some(v) => obj.insert(key, v),
                None => obj.remove(&key),
            };
            frame.to_string()
        })
}

#[derive(Debug)]
enum Input {
    Text(String),
    Bytes(Vec<u8>),
}

fn inputs(chat: i64) -> Vec<(String, Input)> {
    let mut runner = TestRunner::default();
    let mut out = Vec::new();
    let mut take = |strategy: BoxedStrategy<Input>, kind: &str| {
        for _ in 0..CASES {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            out.push((kind.to_string(), value));
        }
    };
    take(any::<String>().prop_map(Input::Text).boxed(), "text");
    take(
        json_value()
            .prop_map(|v| Input::Text(v.to_string()))
            .boxed(),
        "json",
    );
    take(
        mutated_frame(chat).prop_map(Input::Text).boxed(),
        "mutated frame",
    );
    take(
        prop::collection::vec(any::<u8>(), 0..256)
            .prop_map(Input::Bytes)
            .boxed(),
        "bytes",
    );
    out
}

/// Sends `input`, then a ping: reads until the pong (every frame on the way must be a
/// server frame) or a close with a documented code.
async fn on_websocket(s: &TestServer, cookie: &str, input: &Input) -> Result<(), String> {
    let mut client = s.connect_raw(cookie).await;
    let answer = answer_on(&mut client, input).await;
    let _ = client.ws.close(None).await;
    answer
}

async fn answer_on(client: &mut common::server::Client, input: &Input) -> Result<(), String> {
    let msg = match input {
        Input::Text(t) => WsMessage::Text(t.clone().into()),
        Input::Bytes(b) => WsMessage::Binary(b.clone().into()),
    };
    client.ws.send(msg).await.map_err(|e| e.to_string())?;
    let ping = serde_json::to_string(&ClientFrame::Ping).unwrap();
    let _ = client.ws.send(WsMessage::Text(ping.into())).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline
            .checked_duration_since(tokio::time::Instant::now())
            .ok_or("no pong and no close within 5 s")?;
        let next = tokio::time::timeout(left, futures::StreamExt::next(&mut client.ws))
            .await
            .map_err(|_| "no pong and no close within 5 s".to_string())?;
        match next {
            Some(Ok(WsMessage::Text(t))) => match serde_json::from_str::<ServerFrame>(t.as_str()) {
                Ok(ServerFrame::Pong) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(format!("not a server frame ({e}): {t}")),
            },
            Some(Ok(WsMessage::Close(frame))) => {
                let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                return if DOCUMENTED.contains(&code) {
                    Ok(())
                } else {
                    Err(format!("undocumented close {code}"))
                };
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("connection error: {e}")),
            None => return Err("closed without a close frame".into()),
        }
    }
}

/// POSTs `input`: a 2xx (with a frame or nothing) or a 4xx with an `error` frame.
async fn on_post(s: &TestServer, cookie: &str, input: &Input) -> Result<(), String> {
    let body = match input {
        Input::Text(t) => t.clone(),
        Input::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    };
    let (status, answer) = s.post_raw(Some(cookie), &s.origin, body).await;
    match status {
        200..=299 if answer.is_empty() => Ok(()),
        200..=299 | 400..=499 => match serde_json::from_str::<ServerFrame>(&answer) {
            Ok(ServerFrame::Error { .. }) if status >= 400 => Ok(()),
            Ok(_) if status < 300 => Ok(()),
            other => Err(format!("{status} with {other:?}: {answer}")),
        },
        _ => Err(format!("status {status}: {answer}")),
    }
}

#[tokio::test]
async fn arbitrary_frames_get_an_error_frame_or_a_documented_close() {
    // One socket per case, opened in quick succession: above the default open limit.
    let (s, chat, [a, _b, _c]) = dm_with(|c| c.ws_max_per_user = 10 * CASES as u32).await;
    let mut failures = Vec::new();
    for (kind, input) in inputs(chat.0) {
        let shown = match &input {
            Input::Text(t) => format!("{kind} {t:?}"),
            Input::Bytes(b) => format!("{kind} {b:?}"),
        };
        if let Err(e) = on_websocket(&s, &a, &input).await {
            failures.push(format!("WebSocket, {shown}: {e}"));
        }
        if let Err(e) = on_post(&s, &a, &input).await {
            failures.push(format!("POST /frames, {shown}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
