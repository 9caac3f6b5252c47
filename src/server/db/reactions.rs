//! `reactions`: one row per (message, user, emoji). A reaction added or taken back is a
//! change of its chat (it takes the next change number, and the message's `change_seq`
//! moves to it), so `resume` replays the message's current reactions like an edit.

use super::write_tx::BeginWrite;
use super::Store;
use crate::model::validate::REACTIONS_PER_USER_MAX;
use crate::model::{AppError, ChatId, Message, MessageId, Reaction, UserId};
use crate::server::base::error::Result;

/// What [`Store::react`] changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reacted {
    pub chat: ChatId,
    pub seq: i64,
    pub reactions: Vec<Reaction>,
    /// The change number it took; `None` when nothing changed (already so).
    pub change: Option<i64>,
}

/// Groups (emoji, username) rows, in order, by emoji (first appearance first).
fn group(rows: impl IntoIterator<Item = (String, String)>) -> Vec<Reaction> {
    let mut out: Vec<Reaction> = Vec::new();
    for (emoji, user) in rows {
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user),
            None => out.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    out
}

const READ_ONE: &str =
    "SELECT r.emoji, u.username FROM reactions r JOIN users u ON u.id = r.user_id
     WHERE r.message_id = $1 ORDER BY r.created_at, r.user_id";

impl Store {
    /// Adds (`on`) or takes back `user`'s `emoji` on a message of a chat they are a member
    /// of (not deleted). Idempotent: adding twice or taking back what is not there
    /// changes nothing and takes no change number.
    pub async fn react(
        &self,
        message: MessageId,
        user: UserId,
        emoji: &str,
        on: bool,
    ) -> Result<Reacted> {
        let now = super::now_ms();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await?;
            // The chat's counter first: its row lock orders concurrent changes (and on
            // SQLite takes the write lock before anything is read).
            let bumped: Option<(i64, ChatId)> = sqlx::query_as(
                "UPDATE chats SET last_change = last_change + 1
                 WHERE id = (SELECT m.chat_id FROM messages m
                             JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = $2
                             WHERE m.id = $1 AND m.deleted_at IS NULL)
                 RETURNING last_change, id",
            )
            .bind(message)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((change, chat)) = bumped else {
                return Err(AppError::NotFound("Message".into()).into());
            };
            let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM messages WHERE id = $1")
                .bind(message)
                .fetch_one(&mut *tx)
                .await?;
            let changed = if on {
                let (given,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND user_id = $2",
                )
                .bind(message)
                .bind(user)
                .fetch_one(&mut *tx)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO reactions (message_id, user_id, emoji, chat_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(message)
                .bind(user)
                .bind(emoji)
                .bind(chat)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted > 0 && given >= REACTIONS_PER_USER_MAX {
                    return Err(AppError::invalid(format!(
                        "At most {REACTIONS_PER_USER_MAX} reactions per message"
                    ))
                    .into());
                }
                inserted > 0
            } else {
                sqlx::query(
                    "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
                )
                .bind(message)
                .bind(user)
                .bind(emoji)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0
            };
            if changed {
                sqlx::query("UPDATE messages SET change_seq = $2 WHERE id = $1")
                    .bind(message)
                    .bind(change)
                    .execute(&mut *tx)
                    .await?;
            }
            let rows: Vec<(String, String)> =
                sqlx::query_as(READ_ONE).bind(message).fetch_all(&mut *tx).await?;
            if changed {
                tx.commit().await?;
            } else {
                // Nothing to tell anyone: the change number goes back too.
                tx.rollback().await?;
            }
            Ok::<_, crate::server::base::error::Error>(Reacted {
                chat,
                seq,
                reactions: group(rows),
                change: changed.then_some(change),
            })
        })
    }

    /// Fills in the reactions of `messages`, all of one chat, with one query over their
    /// id range (a page of history, a replay).
    pub(super) async fn attach_reactions(&self, messages: &mut [Message]) -> Result<()> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(());
        };
        let chat = first.chat_id;
        let (lo, hi) = messages
            .iter()
            .fold((first.id.0, last.id.0), |(lo, hi), m| {
                (lo.min(m.id.0), hi.max(m.id.0))
            });
        let rows: Vec<(MessageId, String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT r.message_id, r.emoji, u.username FROM reactions r
                 JOIN users u ON u.id = r.user_id
                 WHERE r.chat_id = $1 AND r.message_id BETWEEN $2 AND $3
                 ORDER BY r.message_id, r.created_at, r.user_id",
            )
            .bind(chat)
            .bind(lo)
            .bind(hi)
            .fetch_all(p)
            .await?
        });
        if rows.is_empty() {
            return Ok(());
        }
        let mut by_message: std::collections::HashMap<MessageId, Vec<(String, String)>> =
            Default::default();
        for (id, emoji, user) in rows {
            by_message.entry(id).or_default().push((emoji, user));
        }
        for m in messages.iter_mut() {
            if let Some(rows) = by_message.remove(&m.id) {
                m.reactions = group(rows);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_group_by_emoji_in_first_order() {
        let rows =
            [("👍", "a"), ("🎉", "b"), ("👍", "c")].map(|(e, u)| (e.to_string(), u.to_string()));
        let g = group(rows);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].emoji, "👍");
        assert_eq!(g[0].users, vec!["a", "c"]);
        assert_eq!(g[1].users, vec!["b"]);
    }
}
