//! Issue 34, profiles: display name, status, time zone, avatar (typed from its bytes,
//! bounded, metadata gone, square, in sizes), the profile page, and the display name
//! where people are named. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::server::{start, TestServer};
use leptos::server_fn::ServerFn;
use natter::api::account::{DeleteAccount, Profile as GetProfile, RemoveAvatar, SetProfile};
use natter::model::{Profile, UserId};

const BOUNDARY: &str = "natter-avatar-boundary";

/// The avatar form's body: one file `avatar`.
fn avatar_form(bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.jpg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A raw request through the router: (status, headers, bytes).
async fn raw(s: &TestServer, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let res = tower::ServiceExt::oneshot(natter::server::edge::router::app(s.state.clone()), req)
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

/// Posts `bytes` as `cookie`'s avatar, as the form does (no JavaScript).
async fn upload(s: &TestServer, cookie: &str, bytes: &[u8]) -> (StatusCode, String) {
    let req = Request::post("/account/avatar")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(header::COOKIE, cookie)
        .body(Body::from(avatar_form(bytes)))
        .unwrap();
    let (status, headers, body) = raw(s, req).await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (
        status,
        location.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
    )
}

async fn get(
    s: &TestServer,
    cookie: Option<&str>,
    path: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    raw(s, req.body(Body::empty()).unwrap()).await
}

async fn profile_of(s: &TestServer, cookie: &str, id: UserId) -> (StatusCode, Option<Profile>) {
    let (status, _, body) = s
        .call(GetProfile::PATH, format!("user_id={id}"), Some(cookie))
        .await;
    (status, serde_json::from_str(&body).ok())
}

async fn id(s: &TestServer, name: &str) -> UserId {
    s.db.store
        .users_by_names(&[name.to_string()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .id
}

fn form_encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn set_profile(
    s: &TestServer,
    cookie: &str,
    name: &str,
    status: &str,
    zone: &str,
) -> (StatusCode, String) {
    let body = format!(
        "display_name={}&status={}&time_zone={}",
        form_encode(name),
        form_encode(status),
        form_encode(zone)
    );
    let (code, _, text) = s.call(SetProfile::PATH, body, Some(cookie)).await;
    (code, text)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

test_both_dbs!(a_profile_is_set_read_by_anyone_and_checked);
async fn a_profile_is_set_read_by_anyone_and_checked() {
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let ann_id = id(&s, "ann").await;

    assert_eq!(
        set_profile(&s, &ann, "  Ann Lee ", "Reviewing", "europe/berlin")
            .await
            .0,
        StatusCode::OK
    );
    let (status, p) = profile_of(&s, &bob, ann_id).await;
    assert_eq!(status, StatusCode::OK);
    let p = p.unwrap();
    assert_eq!(
        (
            p.username.as_str(),
            p.display_name.as_str(),
            p.status.as_str(),
            p.time_zone.as_str(),
            p.avatar
        ),
        ("ann", "Ann Lee", "Reviewing", "Europe/Berlin", 0)
    );

    // Refused with a clear 400, and nothing changes.
    let long = "x".repeat(49);
    for (name, status, zone, says) in [
        ("A\u{202E}nn", "", "", "control character"),
        ("Ann\u{200B}", "", "", "control character"),
        (long.as_str(), "", "", "at most 48"),
        ("Ann", &"s".repeat(101), "", "at most 100"),
        ("Ann", "", "Mars/Olympus", "Unknown time zone"),
        ("Ann", "", "../../etc/passwd", "Unknown time zone"),
        // Names that show nothing, or pass for someone else.
        ("\u{3164}", "", "", "control character"),
        ("Ann\u{00AD}", "", "", "control character"),
        ("Ann\u{E0041}", "", "", "control character"),
        ("\u{2800}", "", "", "control character"),
        ("...", "", "", "letter or a digit"),
        ("BOB", "", "", "someone else's username"),
        ("@bob", "", "", "may not contain '@'"),
        ("Deleted user #3", "", "", "deleted account"),
        ("Ann", "\u{202E}tnemucod", "", "control character"),
    ] {
        let (code, text) = set_profile(&s, &ann, name, status, zone).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{name:?} {zone:?}: {text}");
        assert!(text.contains(says), "{text}");
    }
    assert_eq!(
        profile_of(&s, &bob, ann_id).await.1.unwrap().display_name,
        "Ann Lee"
    );

    // One's own username, in any case, is fine; a new account may not take someone's
    // display name as its username.
    assert_eq!(set_profile(&s, &bob, "BOB", "", "").await.0, StatusCode::OK);
    set_profile(&s, &bob, "carla", "", "").await;
    let (code, _, _) = s
        .call(
            natter::api::auth::SignUp::PATH,
            "username=carla&password=password123".into(),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);

    // Signed out: nothing; no such person: 404.
    let (code, _, _) = s
        .call(GetProfile::PATH, format!("user_id={ann_id}"), None)
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(
        profile_of(&s, &bob, UserId(999_999)).await.0,
        StatusCode::NOT_FOUND
    );

    // Emptied: none again.
    assert_eq!(set_profile(&s, &ann, "", "", "").await.0, StatusCode::OK);
    let p = profile_of(&s, &bob, ann_id).await.1.unwrap();
    assert!(p.display_name.is_empty() && p.status.is_empty() && p.time_zone.is_empty());
}

test_both_dbs!(an_avatar_is_typed_bounded_stripped_squared_and_served_in_sizes);
async fn an_avatar_is_typed_bounded_stripped_squared_and_served_in_sizes() {
    let s = start().await;
    // The first account is the administrator, who may not close theirs while alone.
    let root = s.sign_up("root").await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let ann_id = id(&s, "ann").await;

    let (code, location) =
        upload(&s, &ann, &common::pictures::jpeg_with_location(600, 300).1).await;
    assert_eq!(
        (code, location.as_str()),
        (StatusCode::SEE_OTHER, "/account?done=avatar")
    );
    let p = profile_of(&s, &bob, ann_id).await.1.unwrap();
    assert_eq!(p.avatar, 1);
    for side in [64, 256] {
        let url = p.avatar_url(side).unwrap();
        let (code, headers, bytes) = get(&s, Some(&bob), &url).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
        assert!(headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        // Another version's address (or none) is not kept.
        let stale = format!("/avatars/{ann_id}/{side}?v=7");
        let (code, headers, _) = get(&s, Some(&bob), &stale).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "private, no-cache");
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (side, side),
            "a square of {side}"
        );
        assert!(
            !contains(&bytes, b"GPS") && !contains(&bytes, b"Exif"),
            "metadata left"
        );
    }
    // Signed out, another size, nobody's: no picture.
    assert_eq!(
        get(&s, None, &p.avatar_url(64).unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&s, Some(&bob), &format!("/avatars/{ann_id}/65"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let bob_id = id(&s, "bob").await;
    assert_eq!(
        get(&s, Some(&ann), &format!("/avatars/{bob_id}/64"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Typed from the bytes: an SVG, HTML, a BMP or nothing is refused, and the avatar stays.
    let bmp = {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Bmp)
            .unwrap_or_default();
        out
    };
    for bad in [
        &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
        b"<html><body>hi</body></html>",
        b"\x89PNG\r\n\x1a\nbroken",
        bmp.as_slice(),
    ] {
        let (code, text) = upload(&s, &ann, bad).await;
        assert!(code.is_client_error(), "{code} {text}");
        assert!(
            !text.contains("<script>"),
            "the refusal page echoes nothing: {text}"
        );
    }
    let (code, _) = upload(&s, &ann, b"").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    // A decompression bomb: a small file claiming 100 000 × 100 000 pixels.
    let bomb = common::pictures::png_bomb();
    let (code, text) = upload(&s, &ann, &bomb).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
    // Too large: refused before it is held whole.
    let (code, _) = upload(&s, &ann, &vec![0xFF; 6 * 1024 * 1024]).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(profile_of(&s, &bob, ann_id).await.1.unwrap().avatar, 1);

    // A new avatar has a new address; removed, none; the next one is newer still.
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(image::RgbaImage::new(40, 90))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert_eq!(upload(&s, &ann, &png).await.0, StatusCode::SEE_OTHER);
    assert_eq!(profile_of(&s, &bob, ann_id).await.1.unwrap().avatar, 2);
    let (code, _, _) = s.call(RemoveAvatar::PATH, String::new(), Some(&ann)).await;
    assert_eq!(code, StatusCode::OK);
    let p = profile_of(&s, &bob, ann_id).await.1.unwrap();
    assert_eq!((p.avatar, p.avatar_url(64)), (0, None));
    assert_eq!(
        get(&s, Some(&bob), &format!("/avatars/{ann_id}/64?v=2"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(upload(&s, &ann, &png).await.0, StatusCode::SEE_OTHER);
    assert_eq!(profile_of(&s, &bob, ann_id).await.1.unwrap().avatar, 3);

    // An administrator clears a profile (an offensive avatar, say); nobody else can.
    set_profile(&s, &ann, "Ann", "here", "UTC").await;
    let clear = format!("user_id={ann_id}");
    let path = natter::api::admin::AdminClearProfile::PATH;
    let (code, _, _) = s.call(path, clear.clone(), Some(&bob)).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(profile_of(&s, &bob, ann_id).await.1.unwrap().avatar, 3);
    let (code, _, body) = s.call(path, clear, Some(&root)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let p = profile_of(&s, &bob, ann_id).await.1.unwrap();
    assert_eq!(
        (p.display_name.as_str(), p.status.as_str(), p.avatar),
        ("", "", 0)
    );
    assert_eq!(
        get(&s, Some(&bob), &format!("/avatars/{ann_id}/64"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let log = s.db.store.audit_log(None).await.unwrap();
    assert_eq!(log[0].1.action, "profile cleared");
    assert_eq!(upload(&s, &ann, &png).await.0, StatusCode::SEE_OTHER);
    assert_eq!(profile_of(&s, &bob, ann_id).await.1.unwrap().avatar, 4);

    // A closed account takes its profile and avatar with it.
    set_profile(&s, &ann, "Ann", "here", "UTC").await;
    let (code, _, _) = s
        .call(
            DeleteAccount::PATH,
            "password=password123".into(),
            Some(&ann),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(profile_of(&s, &bob, ann_id).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&s, Some(&bob), &format!("/avatars/{ann_id}/64"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

test_both_dbs!(the_profile_page_shows_the_person_escaped_with_message);
async fn the_profile_page_shows_the_person_escaped_with_message() {
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let ann_id = id(&s, "ann").await;
    let hostile = "</title><script>alert(1)</script>";
    set_profile(
        &s,
        &ann,
        hostile,
        "\"><img src=x onerror=alert(1)>",
        "Asia/Tokyo",
    )
    .await;

    let (code, headers, page) = get(&s, Some(&bob), &format!("/people/{ann_id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let page = String::from_utf8(page).unwrap();
    assert!(
        !page.contains("<script>alert") && !page.contains("<img src=x"),
        "{page}"
    );
    assert!(page.contains("&lt;/title&gt;&lt;script&gt;"), "{page}");
    assert!(page.contains("@ann") && page.contains("Local time") && page.contains("Asia/Tokyo"));
    assert!(page.contains(r#"action="/api/create_chat""#) && page.contains(">Message</button>"));
    // "Message" starts the direct chat, as the form posts it.
    let req = Request::post("/api/create_chat")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &bob)
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("{}/people/{ann_id}", s.origin))
        .body(Body::from("members=ann&title="))
        .unwrap();
    let (code, headers, _) = raw(&s, req).await;
    assert!(code.is_redirection(), "{code}");
    assert!(headers[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/chats/"));

    // One's own page offers editing instead; signed out goes to sign-in; nobody: 404.
    let own = String::from_utf8(get(&s, Some(&ann), &format!("/people/{ann_id}")).await.2).unwrap();
    assert!(own.contains("Edit profile") && !own.contains(">Message</button>"));
    let (code, headers, _) = get(&s, None, &format!("/people/{ann_id}")).await;
    assert!(code.is_redirection() && headers[header::LOCATION] == "/login");
    assert_eq!(
        get(&s, Some(&bob), "/people/424242").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&s, Some(&bob), "/people/x").await.0,
        StatusCode::BAD_REQUEST
    );
}

test_both_dbs!(the_display_name_names_senders_and_direct_chats);
async fn the_display_name_names_senders_and_direct_chats() {
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let bob = s.sign_up("bob").await;
    let chat = s.create_chat(&ann, "bob", "").await;
    let (ann_id, bob_id) = (id(&s, "ann").await, id(&s, "bob").await);
    set_profile(&s, &ann, "Ann Lee", "", "").await;
    let mut ws = s.connect(&ann).await;
    ws.send(&common::server::send(chat, "c1", "hello")).await;
    let sent = loop {
        if let natter::model::protocol::ServerFrame::Message { message } = ws.next().await {
            assert_eq!(
                (message.sender.as_str(), message.sender_id),
                ("Ann Lee", ann_id)
            );
            break message.id;
        }
    };
    let store = &s.db.store;
    let list = store.list_chats(bob_id).await.unwrap();
    let entry = list.iter().find(|c| c.id == chat).unwrap();
    assert_eq!(entry.title, "Ann Lee");
    let detail = store.chat_for_member(chat, bob_id).await.unwrap().unwrap();
    assert_eq!(detail.title, "Ann Lee");
    let ann_member = detail.members.iter().find(|m| m.user_id == ann_id).unwrap();
    assert_eq!(
        (ann_member.username.as_str(), ann_member.label()),
        ("ann", "Ann Lee")
    );
    // Read back from history too (the name as it is now, not as it was).
    let stored = store.message(sent).await.unwrap().unwrap();
    assert_eq!(stored.sender, "Ann Lee");
    set_profile(&s, &ann, "", "", "").await;
    assert_eq!(store.message(sent).await.unwrap().unwrap().sender, "ann");
    let list = store.list_chats(bob_id).await.unwrap();
    assert_eq!(list.iter().find(|c| c.id == chat).unwrap().title, "ann");
    drop(bob);
}

test_both_dbs!(people_are_found_by_username_or_display_name);
async fn people_are_found_by_username_or_display_name() {
    let s = start().await;
    let root = s.sign_up("root").await;
    let carol = s.sign_up("carol").await;
    s.sign_up("carl").await;
    let dave = s.sign_up("dave").await;
    set_profile(&s, &carol, "Caroline Park", "", "").await;
    set_profile(&s, &dave, "Dave 100%_off!", "", "").await;
    let find = |prefix: &str| {
        let body = format!("prefix={}", form_encode(prefix));
        let s = &s;
        let root = root.clone();
        async move {
            let (code, _, text) = s
                .call(natter::api::account::FindPeople::PATH, body, Some(&root))
                .await;
            assert_eq!(code, StatusCode::OK, "{text}");
            let found: Vec<Profile> = serde_json::from_str(&text).unwrap();
            found.into_iter().map(|p| p.username).collect::<Vec<_>>()
        }
    };
    assert_eq!(find("car").await, ["carl", "carol"]);
    assert_eq!(find("@CAR").await, ["carl", "carol"]);
    assert_eq!(find("park").await, ["carol"]);
    assert_eq!(find("100%").await, ["dave"]);
    // LIKE's wildcards are taken as typed.
    assert!(find("%").await.is_empty());
    assert!(find("_").await.is_empty());
    assert!(find("").await.is_empty());
    assert!(find(&"a".repeat(40)).await.is_empty());
    // Deleted accounts are not found.
    let (code, _, _) = s
        .call(
            DeleteAccount::PATH,
            "password=password123".into(),
            Some(&carol),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(find("car").await, ["carl"]);
}

test_both_dbs!(account_shows_the_newest_error_and_no_stale_note);
/// /account is the server's page: a second failed post leaves two errors in its
/// address (each failure appends one): the newest shows, and an error hides the note
/// of an earlier success still in the address.
async fn account_shows_the_newest_error_and_no_stale_note() {
    use leptos::server_fn::error::ServerFnUrlError;
    use natter::model::{validate, AppError};
    let s = start().await;
    let ann = s.sign_up("ann").await;
    let query = |rule: &str| {
        let url = ServerFnUrlError::new(SetProfile::PATH, AppError::invalid(rule))
            .to_url("http://127.0.0.1/account")
            .unwrap();
        url.query().unwrap().to_string()
    };
    let first = query(validate::TIME_ZONE_RULE);
    let second = query(validate::DISPLAY_NAME_TAKEN_RULE);
    let (code, headers, page) = get(
        &s,
        Some(&ann),
        &format!("/account?done=profile&{first}&{second}"),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains(
            validate::DISPLAY_NAME_TAKEN_RULE
                .replace('\'', "&#39;")
                .as_str()
        ) || page.contains("someone else"),
        "{page}"
    );
    assert!(!page.contains("Unknown time zone"), "{page}");
    assert!(!page.contains("Profile saved."), "{page}");
    let page = String::from_utf8(get(&s, Some(&ann), "/account?done=profile").await.2).unwrap();
    assert!(page.contains("Profile saved."));
    // Only the known words make a note; anything else shows nothing.
    let page = String::from_utf8(
        get(&s, Some(&ann), "/account?done=Your+account+is+locked")
            .await
            .2,
    )
    .unwrap();
    assert!(!page.contains("Your account is locked") && !page.contains("class=\"form-ok\""));
    // Signed out: to the sign-in page.
    let (code, headers, _) = get(&s, None, "/account").await;
    assert!(code.is_redirection() && headers[header::LOCATION] == "/login");
}
