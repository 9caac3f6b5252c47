//! Issue 34, the instance: the first account is the administrator, the sign-up mode
//! and invitation links, deactivation, password reset links, the last administrator,
//! the audit log, and what a member (or a stranger) trying any of it gets. On SQLite
//! and PostgreSQL (`test_both_dbs!`); deactivation across two nodes is in cluster.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::http::{header, StatusCode};
use common::server::{start, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::admin::{
    AdminAudit, AdminCreateInvitation, AdminDeactivate, AdminPeople, AdminReactivate,
    AdminResetLink, AdminRevokeInvitation, AdminSetAdmin, AdminSetSignup, LoadSignupInfo,
    ResetPassword,
};
use natter::api::auth::{SignIn, SignUp};
use natter::model::admin::{AuditEntry, PeoplePage, SignupInfo};
use natter::model::UserId;

async fn id(s: &TestServer, name: &str) -> UserId {
    s.db.store
        .users_by_names(&[name.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .id
}

async fn post(
    s: &TestServer,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> (StatusCode, String) {
    let (status, _, body) = s.call(path, body.to_string(), cookie).await;
    (status, body)
}

/// Signs up with `extra` form fields (`&invite=…`): (status, body, cookie if any).
async fn sign_up(s: &TestServer, name: &str, extra: &str) -> (StatusCode, String, Option<String>) {
    let (status, headers, body) = s
        .call(
            SignUp::PATH,
            format!("username={name}&password=password123{extra}"),
            None,
        )
        .await;
    let cookie = headers
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, body, cookie)
}

async fn info(s: &TestServer, invite: &str) -> SignupInfo {
    let (status, body) = post(s, LoadSignupInfo::PATH, &format!("invite={invite}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// An invitation link's token, made by `admin`.
async fn invite(s: &TestServer, admin: &str, uses: &str) -> String {
    let (status, body) = post(
        s,
        AdminCreateInvitation::PATH,
        &format!("uses={uses}&days=7"),
        Some(admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let link: String = serde_json::from_str(&body).unwrap();
    link.split("invite=").nth(1).unwrap().to_string()
}

async fn audit(s: &TestServer, admin: &str) -> Vec<AuditEntry> {
    let (status, body) = post(s, AdminAudit::PATH, "", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

test_both_dbs!(the_first_account_is_the_administrator_and_the_only_one_made_so);
async fn the_first_account_is_the_administrator_and_the_only_one_made_so() {
    let s = start().await;
    assert!(info(&s, "").await.first);
    let root = s.sign_up("root").await;
    assert!(!info(&s, "").await.first);
    let bob = s.sign_up("bob").await;
    assert!(s.db.store.is_admin(id(&s, "root").await).await.unwrap());
    assert!(!s.db.store.is_admin(id(&s, "bob").await).await.unwrap());

    // A member gets 403 from every administrative call; a stranger 401.
    let bob_id = id(&s, "bob").await.0;
    let root_id = id(&s, "root").await.0;
    for (path, body) in [
        (AdminSetSignup::PATH, "mode=open".to_string()),
        (AdminCreateInvitation::PATH, "uses=once&days=7".into()),
        (AdminPeople::PATH, "query=&page=0".into()),
        (AdminDeactivate::PATH, format!("user_id={root_id}")),
        (AdminSetAdmin::PATH, format!("user_id={bob_id}&on=true")),
        (AdminResetLink::PATH, format!("user_id={root_id}")),
        (AdminAudit::PATH, String::new()),
    ] {
        assert_eq!(
            post(&s, path, &body, Some(&bob)).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            post(&s, path, &body, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert!(!s.db.store.is_admin(UserId(bob_id)).await.unwrap());

    // The people list, searched (a LIKE wildcard is taken literally) and paged.
    let (status, body) = post(&s, AdminPeople::PATH, "query=B&page=0", Some(&root)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: PeoplePage = serde_json::from_str(&body).unwrap();
    assert_eq!(
        page.people
            .iter()
            .map(|p| p.username.as_str())
            .collect::<Vec<_>>(),
        ["bob"]
    );
    let (_, body) = post(&s, AdminPeople::PATH, "query=%25&page=0", Some(&root)).await;
    assert!(serde_json::from_str::<PeoplePage>(&body)
        .unwrap()
        .people
        .is_empty());
}

test_both_dbs!(invitation_links_are_single_use_expire_and_can_be_revoked);
async fn invitation_links_are_single_use_expire_and_can_be_revoked() {
    let s = start().await;
    let root = s.sign_up("root").await;
    let (status, body) = post(&s, AdminSetSignup::PATH, "mode=invite", Some(&root)).await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(
        post(&s, AdminSetSignup::PATH, "mode=sometimes", Some(&root))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // No link, a made-up link: refused, with the rule in words.
    let (status, body, cookie) = sign_up(&s, "carol", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("needs an invitation"), "{body}");
    assert!(cookie.is_none());
    let made_up = "ab".repeat(32);
    assert!(sign_up(&s, "carol", &format!("&invite={made_up}"))
        .await
        .1
        .contains("not valid"));
    assert!(sign_up(&s, "carol", "&invite=%3Cscript%3E")
        .await
        .1
        .contains("not valid"));

    // A single-use link: says who invited, serves one sign-up, then no more.
    let once = invite(&s, &root, "once").await;
    assert_eq!(info(&s, &once).await.inviter.as_deref(), Some("root"));
    // A taken name uses nothing up.
    assert_eq!(
        sign_up(&s, "root", &format!("&invite={once}")).await.0,
        StatusCode::CONFLICT
    );
    let (status, body, cookie) = sign_up(&s, "carol", &format!("&invite={once}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(cookie.is_some());
    assert_eq!(info(&s, &once).await.inviter, None);
    assert!(sign_up(&s, "dave", &format!("&invite={once}"))
        .await
        .1
        .contains("not valid"));
    let (_, body) = post(&s, AdminPeople::PATH, "query=carol&page=0", Some(&root)).await;
    let page: PeoplePage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.people[0].invited_by.as_deref(), Some("root"));

    // A multi-use link serves several; revoked, none; an expired one, none.
    let many = invite(&s, &root, "many").await;
    assert_eq!(
        sign_up(&s, "dave", &format!("&invite={many}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        sign_up(&s, "erin", &format!("&invite={many}")).await.0,
        StatusCode::OK
    );
    let open = s.db.store.open_invitations().await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].uses, 2);
    let (status, _) = post(
        &s,
        AdminRevokeInvitation::PATH,
        &format!("id={}", open[0].id),
        Some(&root),
    )
    .await;
    assert!(status.is_success());
    assert!(sign_up(&s, "frank", &format!("&invite={many}"))
        .await
        .1
        .contains("not valid"));
    let old = invite(&s, &root, "many").await;
    let sql = "UPDATE signup_invitations SET expires_at = expires_at - 8 * 24 * 3600 * 1000";
    common::run_sql(&s.db.url, sql).await;
    assert!(sign_up(&s, "frank", &format!("&invite={old}"))
        .await
        .1
        .contains("not valid"));
    // Made by an administrator who is one no longer: void.
    let by_dave = {
        s.db.store
            .set_admin(None, id(&s, "dave").await, true)
            .await
            .unwrap();
        let dave = s.sign_in("dave").await;
        let token = invite(&s, &dave, "many").await;
        s.db.store
            .set_admin(None, id(&s, "dave").await, false)
            .await
            .unwrap();
        token
    };
    assert!(sign_up(&s, "frank", &format!("&invite={by_dave}"))
        .await
        .1
        .contains("not valid"));

    // Closed: nobody, invitation or not; open: anyone.
    let fresh = invite(&s, &root, "once").await;
    post(&s, AdminSetSignup::PATH, "mode=closed", Some(&root)).await;
    let (status, body, _) = sign_up(&s, "frank", &format!("&invite={fresh}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("closed"), "{body}");
    post(&s, AdminSetSignup::PATH, "mode=open", Some(&root)).await;
    assert_eq!(sign_up(&s, "frank", "").await.0, StatusCode::OK);

    let actions: Vec<_> = audit(&s, &root)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "signup_mode",
        "invitation_created",
        "invitation_revoked",
        "admin_granted",
        "admin_revoked",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not in {actions:?}");
    }
}

test_both_dbs!(a_deactivated_person_is_signed_out_everywhere_and_cannot_sign_in);
async fn a_deactivated_person_is_signed_out_everywhere_and_cannot_sign_in() {
    let s = start().await;
    let root = s.sign_up("root").await;
    let bob = s.sign_up("bob").await;
    let chat = s.create_chat(&root, "bob", "").await;
    let mut socket = s.connect(&bob).await;
    let bob_id = id(&s, "bob").await;

    let (status, body) = post(
        &s,
        AdminDeactivate::PATH,
        &format!("user_id={bob_id}"),
        Some(&root),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    socket.expect_revoked().await;
    // The old cookie opens nothing; the password gets the reason, a wrong one does not.
    assert_eq!(
        post(
            &s,
            natter::api::messages::OpenChat::PATH,
            &format!("chat_id={chat}"),
            Some(&bob)
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert!(s.try_connect(Some(&bob), Some(&s.origin)).await.is_err());
    // Nobody starts a chat with a deactivated person or adds them to a group.
    s.sign_up("cat").await;
    let (status, body) = post(
        &s,
        natter::api::chats::CreateChat::PATH,
        "members=bob&title=",
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("No such user: bob"), "{body}");
    let group = s.create_chat(&root, "cat", "Team").await;
    let (status, body) = post(
        &s,
        natter::api::chats::AddMember::PATH,
        &format!("chat_id={group}&username=bob"),
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post(&s, SignIn::PATH, "username=bob&password=password123", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("deactivated"), "{body}");
    let (status, body) = post(
        &s,
        SignIn::PATH,
        "username=bob&password=wrong-password",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!body.contains("deactivated"));
    // The messages stay; the chat still opens for root.
    assert_eq!(
        post(
            &s,
            natter::api::messages::OpenChat::PATH,
            &format!("chat_id={chat}"),
            Some(&root)
        )
        .await
        .0,
        StatusCode::OK
    );

    // Oneself and the last administrator cannot be deactivated; the last one stays one.
    let root_id = id(&s, "root").await;
    let (status, body) = post(
        &s,
        AdminDeactivate::PATH,
        &format!("user_id={root_id}"),
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("yourself"), "{body}");
    let (status, body) = post(
        &s,
        AdminSetAdmin::PATH,
        &format!("user_id={root_id}&on=false"),
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("needs an administrator"), "{body}");
    let (status, body) = post(
        &s,
        natter::api::account::DeleteAccount::PATH,
        "password=password123",
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("needs an administrator"), "{body}");
    // A deactivated person is not made administrator.
    let (status, _) = post(
        &s,
        AdminSetAdmin::PATH,
        &format!("user_id={bob_id}&on=true"),
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Reactivated: signs in again.
    let (status, _) = post(
        &s,
        AdminReactivate::PATH,
        &format!("user_id={bob_id}"),
        Some(&root),
    )
    .await;
    assert!(status.is_success());
    let bob = s.sign_in("bob").await;
    assert_eq!(
        post(
            &s,
            natter::api::messages::OpenChat::PATH,
            &format!("chat_id={chat}"),
            Some(&bob)
        )
        .await
        .0,
        StatusCode::OK
    );

    // Two administrators: one may step down, and the other may then not.
    post(
        &s,
        AdminSetAdmin::PATH,
        &format!("user_id={bob_id}&on=true"),
        Some(&root),
    )
    .await;
    let (status, _) = post(
        &s,
        AdminSetAdmin::PATH,
        &format!("user_id={root_id}&on=false"),
        Some(&root),
    )
    .await;
    assert!(status.is_success());
    assert_eq!(
        post(&s, AdminAudit::PATH, "", Some(&root)).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = post(
        &s,
        AdminSetAdmin::PATH,
        &format!("user_id={bob_id}&on=false"),
        Some(&bob),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let actions: Vec<_> = audit(&s, &bob)
        .await
        .into_iter()
        .map(|e| (e.action, e.target))
        .collect();
    assert!(
        actions.contains(&("deactivated".into(), Some("bob".into()))),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("reactivated".into(), Some("bob".into()))),
        "{actions:?}"
    );
}

test_both_dbs!(a_password_reset_link_works_once_and_ends_every_session);
async fn a_password_reset_link_works_once_and_ends_every_session() {
    let s = start().await;
    let root = s.sign_up("root").await;
    let bob = s.sign_up("bob").await;
    let mut socket = s.connect(&bob).await;
    let bob_id = id(&s, "bob").await;
    let (status, body) = post(
        &s,
        AdminResetLink::PATH,
        &format!("user_id={bob_id}"),
        Some(&root),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let link: String = serde_json::from_str(&body).unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    assert!(link.contains("/reset?token="), "{link}");

    // A short password is refused and uses nothing up.
    let (status, _) = post(
        &s,
        ResetPassword::PATH,
        &format!("token={token}&password=short"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, headers, body) = s
        .call(
            ResetPassword::PATH,
            format!("token={token}&password=new-password-1"),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    assert!(headers.get(header::SET_COOKIE).is_some());
    socket.expect_revoked().await;
    assert_eq!(
        post(&s, AdminPeople::PATH, "query=&page=0", Some(&bob))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = post(
        &s,
        SignIn::PATH,
        "username=bob&password=new-password-1",
        None,
    )
    .await;
    assert!(status.is_success() || status.is_redirection());
    // Once only.
    let (status, body) = post(
        &s,
        ResetPassword::PATH,
        &format!("token={token}&password=new-password-2"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("not valid"), "{body}");
    // A deactivated person's link stops working.
    let (_, body) = post(
        &s,
        AdminResetLink::PATH,
        &format!("user_id={bob_id}"),
        Some(&root),
    )
    .await;
    let link: String = serde_json::from_str(&body).unwrap();
    let token = link.split("token=").nth(1).unwrap().to_string();
    post(
        &s,
        AdminDeactivate::PATH,
        &format!("user_id={bob_id}"),
        Some(&root),
    )
    .await;
    let (status, _) = post(
        &s,
        ResetPassword::PATH,
        &format!("token={token}&password=new-password-3"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let actions: Vec<_> = audit(&s, &root)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.iter().any(|a| a == "reset_link") && actions.iter().any(|a| a == "password_reset"),
        "{actions:?}"
    );
}

test_both_dbs!(the_command_line_grants_and_revokes);
async fn the_command_line_grants_and_revokes() {
    let s = start().await;
    s.sign_up("root").await;
    s.sign_up("bob").await;
    let mut config = natter::server::config::Config::for_tests(&s.db.url);
    config.command = Some(natter::server::config::Command::Admin {
        action: "grant".into(),
        username: "BOB".into(),
    });
    natter::server::run(config.clone()).await.unwrap();
    assert!(s.db.store.is_admin(id(&s, "bob").await).await.unwrap());
    config.command = Some(natter::server::config::Command::Admin {
        action: "revoke".into(),
        username: "nobody-here".into(),
    });
    assert!(natter::server::run(config).await.is_err());
    let log = s.db.store.audit_log(None).await.unwrap();
    assert_eq!(log[0].1.action, "admin_granted");
    assert_eq!(log[0].1.actor, None);
}

/// The administration's errors a plain form gets back in its address are shown as they
/// are (they are the server's own fixed words), not replaced by the generic one.
#[test]
fn the_administrations_words_survive_a_plain_forms_redirect() {
    use natter::model::AppError;
    for m in [
        natter::server::db::CLOSED,
        natter::server::db::NEEDS_INVITATION,
        natter::server::db::INVITATION_INVALID,
        natter::server::db::TOO_MANY_INVITATIONS,
        natter::server::db::LAST_ADMIN,
        natter::server::db::REACTIVATE_FIRST,
        natter::server::domain::admin::NOT_YOURSELF,
        natter::server::domain::admin::LINK_INVALID,
        natter::server::domain::admin::DAYS_RULE,
        natter::api::auth::DEACTIVATED,
    ] {
        assert_eq!(
            AppError::invalid(m).from_address(),
            AppError::invalid(m),
            "{m}"
        );
    }
}

test_both_dbs!(the_administration_page_is_for_administrators_and_shows_what_an_action_made);
async fn the_administration_page_is_for_administrators_and_shows_what_an_action_made() {
    use axum::body::Body;
    use axum::http::Request;
    let s = start().await;
    let root = s.sign_up("root").await;
    let bob = s.sign_up("bob").await;
    let get = |path: &str, cookie: Option<&str>| {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.body(Body::empty()).unwrap()
    };
    let page = s.request(get("/admin", None)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = s.request(get("/admin", Some(&bob))).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains("bob</span>"));

    // A plain form post (no JavaScript) makes an invitation and comes back to the page,
    // which shows the link once.
    let req = Request::post(AdminCreateInvitation::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("{}/admin", s.origin))
        .header(header::COOKIE, &root)
        .body(Body::from("uses=once&days=7"))
        .unwrap();
    let posted = s.request(req).await;
    assert_eq!(posted.status, StatusCode::FOUND, "{}", posted.body);
    let back = posted
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(back.starts_with("/admin?invitation="), "{back}");
    let page = s.request(get(&back, Some(&root))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Invitation link"), "{}", page.body);
    assert!(page.body.contains("/signup?invite="));
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    for part in [
        "Sign-up",
        "Create invitation",
        "Deactivate",
        "Reset password link",
        "Audit log",
    ] {
        assert!(page.body.contains(part), "{part} missing");
    }
    // Words in the address are not shown; a forged error becomes the generic one; a
    // forged invitation token is not shown as a link.
    let page = s
        .request(get("/admin?invitation=%3Cscript%3Ealert(1)%3C/script%3E&q=%3Cb%3E&page=-5&__err=eyJJbnZhbGlkIjoiQ2FsbCAwMDAifQ", Some(&root)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert") && !page.body.contains("<b>"));
    assert!(!page.body.contains("Call 000"));
    assert!(!page.body.contains("Invitation link"));
    // A nonsense address still renders the page.
    assert_eq!(
        s.request(get("/admin?page=abc", Some(&root))).await.status,
        StatusCode::OK
    );

    // The reset page: a made-up token gets a 404 page; a real one the form.
    let page = s.request(get("/reset?token=abc", None)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("not valid any more"));
    let (_, body) = post(
        &s,
        AdminResetLink::PATH,
        &format!("user_id={}", id(&s, "bob").await),
        Some(&root),
    )
    .await;
    let link: String = serde_json::from_str(&body).unwrap();
    let path = &link[link.find("/reset").unwrap()..];
    let page = s.request(get(path, None)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("A new password for bob") && page.body.contains("Set password"));
}

test_both_dbs!(links_die_with_their_makers_rights_and_the_last_administrator_stays_under_any_path);
/// What the attack review found (session 34): a reset link outliving its maker's rights
/// or the person's own new password; invitations of a former administrator listed as
/// usable; the last administrator deleted by a path that skipped the check.
async fn links_die_with_their_makers_rights_and_the_last_administrator_stays_under_any_path() {
    let s = start().await;
    let root = s.sign_up("root").await;
    let mallory = s.sign_up("mallory").await;
    s.sign_up("bob").await;
    let (root_id, mallory_id, bob_id) = (
        id(&s, "root").await,
        id(&s, "mallory").await,
        id(&s, "bob").await,
    );
    s.db.store
        .set_admin(Some(root_id), mallory_id, true)
        .await
        .unwrap();
    let link = |cookie: String, whom: UserId| {
        let s = &s;
        async move {
            let (status, body) = post(
                s,
                AdminResetLink::PATH,
                &format!("user_id={whom}"),
                Some(&cookie),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let link: String = serde_json::from_str(&body).unwrap();
            link.split("token=").nth(1).unwrap().to_string()
        }
    };
    let for_root = link(mallory.clone(), root_id).await;
    let _ = invite(&s, &mallory, "many").await;
    assert_eq!(s.db.store.open_invitations().await.unwrap().len(), 1);
    // Mallory loses the rights: her reset link and her invitation die with them.
    s.db.store
        .set_admin(Some(root_id), mallory_id, false)
        .await
        .unwrap();
    let (status, _) = post(
        &s,
        ResetPassword::PATH,
        &format!("token={for_root}&password=taken-over-1"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(s.db.store.open_invitations().await.unwrap().is_empty());

    // A person who chooses a new password themself voids a pending link.
    let for_bob = link(root.clone(), bob_id).await;
    let bob = s.sign_in("bob").await;
    let (status, _) = post(
        &s,
        natter::api::account::ChangePassword::PATH,
        "current=password123&new=password456",
        Some(&bob),
    )
    .await;
    assert!(status.is_success());
    assert!(s
        .db
        .store
        .reset_user(&natter::server::domain::auth::hash_token(&for_bob))
        .await
        .unwrap()
        .is_none());

    // /admin shows a link under the name the link is for, whatever else the address says.
    use axum::body::Body;
    use axum::http::Request;
    let for_bob = link(root.clone(), bob_id).await;
    let page = s
        .request(
            Request::get(format!("/admin?reset={for_bob}&for={root_id}"))
                .header(header::COOKIE, &root)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        page.body.contains("Give this link to bob yourself"),
        "{}",
        page.body
    );

    // The store refuses to close the last administrator's account even when asked
    // directly (the check is inside its transaction).
    let err = s.db.store.close_account(root_id, &[]).await.unwrap_err();
    assert!(err.to_string().contains("needs an administrator"), "{err}");
    assert!(s.db.store.is_admin(root_id).await.unwrap());
}
