//! A real natter server on an ephemeral port, and a real WebSocket client for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{test_db, TestDb};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use natter::api::auth::SignUp;
use natter::api::chats::CreateChat;
use natter::model::protocol::{ClientFrame, ServerFrame};
use natter::model::ChatId;
use natter::server::app::AppState;
use natter::server::config::Config;
use natter::server::edge::router;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub origin: String,
    pub state: AppState,
    pub db: TestDb,
    /// The router the server serves, for requests made in-process ([`Self::request`]).
    app: axum::Router,
    task: tokio::task::JoinHandle<()>,
}

/// An answer to [`TestServer::request`], its body read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `send` frame.
pub fn send(chat: ChatId, client_id: &str, body: &str) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.into(),
        chat_id: chat,
        body: body.into(),
        reply_to: None,
        files: Vec::new(),
    }
}

/// A server with alice and bob in a DM, plus eve who is in no chat with them; their
/// session cookies.
pub async fn dm() -> (TestServer, ChatId, [String; 3]) {
    dm_with(|_| {}).await
}

/// [`dm`] on a server with `tweak`ed settings.
pub async fn dm_with(tweak: impl FnOnce(&mut Config)) -> (TestServer, ChatId, [String; 3]) {
    let s = start_with(tweak).await;
    let a = s.sign_up("alice").await;
    let b = s.sign_up("bob").await;
    let e = s.sign_up("eve").await;
    let chat = s.create_chat(&a, "bob", "").await;
    (s, chat, [a, b, e])
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_node(test_db().await, tweak).await
}

/// A server on `db`, which other servers may share (several nodes on one database).
///
/// The one way the tests start natter: a test that needs no socket sends its requests
/// in-process instead ([`TestServer::request`]), to the same state.
pub async fn start_node(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
    // The recorder is per process, and every test shares this one: installed before any
    // server counts anything, so no gauge is lowered for what it never counted.
    natter::server::base::counters::install();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_tests(&db.url);
    config.public_origin = format!("http://{addr}");
    super::Storage::current().configure(&mut config, &db);
    tweak(&mut config);
    let state = AppState::new(config, db.store.clone()).unwrap();
    let app = router::app(state.clone());
    let serving = natter::server::serve(listener, state.clone());
    let task = tokio::spawn(async move {
        serving.await.unwrap();
    });
    TestServer {
        addr,
        origin: format!("http://{addr}"),
        state,
        db,
        app,
        task,
    }
}

impl TestServer {
    /// Sends `req` to the server's router in-process (`oneshot`: no socket, no
    /// connection limits), and reads the whole answer.
    pub async fn request(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// POSTs a form-encoded `body` to a server function (`path`) through the router, as
    /// `cookie`'s owner: (status, headers, body).
    pub async fn call(
        &self,
        path: &str,
        body: String,
        cookie: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let r = self.request(req.body(Body::from(body)).unwrap()).await;
        (r.status, r.headers, r.body)
    }

    /// Signs up `name` and returns its session cookie. For tests that are not about
    /// consent (issue 29), anyone may add the account to groups; see
    /// [`Self::sign_up_as_is`] for the default setting.
    pub async fn sign_up(&self, name: &str) -> String {
        let cookie = self.sign_up_as_is(name).await;
        let user = self
            .db
            .store
            .users_by_names(&[name.to_string()])
            .await
            .unwrap()
            .pop()
            .unwrap();
        self.db
            .store
            .set_group_adds(user.id, natter::model::GroupAdds::Anyone)
            .await
            .unwrap();
        cookie
    }

    /// Signs up `name` with the default settings and returns its session cookie.
    pub async fn sign_up_as_is(&self, name: &str) -> String {
        let (status, headers, body) = self
            .call(
                SignUp::PATH,
                format!("username={name}&password=password123"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    /// Signs `name` in (password `password123`) and returns the new session's cookie:
    /// another device of the same account.
    pub async fn sign_in(&self, name: &str) -> String {
        let (status, headers, body) = self
            .call(
                natter::api::auth::SignIn::PATH,
                format!("username={name}&password=password123"),
                None,
            )
            .await;
        assert!(
            status.is_success() || status.is_redirection(),
            "{status}: {body}"
        );
        let set = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    /// Creates a chat (members separated by spaces) and returns its id. For tests that
    /// are not about consent, every member has accepted it (presence flows between
    /// them); see [`Self::create_chat_as_is`].
    pub async fn create_chat(&self, cookie: &str, members: &str, title: &str) -> ChatId {
        let chat = self.create_chat_as_is(cookie, members, title).await;
        for m in self.db.store.members(chat).await.unwrap() {
            self.db
                .store
                .accept_membership(chat, m.user_id)
                .await
                .unwrap();
        }
        chat
    }

    /// Creates a chat as the server function alone does.
    pub async fn create_chat_as_is(&self, cookie: &str, members: &str, title: &str) -> ChatId {
        let body = format!(
            "members={}&title={}",
            members.replace(' ', "+"),
            title.replace(' ', "+")
        );
        let (status, _, body) = self.call(CreateChat::PATH, body, Some(cookie)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ChatId(body.parse().unwrap())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Opens a WebSocket as the owner of `cookie`, reads its `hello`, and resumes with
    /// no positions (as a client that holds nothing yet), waiting for `resumed`.
    pub async fn connect(&self, cookie: &str) -> Client {
        let mut client = self.connect_raw(cookie).await;
        client
            .send(&ClientFrame::Resume {
                positions: Default::default(),
                changes: Default::default(),
            })
            .await;
        match client.next().await {
            ServerFrame::Resumed => client,
            other => panic!("expected resumed, got {other:?}"),
        }
    }

    /// Opens a WebSocket and reads its `hello`; the test sends the first frame itself.
    pub async fn connect_raw(&self, cookie: &str) -> Client {
        let mut client = self
            .try_connect(Some(cookie), Some(&self.origin))
            .await
            .unwrap();
        match client.next().await {
            ServerFrame::Hello { .. } => client,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    pub async fn try_connect(
        &self,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let mut req = self.ws_url().into_client_request().unwrap();
        if let Some(c) = cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        if let Some(o) = origin {
            req.headers_mut().insert(header::ORIGIN, o.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Client { ws })
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(serde_json::to_string(frame).unwrap()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(WsMessage::Text(text.into())).await.unwrap();
    }

    /// The next frame that is not `presence` (5 s at most).
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            let frame = self
                .next_any(Duration::from_secs(5))
                .await
                .expect("a frame within 5 s");
            if !matches!(
                frame,
                ServerFrame::Presence { .. } | ServerFrame::PresenceSnapshot { .. }
            ) {
                return frame;
            }
        }
    }

    /// The next frame of any kind, or `None` after `wait`.
    pub async fn next_any(&mut self, wait: Duration) -> Option<ServerFrame> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                WsMessage::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                WsMessage::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Asserts nothing but presence frames arrive within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            match self.next_any(left).await {
                None => return,
                Some(ServerFrame::Presence { .. }) => continue,
                Some(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// The connection is closed as revoked (4001) within a second; the frames it got
    /// before.
    pub async fn expect_revoked(&mut self) -> Vec<ServerFrame> {
        let (frames, code) = self.until_close(Duration::from_secs(1)).await;
        assert_eq!(
            code,
            Some(natter::model::protocol::close::UNAUTHORIZED),
            "still open: {frames:?}"
        );
        frames
    }

    /// Every frame until the server closes (within `wait`), and the close code (`None`:
    /// still open after `wait`, or the link dropped without a close frame).
    pub async fn until_close(&mut self, wait: Duration) -> (Vec<ServerFrame>, Option<u16>) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut frames = Vec::new();
        loop {
            let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) else {
                return (frames, None);
            };
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    return (frames, frame.map(|f| u16::from(f.code)))
                }
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    frames.push(serde_json::from_str(t.as_str()).unwrap())
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) | Err(_) => return (frames, None),
            }
        }
    }

    /// Sends a frame, ignoring a link the server already closed.
    pub async fn try_send(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).unwrap();
        let _ = self.ws.send(WsMessage::Text(text.into())).await;
    }

    /// Closes from this side and waits for the server's close (as a tab closing).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await
        {}
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
            match tokio::time::timeout(left, self.ws.next()).await.ok()? {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}
