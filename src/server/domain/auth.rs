//! Authentication: argon2id passwords, opaque session tokens and the cookie. The guard
//! that resolves the session once per request is `edge::guard`; server functions reach
//! the signed-in user through `edge::calls`.
//!
//! The session token is 32 random bytes sent to the browser in an HttpOnly, SameSite=Lax
//! cookie; the database stores only its SHA-256, so a leaked table opens no session.

use super::limits::AuthLimits;
use crate::model::{AppError, User};
use crate::server::base::counters::rate_limited;
use crate::server::base::error::{Error, Result};
use crate::server::db::{now_ms, Store};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::OnceLock;

pub const SESSION_COOKIE: &str = "natter_session";
/// The cookie's name over https: the `__Host-` prefix makes the browser refuse it unless
/// it is Secure, has `Path=/` and no `Domain`, so neither a sibling subdomain nor a
/// plain-http page of the same host can plant a session of its choosing.
pub const SECURE_SESSION_COOKIE: &str = "__Host-natter_session";

/// The session cookie's name for a server whose cookies are `secure` (https).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The signed-in user of this request, put in the request extensions by the guard.
#[derive(Clone, Debug)]
pub struct AuthUser(pub User);

/// How long a password check waits for a free core before it is refused (429): a flood
/// of sign-ins is turned away instead of queueing without end.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs an argon2 job on the blocking pool. At most one per core runs at once: each
/// takes ~19 MiB and tens of milliseconds of a core, so a crowd of sign-ins waits in
/// line (at most [`HASH_WAIT`]) instead of exhausting memory and starving everything
/// else.
async fn argon2_job<T: Send + 'static>(
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    static HASHING: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    bounded(
        HASHING.get_or_init(|| tokio::sync::Semaphore::new(cores)),
        HASH_WAIT,
        job,
    )
    .await
}

/// Runs `job` on the blocking pool under a permit of `slots`, waiting at most `wait`.
async fn bounded<T: Send + 'static>(
    slots: &tokio::sync::Semaphore,
    wait: std::time::Duration,
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let _permit = match tokio::time::timeout(wait, slots.acquire()).await {
        Ok(permit) => permit.map_err(|e| Error::internal(format!("hash queue: {e}")))?,
        Err(_) => {
            tracing::info!("password check refused: every core is hashing");
            rate_limited("hash_busy");
            return Err(AppError::RateLimited.into());
        }
    };
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| Error::internal(format!("hash task: {e}")))?
}

/// Hashes a password with argon2id on the blocking pool (it takes tens of milliseconds).
pub async fn hash_password(password: String) -> Result<String> {
    argon2_job(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("argon2 hash: {e}")))
    })
    .await
}

/// Checks a password against a stored hash, on the blocking pool. With no hash (unknown
/// user) it checks against a dummy so both cases cost the same time.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool> {
    argon2_job(move || {
        let known = stored.is_some();
        let hash = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let parsed =
            PasswordHash::new(hash).map_err(|e| Error::internal(format!("stored hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known)
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"natter-dummy-password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// A new random session token (hex) and the hash to store.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The session token from the request's cookies, if any, under `name`.
pub fn token_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(|c| c.ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The session token of a request under the one cookie name that signs in on a server
/// whose cookies are `secure` (the connection code keeps its hash, so it must be the
/// session that the guard let in, never a second cookie beside it).
pub fn session_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    token_named(headers, cookie_name(secure))
}

/// The `Set-Cookie` value that stores a session (or clears it when `token` is `None`).
pub fn session_cookie(token: Option<&str>, max_age_days: i64, secure: bool) -> String {
    let mut c = cookie::Cookie::build((cookie_name(secure), token.unwrap_or("").to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    c = match token {
        Some(_) => c.max_age(cookie::time::Duration::days(max_age_days)),
        None => c.max_age(cookie::time::Duration::ZERO),
    };
    c.build().to_string()
}

/// How sessions are made: how long they last and whether cookies are `Secure`.
#[derive(Clone, Copy, Debug)]
pub struct SessionRules {
    pub days: i64,
    pub secure: bool,
}

/// Creates a session for `user` and returns the `Set-Cookie` value.
pub async fn start_session(store: &Store, rules: SessionRules, user: &User) -> Result<String> {
    let (token, hash) = new_token();
    let days = rules.days.max(1);
    let expires_at = now_ms() + days * 24 * 3600 * 1000;
    store.create_session(&hash, user.id, expires_at).await?;
    Ok(session_cookie(Some(&token), days, rules.secure))
}

/// The user of a request, from its session cookie (over https only the `__Host-`
/// cookie counts).
pub async fn user_from_headers(
    store: &Store,
    secure: bool,
    headers: &HeaderMap,
) -> Result<Option<User>> {
    match token_named(headers, cookie_name(secure)) {
        Some(token) => store.session_user(&hash_token(&token)).await,
        None => Ok(None),
    }
}

/// A signed-in user's password, asked again before something that matters (a new
/// password, deleting the account): limited and counted like a sign-in, so a stolen
/// session is no way to guess it. `wrong` is the message when it does not match.
pub async fn confirm_password(
    store: &Store,
    limits: &AuthLimits,
    ip: Option<IpAddr>,
    user: &User,
    password: String,
    wrong: &str,
) -> Result<()> {
    limits.sign_in(ip, &user.username)?;
    let stored = store
        .user_credentials(&user.username)
        .await?
        .map(|(_, hash)| hash);
    if !verify_password(password, stored).await? {
        limits.sign_in_failed(ip, &user.username);
        return Err(AppError::Invalid(wrong.into()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(h))
            .await
            .unwrap());
        assert!(!verify_password("natter-dummy-password".into(), None)
            .await
            .unwrap());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(hash_token(&a), ha);
    }

    #[test]
    fn cookie_flags() {
        let c = session_cookie(Some("abc"), 30, false);
        assert!(c.contains("natter_session=abc"));
        assert!(c.contains("HttpOnly"));
        assert!(c.contains("SameSite=Lax"));
        assert!(!c.contains("Secure"));
        let secure = session_cookie(Some("abc"), 30, true);
        assert!(secure.starts_with("__Host-natter_session=abc"), "{secure}");
        assert!(secure.contains("Secure") && secure.contains("Path=/"));
        assert!(!secure.contains("Domain"));
        assert!(session_cookie(None, 30, false).contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; natter_session=tok; __Host-natter_session=other"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_token(&h, false).as_deref(), Some("tok"));
        assert_eq!(session_token(&h, true).as_deref(), Some("other"));
    }

    #[tokio::test]
    async fn a_password_check_waits_for_a_core_only_so_long() {
        let slots = tokio::sync::Semaphore::new(1);
        let held = slots.acquire().await.unwrap();
        let wait = std::time::Duration::from_millis(50);
        let refused = bounded(&slots, wait, || Ok(1)).await;
        assert!(
            matches!(refused, Err(Error::App(AppError::RateLimited))),
            "{refused:?}"
        );
        drop(held);
        assert_eq!(bounded(&slots, wait, || Ok(2)).await.unwrap(), 2);
    }
}
