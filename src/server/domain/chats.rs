//! The chat domain: the rules every server function and client frame goes through.
//! Validation happens here; SQL happens in `server::db`.
//!
//! Where membership is checked (one rule): a non-member is refused by the first store
//! call an operation makes, always with the same "chat not found" as a chat that does
//! not exist, and before anything is written or told. For an operation on a chat that
//! call is a membership read made here (`chat_for`, `is_member`, `member_ids`,
//! `send_check`); where the store's own statement already matches only the user's
//! rows (`mark_read` reads the user's read pointer; `edit`, `delete` and `react` find
//! the message only in the user's chats, their own messages for edit and delete), that
//! statement is the check, so no second read can race it.
//!
//! Every change is published to the members' live connections right after it is
//! committed ([`super::notify`]); a failed publish is logged and never undoes a
//! commit: clients that missed it catch up when they resume.

use super::broadcast::Broadcaster;
use super::commit::{Committer, Queued};
use super::consent::{self, group_full, Consents};
use super::notify::{log_publish, Notifier};
use crate::model::protocol::ServerFrame;
use crate::model::{
    validate, AppError, Channel, ChatDetail, ChatId, ChatKind, ChatView, FileId, HistoryPage,
    MemberAdded, Message, MessageId, Reaction, ReplyTo, User, UserId, PAGE_SIZE,
};
use crate::server::base::error::{Error, Result};
use crate::server::db::{Added, NewMessage, Store, Stored};
use crate::server::live::frame::FrameKind;
use tokio::sync::oneshot::error::RecvError;

/// A group's settings, as its owner or an admin saves them.
pub struct GroupSettings<'a> {
    /// Listed on /channels; anyone on the instance may join.
    pub public: bool,
    /// Every member may mention `@all` / `@here` (otherwise owner and admins only).
    pub anyone_mentions_all: bool,
    pub description: &'a str,
}

/// The chat rules and what they need (cheap to clone: handles).
#[derive(Clone)]
pub struct Chats {
    store: Store,
    commit: Committer,
    notify: Notifier,
    consent: Consents,
    broadcast: Broadcaster,
}

impl Chats {
    pub fn new(
        store: Store,
        commit: Committer,
        notify: Notifier,
        consent: Consents,
        broadcast: Broadcaster,
    ) -> Self {
        Chats {
            store,
            commit,
            notify,
            consent,
            broadcast,
        }
    }

    /// Opens a chat on its newest page (or the page before `before`), marking it read when
    /// `mark_read` (a POST; never while rendering a GET).
    pub async fn open(
        &self,
        user: &User,
        chat: ChatId,
        before: Option<i64>,
        at: Option<i64>,
        mark_read: bool,
    ) -> Result<ChatView> {
        let detail = chat_for(&self.store, user, chat).await?;
        // Opened at a message: the page around it. Seqs have no gaps, so that is the page
        // before the message half a page after it.
        let before = match at {
            Some(at) => Some(at.clamp(1, detail.last_seq.max(1)) + PAGE_SIZE / 2 + 1),
            None => before,
        };
        let mut page = self.store.history(chat, before, PAGE_SIZE).await?;
        page.has_newer = page
            .messages
            .last()
            .is_some_and(|m| m.seq < detail.last_seq);
        // Only a write when something is unread: most page views change nothing, and a
        // write per view would serialise page views on SQLite's write lock.
        let read = detail
            .members
            .iter()
            .find(|m| m.user_id == user.id)
            .map_or(0, |m| m.last_read_seq);
        if mark_read && !page.has_newer && read < detail.last_seq {
            self.mark_read(user, chat, detail.last_seq).await?;
        }
        // A direct chat: whether I blocked the other person (the header offers "Unblock").
        let blocked = match (
            detail.kind,
            detail.members.iter().find(|m| m.user_id != user.id),
        ) {
            (ChatKind::Direct, Some(other)) => {
                self.store.blocks_between(user.id, other.user_id).await?.0
            }
            _ => false,
        };
        Ok(ChatView {
            me: user.clone(),
            chat: detail,
            page,
            blocked,
        })
    }

    /// An older page of history, for scrolling up.
    pub async fn older(&self, user: &User, chat: ChatId, before: i64) -> Result<HistoryPage> {
        let store = &self.store;
        if !store.is_member(chat, user.id).await? {
            return Err(AppError::chat_not_found().into());
        }
        store.history(chat, Some(before), PAGE_SIZE).await
    }

    /// A newer page of history, for scrolling down from a message opened in the past.
    pub async fn newer(&self, user: &User, chat: ChatId, after: i64) -> Result<HistoryPage> {
        let store = &self.store;
        if !store.is_member(chat, user.id).await? {
            return Err(AppError::chat_not_found().into());
        }
        let mut messages = store.messages_after(chat, after, PAGE_SIZE + 1).await?;
        let has_newer = messages.len() as i64 > PAGE_SIZE;
        messages.truncate(PAGE_SIZE as usize);
        Ok(HistoryPage {
            messages,
            has_more: after >= 1,
            has_newer,
        })
    }

    /// Validates a message and queues it for the committer ([`super::commit`]), which stores
    /// and delivers it; [`sent`] waits for the outcome. Queuing without waiting lets a
    /// connection pipeline its sends; a retry (same client id) gets the original back and
    /// delivers nothing.
    ///
    /// Consent ([`super::consent`]): a send in a direct chat with a block either way is
    /// refused; the sender's first send in a chat accepts it (presence starts to flow).
    pub async fn queue_send(
        &self,
        user: &User,
        chat: ChatId,
        client_id: &str,
        body: &str,
        reply_to: Option<MessageId>,
        files: &[FileId],
    ) -> Result<Queued> {
        if files.len() > validate::FILES_PER_MESSAGE {
            return Err(AppError::invalid(format!(
                "A message carries at most {} files",
                validate::FILES_PER_MESSAGE
            ))
            .into());
        }
        let body = if files.is_empty() {
            validate::body(body)?
        } else {
            validate::caption(body)?
        };
        let client_id = validate::client_id(client_id)?;
        let check = self
            .store
            .send_check(chat, user.id)
            .await?
            .ok_or_else(AppError::chat_not_found)?;
        if check.i_blocked || check.they_blocked {
            return Err(consent::blocked_send_error(check.i_blocked).into());
        }
        if !check.accepted {
            self.consent.accept(user.id, chat).await?;
        }
        let reply = match reply_to {
            Some(original) => Some(reply_target(&self.store, user, chat, original).await?),
            None => None,
        };
        let files = match self.store.files_to_send(files, user.id, chat).await {
            Ok(files) => files,
            // A retry of a message already stored: its files are attached to it, and the
            // committer answers with the original.
            Err(_) if self.store.has_sent(user.id, &client_id).await? => Vec::new(),
            Err(e) => return Err(e),
        };
        let broadcast = self.broadcast.reach(user, chat, &body, &client_id).await?;
        self.commit
            .enqueue(NewMessage {
                chat,
                sender: user.id,
                client_id,
                body,
                reply,
                files,
                broadcast,
            })
            .await
    }

    /// Renames a group (its owner or an admin); members get `members` with the new title.
    pub async fn rename(&self, user: &User, chat: ChatId, title: &str) -> Result<()> {
        if !self.store.is_member(chat, user.id).await? {
            return Err(AppError::chat_not_found().into());
        }
        let title =
            validate::title(title)?.ok_or_else(|| AppError::invalid("A group needs a title"))?;
        let change = self
            .store
            .rename_group(chat, user.id, &title)
            .await?
            .ok_or(AppError::Forbidden)?;
        log_publish(self.notify.members_changed(chat, change).await);
        Ok(())
    }

    /// Adds or takes back `user`'s reaction on a message; members get `reactions` (only
    /// when something changed). Returns the message's reactions now.
    pub async fn react(
        &self,
        user: &User,
        message: MessageId,
        emoji: &str,
        on: bool,
    ) -> Result<Vec<Reaction>> {
        let emoji = validate::emoji(emoji)?;
        self.refuse_if_blocked_in(user, message).await?;
        let reacted = self.store.react(message, user.id, &emoji, on).await?;
        if let Some(change) = reacted.change {
            let frame = ServerFrame::Reactions {
                chat_id: reacted.chat,
                message_id: message,
                seq: reacted.seq,
                reactions: reacted.reactions.clone(),
                change,
            };
            log_publish(
                self.notify
                    .publish_to_chat(reacted.chat, &frame, FrameKind::Durable)
                    .await,
            );
        }
        Ok(reacted.reactions)
    }

    /// Stores a message and delivers it, waiting for the commit.
    pub async fn send(
        &self,
        user: &User,
        chat: ChatId,
        client_id: &str,
        body: &str,
        reply_to: Option<MessageId>,
        files: &[FileId],
    ) -> Result<Message> {
        sent(
            self.queue_send(user, chat, client_id, body, reply_to, files)
                .await?,
        )
        .await
    }

    pub async fn edit(&self, user: &User, message: MessageId, body: &str) -> Result<Message> {
        let body = validate::body(body)?;
        self.refuse_if_blocked_in(user, message).await?;
        let (edited, change) = self.store.edit_message(message, user.id, &body).await?;
        log_publish(self.notify.message_changed(&edited, change).await);
        Ok(edited)
    }

    /// A block either way in the direct chat of `message` refuses edits and reactions as it
    /// refuses sends (deleting one's own message stays allowed). A message that is not
    /// there, or not in a chat of `user`'s, is left to the store's own answer (404).
    async fn refuse_if_blocked_in(&self, user: &User, message: MessageId) -> Result<()> {
        let Some(found) = self.store.message(message).await? else {
            return Ok(());
        };
        if let Some(check) = self.store.send_check(found.chat_id, user.id).await? {
            if check.i_blocked || check.they_blocked {
                return Err(consent::blocked_send_error(check.i_blocked).into());
            }
        }
        Ok(())
    }

    pub async fn delete(&self, user: &User, message: MessageId) -> Result<Message> {
        let (deleted, change) = self.store.delete_message(message, user.id).await?;
        log_publish(self.notify.message_changed(&deleted, change).await);
        Ok(deleted)
    }

    /// Moves the read pointer and tells the chat (unread counts and "seen" update live).
    pub async fn mark_read(&self, user: &User, chat: ChatId, seq: i64) -> Result<i64> {
        let (now, moved) = self.store.mark_read(chat, user.id, seq).await?;
        let Some(change) = moved else {
            // Nothing changed: telling every member's connections would only be traffic
            // (and a way for one client to flood a large group).
            return Ok(now);
        };
        let frame = ServerFrame::Read {
            chat_id: chat,
            user_id: user.id,
            seq: now,
            change,
        };
        log_publish(
            self.notify
                .publish_to_chat(chat, &frame, FrameKind::Durable)
                .await,
        );
        Ok(now)
    }

    /// "user is typing in chat": to the other members' connections, stored nowhere.
    pub async fn typing(&self, user: &User, chat: ChatId) -> Result<()> {
        let members = self.store.member_ids(chat).await?;
        if !members.contains(&user.id) {
            return Err(AppError::chat_not_found().into());
        }
        let others: Vec<UserId> = members.iter().copied().filter(|m| *m != user.id).collect();
        // Two members may be a direct chat: nothing crosses a block (one read, only then).
        if let [other] = others.as_slice() {
            if self.store.blocks_between(user.id, *other).await? != (false, false) {
                return Ok(());
            }
        }
        let frame = ServerFrame::Typing {
            chat_id: chat,
            user_id: user.id,
            username: user.username.clone(),
        };
        self.notify
            .publish_to_users(&others, &frame, FrameKind::Ephemeral);
        Ok(())
    }

    /// Creates a chat from the new-chat form: one member and no title is a direct chat
    /// (the existing one if the pair already has one); anything else is a group.
    pub async fn create(&self, user: &User, members: &str, title: &str) -> Result<ChatId> {
        let store = &self.store;
        let title = validate::title(title)?;
        let names: Vec<String> = validate::member_list(members)?
            .into_iter()
            .filter(|n| *n != user.username)
            .collect();
        if names.is_empty() {
            return Err(AppError::invalid("Add someone other than yourself").into());
        }
        if names.len() + 1 > validate::GROUP_MAX_MEMBERS {
            return Err(group_full());
        }
        let others = resolve_users(store, &names).await?;
        if let ([other], None) = (others.as_slice(), &title) {
            self.consent.refuse_if_blocked(user, other).await?;
            let (id, created) = store.find_or_create_dm(user.id, other.id).await?;
            if created {
                log_publish(self.notify.chat_added(id, &[user.id, other.id]).await);
            }
            // Opening it myself accepts it (the other person accepts by writing or opening).
            self.consent.accept(user.id, id).await?;
            return Ok(id);
        }
        // Blocks refuse the whole group before anything is created; whom the creator may
        // not add directly is invited instead.
        let mut direct = Vec::with_capacity(others.len());
        let mut invited = Vec::new();
        for other in &others {
            self.consent.refuse_if_blocked(user, other).await?;
            if self.consent.may_add(user.id, other.id).await? {
                direct.push(other);
            } else {
                invited.push(other.id);
            }
        }
        let title = title.unwrap_or_else(|| {
            let mut all: Vec<&str> = vec![user.username.as_str()];
            all.extend(others.iter().map(|u| u.username.as_str()));
            let joined = all.join(", ");
            joined.chars().take(validate::TITLE_MAX).collect()
        });
        let mut ids: Vec<UserId> = direct.iter().map(|u| u.id).collect();
        let id = store.create_group(user.id, Some(&title), &ids).await?;
        for invitee in invited {
            store.invite(id, invitee, user.id).await?;
        }
        self.consent.accept(user.id, id).await?;
        ids.push(user.id);
        log_publish(self.notify.chat_added(id, &ids).await);
        Ok(id)
    }

    /// Adds a member, or invites them when their setting does not let `user` add them
    /// ([`super::consent`]).
    pub async fn add_member(
        &self,
        user: &User,
        chat: ChatId,
        username: &str,
    ) -> Result<MemberAdded> {
        let store = &self.store;
        group_manager(store, user, chat).await?;
        let name = validate::username(username)?;
        let found = resolve_users(store, &[name]).await?;
        let mut outcome = MemberAdded::Added;
        for u in found {
            outcome = self.consent.add_or_invite(user, chat, &u).await?;
        }
        Ok(outcome)
    }

    pub async fn remove_member(&self, user: &User, chat: ChatId, member: UserId) -> Result<()> {
        let store = &self.store;
        let (detail, owner) = group_manager(store, user, chat).await?;
        if member == user.id {
            return Err(AppError::invalid("Use “Leave group” to leave").into());
        }
        // Admins remove members; only the owner removes the owner's admins.
        if !owner
            && (detail.creator_id == Some(member) || store.is_chat_admin(chat, member).await?)
        {
            return Err(AppError::Forbidden.into());
        }
        let Some(change) = store.remove_member(chat, member).await? else {
            return Err(AppError::NotFound("Member".into()).into());
        };
        // From now on fan-out skips them: membership is read at publish time.
        self.notify.chat_removed(chat, member);
        log_publish(self.notify.members_changed(chat, change).await);
        Ok(())
    }

    /// Makes a member of a group an admin (`admin`) or a plain member again: the owner
    /// only. Members get `members`.
    pub async fn set_member_role(
        &self,
        user: &User,
        chat: ChatId,
        member: UserId,
        admin: bool,
    ) -> Result<()> {
        let store = &self.store;
        let (detail, owner) = group_manager(store, user, chat).await?;
        if !owner {
            return Err(AppError::Forbidden.into());
        }
        if detail.creator_id == Some(member) {
            return Err(AppError::invalid("The owner manages the group already").into());
        }
        let Some(change) = store.set_member_role(chat, member, admin).await? else {
            return Err(AppError::NotFound("Member".into()).into());
        };
        log_publish(self.notify.members_changed(chat, change).await);
        Ok(())
    }

    /// Sets a group's settings: public (listed on /channels, anyone may join) and its
    /// description. The owner or an admin; members get `members`.
    pub async fn set_settings(
        &self,
        user: &User,
        chat: ChatId,
        settings: GroupSettings<'_>,
    ) -> Result<()> {
        group_manager(&self.store, user, chat).await?;
        let description = validate::description(settings.description)?;
        let change = self
            .store
            .set_group_settings(
                chat,
                settings.public,
                settings.anyone_mentions_all,
                &description,
            )
            .await?
            .ok_or_else(AppError::chat_not_found)?;
        log_publish(self.notify.members_changed(chat, change).await);
        Ok(())
    }

    /// The public channels whose title contains `query`.
    pub async fn channels(&self, user: &User, query: &str) -> Result<Vec<Channel>> {
        validate::query(query)?;
        let query: String = query.trim().chars().take(validate::TITLE_MAX).collect();
        self.store.channels(user.id, &query).await
    }

    /// Joins a public channel (accepted: one's own action). A private group, or no
    /// group, is "not found", as for any non-member.
    pub async fn join(&self, user: &User, chat: ChatId) -> Result<()> {
        let store = &self.store;
        if !store.is_public_group(chat).await? {
            return Err(AppError::chat_not_found().into());
        }
        match store
            .add_member(chat, user.id, validate::GROUP_MAX_MEMBERS)
            .await?
        {
            Added::Added(change) => {
                store.drop_invitation(chat, user.id).await?;
                log_publish(self.notify.chat_added(chat, &[user.id]).await);
                log_publish(self.notify.members_changed(chat, change).await);
                Ok(())
            }
            Added::AlreadyMember => Ok(()),
            Added::Full => Err(group_full()),
        }
    }

    /// A member leaves a group (direct chats cannot be left). If the owner leaves, the
    /// longest-standing admin (else member) owns it from now on.
    pub async fn leave(&self, user: &User, chat: ChatId) -> Result<()> {
        let store = &self.store;
        let detail = chat_for(store, user, chat).await?;
        if detail.kind != ChatKind::Group {
            return Err(AppError::invalid("You can't leave a direct chat").into());
        }
        if let Some(change) = store.remove_member(chat, user.id).await? {
            self.notify.chat_removed(chat, user.id);
            // The last one out: the group and its messages go (no one could ever open them).
            if store.delete_if_abandoned(chat).await? {
                tracing::info!(%chat, "group deleted: its last member left");
                return Ok(());
            }
            log_publish(self.notify.members_changed(chat, change).await);
        }
        Ok(())
    }
}

/// The chat as a member sees it; anyone else gets the same "not found".
pub async fn chat_for(store: &Store, user: &User, chat: ChatId) -> Result<ChatDetail> {
    store
        .chat_for_member(chat, user.id)
        .await?
        .ok_or_else(|| AppError::chat_not_found().into())
}

/// The original a reply in `chat` answers: a message of the same chat, which the sender
/// is a member of (a non-member learns nothing: the chat is "not found", as for a send).
async fn reply_target(
    store: &Store,
    user: &User,
    chat: ChatId,
    original: MessageId,
) -> Result<ReplyTo> {
    if !store.is_member(chat, user.id).await? {
        return Err(AppError::chat_not_found().into());
    }
    match store.message(original).await? {
        Some(m) if m.chat_id == chat => Ok(ReplyTo::of(&m)),
        _ => Err(AppError::NotFound("Message".into()).into()),
    }
}

/// The committed message (or why it was refused).
pub async fn sent(pending: Queued) -> Result<Message> {
    sent_outcome(pending.await)
}

/// What the committer's answer to a queued send means (for callers that poll [`Queued`]).
pub fn sent_outcome(answer: std::result::Result<Result<Stored>, RecvError>) -> Result<Message> {
    let stored = answer.map_err(|_| Error::internal("committer dropped a message"))??;
    Ok(stored?.0)
}

/// Resolves usernames, failing with the list of unknown ones (a deactivated account is
/// unknown here: nobody starts a chat with it or adds it to a group).
async fn resolve_users(store: &Store, names: &[String]) -> Result<Vec<User>> {
    let users = store.active_users_by_names(names).await?;
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !users.iter().any(|u| &u.username == *n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(format!("No such user: {}", missing.join(", "))).into());
    }
    Ok(users)
}

/// Only a group's owner (its creator, or whoever ownership passed to) and its admins
/// manage it: the group, and whether `user` is the owner.
async fn group_manager(store: &Store, user: &User, chat: ChatId) -> Result<(ChatDetail, bool)> {
    let detail = chat_for(store, user, chat).await?;
    if detail.kind != ChatKind::Group {
        return Err(AppError::invalid("Direct chats have exactly two members").into());
    }
    let owner = detail.creator_id == Some(user.id);
    if !owner && !store.is_chat_admin(chat, user.id).await? {
        return Err(AppError::Forbidden.into());
    }
    Ok((detail, owner))
}
