//! The assembled state: the one place that builds every service and every part of the
//! live machinery and wires them together. Only the top layer (`edge`, `conn` and the
//! server functions of `crate::api`) names [`AppState`]; everything below takes the
//! few handles it uses.

use super::config::Config;
use super::db::Store;
use super::domain::admin::Admin;
use super::domain::announce::Announcer;
use super::domain::auth::SessionRules;
use super::domain::broadcast::Broadcaster;
use super::domain::chats::Chats;
use super::domain::commit::Committer;
use super::domain::consent::Consents;
use super::domain::files::{FileRules, Files};
use super::domain::limits::{AuthLimits, UserLimits};
use super::domain::notify::Notifier;
use super::domain::presence::Presence;
use super::domain::profiles::Profiles;
use super::domain::push::{PushRules, Pusher};
use super::live::broker::{Broker, LocalBroker};
use super::live::cluster_presence::{ClusterPresence, Swept};
use super::live::hub::Hub;
use super::live::opens::OpenLimits;
use super::live::redis_broker::RedisBroker;
use super::live::slots::Slots;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Cloned for every request and held by every WebSocket connection, so it is one
/// pointer: a clone is a refcount bump, and a connection keeps 8 bytes of it, not a copy
/// of every field (or an `Arc` of its own: 248 B per idle connection in heaptrack).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

/// What an [`AppState`] points to; its fields are reached through `Deref`.
pub struct AppStateInner {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Store,
    /// This process's open WebSocket connections.
    pub hub: Arc<Hub>,
    /// Caps on open WebSockets per user and per IP.
    pub slots: Arc<Slots>,
    /// Limits on opening live connections per user and per IP.
    pub opens: OpenLimits,
    /// Presence changes, coalesced per user before contacts hear of them.
    pub announcer: Announcer,
    /// Sign-in and sign-up limits per IP and per username.
    pub auth_limits: AuthLimits,
    /// Limits on writes over HTTP (server functions, POSTed frames), per user.
    pub user_limits: UserLimits,
    /// Where fan-out goes (see `live::broker`).
    pub broker: Arc<dyn Broker>,
    /// Who is online on the other nodes (several nodes only; see `live::cluster_presence`).
    pub cluster: Option<Arc<ClusterPresence>>,
    /// Who is told what (`domain::notify`).
    pub notify: Notifier,
    /// Presence: who is online, told to whom (`domain::presence`).
    pub presence: Presence,
    /// The chat rules (`domain::chats`).
    pub chats: Chats,
    /// Blocks, group adds and invitations (`domain::consent`).
    pub consent: Consents,
    /// Files shared in chats (`domain::files`).
    pub files: Files,
    /// Web Push to closed tabs (`domain::push`).
    pub push: Pusher,
    /// The instance's administration (`domain::admin`).
    pub admin: Admin,
    /// Profiles and avatars (`domain::profiles`).
    pub profiles: Profiles,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> Result<Self, Box<dyn std::error::Error>> {
        let mut leptos_options = leptos::config::get_configuration(None)?.leptos_options;
        // cargo-leptos bakes this in at compile time; plain `cargo test` builds lack it.
        leptos_options.output_name = env!("CARGO_PKG_NAME").into();
        leptos_options.site_root = config.site_root.clone().into();
        if let Ok(addr) = config.bind.parse() {
            leptos_options.site_addr = addr;
        }
        let hub = Arc::new(Hub::new());
        let slots = Slots::new(config.ws_max_per_user, config.ws_max_per_ip);
        let opens = OpenLimits::new(config.ws_max_per_user, config.ws_max_per_ip);
        // A revoked session's connections close at once, whichever node revoked it
        // (the broker carries revocations with the cache invalidations).
        let weak_hub = Arc::downgrade(&hub);
        store.on_revoked(move |revoked| match weak_hub.upgrade() {
            Some(hub) => {
                hub.revoke(revoked);
                true
            }
            None => false,
        });
        let auth_limits = AuthLimits::new(config.sign_in_per_minute, config.sign_up_per_minute);
        let broker: Arc<dyn Broker> = match &config.redis_url {
            Some(url) => RedisBroker::start(hub.clone(), store.clone(), url)?,
            None => Arc::new(LocalBroker::new(hub.clone())),
        };
        let (cluster, gone) = match &config.redis_url {
            Some(url) => {
                let ttl = std::time::Duration::from_secs(config.presence_ttl_secs.max(1));
                let (p, gone) = ClusterPresence::start(url, rand::random(), ttl, hub.clone())?;
                (Some(p), Some(gone))
            }
            None => (None, None),
        };
        let user_limits = UserLimits::new(config.ws_send_rate, config.ws_send_burst);
        let notify = Notifier::new(store.clone(), broker.clone());
        let presence = Presence::new(store.clone(), hub.clone(), cluster.clone(), notify.clone());
        let consent = Consents::new(store.clone(), notify.clone(), presence.clone());
        let commit = Committer::start(store.clone(), notify.clone());
        let broadcast = Broadcaster::new(store.clone(), presence.clone());
        let chats = Chats::new(
            store.clone(),
            commit,
            notify.clone(),
            consent.clone(),
            broadcast,
        );
        let blobs = match &config.files_url {
            Some(url) => super::blobs::Blobs::s3(url, &config.files_s3)?,
            None => super::blobs::Blobs::local(&config.files_dir())?,
        };
        tracing::info!(storage = %blobs.label, "files");
        const MB: u64 = 1_000_000;
        let files = Files::new(
            store.clone(),
            blobs,
            FileRules {
                max_bytes: config.file_max_mb.saturating_mul(MB),
                quota_bytes: config.files_quota_mb.saturating_mul(MB),
                uploads_per_minute: config.uploads_per_minute,
                at_once: config.uploads_at_once,
            },
        );
        files.spawn_sweeper();
        let push = Pusher::new(
            store.clone(),
            presence.clone(),
            PushRules {
                allow_prefix: config.push_allow_endpoint.clone(),
                contact: config.public_origin.clone(),
                // PostgreSQL takes ids before commits land (`Store::plan_pushes`).
                settle_ms: if store.backend() == "postgres" {
                    3_000
                } else {
                    0
                },
            },
        )?;
        push.spawn();
        store.spawn_checkpointer();
        store.spawn_session_sweeper();
        let admin = Admin::new(store.clone(), config.signup_mode());
        let profiles = Profiles::new(store.clone());
        let state = AppState(Arc::new(AppStateInner {
            leptos_options,
            config: Arc::new(config),
            store,
            hub,
            slots,
            opens,
            announcer: Announcer::new(presence.clone()),
            auth_limits,
            user_limits,
            broker,
            cluster,
            notify,
            presence,
            chats,
            consent,
            files,
            push,
            admin,
            profiles,
        }));
        if let Some(gone) = gone {
            state.announce_swept(gone);
        }
        Ok(state)
    }

    /// Acts on what the presence sweeper found gone, for as long as this state lives:
    /// users whose node died are announced offline; a dead node's unpublished events
    /// are recovered by every node's connections (`resync`).
    fn announce_swept(&self, mut gone: tokio::sync::mpsc::UnboundedReceiver<Swept>) {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            while let Some(swept) = gone.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                match swept {
                    Swept::User(user) => {
                        if let Err(e) = inner.presence.changed(user, false).await {
                            tracing::warn!(error = %e, "presence update failed");
                        }
                    }
                    Swept::Node => inner.broker.resync_everyone(),
                }
            }
        });
    }
}

impl AppStateInner {
    /// How this server makes sessions.
    pub fn session_rules(&self) -> SessionRules {
        SessionRules {
            days: self.config.session_days,
            secure: self.config.secure_cookies(),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// For leptos_axum's handlers, which take their options from the router's state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
