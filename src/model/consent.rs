//! Consent (issue 29): who may add me to groups, whom I blocked, the groups I am
//! invited to. Shared by the server functions and the account page.

use super::ids::{ChatId, UserId};
use serde::{Deserialize, Serialize};

/// Who may add me to a group directly; anyone else's add becomes an [`Invitation`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupAdds {
    Anyone,
    /// People I share a chat with that I accepted (created, opened, wrote in, or joined
    /// by accepting): a stranger who only opened a direct chat with me does not count.
    #[default]
    Shared,
    Nobody,
}

impl GroupAdds {
    pub const ALL: [GroupAdds; 3] = [GroupAdds::Anyone, GroupAdds::Shared, GroupAdds::Nobody];

    /// The stored and submitted form.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupAdds::Anyone => "anyone",
            GroupAdds::Shared => "shared",
            GroupAdds::Nobody => "nobody",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GroupAdds::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// What the account page shows.
    pub fn label(self) -> &'static str {
        match self {
            GroupAdds::Anyone => "Anyone",
            GroupAdds::Shared => "People I share a chat with",
            GroupAdds::Nobody => "Nobody",
        }
    }
}

/// A group someone wanted to add me to; I am not a member until I accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Invitation {
    pub chat_id: ChatId,
    pub title: String,
    /// Who added me.
    pub inviter: String,
    pub created_at: i64,
}

/// Someone I blocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Blocked {
    pub user_id: UserId,
    pub username: String,
}

/// My consent settings and lists, for the account page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub group_adds: GroupAdds,
    pub blocked: Vec<Blocked>,
}

/// What adding someone to a group did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberAdded {
    /// They are a member now.
    Added,
    /// Their setting did not allow it: they were invited, and join if they accept.
    Invited,
}
