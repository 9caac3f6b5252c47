//! A third-party client of natter, written from docs/PROTOCOL.md: HTTP sign-up and chat
//! creation, then authenticated WebSockets (optionally from a chosen 127.0.0.x source
//! address, to get past one address's ephemeral port range).

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::ChatId;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Ws = WebSocketStream<TcpStream>;
pub type Sink = SplitSink<Ws, Message>;

/// Where a client reads server frames: a WebSocket's read half, or (`--sse`) the
/// fallback's event stream.
pub enum Stream {
    Ws(SplitStream<Ws>),
    Sse(SseBody),
}

/// An SSE response read as it arrives: each `data:` line is one frame's JSON.
pub struct SseBody {
    res: reqwest::Response,
    buffer: String,
    frames: std::collections::VecDeque<Utf8Bytes>,
}

impl Stream {
    /// The next frame's JSON; `None` when the connection ended.
    async fn next_text(&mut self) -> Result<Option<Utf8Bytes>, Error> {
        match self {
            Stream::Ws(ws) => {
                while let Some(msg) = ws.next().await {
                    match msg? {
                        Message::Text(t) => return Ok(Some(t)),
                        Message::Close(_) => return Ok(None),
                        _ => continue,
                    }
                }
                Ok(None)
            }
            Stream::Sse(sse) => loop {
                if let Some(text) = sse.frames.pop_front() {
                    return Ok(Some(text));
                }
                let Some(chunk) = sse.res.chunk().await? else {
                    return Ok(None);
                };
                sse.buffer.push_str(std::str::from_utf8(&chunk)?);
                while let Some(end) = sse.buffer.find("\n\n") {
                    let event: String = sse.buffer.drain(..end + 2).collect();
                    // Unnamed events carry frames; `heartbeat` and comments do not.
                    if let Some(data) = event.strip_prefix("data: ") {
                        sse.frames
                            .push_back(Utf8Bytes::from(data.trim_end().to_string()));
                    } else if event.starts_with("event: close") {
                        return Ok(None);
                    }
                }
            },
        }
    }
}

#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    http: reqwest::Client,
}

impl Server {
    pub fn new(addr: SocketAddr) -> Self {
        let http = reqwest::Client::builder().build().unwrap_or_default();
        Server { addr, http }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.origin()))
            .header("accept", "application/json")
            .form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await?;
        if !res.status().is_success() {
            return Err(format!(
                "{path}: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            )
            .into());
        }
        Ok(res)
    }

    /// Signs up and returns the session cookie.
    pub async fn sign_up(&self, name: &str) -> Result<String, Error> {
        use leptos::server_fn::ServerFn;
        let res = self
            .post(
                natter::api::auth::SignUp::PATH,
                &[("username", name), ("password", "bench-password")],
                None,
            )
            .await?;
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or("no session cookie")?;
        // The bench puts fresh accounts into groups: let anyone add them (the default
        // turns a stranger's add into an invitation).
        self.post(
            natter::api::consent::SetGroupAdds::PATH,
            &[("group_adds", "anyone")],
            Some(cookie),
        )
        .await?;
        Ok(cookie.to_string())
    }

    /// Signs in an existing user and returns the session cookie.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<String, Error> {
        use leptos::server_fn::ServerFn;
        let res = self
            .post(
                natter::api::auth::SignIn::PATH,
                &[("username", name), ("password", password)],
                None,
            )
            .await?;
        res.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .ok_or_else(|| "no session cookie".into())
    }

    /// Calls a server function (`path`) with `form`; its JSON answer as text.
    pub async fn call(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: &str,
    ) -> Result<String, Error> {
        Ok(self.post(path, form, Some(cookie)).await?.text().await?)
    }

    /// One sign-in attempt; its HTTP status (the flood of `--sign-in-flood`).
    pub async fn sign_in_status(&self, name: &str, password: &str) -> Result<u16, Error> {
        use leptos::server_fn::ServerFn;
        let res = self
            .http
            .post(format!(
                "{}{}",
                self.origin(),
                natter::api::auth::SignIn::PATH
            ))
            .header("accept", "application/json")
            .form(&[("username", name), ("password", password)])
            .send()
            .await?;
        Ok(res.status().as_u16())
    }

    /// Creates a chat (members separated by spaces).
    pub async fn create_chat(
        &self,
        cookie: &str,
        members: &str,
        title: &str,
    ) -> Result<ChatId, Error> {
        use leptos::server_fn::ServerFn;
        let res = self
            .post(
                natter::api::chats::CreateChat::PATH,
                &[("members", members), ("title", title)],
                Some(cookie),
            )
            .await?;
        Ok(ChatId(res.text().await?.trim().parse()?))
    }

    pub async fn get(
        &self,
        path: &str,
        cookie: Option<&str>,
        encoding: Option<&str>,
    ) -> Result<(u16, Vec<u8>), Error> {
        let mut req = self.http.get(format!("{}{path}", self.origin()));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        Ok((status, res.bytes().await?.to_vec()))
    }

    /// Opens an authenticated WebSocket and waits for `hello`; every frame sent on it
    /// leaves in a write of its own.
    pub async fn connect(
        &self,
        cookie: &str,
        source: Option<IpAddr>,
    ) -> Result<(Sink, Stream), Error> {
        self.connect_with(cookie, source, 0).await
    }

    /// [`Server::connect`], gathering up to `write_buffer` bytes of [`feed`] frames
    /// before a write (a pipelining sender: the socket takes many frames per write).
    /// It resumes with nothing held, so live delivery starts now.
    pub async fn connect_with(
        &self,
        cookie: &str,
        source: Option<IpAddr>,
        write_buffer: usize,
    ) -> Result<(Sink, Stream), Error> {
        let (sink, mut stream) = self
            .open(cookie, source, write_buffer, Default::default())
            .await?;
        loop {
            match next_frame(&mut stream).await? {
                Some(ServerFrame::Resumed) => return Ok((sink, stream)),
                Some(_) => continue,
                None => return Err("closed before resumed".into()),
            }
        }
    }

    /// Opens the fallback's event stream (`GET /sse`) holding nothing of any chat, and
    /// reads up to its `resumed`: live delivery starts now. Read-only: a fallback
    /// client's frames go up as POSTs.
    pub async fn open_sse(&self, cookie: &str) -> Result<Stream, Error> {
        // `{"type":"resume","positions":{}}`, URL-encoded.
        let resume = "%7B%22type%22%3A%22resume%22%2C%22positions%22%3A%7B%7D%7D";
        let res = self
            .http
            .get(format!("{}/sse?resume={resume}", self.origin()))
            .header("accept", "text/event-stream")
            .header("cookie", cookie)
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(format!("/sse: {}", res.status()).into());
        }
        let mut stream = Stream::Sse(SseBody {
            res,
            buffer: String::new(),
            frames: Default::default(),
        });
        loop {
            match next_frame(&mut stream).await? {
                Some(ServerFrame::Resumed) => return Ok(stream),
                Some(_) => continue,
                None => return Err("stream ended before resumed".into()),
            }
        }
    }

    /// A receiving connection: a WebSocket, or with `sse` the event stream (then no
    /// sink).
    pub async fn receiver(&self, cookie: &str, sse: bool) -> Result<(Option<Sink>, Stream), Error> {
        if sse {
            Ok((None, self.open_sse(cookie).await?))
        } else {
            let (sink, stream) = self.connect(cookie, None).await?;
            Ok((Some(sink), stream))
        }
    }

    /// Opens an authenticated WebSocket, waits for `hello` and answers it, as a client
    /// does, with `resume` from `positions` (the last seq it holds of each chat).
    /// Returns before the replay: the caller reads it, up to `resumed`.
    pub async fn open(
        &self,
        cookie: &str,
        source: Option<IpAddr>,
        write_buffer: usize,
        positions: BTreeMap<ChatId, i64>,
    ) -> Result<(Sink, Stream), Error> {
        let socket = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let mut req = format!("ws://{}/ws", self.addr).into_client_request()?;
        req.headers_mut().insert("cookie", cookie.parse()?);
        req.headers_mut().insert("origin", self.origin().parse()?);
        // Small buffers: an idle connection should cost the bench little, too.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(write_buffer);
        let (ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, Some(config)).await?;
        let (mut sink, stream) = ws.split();
        let mut stream = Stream::Ws(stream);
        loop {
            match next_frame(&mut stream).await? {
                Some(ServerFrame::Hello { .. }) => {
                    let resume = ClientFrame::Resume {
                        positions,
                        changes: Default::default(),
                    };
                    send(&mut sink, &resume).await?;
                    return Ok((sink, stream));
                }
                Some(_) => continue,
                None => return Err("closed before hello".into()),
            }
        }
    }
}

pub async fn send(sink: &mut Sink, frame: &ClientFrame) -> Result<(), Error> {
    sink.send(Message::Text(serde_json::to_string(frame)?.into()))
        .await?;
    Ok(())
}

/// Queues a frame without flushing (pipelining, on a connection with a write buffer:
/// see [`Server::connect_with`]).
pub async fn feed(sink: &mut Sink, frame: &ClientFrame) -> Result<(), Error> {
    sink.feed(Message::Text(serde_json::to_string(frame)?.into()))
        .await?;
    Ok(())
}

/// The next protocol frame, `None` when the connection ended.
pub async fn next_frame(stream: &mut Stream) -> Result<Option<ServerFrame>, Error> {
    match stream.next_text().await? {
        Some(t) => Ok(Some(serde_json::from_str(t.as_str())?)),
        None => Ok(None),
    }
}

/// The two fields a receiver measures, read from a frame without building the whole
/// [`ServerFrame`] (so the bench's CPU stays small next to the server's).
#[derive(serde::Deserialize)]
struct LightFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    message: Option<LightMessage<'a>>,
}

#[derive(serde::Deserialize)]
struct LightMessage<'a> {
    seq: i64,
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
}

/// The next `message` frame's (seq, body), skipping other frames; `None` when closed.
pub async fn next_message(stream: &mut Stream) -> Result<Option<(i64, String)>, Error> {
    loop {
        match next_seen(stream).await? {
            Some(Seen::Message(seq, body)) => return Ok(Some((seq, body))),
            Some(_) => continue,
            None => return Ok(None),
        }
    }
}

/// What [`next_seen`] found: a message, an ack, or another frame.
pub enum Seen {
    Message(i64, String),
    Ack,
    Other,
}

/// The next frame, read as lightly as [`next_message`] reads; `None` when the
/// connection ended.
pub async fn next_seen(stream: &mut Stream) -> Result<Option<Seen>, Error> {
    let Some(t) = stream.next_text().await? else {
        return Ok(None);
    };
    let frame: LightFrame = serde_json::from_str(t.as_str())?;
    Ok(Some(match (frame.kind.as_ref(), frame.message) {
        ("message", Some(m)) => Seen::Message(m.seq, m.body.into_owned()),
        ("ack", _) => Seen::Ack,
        _ => Seen::Other,
    }))
}
