//! The document's `<title>`: leptos_meta's `Title`, made safe for text users write.
//!
//! On the server, leptos_meta 0.8 writes the title into `<head>` as it is:
//! `ServerMetaContext` pushes `<title>`, the formatted string, `</title>` into the page
//! with no escaping (`leptos_meta::lib.rs`, where it injects the head; `TitleView`'s
//! own `to_html_with_buf` writes nothing). A group titled
//! `</title><meta http-equiv="refresh" content="0;url=…">` therefore sent every member
//! who opened the chat elsewhere. In the browser the same string goes to
//! `document.title`, which is text, so escaping there would show `&lt;`.
//!
//! So every title goes through [`SiteTitle`]'s formatter, the last step before
//! leptos_meta writes it, which escapes the whole string on the server only. Pages
//! set their title with [`PageTitle`]; nothing else may use `leptos_meta::Title` (a
//! test in `tests/it/injection.rs` checks), since a second formatter would replace ours.

use leptos::prelude::*;
use leptos::text_prop::TextProp;
use leptos_meta::Title;

/// Once, at the root: "Page · natter", or "natter" alone; escaped on the server.
#[component]
pub fn SiteTitle() -> impl IntoView {
    view! { <Title formatter=|t: String| for_head(&with_site(&t)) /> }
}

/// A page's title (plain text: it is escaped where it needs to be).
#[component]
pub fn PageTitle(#[prop(into)] text: TextProp) -> impl IntoView {
    view! { <Title text /> }
}

fn with_site(t: &str) -> String {
    if t.is_empty() {
        "natter".to_string()
    } else {
        format!("{t} · natter")
    }
}

/// The title as the server writes it between `<title>` and `</title>` (RCDATA: the
/// browser decodes character references there, so `&lt;` reads as `<`).
#[cfg(feature = "ssr")]
fn for_head(t: &str) -> String {
    escape_text(t)
}

/// In the browser it becomes `document.title`: text, not markup.
#[cfg(not(feature = "ssr"))]
fn for_head(t: &str) -> String {
    t.to_string()
}

/// Escapes the characters that could end an element or start markup or a reference.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn escape_text(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_cannot_close_its_element() {
        let t = r#"</title><meta http-equiv="refresh" content="0;url=/x">&amp;'"#;
        let e = escape_text(&with_site(t));
        assert!(
            !e.contains('<') && !e.contains('>') && !e.contains('"'),
            "{e}"
        );
        assert_eq!(
            e,
            "&lt;/title&gt;&lt;meta http-equiv=&quot;refresh&quot; content=&quot;0;url=/x&quot;&gt;&amp;amp;&#39; · natter"
        );
    }
}
