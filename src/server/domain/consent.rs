//! Consent (issue 29): blocks, who may add me to groups (else an invitation), and
//! presence only between people who accepted a conversation. The storage is in
//! `db::consent`; [`super::chats`] asks these rules on create, add, send and typing.
//!
//! Accepted: a membership counts as accepted once its member took part by their own
//! action — created the chat, opened the direct chat themselves (the new-chat form),
//! sent a message in it, or accepted an invitation to it — or was added to a group
//! under their own "who can add me" setting (the setting is their consent). Being the
//! other person of a direct chat someone else opened does not count until one writes.
//! Online state and last seen travel only between two people who both accepted the same
//! chat, and never across a block.

use super::notify::{log_publish, Notifier};
use super::presence::Presence;
use crate::model::protocol::ServerFrame;
use crate::model::{validate, AppError, ChatId, Consent, GroupAdds, MemberAdded, User, UserId};
use crate::server::base::error::{Error, Result};
use crate::server::db::{Added, Store, MAX_BLOCKS};
use crate::server::live::frame::FrameKind;

/// The consent rules and what they need (cheap to clone).
#[derive(Clone)]
pub struct Consents {
    store: Store,
    notify: Notifier,
    presence: Presence,
}

/// One limit for creating and for adding: members, the creator included.
pub fn group_full() -> Error {
    AppError::invalid(format!(
        "A group can have at most {} members, you included",
        validate::GROUP_MAX_MEMBERS
    ))
    .into()
}

fn i_blocked_error(name: &str) -> AppError {
    AppError::Conflict(format!("You blocked {name}. Unblock them first"))
}

/// The errors a refused send gets (see `Store::send_check`).
pub fn blocked_send_error(i_blocked: bool) -> AppError {
    if i_blocked {
        AppError::Conflict("You blocked this person. Unblock them to write here".into())
    } else {
        AppError::Conflict("This person does not accept messages from you".into())
    }
}

impl Consents {
    pub fn new(store: Store, notify: Notifier, presence: Presence) -> Self {
        Consents {
            store,
            notify,
            presence,
        }
    }

    /// Why `user` and `other` may not talk or add each other, if a block says so.
    pub async fn refuse_if_blocked(&self, user: &User, other: &User) -> Result<()> {
        let (i_blocked, they_blocked) = self.store.blocks_between(user.id, other.id).await?;
        if i_blocked {
            return Err(i_blocked_error(&other.username).into());
        }
        if they_blocked {
            return Err(AppError::Conflict(format!(
                "{} does not accept direct messages or group adds from you",
                other.username
            ))
            .into());
        }
        Ok(())
    }

    /// Whether `adder` may put `target` into a group directly (else it is an invitation).
    /// Blocks were checked by the caller.
    pub async fn may_add(&self, adder: UserId, target: UserId) -> Result<bool> {
        Ok(match self.store.group_adds(target).await? {
            GroupAdds::Anyone => true,
            GroupAdds::Shared => self.store.shares_accepted_chat(target, adder).await?,
            GroupAdds::Nobody => false,
        })
    }

    /// Marks `user`'s membership of `chat` accepted; the first time, the members who
    /// accepted it too learn `user`'s presence and `user` learns theirs.
    pub async fn accept(&self, user: UserId, chat: ChatId) -> Result<()> {
        if self.store.accept_membership(chat, user).await? {
            let peers = self.store.presence_peers(user, chat).await?;
            if !peers.is_empty() {
                self.presence.show(user, &peers).await?;
                let ids: Vec<UserId> = peers.iter().map(|(u, _)| *u).collect();
                let frame = self.presence.frame_of(user).await?;
                self.notify
                    .publish_to_users(&ids, &frame, FrameKind::Ephemeral);
            }
        }
        Ok(())
    }

    /// `blocker` blocks `blocked`: no direct messages either way, no adds, no presence.
    /// Each side's clients are told the other's presence is gone (`online: false`, no last
    /// seen: what a client shows as nothing).
    pub async fn block(&self, blocker: &User, blocked: UserId) -> Result<()> {
        if blocked == blocker.id {
            return Err(AppError::invalid("You can't block yourself").into());
        }
        if !self.store.user_exists(blocked).await? {
            return Err(AppError::NotFound("User".into()).into());
        }
        if !self.store.block(blocker.id, blocked).await? {
            return Err(
                AppError::invalid(format!("You can block at most {} people", MAX_BLOCKS)).into(),
            );
        }
        for (to, about) in [(blocker.id, blocked), (blocked, blocker.id)] {
            let hidden = ServerFrame::Presence {
                user_id: about,
                online: false,
                last_seen: None,
            };
            self.notify
                .publish_to_users(&[to], &hidden, FrameKind::Ephemeral);
        }
        Ok(())
    }

    /// Takes a block back; if the two share an accepted chat, they see each other again.
    pub async fn unblock(&self, blocker: &User, blocked: UserId) -> Result<()> {
        if !self.store.unblock(blocker.id, blocked).await? {
            return Err(AppError::NotFound("Block".into()).into());
        }
        if self.store.sees_presence(blocker.id, blocked).await? {
            let to_blocker = self.presence.frame_of(blocked).await?;
            self.notify
                .publish_to_users(&[blocker.id], &to_blocker, FrameKind::Ephemeral);
            let to_blocked = self.presence.frame_of(blocker.id).await?;
            self.notify
                .publish_to_users(&[blocked], &to_blocked, FrameKind::Ephemeral);
        }
        Ok(())
    }

    /// My setting and whom I blocked.
    pub async fn settings(&self, user: &User) -> Result<Consent> {
        Ok(Consent {
            group_adds: self.store.group_adds(user.id).await?,
            blocked: self.store.blocked_by(user.id).await?,
        })
    }

    pub async fn set_group_adds(&self, user: &User, value: &str) -> Result<GroupAdds> {
        let adds = GroupAdds::parse(value).ok_or_else(|| {
            AppError::invalid("Who can add you to groups: choose anyone, shared or nobody")
        })?;
        self.store.set_group_adds(user.id, adds).await?;
        Ok(adds)
    }

    /// Adds `target` to the group `chat` if their setting allows `adder` to, else invites
    /// them. A block either way refuses it (the adder is told).
    pub async fn add_or_invite(
        &self,
        adder: &User,
        chat: ChatId,
        target: &User,
    ) -> Result<MemberAdded> {
        self.refuse_if_blocked(adder, target).await?;
        let store = &self.store;
        if store.is_member(chat, target.id).await? {
            return Ok(MemberAdded::Added);
        }
        if !self.may_add(adder.id, target.id).await? {
            store.invite(chat, target.id, adder.id).await?;
            return Ok(MemberAdded::Invited);
        }
        match store
            .add_member(chat, target.id, validate::GROUP_MAX_MEMBERS)
            .await?
        {
            Added::Added(change) => {
                store.drop_invitation(chat, target.id).await?;
                log_publish(self.notify.chat_added(chat, &[target.id]).await);
                log_publish(self.notify.members_changed(chat, change).await);
            }
            Added::AlreadyMember => {}
            Added::Full => return Err(group_full()),
        }
        Ok(MemberAdded::Added)
    }

    /// Accepts an invitation: `user` joins the group (if it has room), accepted.
    pub async fn accept_invitation(&self, user: &User, chat: ChatId) -> Result<()> {
        let store = &self.store;
        if !store.is_invited(chat, user.id).await? {
            return Err(AppError::NotFound("Invitation".into()).into());
        }
        match store
            .add_member(chat, user.id, validate::GROUP_MAX_MEMBERS)
            .await?
        {
            Added::Added(change) => {
                log_publish(self.notify.chat_added(chat, &[user.id]).await);
                log_publish(self.notify.members_changed(chat, change).await);
            }
            Added::AlreadyMember => {}
            Added::Full => return Err(group_full()),
        }
        store.drop_invitation(chat, user.id).await?;
        self.accept(user.id, chat).await
    }

    pub async fn decline_invitation(&self, user: &User, chat: ChatId) -> Result<()> {
        if !self.store.drop_invitation(chat, user.id).await? {
            return Err(AppError::NotFound("Invitation".into()).into());
        }
        Ok(())
    }
}
