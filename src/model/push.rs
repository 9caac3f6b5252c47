//! Web Push as the browser sees it (issue 33).

use serde::{Deserialize, Serialize};

/// What /account and the notifications button need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// The server's VAPID public key, base64url (the browser's `applicationServerKey`).
    pub key: String,
    /// Whether notifications show the start of the text (else "New message").
    pub previews: bool,
    pub devices: Vec<PushDevice>,
}

/// A browser that receives notifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    pub id: i64,
    /// "Chrome on Linux".
    pub device: String,
    pub added_at: i64,
    pub last_used_at: Option<i64>,
    /// The browser asking.
    pub this_browser: bool,
}
