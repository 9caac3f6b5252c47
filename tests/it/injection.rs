//! Hostile text everywhere a user can put text (issue 29): an injection corpus goes into
//! usernames, chat titles (created and renamed), message bodies (plain, formatted, code,
//! links, quotes, lists, mentions, edits), reply quotes, client ids, search queries and
//! every query parameter a page reads (`?__err=` included). Every page that shows them
//! is parsed with a real HTML parser (html5ever, through `scraper`), which must find no
//! element, attribute, comment or script that came from the input, and each chat's
//! `<title>` must read exactly as the title that was typed.
//!
//! Runs on SQLite and on PostgreSQL (`test_both_dbs!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::server::{start, TestServer};
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use natter::api::account::{ChangePassword, DeleteAccount};
use natter::api::auth::{SignIn, SignUp};
use natter::api::chats::{CreateChat, RenameChat};
use natter::api::messages::{DeleteMessage, EditMessage, ReactMessage, SendMessage};
use natter::model::AppError;
use scraper::{Html, Node};
use std::time::Duration;

/// The marker every injected element and attribute carries.
const MARK: &str = "x-pwn";

/// Each at most 100 characters (a title's limit) and free of control characters (which
/// titles and bodies may refuse), so each one can be a title and a body.
const CORPUS: &[&str] = &[
    r#"</title><meta http-equiv="refresh" content="0;url=/search?q=PWNED">"#,
    "<x-pwn>",
    "<x-pwn x-pwn=1>hi</x-pwn>",
    r#""><x-pwn x-pwn>"#,
    r#"'><x-pwn x-pwn>"#,
    r#"" x-pwn="1"#,
    "' x-pwn='1",
    "</title><x-pwn>",
    "</script><x-pwn>",
    "</script><script>x_pwn()</script>",
    "</style><x-pwn>",
    "</textarea><x-pwn>",
    "</noscript><x-pwn>",
    "<!--<x-pwn>-->",
    "<!--",
    "--><x-pwn><!--",
    "<!--<script>",
    "<![CDATA[<x-pwn>]]>",
    "]]><x-pwn>",
    "{{x_pwn}} ${x_pwn} <%= x_pwn %>",
    "<img src=x x-pwn onerror=x_pwn()>",
    "<svg><x-pwn/></svg>",
    r#"<meta http-equiv=refresh content="0;url=/x-pwn" x-pwn>"#,
    "<base href=//x-pwn.example/>",
    "&lt;x-pwn&gt; &amp;lt; &#60;x-pwn&#62;",
    r"\u003cx-pwn\u003e \x3cx-pwn\x3e",
    "<scr<script>ipt>x_pwn()</scr</script>ipt>",
    "<a href=javascript:x_pwn() x-pwn>x</a>",
    r#"<p title="</p><x-pwn>">"#,
    "'\"`<x-pwn>`\"'",
];

/// How each body wraps a corpus item: plain, formatted, code, links, quotes, lists.
const BODY_SHAPES: &[&str] = &[
    "{}",
    "**{}**",
    "_{}_ and *{}*",
    "`{}`",
    "```\n{}\n```",
    "[{}](https://example.com/?q={})",
    "https://example.com/{}",
    "<https://example.com/{}>",
    "[x](javascript:x_pwn()) [y](data:text/html,{})",
    "> {}\n> > {}",
    "- {}\n- `{}`\n1. {}",
    "@x-pwn {} @alice",
];

struct Page {
    status: StatusCode,
    nonce: Option<String>,
    body: String,
}

async fn post(
    s: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    // A person at a keyboard does not hit the per-user buckets; this test does, so
    // it waits as the limiter asks.
    for _ in 0..60 {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let res = s.request(req.body(Body::from(body.clone())).unwrap()).await;
        let cookie = res
            .headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        return (res.status, res.body, cookie);
    }
    panic!("{path}: still rate limited");
}

async fn get(s: &TestServer, path: &str, cookie: Option<&str>) -> Page {
    let request = || {
        let mut req = Request::get(path).header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.body(Body::empty()).unwrap()
    };
    let mut res = s.request(request()).await;
    // Twice in CI's PostgreSQL phase (sessions 35 and 36, of some 180 pages each run)
    // one chat page stalled past the 30 s request limit, then rendered in ~15 ms; it
    // has not been reproduced alone or under the same phase here. What this test
    // checks is markup, so a lone stall is retried once, and said; two in a row fail.
    if res.status == StatusCode::REQUEST_TIMEOUT {
        eprintln!("STALL: {path} answered 408 after the request limit; retrying once");
        res = s.request(request()).await;
    }
    let nonce = res
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .and_then(|csp| {
            let start = csp.find("'nonce-")? + "'nonce-".len();
            let len = csp[start..].find('\'')?;
            Some(csp[start..start + len].to_string())
        });
    Page {
        status: res.status,
        nonce,
        body: res.body,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses `page` and fails if anything in it came from the input rather than from us.
/// Returns the parsed document for further checks.
fn assert_inert(what: &str, page: &Page) -> Html {
    assert!(
        page.status.is_success() || page.status.is_redirection() || page.status.is_client_error(),
        "{what}: {}",
        page.status
    );
    let doc = Html::parse_document(&page.body);
    for node in doc.tree.nodes() {
        match node.value() {
            Node::Element(el) => {
                let name = el.name();
                assert!(
                    !name.contains("pwn"),
                    "{what}: an injected <{name}> element"
                );
                assert!(name != "base", "{what}: a <base> element");
                if name == "meta" {
                    assert!(
                        el.attr("http-equiv").is_none(),
                        "{what}: a <meta http-equiv>: {:?}",
                        el
                    );
                }
                for (attr, value) in el.attrs() {
                    assert!(
                        !attr.contains("pwn"),
                        "{what}: an injected {attr}= attribute on <{name}>"
                    );
                    // Handlers would be ours only if we wrote inline script, which the
                    // CSP forbids anyway: none may appear.
                    assert!(
                        !attr.starts_with("on"),
                        "{what}: an {attr}= handler on <{name}>"
                    );
                    if matches!(attr, "href" | "src" | "action" | "formaction") {
                        let v = value.trim().to_ascii_lowercase();
                        assert!(
                            !v.starts_with("javascript:") && !v.starts_with("data:"),
                            "{what}: <{name} {attr}={value:?}>"
                        );
                    }
                }
                if name == "script" {
                    let nonce = page
                        .nonce
                        .as_deref()
                        .expect("a page with scripts has a CSP nonce");
                    assert_eq!(
                        el.attr("nonce"),
                        Some(nonce),
                        "{what}: a script without the page's nonce"
                    );
                }
            }
            Node::Comment(c) => {
                let c: &str = c;
                assert!(!c.contains("pwn"), "{what}: input inside a comment: {c:?}");
            }
            Node::Text(t) => {
                // Script data must not hold markup that changes how the rest parses
                // (`<!--` + `<script` keeps the tokenizer inside the script).
                let in_script = node
                    .parent()
                    .and_then(|p| p.value().as_element())
                    .is_some_and(|p| p.name() == "script");
                if in_script {
                    let t = t.to_ascii_lowercase();
                    for bad in ["<!--", "<script", "</script"] {
                        assert!(!t.contains(bad), "{what}: {bad:?} inside a script");
                    }
                }
            }
            _ => {}
        }
    }
    doc
}

fn title_of(doc: &Html) -> String {
    let sel = scraper::Selector::parse("head > title").unwrap();
    let titles: Vec<_> = doc.select(&sel).collect();
    assert_eq!(titles.len(), 1, "one <title> in <head>");
    titles[0].text().collect()
}

/// An error as a form posted without JavaScript gets it back: `?__path=…&__err=…`.
fn address_error(path: &str, err: AppError) -> String {
    let url = ServerFnUrlError::new(path, err)
        .to_url("http://127.0.0.1/")
        .unwrap();
    url.query().unwrap().to_string()
}

/// The query parameters any page might read, each filled with `item`, plus a forged
/// form error for each of the page's forms.
fn hostile_query(item: &str, forms: &[&str]) -> String {
    let mut q: Vec<String> = forms
        .iter()
        .map(|form| address_error(form, AppError::Invalid(item.to_string())))
        .collect();
    let mut keys = vec!["q", "before", "at", "next", "redirect", "x-pwn"];
    if forms.is_empty() {
        keys.extend(["__path", "__err"]);
    }
    q.extend(keys.iter().map(|k| format!("{k}={}", enc(item))));
    q.join("&")
}

test_both_dbs!(no_user_text_becomes_markup_on_any_page);
async fn no_user_text_becomes_markup_on_any_page() {
    let s = start().await;
    // Usernames allow only a–z, 0–9, `_ . -`: the corpus cannot go there, but the
    // marker can, and a refused one must not come back as markup.
    let alice = s.sign_up("alice").await;
    let bob = s.sign_up("bob").await;
    let pwn = s.sign_up(MARK).await;
    let (status, body, _) = post(
        &s,
        SignUp::PATH,
        &[("username", CORPUS[2]), ("password", "password123")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A group per corpus item, titled with it: half created so by alice, half renamed
    // to it by x-pwn (who put the others in).
    let mut groups = Vec::new();
    for (i, item) in CORPUS.iter().enumerate() {
        let (first, members, creator) = if i % 2 == 0 {
            (*item, "bob x-pwn", &alice)
        } else {
            ("plain", "alice bob", &pwn)
        };
        let (status, body, _) = post(
            &s,
            CreateChat::PATH,
            &[("members", members), ("title", first)],
            Some(creator),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "create {item:?}: {body}");
        let id: i64 = body.parse().unwrap();
        if i % 2 == 1 {
            let (status, body, _) = post(
                &s,
                RenameChat::PATH,
                &[("chat_id", &id.to_string()), ("title", item)],
                Some(&pwn),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "rename to {item:?}: {body}");
        }
        groups.push((id, *item));
    }
    let dm = s.create_chat(&alice, "bob", "").await.0;

    // Bodies: every item plain in the first group and the DM; every shape with all
    // items in the DM; replies quoting them; an edit; client ids of corpus text.
    let send = |chat: i64, client: String, body: String, reply: Option<i64>, who: String| {
        let s = &s;
        async move {
            let chat = chat.to_string();
            let reply = reply.map(|r| r.to_string());
            let mut form = vec![
                ("chat_id", chat.as_str()),
                ("client_id", client.as_str()),
                ("body", body.as_str()),
            ];
            if let Some(r) = &reply {
                form.push(("reply_to", r.as_str()));
            }
            let (status, text, _) = post(s, SendMessage::PATH, &form, Some(&who)).await;
            assert_eq!(status, StatusCode::OK, "send {body:?}: {text}");
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let mut sent = Vec::new();
    for (i, item) in CORPUS.iter().enumerate() {
        // A client id is 1–64 visible ASCII characters: the corpus fits, spaces aside.
        let client: String = format!("{i}{item}")
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        sent.push(
            send(
                groups[0].0,
                client.clone(),
                item.to_string(),
                None,
                pwn.clone(),
            )
            .await,
        );
        sent.push(send(dm, client, item.to_string(), None, alice.clone()).await);
    }
    for (i, shape) in BODY_SHAPES.iter().enumerate() {
        let body = CORPUS
            .iter()
            .map(|item| shape.replace("{}", item))
            .collect::<Vec<_>>()
            .join("\n\n");
        let body: String = body.chars().take(4000).collect();
        let id = send(dm, format!("shape{i}"), body, None, alice.clone()).await;
        // Bob answers each: his replies quote alice's text.
        send(
            dm,
            format!("reply{i}"),
            format!("re {}", CORPUS[i % CORPUS.len()]),
            Some(id),
            bob.clone(),
        )
        .await;
    }
    for i in 0..CORPUS.len() {
        send(
            groups[0].0,
            format!("q{i}"),
            "quoting".into(),
            Some(sent[2 * i]),
            bob.clone(),
        )
        .await;
    }
    let needle = format!("needle {}", CORPUS.join(" "));
    send(dm, "needle".into(), needle, None, alice.clone()).await;
    let (status, body, _) = post(
        &s,
        EditMessage::PATH,
        &[
            ("message_id", &sent[1].to_string()),
            ("body", &format!("edited {}", CORPUS[0])),
        ],
        Some(&alice),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let chat_forms = [DeleteMessage::PATH, EditMessage::PATH, ReactMessage::PATH];
    for who in [&alice, &bob] {
        for (id, title) in &groups {
            let page = get(&s, &format!("/chats/{id}"), Some(who)).await;
            assert_eq!(page.status, StatusCode::OK, "/chats/{id}");
            let doc = assert_inert(&format!("/chats/{id} titled {title:?}"), &page);
            assert_eq!(
                title_of(&doc),
                format!("{title} · natter"),
                "the title reads as typed"
            );
        }
        let page = get(&s, &format!("/chats/{dm}"), Some(who)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_inert("the DM", &page);
        let page = get(&s, "/chats", Some(who)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_inert("/chats", &page);
    }

    // Every page, with every query parameter it might read set to each item.
    let pages: [(&str, &[&str], Option<&str>); 9] = [
        ("/login", &[SignIn::PATH], None),
        ("/signup", &[SignUp::PATH], None),
        (
            "/account",
            &[ChangePassword::PATH, DeleteAccount::PATH],
            Some(&alice),
        ),
        ("/chats", &[], Some(&alice)),
        ("/chats/new", &[CreateChat::PATH], Some(&alice)),
        ("/search", &[], Some(&bob)),
        ("/search", &[], Some(&pwn)),
        ("/nowhere/x-pwn", &[], Some(&alice)),
        ("/chats/x-pwn", &chat_forms, Some(&alice)),
    ];
    let dm_page = format!("/chats/{dm}");
    for item in CORPUS {
        for (path, forms, who) in pages
            .iter()
            .chain([(dm_page.as_str(), &chat_forms[..], Some(alice.as_str()))].iter())
        {
            let url = format!("{path}?{}", hostile_query(item, forms));
            let page = get(&s, &url, *who).await;
            assert_inert(&format!("{url} ({item:?})"), &page);
        }
        // A form error that is not even an encoded error.
        let url = format!("/login?__path={}&__err={}", enc(SignIn::PATH), enc(item));
        assert_inert(&url, &get(&s, &url, None).await);
        // Searching for the item itself (the words in it may find messages).
        let page = get(&s, &format!("/search?q={}", enc(item)), Some(&bob)).await;
        assert_inert(&format!("search {item:?}"), &page);
    }
    // Search results show the corpus around the word found.
    let page = get(&s, "/search?q=needle", Some(&alice)).await;
    assert!(
        page.body.contains("search-results"),
        "the search finds the corpus: {}",
        page.body
    );
    assert_inert("search needle", &page);
}

test_both_dbs!(a_link_cannot_put_words_in_the_sign_in_form);
/// `?__err=` carries an error back to a form posted without JavaScript, and any link can
/// carry one: the page shows only the server's own fixed messages.
async fn a_link_cannot_put_words_in_the_sign_in_form() {
    let s = start().await;
    let chosen = "Your account is locked. Call 555-0100 to unlock it";
    for (path, form) in [("/login", SignIn::PATH), ("/signup", SignUp::PATH)] {
        for err in [
            AppError::Invalid(chosen.into()),
            AppError::Conflict(chosen.into()),
            AppError::NotFound(chosen.into()),
            AppError::Transport(chosen.into()),
        ] {
            let url = format!("{path}?{}", address_error(form, err));
            let page = get(&s, &url, None).await;
            assert_eq!(page.status, StatusCode::OK, "{url}");
            assert!(
                !page.body.contains("555-0100"),
                "{url} shows the chosen text"
            );
            assert!(
                page.body.contains(natter::model::error::ADDRESS_ERROR),
                "{url}: a generic message instead"
            );
        }
    }
    // What the server itself sends back still shows.
    let url = format!(
        "/login?{}",
        address_error(SignIn::PATH, AppError::BadCredentials)
    );
    let page = get(&s, &url, None).await;
    assert!(
        page.body.contains("Wrong username or password"),
        "{}",
        page.body
    );
    let taken = AppError::Conflict("That username is taken".into());
    let page = get(
        &s,
        &format!("/signup?{}", address_error(SignUp::PATH, taken)),
        None,
    )
    .await;
    assert!(page.body.contains("That username is taken"));

    // The real round trip: a plain form post, then the page it redirects to.
    let req = Request::post(SignIn::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("{}/login", s.origin))
        .body(Body::from("username=nobody&password=whatever1"))
        .unwrap();
    let res = s.request(req).await;
    assert!(res.status.is_redirection());
    let location = res.headers.get(header::LOCATION).unwrap().to_str().unwrap();
    let path = location.strip_prefix(&s.origin).unwrap_or(location);
    let page = get(&s, path, None).await;
    assert!(
        page.body.contains("Wrong username or password"),
        "{path}: {}",
        page.body
    );
}

/// The one place titles are escaped only works if every title goes through it.
#[test]
fn only_the_title_module_uses_leptos_meta_title() {
    let mut stack = vec![std::path::PathBuf::from("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("ui/title.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                for bad in ["leptos_meta::Title", "leptos_meta::{", "<Title"] {
                    let uses_title = match bad {
                        "leptos_meta::{" => text.split("leptos_meta::{").skip(1).any(|rest| {
                            rest.split('}')
                                .next()
                                .unwrap()
                                .split(',')
                                .any(|n| n.trim() == "Title")
                        }),
                        _ => text.contains(bad),
                    };
                    assert!(
                        !uses_title,
                        "{} uses leptos_meta's Title: use ui::title::PageTitle",
                        path.display()
                    );
                }
            }
        }
    }
}

/// The checks above catch what the bug did: the page a chat titled with the issue's
/// title got before titles were escaped.
#[test]
#[should_panic(expected = "meta http-equiv")]
fn the_checks_catch_the_unescaped_title() {
    let title = CORPUS[0];
    let page = Page {
        status: StatusCode::OK,
        nonce: None,
        body: format!(
            "<!DOCTYPE html><html><head><title>{title} · natter</title></head><body></body></html>"
        ),
    };
    assert_inert("the old page", &page);
}
