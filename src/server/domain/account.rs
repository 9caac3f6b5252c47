//! Closing an account: the rules around [`Store::close_account`].
//! The person leaves every group (the other members see it live, as a leave), then the
//! account loses its name, password and sessions in one transaction; chats left with no
//! member who still has an account go with their messages.

use super::notify::{log_publish, Notifier};
use crate::model::{ChatKind, User};
use crate::server::base::error::Result;
use crate::server::db::Store;

/// Deletes `user`'s account (the password was checked by the caller). Their open
/// connections close at once, on every node (the revocation of their sessions, in
/// `Store::close_account`), as after a sign-out everywhere.
pub async fn delete(store: &Store, notify: &Notifier, user: &User) -> Result<()> {
    let groups: Vec<_> = store
        .list_chats(user.id)
        .await?
        .into_iter()
        .filter(|c| c.kind == ChatKind::Group)
        .map(|c| c.id)
        .collect();
    for &chat in &groups {
        if let Some(change) = store.remove_member(chat, user.id).await? {
            notify.chat_removed(chat, user.id);
            log_publish(notify.members_changed(chat, change).await);
        }
    }
    let gone = store.close_account(user.id, &groups).await?;
    tracing::info!(user = %user.id, groups = groups.len(), chats_deleted = gone.len(), "account deleted");
    Ok(())
}
