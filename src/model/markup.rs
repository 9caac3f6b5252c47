//! Message formatting: a small Markdown subset (bold, italic, strikethrough, inline
//! code, fenced code blocks, block quotes, links, line breaks), bare `http(s)://` links
//! and `@mentions`, parsed by pulldown-cmark into a tree of plain data that the UI turns
//! into view nodes. Compiled into the server and the WASM client alike, so a page
//! rendered on the server and a message arriving live look the same.
//!
//! Nothing here produces HTML: every string ends up as a text node or, for links, an
//! `href` whose scheme was checked (http, https, mailto). Markdown the subset leaves out
//! (headings, lists, tables, images, raw HTML, indented code) is shown as typed.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag};
use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    Para(Vec<Inline>),
    Quote(Vec<Block>),
    /// A fenced code block's text, shown as typed.
    Code(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Strong(Vec<Inline>),
    Em(Vec<Inline>),
    Strike(Vec<Inline>),
    Code(String),
    /// `href` is an http, https or mailto URL.
    Link {
        href: String,
        children: Vec<Inline>,
    },
    /// `@name` (lower case, without the `@`); `me` when it names the reader.
    Mention {
        name: String,
        me: bool,
    },
    Break,
}

/// Characters that can start Markdown this module renders; a body without any of them
/// (most chat messages) skips the parser.
const MARKDOWN_CHARS: &[char] = &['*', '_', '~', '`', '>', '[', '<', '&', '\\'];

/// Parses a message body. `me` is the reader's username, for `@me` mentions.
pub fn parse(body: &str, me: &str) -> Vec<Block> {
    if !body.contains(MARKDOWN_CHARS) {
        let body = body.trim();
        if body.is_empty() {
            return Vec::new();
        }
        return vec![Block::Para(plain(body, me, true))];
    }
    let mut events = Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH)
        .into_offset_iter()
        .peekable();
    let cx = Cx { src: body, me };
    cx.blocks(&mut events)
}

/// The `@names` a body mentions (lower case, each once), as [`parse`] highlights them.
pub fn mentions(body: &str) -> Vec<String> {
    fn walk_inlines(list: &[Inline], out: &mut Vec<String>) {
        for i in list {
            match i {
                Inline::Mention { name, .. } if !out.contains(name) => out.push(name.clone()),
                Inline::Strong(c) | Inline::Em(c) | Inline::Strike(c) => walk_inlines(c, out),
                Inline::Link { children, .. } => walk_inlines(children, out),
                _ => {}
            }
        }
    }
    fn walk(blocks: &[Block], out: &mut Vec<String>) {
        for b in blocks {
            match b {
                Block::Para(i) => walk_inlines(i, out),
                Block::Quote(b) => walk(b, out),
                Block::Code(_) => {}
            }
        }
    }
    if !body.contains('@') {
        return Vec::new();
    }
    let mut out = Vec::new();
    walk(&parse(body, ""), &mut out);
    out
}

type Events<'a> = std::iter::Peekable<pulldown_cmark::OffsetIter<'a>>;

struct Cx<'a> {
    src: &'a str,
    me: &'a str,
}

impl<'a> Cx<'a> {
    /// Blocks until the end of the enclosing container (or of the input).
    fn blocks(&self, events: &mut Events<'a>) -> Vec<Block> {
        let mut out = Vec::new();
        while let Some((event, range)) = events.next() {
            match event {
                Event::Start(Tag::Paragraph) => out.push(Block::Para(self.inlines(events, true))),
                Event::Start(Tag::BlockQuote(_)) => out.push(Block::Quote(self.blocks(events))),
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                    let mut code = String::new();
                    for (e, _) in events.by_ref() {
                        match e {
                            Event::Text(t) => code.push_str(&t),
                            Event::End(_) => break,
                            _ => {}
                        }
                    }
                    out.push(Block::Code(code.trim_end_matches('\n').to_string()));
                }
                Event::Start(_) => {
                    // Outside the subset: shown as typed.
                    skip_to_end(events);
                    out.push(self.as_typed(range));
                }
                Event::End(_) => break,
                Event::Rule => out.push(self.as_typed(range)),
                _ => {}
            }
        }
        out
    }

    /// Inline content until the end of the enclosing tag. `links`: bare URLs become
    /// links (not inside a link already).
    fn inlines(&self, events: &mut Events<'a>, links: bool) -> Vec<Inline> {
        let mut out: Vec<Inline> = Vec::new();
        while let Some((event, range)) = events.next() {
            match event {
                Event::End(_) => break,
                Event::Text(t) => out.extend(plain(&t, self.me, links)),
                Event::Code(c) => out.push(Inline::Code(c.into_string())),
                Event::SoftBreak => out.push(Inline::Text("\n".into())),
                Event::HardBreak => out.push(Inline::Break),
                Event::Start(Tag::Strong) => out.push(Inline::Strong(self.inlines(events, links))),
                Event::Start(Tag::Emphasis) => out.push(Inline::Em(self.inlines(events, links))),
                Event::Start(Tag::Strikethrough) => {
                    out.push(Inline::Strike(self.inlines(events, links)))
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    ..
                }) => {
                    let href = if link_type == LinkType::Email {
                        format!("mailto:{dest_url}")
                    } else {
                        dest_url.into_string()
                    };
                    if safe_href(&href) {
                        let children = self.inlines(events, false);
                        out.push(Inline::Link { href, children });
                    } else {
                        skip_to_end(events);
                        out.push(Inline::Text(self.src[range].to_string()));
                    }
                }
                Event::Start(_) => {
                    skip_to_end(events);
                    out.push(Inline::Text(self.src[range].to_string()));
                }
                // Raw HTML and anything else: the characters as typed.
                Event::Html(s) | Event::InlineHtml(s) => out.push(Inline::Text(s.into_string())),
                _ => out.push(Inline::Text(self.src[range].to_string())),
            }
        }
        out
    }

    fn as_typed(&self, range: Range<usize>) -> Block {
        Block::Para(plain(self.src[range].trim_end(), self.me, true))
    }
}

/// Consumes events up to the end of the tag just started.
fn skip_to_end(events: &mut Events<'_>) {
    let mut depth = 1;
    for (e, _) in events.by_ref() {
        match e {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Only these schemes become links: never `javascript:`, `data:` or a relative URL.
pub fn safe_href(href: &str) -> bool {
    let lower = href.trim_start().to_ascii_lowercase();
    let rest = ["https://", "http://", "mailto:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p));
    rest.is_some_and(|r| !r.is_empty()) && !href.chars().any(char::is_control)
}

fn username_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// Text with bare `http(s)://` words as links (when `links`) and `@name` as mentions.
fn plain(text: &str, me: &str, links: bool) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let flush = |buf: &mut String, out: &mut Vec<Inline>| {
        if !buf.is_empty() {
            out.push(Inline::Text(std::mem::take(buf)));
        }
    };
    for chunk in text.split_inclusive(char::is_whitespace) {
        let word = chunk.trim_end_matches(char::is_whitespace);
        let space = &chunk[word.len()..];
        let url = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        let lower = url.to_ascii_lowercase();
        if links
            && (lower.starts_with("https://") || lower.starts_with("http://"))
            && safe_href(url)
        {
            flush(&mut buf, &mut out);
            out.push(Inline::Link {
                href: url.to_string(),
                children: vec![Inline::Text(url.to_string())],
            });
            buf.push_str(&word[url.len()..]);
            buf.push_str(space);
            continue;
        }
        if let Some(at) = word.find('@') {
            let before = &word[..at];
            let name: String = word[at + 1..]
                .chars()
                .take_while(|c| username_char(c.to_ascii_lowercase()))
                .collect();
            // Not an e-mail address (nothing word-like before the @), and 3+ characters
            // without the trailing punctuation a sentence adds.
            let name_trimmed = name.trim_end_matches(['.', '-']);
            let word_before = before.chars().last().is_some_and(char::is_alphanumeric);
            if !word_before && name_trimmed.len() >= 3 {
                buf.push_str(before);
                flush(&mut buf, &mut out);
                let lower = name_trimmed.to_ascii_lowercase();
                out.push(Inline::Mention {
                    me: !me.is_empty() && lower == me,
                    name: lower,
                });
                buf.push_str(&word[at + 1 + name_trimmed.len()..]);
                buf.push_str(space);
                continue;
            }
        }
        buf.push_str(chunk);
    }
    flush(&mut buf, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Block::{Para, Quote};
    use Inline::{Break, Em, Link, Mention, Strike, Strong, Text};

    fn t(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn plain_text_is_one_paragraph() {
        assert_eq!(
            parse("hello there", "me"),
            vec![Para(vec![t("hello there")])]
        );
        assert_eq!(parse("  ", "me"), vec![]);
        assert_eq!(
            parse("line one\nline two", "me"),
            vec![Para(vec![t("line one\nline two")])]
        );
    }

    #[test]
    fn the_subset_is_formatted() {
        assert_eq!(
            parse("**bold** _it_ ~~gone~~ `x<y>`", ""),
            vec![Para(vec![
                Strong(vec![t("bold")]),
                t(" "),
                Em(vec![t("it")]),
                t(" "),
                Strike(vec![t("gone")]),
                t(" "),
                Inline::Code("x<y>".into()),
            ])]
        );
        assert_eq!(
            parse("> quoted\n\n```rust\nfn main() {}\n<b>&amp;</b>\n```", ""),
            vec![
                Quote(vec![Para(vec![t("quoted")])]),
                Block::Code("fn main() {}\n<b>&amp;</b>".into())
            ]
        );
        assert_eq!(
            parse("**a**  \nb", ""),
            vec![Para(vec![Strong(vec![t("a")]), Break, t("b")])],
            "two spaces before a line break"
        );
    }

    #[test]
    fn links_only_with_safe_schemes() {
        assert_eq!(
            parse("[site](https://example.com)", ""),
            vec![Para(vec![Link {
                href: "https://example.com".into(),
                children: vec![t("site")]
            }])]
        );
        for evil in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x]( javascript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](/relative)",
            "[x](vbscript:msgbox)",
            "<javascript:alert(1)>",
        ] {
            let out = parse(evil, "");
            let shown = format!("{out:?}");
            assert!(!shown.contains("Link"), "{evil} became {shown}");
        }
        assert!(format!("{:?}", parse("<a@b.cz>", "")).contains("mailto:a@b.cz"));
        assert!(!safe_href("https://"));
        assert!(!safe_href("https://x\u{0}y"));
    }

    #[test]
    fn html_and_entities_stay_text() {
        assert_eq!(
            parse("<script>alert(1)</script>", ""),
            vec![Para(vec![t("<script>alert(1)</script>")])]
        );
        let img = parse("<img src=x onerror=alert(1)>", "");
        assert_eq!(img, vec![Para(vec![t("<img src=x onerror=alert(1)>")])]);
        assert_eq!(
            parse("a <b>b</b>", ""),
            vec![Para(vec![t("a "), t("<b>"), t("b"), t("</b>")])]
        );
        // An entity is decoded to the character it names, which is then text.
        assert_eq!(
            parse("&lt;b&gt;", ""),
            vec![Para(vec![t("<"), t("b"), t(">")])]
        );
        assert_eq!(
            parse("`&lt;`", ""),
            vec![Para(vec![Inline::Code("&lt;".into())])]
        );
    }

    #[test]
    fn outside_the_subset_shows_as_typed() {
        assert_eq!(
            parse("# not a heading", ""),
            vec![Para(vec![t("# not a heading")])]
        );
        assert_eq!(parse("- a\n- b", ""), vec![Para(vec![t("- a\n- b")])]);
        assert_eq!(
            parse("![pic](https://x.io/a.png) *", ""),
            vec![Para(vec![t("![pic](https://x.io/a.png)"), t(" *")])]
        );
        assert_eq!(parse("    indented", ""), vec![Para(vec![t("indented")])]);
    }

    #[test]
    fn bare_urls_and_mentions() {
        assert_eq!(
            parse("see https://a.io/x, @Bob.", "bob"),
            vec![Para(vec![
                t("see "),
                Link {
                    href: "https://a.io/x".into(),
                    children: vec![t("https://a.io/x")]
                },
                t(", "),
                Mention {
                    name: "bob".into(),
                    me: true
                },
                t("."),
            ])]
        );
        assert_eq!(
            parse("mail me@example.com", ""),
            vec![Para(vec![t("mail me@example.com")])]
        );
        assert_eq!(
            parse("@al hi", ""),
            vec![Para(vec![t("@al hi")])],
            "too short for a username"
        );
        assert_eq!(
            mentions("hi @carol and @dave_1, **@carol**"),
            vec!["carol", "dave_1"]
        );
        assert_eq!(mentions("`@code` no"), Vec::<String>::new());
        assert_eq!(
            parse("[@bob](https://a.io) https://b.io", "bob"),
            vec![Para(vec![
                Link {
                    href: "https://a.io".into(),
                    children: vec![Mention {
                        name: "bob".into(),
                        me: true
                    }]
                },
                t(" "),
                Link {
                    href: "https://b.io".into(),
                    children: vec![t("https://b.io")]
                },
            ])]
        );
    }
}
