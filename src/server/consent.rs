//! Consent (issue 29): blocks, who may add me to groups (else an invitation), and
//! presence only between people who accepted a conversation. The storage is in
//! `db::consent`; `server::chat` asks these rules on create, add, send and typing.
//!
//! Accepted: a membership counts as accepted once its member took part by their own
//! action — created the chat, opened the direct chat themselves (the new-chat form),
//! sent a message in it, or accepted an invitation to it — or was added to a group
//! under their own "who can add me" setting (the setting is their consent). Being the
//! other person of a direct chat someone else opened does not count until one writes.
//! Online state and last seen travel only between two people who both accepted the same
//! chat, and never across a block.

use super::chat::log_publish;
use super::db::Added;
use super::state::AppState;
use super::ws::hub::FrameKind;
use super::Result;
use crate::model::protocol::ServerFrame;
use crate::model::{AppError, ChatId, Consent, GroupAdds, MemberAdded, User, UserId};

/// Why `user` and `other` may not talk or add each other, if a block says so.
pub async fn refuse_if_blocked(state: &AppState, user: &User, other: &User) -> Result<()> {
    let (i_blocked, they_blocked) = state.store.blocks_between(user.id, other.id).await?;
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

/// Whether `adder` may put `target` into a group directly (else it is an invitation).
/// Blocks were checked by the caller.
pub async fn may_add(state: &AppState, adder: UserId, target: UserId) -> Result<bool> {
    Ok(match state.store.group_adds(target).await? {
        GroupAdds::Anyone => true,
        GroupAdds::Shared => state.store.shares_accepted_chat(target, adder).await?,
        GroupAdds::Nobody => false,
    })
}

/// Marks `user`'s membership of `chat` accepted; the first time, the members who
/// accepted it too learn `user`'s presence and `user` learns theirs.
pub async fn accept(state: &AppState, user: UserId, chat: ChatId) -> Result<()> {
    if state.store.accept_membership(chat, user).await? {
        let peers = state.store.presence_peers(user, chat).await?;
        if !peers.is_empty() {
            show_presence(state, user, &peers).await?;
            let ids: Vec<UserId> = peers.iter().map(|(u, _)| *u).collect();
            let frame = presence_of(state, user).await?;
            state.publish_to_users(&ids, &frame, FrameKind::Ephemeral);
        }
    }
    Ok(())
}

/// Whether `user` is online on any node.
async fn online(state: &AppState, user: UserId) -> bool {
    state.hub.is_online(user)
        || match &state.presence {
            Some(presence) => presence.online_elsewhere(user).await,
            None => false,
        }
}

/// A `presence` frame with `user`'s state now.
async fn presence_of(state: &AppState, user: UserId) -> Result<ServerFrame> {
    let online = online(state, user).await;
    Ok(ServerFrame::Presence {
        user_id: user,
        online,
        last_seen: if online {
            None
        } else {
            state.store.last_seen(user).await?
        },
    })
}

/// Tells `to`'s connections the presence of `about` (a snapshot adds to what a client
/// knows; it replaces nothing).
async fn show_presence(
    state: &AppState,
    to: UserId,
    about: &[(UserId, Option<i64>)],
) -> Result<()> {
    let (mut online_now, mut offline) = (Vec::new(), Vec::new());
    for (u, seen) in about {
        if online(state, *u).await {
            online_now.push(*u);
        } else {
            offline.push((*u, *seen));
        }
    }
    let frame = ServerFrame::PresenceSnapshot {
        online: online_now,
        offline,
    };
    state.publish_to_users(&[to], &frame, FrameKind::Ephemeral);
    Ok(())
}

/// `blocker` blocks `blocked`: no direct messages either way, no adds, no presence.
/// Each side's clients are told the other's presence is gone (`online: false`, no last
/// seen: what a client shows as nothing).
pub async fn block(state: &AppState, blocker: &User, blocked: UserId) -> Result<()> {
    if blocked == blocker.id {
        return Err(AppError::invalid("You can't block yourself").into());
    }
    if !state.store.user_exists(blocked).await? {
        return Err(AppError::NotFound("User".into()).into());
    }
    if !state.store.block(blocker.id, blocked).await? {
        return Err(AppError::invalid(format!(
            "You can block at most {} people",
            super::db::MAX_BLOCKS
        ))
        .into());
    }
    for (to, about) in [(blocker.id, blocked), (blocked, blocker.id)] {
        let hidden = ServerFrame::Presence {
            user_id: about,
            online: false,
            last_seen: None,
        };
        state.publish_to_users(&[to], &hidden, FrameKind::Ephemeral);
    }
    Ok(())
}

/// Takes a block back; if the two share an accepted chat, they see each other again.
pub async fn unblock(state: &AppState, blocker: &User, blocked: UserId) -> Result<()> {
    if !state.store.unblock(blocker.id, blocked).await? {
        return Err(AppError::NotFound("Block".into()).into());
    }
    if state.store.sees_presence(blocker.id, blocked).await? {
        let to_blocker = presence_of(state, blocked).await?;
        state.publish_to_users(&[blocker.id], &to_blocker, FrameKind::Ephemeral);
        let to_blocked = presence_of(state, blocker.id).await?;
        state.publish_to_users(&[blocked], &to_blocked, FrameKind::Ephemeral);
    }
    Ok(())
}

/// My setting and whom I blocked.
pub async fn settings(state: &AppState, user: &User) -> Result<Consent> {
    Ok(Consent {
        group_adds: state.store.group_adds(user.id).await?,
        blocked: state.store.blocked_by(user.id).await?,
    })
}

pub async fn set_group_adds(state: &AppState, user: &User, value: &str) -> Result<GroupAdds> {
    let adds = GroupAdds::parse(value).ok_or_else(|| {
        AppError::invalid("Who can add you to groups: choose anyone, shared or nobody")
    })?;
    state.store.set_group_adds(user.id, adds).await?;
    Ok(adds)
}

/// Adds `target` to the group `chat` if their setting allows `adder` to, else invites
/// them. A block either way refuses it (the adder is told).
pub async fn add_or_invite(
    state: &AppState,
    adder: &User,
    chat: ChatId,
    target: &User,
) -> Result<MemberAdded> {
    refuse_if_blocked(state, adder, target).await?;
    let store = &state.store;
    if store.is_member(chat, target.id).await? {
        return Ok(MemberAdded::Added);
    }
    if !may_add(state, adder.id, target.id).await? {
        store.invite(chat, target.id, adder.id).await?;
        return Ok(MemberAdded::Invited);
    }
    match store
        .add_member(chat, target.id, crate::model::validate::GROUP_MAX_MEMBERS)
        .await?
    {
        Added::Added(change) => {
            store.drop_invitation(chat, target.id).await?;
            log_publish(state.chat_added(chat, &[target.id]).await);
            log_publish(state.members_changed(chat, change).await);
        }
        Added::AlreadyMember => {}
        Added::Full => return Err(super::chat::group_full()),
    }
    Ok(MemberAdded::Added)
}

/// Accepts an invitation: `user` joins the group (if it has room), accepted.
pub async fn accept_invitation(state: &AppState, user: &User, chat: ChatId) -> Result<()> {
    let store = &state.store;
    if !store.is_invited(chat, user.id).await? {
        return Err(AppError::NotFound("Invitation".into()).into());
    }
    match store
        .add_member(chat, user.id, crate::model::validate::GROUP_MAX_MEMBERS)
        .await?
    {
        Added::Added(change) => {
            log_publish(state.chat_added(chat, &[user.id]).await);
            log_publish(state.members_changed(chat, change).await);
        }
        Added::AlreadyMember => {}
        Added::Full => return Err(super::chat::group_full()),
    }
    store.drop_invitation(chat, user.id).await?;
    accept(state, user.id, chat).await
}

pub async fn decline_invitation(state: &AppState, user: &User, chat: ChatId) -> Result<()> {
    if !state.store.drop_invitation(chat, user.id).await? {
        return Err(AppError::NotFound("Invitation".into()).into());
    }
    Ok(())
}
