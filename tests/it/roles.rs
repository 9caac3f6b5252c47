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

    // The owner leaves: cat (the admin) owns it, though bob joined as early; the
    // members hear it with the new member list (their header's controls follow).
    assert_eq!(owner(&s, chat, bob_id).await, Some(ann_id));
    let mut cat_ws = s.connect(&cat).await;
    let (status, _, _) = s
        .call(LeaveChat::PATH, format!("chat_id={chat}"), Some(&ann))
        .await;
    assert!(status.is_success() || status.is_redirection());
    assert_eq!(owner(&s, chat, bob_id).await, Some(cat_id));
    loop {
        if let natter::model::protocol::ServerFrame::Members { owner, members, .. } =
            cat_ws.next().await
        {
            if members.iter().all(|m| m.user_id != ann_id) {
                assert_eq!(owner, Some(cat_id));
                break;
            }
        }
    }
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

test_both_dbs!(public_channels_are_listed_and_joined_and_private_groups_stay_invisible);
async fn public_channels_are_listed_and_joined_and_private_groups_stay_invisible() {
    use natter::api::chats::{JoinChannel, ListChannels, SetChatSettings};
    use natter::model::Channel;
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let cat = s.sign_up("cat").await;
    let open = s.create_chat(&ann, "bob", "Lobby").await;
    let secret = s.create_chat(&ann, "bob", "Secret").await;
    let list = |cookie: String, query: &'static str| {
        let s = &s;
        async move {
            let (status, _, body) = s
                .call(ListChannels::PATH, format!("query={query}"), Some(&cookie))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_str::<Vec<Channel>>(&body).unwrap()
        }
    };
    assert!(list(cat.clone(), "").await.is_empty());

    // A plain member cannot make it public; the owner can, with a description.
    let settings = |chat: ChatId, public: &str, description: &str| {
        format!("chat_id={chat}&public={public}&description={description}")
    };
    assert_eq!(
        post(
            &s,
            SetChatSettings::PATH,
            settings(open, "true", "Say+hi"),
            &bob
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            &s,
            SetChatSettings::PATH,
            settings(open, "true", "Say+hi"),
            &cat
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let long = "x".repeat(301);
    assert_eq!(
        post(
            &s,
            SetChatSettings::PATH,
            settings(open, "true", &long),
            &ann
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(
            &s,
            SetChatSettings::PATH,
            settings(open, "true", "Say+hi"),
            &ann
        )
        .await,
        StatusCode::OK
    );

    // cat, in neither, sees the public one only (with its description and size).
    let found = list(cat.clone(), "").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0].id,
            found[0].title.as_str(),
            found[0].description.as_str()
        ),
        (open, "Lobby", "Say hi")
    );
    assert_eq!((found[0].members, found[0].joined), (2, false));
    assert_eq!(list(cat.clone(), "LOB").await.len(), 1);
    assert!(list(cat.clone(), "sec").await.is_empty());
    assert!(list(cat.clone(), "%25").await.is_empty());

    // Joining: the public one opens; the private one is "not found", as is no chat.
    assert_eq!(
        post(&s, JoinChannel::PATH, format!("chat_id={secret}"), &cat).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&s, JoinChannel::PATH, "chat_id=999999".into(), &cat).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(
            &s,
            natter::api::messages::OpenChat::PATH,
            format!("chat_id={secret}"),
            &cat
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let mut live = s.connect(&cat).await;
    assert_eq!(
        post(&s, JoinChannel::PATH, format!("chat_id={open}"), &cat).await,
        StatusCode::OK
    );
    let _ = live.next().await;
    let detail =
        s.db.store
            .chat_for_member(open, id(&s, "cat").await)
            .await
            .unwrap()
            .unwrap();
    assert!(detail.public);
    assert_eq!(detail.description, "Say hi");
    assert!(list(cat.clone(), "").await[0].joined);
    // Joining twice changes nothing; made private again, it is listed to no one and
    // joined by no one new.
    assert_eq!(
        post(&s, JoinChannel::PATH, format!("chat_id={open}"), &cat).await,
        StatusCode::OK
    );
    assert_eq!(
        s.db.store
            .chat_for_member(open, id(&s, "cat").await)
            .await
            .unwrap()
            .unwrap()
            .members
            .len(),
        3
    );
    post(
        &s,
        SetChatSettings::PATH,
        format!("chat_id={open}&description="),
        &ann,
    )
    .await;
    assert!(list(bob.clone(), "").await.is_empty());
    let dan = s.sign_up("dan").await;
    assert_eq!(
        post(&s, JoinChannel::PATH, format!("chat_id={open}"), &dan).await,
        StatusCode::NOT_FOUND
    );
    assert!(
        !s.db
            .store
            .chat_for_member(open, id(&s, "bob").await)
            .await
            .unwrap()
            .unwrap()
            .public
    );
}
