//! Wire types returned by server functions and rendered by the UI.

use super::ids::{ChatId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct User {
    pub id: UserId,
    pub username: String,
}

/// A person's profile, as anyone on the instance sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: UserId,
    pub username: String,
    /// Shown instead of the username where set (the username stays beside it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// A short status line ("On leave until Monday").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// An IANA time zone ("Europe/Berlin"); empty: not said.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    /// The avatar's version (0: none): its pictures are at [`Profile::avatar_url`].
    #[serde(default)]
    pub avatar: i64,
    /// An administrator deactivated the account (no new chat with it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deactivated: bool,
}

impl Profile {
    /// The name to show: the display name, else the username.
    pub fn label(&self) -> &str {
        if self.display_name.is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }

    /// The avatar's address at `side` pixels (one of [`AVATAR_SIDES`]), if there is one.
    pub fn avatar_url(&self, side: u32) -> Option<String> {
        (self.avatar > 0).then(|| format!("/avatars/{}/{side}?v={}", self.id, self.avatar))
    }
}

/// The sizes an avatar is stored in (square, pixels): small beside a name, large on
/// the profile (each shown at half on a 2× screen).
pub const AVATAR_SIDES: [u32; 2] = [64, 256];

/// The signed-in person as pages see them (`current_user`): who, and whether they are
/// an active administrator (the "Administration" link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: UserId,
    pub username: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

/// Direct chats have exactly two members and no title of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatKind {
    Direct,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(ChatKind::Direct),
            "group" => Some(ChatKind::Group),
            _ => None,
        }
    }
}

/// The last message of a chat, shown under its title in the chat list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub sender: String,
    /// Empty when the message was deleted.
    pub body: String,
    pub deleted: bool,
}

/// One entry of the chat list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub id: ChatId,
    pub kind: ChatKind,
    /// Group title, or the other member's username for a direct chat.
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub last_activity_at: i64,
    pub last_seq: i64,
    pub unread: i64,
    /// I muted it: no notifications (the unread count still shows).
    #[serde(default)]
    pub muted: bool,
    /// An unread message mentions me (`@me`).
    #[serde(default)]
    pub mentioned: bool,
    pub preview: Option<Preview>,
}

/// A chat member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Member {
    pub user_id: UserId,
    pub username: String,
    /// Their display name, shown instead of the username (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub display_name: String,
    pub last_read_seq: i64,
    /// An admin of the group (manages members and the title beside the owner, who is
    /// `ChatDetail::creator_id`). Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

impl Member {
    /// The name to show: the display name, else the username.
    pub fn label(&self) -> &str {
        if self.display_name.is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// A chat as seen by one of its members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDetail {
    pub id: ChatId,
    pub kind: ChatKind,
    pub title: String,
    pub creator_id: Option<UserId>,
    pub members: Vec<Member>,
    /// A public channel: listed on /channels, anyone on the instance may join.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
    /// A group's description (its topic), shown in its header; empty: none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Every member may mention `@all` / `@here` (otherwise its owner and admins only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anyone_mentions_all: bool,
    /// I muted it.
    #[serde(default)]
    pub muted: bool,
    pub last_seq: i64,
    /// The chat's change number when this was read: a client's copy of the chat is
    /// current to it (where `resume` starts for edits, deletes, read pointers, members).
    pub last_change: i64,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    /// Position in the chat: 1, 2, 3 … without gaps.
    pub seq: i64,
    pub sender_id: UserId,
    pub sender: String,
    /// The id the sending client chose; a retry with the same id is a no-op.
    pub client_id: String,
    /// Empty when deleted.
    pub body: String,
    /// Server time, milliseconds since the Unix epoch.
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// The message this one answers (as it is now: a deleted original says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<ReplyTo>>,
    /// Emoji reactions, in the order they were first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The body's formatting, parsed by the server, when the body has Markdown
    /// (`markup::needs_parser`); without it the body reads as plain text
    /// (`markup::parse_plain`). Never set for a deleted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<Vec<crate::model::markup::Block>>,
    /// Files sent with it, in the order the sender attached them (none once deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    /// An `@all` / `@here` that notified the group, on the live frame only (not stored:
    /// the chat list and pushes read the recorded mentions). The tabs that get it were
    /// among those it meant: `@here` is everyone connected when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Broadcast>,
}

/// A mention of a whole group: `@all` (every member) or `@here` (every member online).
/// Only a group's owner and admins may (or every member, per the group's setting), and
/// at most once per [`BROADCAST_EVERY_MS`] per group; otherwise the words stay text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Broadcast {
    All,
    Here,
}

/// How often a group may be notified by `@all` / `@here`.
pub const BROADCAST_EVERY_MS: i64 = 5 * 60 * 1000;

impl Broadcast {
    /// The broadcast a message's mentioned names ask for (`@all` before `@here`).
    pub fn asked(names: &[String]) -> Option<Broadcast> {
        if names.iter().any(|n| n == "all") {
            Some(Broadcast::All)
        } else if names.iter().any(|n| n == "here") {
            Some(Broadcast::Here)
        } else {
            None
        }
    }

    /// Whether `name` is one of the group words (no person is mentioned by it).
    pub fn is_word(name: &str) -> bool {
        matches!(name, "all" | "here")
    }
}

/// A stored file, as members see it. Its bytes are at [`FileInfo::url`] (members only).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: crate::model::FileId,
    /// The name it was uploaded under, made safe (see `validate::file_name`).
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// The type the server found in its first bytes (never the name's or the client's).
    pub mime: String,
    /// Pixels, for an image of the safe subset (PNG, JPEG, GIF, WebP): the page reserves
    /// its box before it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Whether a thumbnail exists (`/thumbs/ID`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumb: bool,
}

impl FileInfo {
    /// Where members fetch it; the name is only for the browser's download name.
    pub fn url(&self) -> String {
        let name: String = form_urlencoded::byte_serialize(self.name.as_bytes()).collect();
        format!("/files/{}/{}", self.id, name)
    }

    pub fn thumb_url(&self) -> String {
        format!("/thumbs/{}", self.id)
    }

    /// An image shown inline (a thumbnail was made from it).
    pub fn is_image(&self) -> bool {
        self.thumb && self.width.is_some() && self.height.is_some()
    }
}

/// "2.5 MB", "340 KB", "12 bytes": a file's size for people.
pub fn size_label(bytes: i64) -> String {
    const KB: i64 = 1000;
    const MB: i64 = 1000 * KB;
    if bytes >= MB {
        format!("{}.{} MB", bytes / MB, (bytes % MB) / (MB / 10))
    } else if bytes >= KB {
        format!("{} KB", bytes / KB)
    } else if bytes == 1 {
        "1 byte".into()
    } else {
        format!("{bytes} bytes")
    }
}

/// What a reply shows of its original: who wrote it and its first line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplyTo {
    pub id: MessageId,
    pub seq: i64,
    pub sender: String,
    /// The original's first line, shortened; empty when it was deleted.
    pub snippet: String,
    pub deleted: bool,
}

/// Longest reply snippet, in characters.
pub const REPLY_SNIPPET_CHARS: usize = 100;

impl ReplyTo {
    pub fn of(original: &Message) -> Self {
        ReplyTo {
            id: original.id,
            seq: original.seq,
            sender: original.sender.clone(),
            snippet: if original.deleted {
                String::new()
            } else {
                snippet(&original.body)
            },
            deleted: original.deleted,
        }
    }
}

/// A body's first non-empty line, cut to [`REPLY_SNIPPET_CHARS`] characters.
pub fn snippet(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > REPLY_SNIPPET_CHARS {
        let cut: String = line.chars().take(REPLY_SNIPPET_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// One emoji on a message and who gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    /// Usernames, in the order they reacted (the count is their number).
    pub users: Vec<String>,
}

/// Number of messages in one page of history.
pub const PAGE_SIZE: i64 = 50;

/// A page of history, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    /// Whether messages older than the first one exist.
    pub has_more: bool,
    /// Whether messages newer than the last one exist (a page opened at a message).
    #[serde(default)]
    pub has_newer: bool,
}

/// Everything the conversation view needs on first render.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatView {
    pub me: User,
    pub chat: ChatDetail,
    pub page: HistoryPage,
    /// A direct chat whose other member I blocked (the header offers "Unblock").
    #[serde(default)]
    pub blocked: bool,
}

/// One message found by search, with the words that matched marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chat_id: ChatId,
    /// As in the chat list: the group's title or the other member's name.
    pub chat_title: String,
    pub message_id: MessageId,
    pub seq: i64,
    pub sender: String,
    pub created_at: i64,
    /// The message text (or the part around the matches), in pieces: `true` for the
    /// pieces that matched the query.
    pub snippet: Vec<(String, bool)>,
}

/// Unread messages are counted up to this many per chat (the list shows "999+"):
/// counting a channel never read would walk all of its history on every list.
pub const UNREAD_CAP: i64 = 1000;

/// An unread count as the chat list shows it.
pub fn unread_label(unread: i64) -> String {
    if unread >= UNREAD_CAP {
        format!("{}+", UNREAD_CAP - 1)
    } else {
        unread.to_string()
    }
}

/// Hits per page of search results.
pub const SEARCH_PAGE_SIZE: i64 = 20;

/// A page of search results, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<MessageId>,
}

/// A public channel as the directory (/channels) lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChatId,
    pub title: String,
    pub description: String,
    pub members: i64,
    /// The person asking is a member.
    pub joined: bool,
}
