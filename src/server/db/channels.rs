//! `chats` as the directory of public channels sees them (/channels): the public
//! groups, their description and size, and whether the person asking is in each.

use super::Store;
use crate::model::{Channel, ChatId, UserId};
use crate::server::base::error::Result;

/// At most this many channels are listed (by size; a search narrows them).
pub const CHANNELS_LISTED: i64 = 200;

impl Store {
    /// The public groups whose title contains `query` (any case), largest first.
    pub async fn channels(&self, user: UserId, query: &str) -> Result<Vec<Channel>> {
        let pattern = format!("%{}%", super::people::like_escaped(&query.to_lowercase()));
        type Row = (ChatId, Option<String>, String, i64, bool);
        let rows: Vec<Row> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT c.id, c.title, c.description,
                        (SELECT COUNT(*) FROM chat_members m WHERE m.chat_id = c.id) AS members,
                        EXISTS (SELECT 1 FROM chat_members me
                                WHERE me.chat_id = c.id AND me.user_id = $1) AS joined
                 FROM chats c
                 WHERE c.public AND c.kind = 'group' AND LOWER(COALESCE(c.title, '')) LIKE $2 ESCAPE '!'
                 ORDER BY members DESC, c.id LIMIT $3",
            )
            .bind(user)
            .bind(pattern)
            .bind(CHANNELS_LISTED)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, title, description, members, joined)| Channel {
                id,
                title: title.unwrap_or_default(),
                description,
                members,
                joined,
            })
            .collect())
    }

    /// Whether `chat` is a public group (anyone on the instance may join it).
    pub async fn is_public_group(&self, chat: ChatId) -> Result<bool> {
        let row: Option<(i64,)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT id FROM chats WHERE id = $1 AND kind = 'group' AND public")
                .bind(chat)
                .fetch_optional(p)
                .await?
        });
        Ok(row.is_some())
    }
}
