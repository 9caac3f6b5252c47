//! The instance's administration (issue 34): who may sign up, invitation links, the
//! people on the instance, and the audit log. The pages that show these are rendered on
//! the server only (`ui::plain`), so these types travel as JSON to API clients.

use super::ids::UserId;
use serde::{Deserialize, Serialize};

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupMode {
    /// Anyone who reaches the server (the default).
    Open,
    /// Only with a valid invitation link.
    Invite,
    /// Nobody (administrators still hand out password resets; the command line grants).
    Closed,
}

impl SignupMode {
    pub const ALL: [SignupMode; 3] = [SignupMode::Open, SignupMode::Invite, SignupMode::Closed];

    /// As stored and as written on the command line (`--signup`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Invite => "invite",
            SignupMode::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// What the "Sign-up" select says.
    pub fn label(self) -> &'static str {
        match self {
            SignupMode::Open => "Open: anyone can sign up",
            SignupMode::Invite => "Invitation only",
            SignupMode::Closed => "Closed",
        }
    }
}

/// What the sign-up page needs to know before anyone fills it in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupInfo {
    pub mode: SignupMode,
    /// No administrator was ever made: this account becomes the administrator.
    pub first: bool,
    /// The invitation in the link is valid and was made by this person.
    pub inviter: Option<String>,
}

/// A person as the administration page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: UserId,
    pub username: String,
    pub admin: bool,
    pub deactivated: bool,
    pub created_at: i64,
    pub invited_by: Option<String>,
}

/// One page of people (`admin_people`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    /// Whether another page follows.
    pub more: bool,
}

/// An invitation link that can still be used (the link itself is shown only once, when
/// it is made: only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLink {
    pub id: i64,
    pub inviter: String,
    /// `None`: any number of sign-ups until it expires.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// One administrative action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    /// `None`: the command line (`natter admin grant`).
    pub actor: Option<String>,
    /// `signup_mode`, `invitation_created`, `invitation_revoked`, `deactivated`,
    /// `reactivated`, `reset_link`, `password_reset`, `admin_granted`, `admin_revoked`.
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
}

/// The figures an operator wants at a glance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFigures {
    /// Accounts that are not deleted (deactivated ones included).
    pub people: i64,
    pub chats: i64,
    pub messages: i64,
    /// Bytes of shared files stored.
    pub storage_bytes: i64,
    /// Live connections (WebSocket and SSE) on the node that answered.
    pub connections: i64,
}

/// How many sign-ups an invitation allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationUses {
    Once,
    Many,
}

/// How long invitations and password reset links may be valid, in days.
pub const INVITATION_DAYS: [i64; 3] = [1, 7, 30];
/// How long a password reset link is valid.
pub const RESET_HOURS: i64 = 24;
