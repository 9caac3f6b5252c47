//! `chats`: direct chats and groups, the chat list, one chat as a member sees it.
//! Membership and read pointers are in `members.rs`.

use super::write_tx::BeginWrite;
use super::{now_ms, Invalidation, Pool, Store};
use crate::model::{ChatDetail, ChatId, ChatKind, ChatSummary, Member, Preview, UserId};
use crate::server::base::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: ChatId,
    kind: String,
    title: Option<String>,
    other_name: Option<String>,
    last_activity_at: i64,
    last_seq: i64,
    unread: i64,
    last_sender: Option<String>,
    last_body: Option<String>,
    last_deleted: Option<bool>,
    muted: bool,
    mentioned: bool,
}

/// The chat list's query (binds: $1 user, $2 one chat or NULL for all): a macro, so
/// `EXPLAIN QUERY PLAN` can be put before it (see [`Store::chat_list_plan`]).
///
/// `mentioned`: an unread message mentions the reader, as the message's formatting
/// shows it (`@name` as a whole name, not in code). The names were parsed when the
/// message was stored (`mentions.rs`), so this is one search of the index
/// `mentions_user` past the read pointer, whatever the number of unread messages.
macro_rules! summaries_sql {
    () => {
        "SELECT c.id, c.kind, c.title, c.last_activity_at, c.last_seq,
                -- Only a title needs the other member (a channel of 10 000 would sort
                -- all of them for a name nobody shows).
                CASE WHEN c.kind = 'direct' OR c.title IS NULL THEN
                  (SELECT COALESCE(NULLIF(u.display_name, ''), u.username) FROM chat_members o JOIN users u ON u.id = o.user_id
                    WHERE o.chat_id = c.id AND o.user_id != m.user_id
                    ORDER BY o.joined_at, o.user_id LIMIT 1) END AS other_name,
                -- Counted up to UNREAD_CAP: a channel never read costs the same as one
                -- with a thousand unread, not a walk over all of its history. In seq
                -- order, so PostgreSQL walks (chat_id, seq) and stops at the cap; left to
                -- itself it gathered a bitmap of the chat's rows first (100 ms a list at
                -- ten million messages).
                (SELECT COUNT(*) FROM (SELECT 1 FROM messages x
                  WHERE x.chat_id = c.id AND x.seq > m.last_read_seq
                    AND x.sender_id != m.user_id AND x.deleted_at IS NULL
                  ORDER BY x.seq LIMIT 1000) AS capped) AS unread,
                COALESCE(NULLIF(lu.display_name, ''), lu.username) AS last_sender,
                -- The start of the newest message is all a preview shows.
                substr(lm.body, 1, 200) AS last_body,
                (lm.deleted_at IS NOT NULL) AS last_deleted,
                m.muted,
                EXISTS (SELECT 1 FROM mentions n
                  WHERE n.user_id = m.user_id AND n.chat_id = c.id
                    AND n.seq > m.last_read_seq) AS mentioned
             FROM chat_members m
             JOIN chats c ON c.id = m.chat_id
             LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq
             LEFT JOIN users lu ON lu.id = lm.sender_id
             WHERE m.user_id = $1 AND ($2 IS NULL OR c.id = $2)
             ORDER BY c.last_activity_at DESC, c.id DESC"
    };
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: ChatId,
    kind: String,
    title: Option<String>,
    creator_id: Option<UserId>,
    last_seq: i64,
    last_change: i64,
    public: bool,
    description: String,
}

pub(super) fn kind(s: &str) -> Result<ChatKind> {
    ChatKind::parse(s).ok_or_else(|| Error::internal(format!("unknown chat kind {s:?}")))
}

/// The other member's name titles a direct chat; a group without a title lists its members.
pub(super) fn display_title(
    kind: ChatKind,
    title: Option<String>,
    other: Option<String>,
) -> String {
    match (kind, title) {
        (ChatKind::Group, Some(t)) => t,
        (_, _) => other.unwrap_or_else(|| "(nobody)".into()),
    }
}

/// Deletes chat `$1` (its members and messages go with it, by cascade) when no member
/// with an account is left: nobody can ever see it again.
pub(super) const DELETE_IF_ABANDONED: &str = "DELETE FROM chats WHERE id = $1 AND NOT EXISTS (
    SELECT 1 FROM chat_members m JOIN users u ON u.id = m.user_id
    WHERE m.chat_id = $1 AND u.deleted_at IS NULL)";

impl Store {
    /// Deletes `chat` if nobody with an account is left in it (the last member left a
    /// group); whether it went.
    pub async fn delete_if_abandoned(&self, chat: ChatId) -> Result<bool> {
        let gone = on_pool!(&self.pool, p => {
            sqlx::query(DELETE_IF_ABANDONED).bind(chat).execute(p).await?.rows_affected()
        });
        Ok(gone > 0)
    }

    /// The direct chat between two users, created on first use.
    pub async fn find_or_create_dm(&self, me: UserId, other: UserId) -> Result<(ChatId, bool)> {
        let key = format!("{}:{}", me.0.min(other.0), me.0.max(other.0));
        if let Some(id) = self.dm_by_key(&key).await? {
            return Ok((id, false));
        }
        let now = now_ms();
        let created: Option<ChatId> = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let inserted: Option<(ChatId,)> = sqlx::query_as(
                "INSERT INTO chats (kind, dm_key, creator_id, last_activity_at, created_at)
                 VALUES ('direct', $1, $2, $3, $3) ON CONFLICT (dm_key) DO NOTHING RETURNING id",
            )
            .bind(&key)
            .bind(me)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id,)) = inserted {
                for user in [me, other] {
                    sqlx::query(
                        "INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES ($1, $2, $3)",
                    )
                    .bind(id)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
            Ok::<_, Error>(inserted.map(|r| r.0))
        })?;
        let Some(id) = created else {
            // Another request created it between our look-up and insert.
            let id = self
                .dm_by_key(&key)
                .await?
                .ok_or_else(|| Error::internal("dm vanished"))?;
            return Ok((id, false));
        };
        self.invalidate(Invalidation::Members(id));
        Ok((id, true))
    }

    async fn dm_by_key(&self, key: &str) -> Result<Option<ChatId>> {
        let row: Option<(ChatId,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT id FROM chats WHERE dm_key = $1")
                .bind(key)
                .fetch_optional(p)
                .await
        })?;
        Ok(row.map(|r| r.0))
    }

    /// A new group with its creator and members.
    pub async fn create_group(
        &self,
        creator: UserId,
        title: Option<&str>,
        members: &[UserId],
    ) -> Result<ChatId> {
        let now = now_ms();
        let id = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            let (id,): (ChatId,) = sqlx::query_as(
                "INSERT INTO chats (kind, title, creator_id, last_activity_at, created_at)
                 VALUES ('group', $1, $2, $3, $3) RETURNING id",
            )
            .bind(title)
            .bind(creator)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for user in std::iter::once(&creator).chain(members.iter().filter(|m| **m != creator)) {
                sqlx::query(
                    // Accepted: the creator by creating it, the others because their
                    // own setting let the creator add them (else they were invited).
                    "INSERT INTO chat_members (chat_id, user_id, joined_at, accepted)
                     VALUES ($1, $2, $3, TRUE) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(*user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, Error>(id)
        })?;
        self.invalidate(Invalidation::Members(id));
        Ok(id)
    }

    /// The user's chats, most recently active first, with preview and unread count.
    pub async fn list_chats(&self, user: UserId) -> Result<Vec<ChatSummary>> {
        self.summaries(user, None).await
    }

    /// Mutes or unmutes `chat` for `user` (a member); whether they are a member.
    pub async fn set_muted(&self, chat: ChatId, user: UserId, muted: bool) -> Result<bool> {
        let done = on_pool!(&self.pool, p => {
            sqlx::query("UPDATE chat_members SET muted = $3 WHERE chat_id = $1 AND user_id = $2")
                .bind(chat)
                .bind(user)
                .bind(muted)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// One chat's list entry, as `user` sees it (`None` for a non-member).
    pub async fn chat_summary(&self, chat: ChatId, user: UserId) -> Result<Option<ChatSummary>> {
        Ok(self.summaries(user, Some(chat)).await?.pop())
    }

    /// How SQLite runs the chat list's query (the `detail` of each `EXPLAIN QUERY PLAN`
    /// row), for the test that its mention check is an index search whatever the
    /// unread count; empty on PostgreSQL.
    #[doc(hidden)]
    pub async fn chat_list_plan(&self, user: UserId) -> Result<Vec<String>> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(Vec::new());
        };
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(concat!("EXPLAIN QUERY PLAN ", summaries_sql!()))
                .bind(user)
                .bind(None::<ChatId>)
                .fetch_all(p)
                .await?;
        Ok(rows.into_iter().map(|r| r.3).collect())
    }

    async fn summaries(&self, user: UserId, only: Option<ChatId>) -> Result<Vec<ChatSummary>> {
        let rows = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, SummaryRow>(
            summaries_sql!(),
            )
            .bind(user)
            .bind(only)
            .fetch_all(p)
            .await
        })?;
        rows.into_iter()
            .map(|r| {
                let k = kind(&r.kind)?;
                let deleted = r.last_deleted.unwrap_or(false);
                Ok(ChatSummary {
                    id: r.id,
                    kind: k,
                    title: display_title(k, r.title, r.other_name),
                    last_activity_at: r.last_activity_at,
                    last_seq: r.last_seq,
                    unread: r.unread,
                    muted: r.muted,
                    mentioned: r.mentioned,
                    preview: r.last_sender.map(|sender| Preview {
                        sender,
                        body: if deleted {
                            String::new()
                        } else {
                            r.last_body.unwrap_or_default()
                        },
                        deleted,
                    }),
                })
            })
            .collect()
    }

    /// The chat as `user` sees it, with its members, or `None` when it does not exist or
    /// `user` is not a member: one query (chat columns on every member row), as the
    /// conversation page runs it on every view.
    pub async fn chat_for_member(&self, chat: ChatId, user: UserId) -> Result<Option<ChatDetail>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            chat: ChatRow,
            #[sqlx(flatten)]
            member: Member,
            my_muted: bool,
            anyone_mentions_all: bool,
        }
        let rows = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, Row>(
            "SELECT c.id, c.kind, c.title, c.creator_id, c.last_seq, c.last_change,
                    c.public, c.description, c.anyone_mentions_all,
                    m.user_id, u.username, u.display_name, m.last_read_seq, (m.role = 'admin') AS admin,
                    (SELECT me.muted FROM chat_members me
                      WHERE me.chat_id = c.id AND me.user_id = $2) AS my_muted
             FROM chats c JOIN chat_members m ON m.chat_id = c.id JOIN users u ON u.id = m.user_id
             WHERE c.id = $1
               AND EXISTS (SELECT 1 FROM chat_members me WHERE me.chat_id = c.id AND me.user_id = $2)
             ORDER BY m.joined_at, u.username",
            )
            .bind(chat)
            .bind(user)
            .fetch_all(p)
            .await
        })?;
        let mut rows = rows.into_iter();
        let Some(Row {
            chat: row,
            member,
            my_muted,
            anyone_mentions_all,
        }) = rows.next()
        else {
            return Ok(None);
        };
        let members: Vec<Member> = std::iter::once(member)
            .chain(rows.map(|r| r.member))
            .collect();
        let k = kind(&row.kind)?;
        let other = members
            .iter()
            .find(|m| m.user_id != user)
            .map(|m| m.label().to_string());
        Ok(Some(ChatDetail {
            id: row.id,
            kind: k,
            title: display_title(k, row.title, other),
            creator_id: row.creator_id,
            public: row.public,
            description: row.description,
            anyone_mentions_all,
            members,
            muted: my_muted,
            last_seq: row.last_seq,
            last_change: row.last_change,
        }))
    }
}
