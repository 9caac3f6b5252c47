//! Issue 34, group roles: the owner (the creator, or whom ownership passed to) and the
//! admins manage a group; ownership passes to the longest-standing admin, else member,
//! when the owner leaves or deletes the account. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::http::StatusCode;
use common::server::{start, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::chats::{AddMember, LeaveChat, RemoveMember, RenameChat, SetMemberRole};
use natter::model::{ChatId, UserId};

async fn id(s: &TestServer, name: &str) -> UserId {
    s.db.store
        .users_by_names(&[name.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .id
}

async fn post(s: &TestServer, path: &str, body: String, cookie: &str) -> StatusCode {
    s.call(path, body, Some(cookie)).await.0
}

async fn owner(s: &TestServer, chat: ChatId, as_who: UserId) -> Option<UserId> {
    s.db.store
        .chat_for_member(chat, as_who)
        .await
        .unwrap()
        .unwrap()
        .creator_id
}

test_both_dbs!(admins_manage_members_and_ownership_passes_on_when_the_owner_leaves);
async fn admins_manage_members_and_ownership_passes_on_when_the_owner_leaves() {
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let cat = s.sign_up("cat").await;
    let dan = s.sign_up("dan").await;
    let eve = s.sign_up("eve").await;
    let chat = s.create_chat(&ann, "bob cat dan", "Team").await;
    let (bob_id, cat_id, dan_id) = (
        id(&s, "bob").await,
        id(&s, "cat").await,
        id(&s, "dan").await,
    );

    // A plain member manages nothing; a stranger does not even see the group.
    assert_eq!(
        post(
            &s,
            AddMember::PATH,
            format!("chat_id={chat}&username=eve"),
            &bob
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &s,
            RenameChat::PATH,
            format!("chat_id={chat}&title=Mine"),
            &bob
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={bob_id}&admin=true"),
            &bob
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={bob_id}&admin=true"),
            &eve
        )
        .await,
        StatusCode::NOT_FOUND
    );

    // The owner makes cat an admin: cat adds, renames and removes plain members, but
    // not the owner, and makes nobody an admin.
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={cat_id}&admin=true"),
            &ann
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        post(
            &s,
            AddMember::PATH,
            format!("chat_id={chat}&username=eve"),
            &cat
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        post(
            &s,
            RenameChat::PATH,
            format!("chat_id={chat}&title=Crew"),
            &cat
        )
        .await,
        StatusCode::OK
    );
    let eve_id = id(&s, "eve").await;
    assert_eq!(
        post(
            &s,
            RemoveMember::PATH,
            format!("chat_id={chat}&user_id={eve_id}"),
            &cat
        )
        .await,
        StatusCode::OK
    );
    let ann_id = id(&s, "ann").await;
    assert_eq!(
        post(
            &s,
            RemoveMember::PATH,
            format!("chat_id={chat}&user_id={ann_id}"),
            &cat
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={dan_id}&admin=true"),
            &cat
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // Not the owner themself; not a non-member.
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={ann_id}&admin=true"),
            &ann
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            &s,
            SetMemberRole::PATH,
            format!("chat_id={chat}&user_id={eve_id}&admin=true"),
            &ann
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let _ = dan;

    // The owner leaves: cat (the admin) owns it, though bob joined as early.
    assert_eq!(owner(&s, chat, bob_id).await, Some(ann_id));
    let (status, _, _) = s
        .call(LeaveChat::PATH, format!("chat_id={chat}"), Some(&ann))
        .await;
    assert!(status.is_success() || status.is_redirection());
    assert_eq!(owner(&s, chat, bob_id).await, Some(cat_id));
    // cat deletes the account: no admin left, the longest-standing member owns it.
    let (status, _, body) = s
        .call(
            natter::api::account::DeleteAccount::PATH,
            "password=password123".into(),
            Some(&cat),
        )
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    let next = owner(&s, chat, bob_id).await;
    assert!(next == Some(bob_id) || next == Some(dan_id), "{next:?}");
    let new_owner = if next == Some(bob_id) { &bob } else { &dan };
    assert_eq!(
        post(
            &s,
            RenameChat::PATH,
            format!("chat_id={chat}&title=Ours"),
            new_owner
        )
        .await,
        StatusCode::OK
    );
}
