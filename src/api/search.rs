//! Searching the messages of one's chats.

use crate::model::{AppError, MessageId, SearchPage};
use leptos::prelude::*;

/// Longest query, in characters (only its first 8 words count).
pub const MAX_QUERY_CHARS: usize = 200;

/// Messages of my chats with every word of `q` (word starts, any case), newest first;
/// `before`: the `next_before` of the previous page.
#[server(endpoint = "search_messages")]
pub async fn search_messages(q: String, before: Option<MessageId>) -> Result<SearchPage, AppError> {
    use crate::server::domain::limits::Write;
    use crate::server::edge::calls::{reply, signed_in_to};
    reply(
        async {
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(AppError::Invalid(format!(
                    "Search for at most {MAX_QUERY_CHARS} characters"
                ))
                .into());
            }
            crate::model::validate::query(&q)?;
            let (state, user) = signed_in_to(Write::Search)?;
            state.store.search(user.id, &q, before).await
        }
        .await,
    )
}
