//! Web Push (issue 33): notifications that reach a person whose natter tab is closed,
//! through their browser's push service (RFC 8030), encrypted for that browser alone
//! (RFC 8291) and signed with the server's VAPID key (RFC 8292). No relay of ours: the
//! push service is the only hop.
//!
//! - Subscribing: a browser's endpoint is a URL the server will POST to, so it is
//!   checked like any URL a user hands the server ([`check_endpoint`]): `https://` on a
//!   public address only (or the one prefix an operator or a test allows), checked
//!   again at every connection ([`guard`]: the resolver drops private addresses, so a
//!   name that later points inward is refused), and no redirects are followed.
//! - Planning: between messages the planner turns the new ones that notify someone (a
//!   direct message, a mention; never muted, never one's own) into queued pushes
//!   (`db/push.rs`): off the live path, durable from the moment they are queued.
//! - Sending: claimed rows go out with back-off on failure; a subscription the push
//!   service calls gone (404, 410) is deleted; nothing is sent to a person with a
//!   visible natter tab (it already shows the message); a subscription gets a push
//!   [`GAP_MS`] after its last at the earliest (20 a minute), the rest wait, and a newer
//!   one for the same chat replaces the older's payload.

pub mod guard;

use super::presence::Presence;
use crate::model::{AppError, ChatId, UserId};
use crate::server::base::error::{Error, Result};
use crate::server::db::{Claimed, Notifying, PushOutcome, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::Claims;

/// Subscriptions a person may have (the oldest goes beyond).
pub const SUBSCRIPTIONS_PER_USER: i64 = 10;
/// A payload's bytes before encryption: within the 4 KB that every push service takes
/// once the encryption's overhead (86 bytes) is added.
pub const MAX_PAYLOAD: usize = 3000;
/// Characters of the message's text in a preview.
const PREVIEW_CHARS: usize = 160;
/// The least time between two pushes to one subscription.
pub const GAP_MS: i64 = 3_000;
/// How long a push service may keep a push for an offline browser.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// Attempts before a push is given up.
const MAX_ATTEMPTS: i64 = 8;
/// A claim's length: a node that dies mid-send leaves its pushes to others after it.
const CLAIM_MS: i64 = 60_000;
/// How long a push service may keep a clear.
const CLEAR_TTL: Duration = Duration::from_secs(60);
/// Clears are planned every this many steps (seconds).
const CLEAR_EVERY_STEPS: u64 = 5;
/// A shown notification the person has not read after this long is not cleared.
const FORGET_SHOWN_MS: i64 = 7 * 24 * 3600 * 1000;
/// Push services whose browsers tolerate a push that closes a notification and shows
/// none (a "clear"): Chromium's (FCM) allows a few such pushes within its budget of
/// site engagement and shows a generic notice only past it, while Firefox counts them
/// against a quota that ends the subscription and Safari revokes it on the spot.
const CLEARABLE_HOSTS: [&str; 1] = ["fcm.googleapis.com"];
/// A push service's answer time (a stalling endpoint must not hold the queue).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Pushes in flight at once on a node (a few stalling endpoints cannot hold up the rest).
const SENDING_AT_ONCE: usize = 16;

/// The rules an operator sets.
#[derive(Clone, Debug, Default)]
pub struct PushRules {
    /// One more endpoint prefix allowed besides public `https://` (`--push-allow-endpoint`).
    pub allow_prefix: Option<String>,
    /// The VAPID `sub`: how a push service reaches the operator (the public origin).
    pub contact: String,
    /// Messages newer than this are not planned yet (PostgreSQL: ids are taken before
    /// commits land, see `Store::plan_pushes`).
    pub settle_ms: i64,
}

/// How a clear's payload begins (see [`Pusher::clear_payload`]; `kind` is the first
/// field).
const CLEAR_PREFIX: &str = r#"{"kind":"clear""#;

/// Whether a clear may go to this endpoint ([`CLEARABLE_HOSTS`], or the operator's own
/// push service under `--push-allow-endpoint`).
fn clearable(endpoint: &str, allow_prefix: Option<&str>) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    allow_prefix.is_some_and(|p| url.as_str().starts_with(p))
        || (url.scheme() == "https" && url.host_str().is_some_and(|h| CLEARABLE_HOSTS.contains(&h)))
}

/// What is pushed: JSON the service worker reads.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// `"message"`, or `"clear"`: close the chat's notification, show nothing.
    pub kind: String,
    pub chat_id: ChatId,
    /// "alice", or "alice in Team".
    pub title: String,
    /// The start of the text, or "New message" (private previews).
    pub body: String,
    /// Where a click goes.
    pub url: String,
    /// One notification per chat: a newer one replaces it.
    pub tag: String,
}

/// The server's VAPID key pair, and its public half as browsers want it (base64url).
struct Vapid {
    pair: ES256KeyPair,
    public: String,
}

/// The service (cheap to clone).
#[derive(Clone)]
pub struct Pusher {
    store: Store,
    presence: Presence,
    /// Read from the database (or made there) on first use: every node signs alike.
    vapid: Arc<OnceCell<Vapid>>,
    http: reqwest::Client,
    rules: Arc<PushRules>,
    /// Steps taken (clears are planned every [`CLEAR_EVERY_STEPS`]).
    steps: Arc<std::sync::atomic::AtomicU64>,
}

impl Pusher {
    pub fn new(store: Store, presence: Presence, rules: PushRules) -> Result<Self> {
        if let Some(prefix) = &rules.allow_prefix {
            if !prefix.ends_with('/') || url::Url::parse(prefix).is_err() {
                return Err(Error::internal(format!(
                    "--push-allow-endpoint must be a URL ending in /, not {prefix:?}"
                )));
            }
        }
        Ok(Pusher {
            store,
            presence,
            vapid: Arc::default(),
            http: guard::client(SEND_TIMEOUT)?,
            rules: Arc::new(rules),
            steps: Arc::default(),
        })
    }

    async fn vapid(&self) -> Result<&Vapid> {
        self.vapid
            .get_or_try_init(|| async {
                let (private, _) = self
                    .store
                    .vapid_key(|| {
                        let kp = ES256KeyPair::generate();
                        (
                            kp.to_bytes(),
                            kp.public_key().public_key().to_bytes_uncompressed(),
                        )
                    })
                    .await?;
                let pair = ES256KeyPair::from_bytes(&private)
                    .map_err(|e| Error::internal(format!("VAPID key: {e}")))?;
                let public = base64url(&pair.public_key().public_key().to_bytes_uncompressed());
                Ok::<_, Error>(Vapid { pair, public })
            })
            .await
    }

    /// The VAPID public key, for the browser's `applicationServerKey`.
    /// `user`'s browsers that get notifications; `session` (the hash of the asking
    /// session's token) marks "this browser".
    pub async fn devices(
        &self,
        user: crate::model::UserId,
        session: Option<&[u8]>,
    ) -> Result<Vec<crate::model::PushDevice>> {
        Ok(self
            .store
            .push_devices(user)
            .await?
            .into_iter()
            .map(|d| crate::model::PushDevice {
                id: d.id,
                this_browser: session == Some(d.session_hash.as_slice()),
                device: d.device,
                added_at: d.created_at,
                last_used_at: d.last_used_at,
            })
            .collect())
    }

    pub async fn public_key(&self) -> Result<String> {
        Ok(self.vapid().await?.public.clone())
    }

    /// Saves a browser's subscription for `user`'s session.
    pub async fn subscribe(
        &self,
        user: UserId,
        session_hash: &[u8],
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        user_agent: &str,
    ) -> Result<()> {
        let endpoint = guard::check_endpoint(endpoint, self.rules.allow_prefix.as_deref()).await?;
        let p256dh = unbase64url(p256dh)
            .filter(|k| {
                k.len() == 65 && web_push_native::p256::PublicKey::from_sec1_bytes(k).is_ok()
            })
            .ok_or_else(|| {
                AppError::invalid("The subscription's p256dh key is not a P-256 point")
            })?;
        let auth = unbase64url(auth)
            .filter(|a| a.len() == 16)
            .ok_or_else(|| AppError::invalid("The subscription's auth secret is not 16 bytes"))?;
        self.store
            .add_push_subscription(
                user,
                session_hash,
                &endpoint,
                &p256dh,
                &auth,
                &device_name(user_agent),
                SUBSCRIPTIONS_PER_USER,
            )
            .await?;
        Ok(())
    }

    /// The payload of one push: who, which chat, the start of the text unless the
    /// person chose private previews; cut to fit.
    pub fn payload(n: &Notifying) -> String {
        let title = match (n.kind.as_str(), &n.title) {
            ("group", Some(t)) => format!("{} in {t}", n.sender),
            _ => n.sender.clone(),
        };
        let body = if n.previews {
            let text: String = n.body.chars().take(PREVIEW_CHARS).collect();
            if text.len() < n.body.len() {
                format!("{text}…")
            } else {
                text
            }
        } else {
            "New message".to_string()
        };
        let mut p = Payload {
            kind: "message".into(),
            chat_id: n.chat_id,
            title: title.chars().take(200).collect(),
            body,
            url: format!("/chats/{}", n.chat_id),
            tag: format!("chat-{}", n.chat_id),
        };
        let mut json = serde_json::to_string(&p).unwrap_or_default();
        // Escapes can make JSON longer than the characters: shorten until it fits.
        while json.len() > MAX_PAYLOAD && !p.body.is_empty() {
            let keep = p.body.chars().count() / 2;
            p.body = p.body.chars().take(keep).collect();
            json = serde_json::to_string(&p).unwrap_or_default();
        }
        json
    }

    /// A clear: the service worker closes the chat's notification and shows nothing.
    pub fn clear_payload(chat: ChatId) -> String {
        let p = Payload {
            kind: "clear".into(),
            chat_id: chat,
            title: String::new(),
            body: String::new(),
            url: format!("/chats/{chat}"),
            tag: format!("chat-{chat}"),
        };
        serde_json::to_string(&p).unwrap_or_default()
    }

    /// Runs the planner and the sender for as long as the process lives (every node:
    /// claims keep two nodes from sending the same push).
    pub fn spawn(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                // Every second: new messages (of any node), retries coming due. A push
                // waits a second at most for its turn, never the live path for a push.
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Err(e) = me.step().await {
                    tracing::warn!(error = %e, "push step failed");
                }
            }
        });
    }

    /// One round: plan what is new, then send what is due; how many went out.
    pub async fn step(&self) -> Result<usize> {
        let settled = crate::server::db::now_ms() - self.rules.settle_ms;
        // A planner that fails (a database hiccup) never keeps what is queued from going.
        if let Err(e) = self
            .store
            .plan_pushes(1000, settled + 1, GAP_MS, Self::payload)
            .await
        {
            tracing::warn!(error = %e, "push planning failed");
        }
        // Clears every few seconds (a read's clear is not urgent; the scan is not free).
        let step = self
            .steps
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if step.is_multiple_of(CLEAR_EVERY_STEPS) {
            if let Err(e) = self
                .store
                .plan_clears(
                    GAP_MS,
                    FORGET_SHOWN_MS,
                    |e| clearable(e, self.rules.allow_prefix.as_deref()),
                    Self::clear_payload,
                )
                .await
            {
                tracing::warn!(error = %e, "push clear planning failed");
            }
        }
        let mut sent = 0;
        loop {
            let claimed = self.store.claim_pushes(32, CLAIM_MS).await?;
            if claimed.is_empty() {
                return Ok(sent);
            }
            let outcomes: Vec<(Claimed, PushOutcome)> =
                futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
                    futures::stream::iter(claimed.into_iter().map(|push| async move {
                        // A clear goes even to someone looking at natter: it closes a
                        // notification on another of their browsers.
                        // (Nor does the message's fate matter to it: a deleted one's
                        // notification must go all the more.)
                        let clear = push.payload.starts_with(CLEAR_PREFIX);
                        if !clear
                            && (!push.live || self.presence.any_tab_visible(push.user_id).await)
                        {
                            // Moot (deleted, muted, left), or the open tab shows it.
                            return (push, PushOutcome::Dropped);
                        }
                        let outcome = self.send(&push).await;
                        (push, outcome)
                    })),
                    SENDING_AT_ONCE,
                ))
                .await;
            sent += outcomes
                .iter()
                .filter(|(_, o)| matches!(o, PushOutcome::Sent { .. }))
                .count();
            // One write for the whole batch (see `Store::push_outcomes`).
            self.store.push_outcomes(&outcomes, GAP_MS).await?;
        }
    }

    /// Sends one push; what became of it (written by the caller with the rest).
    async fn send(&self, push: &Claimed) -> PushOutcome {
        let outcome = self.post(push).await;
        let now = crate::server::db::now_ms();
        match outcome {
            Ok(status) if (200..300).contains(&status) => PushOutcome::Sent {
                shown: !push.payload.starts_with(CLEAR_PREFIX)
                    && clearable(&push.endpoint, self.rules.allow_prefix.as_deref()),
            },
            Ok(404 | 410) => {
                tracing::info!(
                    subscription = push.subscription_id,
                    "push subscription gone"
                );
                PushOutcome::Gone
            }
            Ok(400 | 403 | 413) => {
                tracing::warn!(subscription = push.subscription_id, "push refused for good");
                PushOutcome::Dropped
            }
            other => {
                if push.attempts + 1 >= MAX_ATTEMPTS {
                    tracing::warn!(subscription = push.subscription_id, ?other, "push given up");
                    PushOutcome::Dropped
                } else {
                    // 2 s, 4 s, … 256 s.
                    let backoff = 2_000i64 << push.attempts.clamp(0, 7);
                    tracing::info!(
                        subscription = push.subscription_id,
                        ?other,
                        "push retried later"
                    );
                    PushOutcome::Retry(now + backoff)
                }
            }
        }
    }

    /// The request to the push service: the payload encrypted for the browser, the
    /// VAPID header; the service's status, or why there was none.
    async fn post(&self, push: &Claimed) -> std::result::Result<u16, String> {
        let ua_public = web_push_native::p256::PublicKey::from_sec1_bytes(&push.p256dh)
            .map_err(|e| e.to_string())?;
        if push.auth.len() != 16 {
            return Err("the subscription's auth secret is not 16 bytes".into());
        }
        let auth = web_push_native::Auth::clone_from_slice(&push.auth);
        let body = web_push_native::encrypt(push.payload.clone().into_bytes(), &ua_public, &auth)
            .map_err(|e| e.to_string())?;
        let vapid = self.vapid_header(&push.endpoint).await?;
        // A clear is worth nothing to a browser that comes back hours later (it would
        // be a push that shows nothing): it lives a minute, and wakes no one.
        let (ttl, urgency) = if push.payload.starts_with(CLEAR_PREFIX) {
            (CLEAR_TTL, "normal")
        } else {
            (TTL, "high")
        };
        let res = self
            .http
            .post(&push.endpoint)
            .header("TTL", ttl.as_secs())
            .header("Urgency", urgency)
            .header("Topic", format!("chat-{}", push.chat_id))
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", vapid)
            .body(body)
            .send()
            .await
            // Without the URL: an endpoint is a capability, not for the logs.
            .map_err(|e| e.without_url().to_string())?;
        Ok(res.status().as_u16())
    }

    /// `vapid t=JWT, k=KEY` (RFC 8292): `aud` is the endpoint's origin, port included.
    async fn vapid_header(&self, endpoint: &str) -> std::result::Result<String, String> {
        let vapid = self.vapid().await.map_err(|e| e.to_string())?;
        let url = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
        let origin = url.origin().ascii_serialization();
        let claims = Claims::create(Duration::from_secs(12 * 3600).into())
            .with_audience(origin)
            .with_subject(self.rules.contact.clone());
        let token = vapid.pair.sign(claims).map_err(|e| e.to_string())?;
        Ok(format!("vapid t={token}, k={}", vapid.public))
    }
}

/// "Chrome on Linux" from a User-Agent (what /account lists); never more than 60
/// characters of it, and only words the list below knows.
pub fn device_name(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map_or("A browser", |(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    match system {
        Some(s) => format!("{browser} on {s}"),
        None => browser.to_string(),
    }
}

pub fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

fn unbase64url(text: &str) -> Option<Vec<u8>> {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::decode_vec(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_go_only_where_the_platform_allows_a_push_that_shows_nothing() {
        let mine = Some("http://127.0.0.1:9/push/");
        assert!(clearable("https://fcm.googleapis.com/fcm/send/abc", None));
        assert!(clearable("http://127.0.0.1:9/push/x", mine));
        // Firefox's and Safari's services count or revoke such pushes.
        assert!(!clearable(
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            mine
        ));
        assert!(!clearable("https://web.push.apple.com/x", None));
        assert!(!clearable("http://fcm.googleapis.com/fcm/send/abc", None));
        assert!(!clearable(
            "https://fcm.googleapis.com.evil.example/x",
            None
        ));
        assert!(!clearable("http://127.0.0.1:9/elsewhere", mine));
        assert!(Pusher::clear_payload(ChatId(4)).starts_with(CLEAR_PREFIX));
    }
}
