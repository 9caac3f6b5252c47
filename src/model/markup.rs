//! Message formatting: a small Markdown subset (bold, italic, strikethrough, inline
//! code, fenced code blocks, block quotes, bullet and numbered lists, links, line
//! breaks), bare `http(s)://` links and `@mentions`, parsed into a tree of plain data
//! that the UI turns into view nodes.
//!
//! Only the server runs pulldown-cmark ([`parse`], feature `ssr`): a body that needs it
//! travels with its tree (`Message::formatted`), and the browser renders that tree, so
//! the parser and its tables (~55 KB of compressed WASM) stay out of the first visit.
//! A body without Markdown (most chat messages: [`needs_parser`] is false) travels
//! alone, and both sides read it with [`parse_plain`], the same code. Either way a page
//! rendered on the server and a message arriving live look the same.
//!
//! Nothing here produces HTML: every string ends up as a text node or, for links, an
//! `href` whose scheme was checked (http, https, mailto). Markdown the subset leaves out
//! (headings, tables, images, raw HTML, indented code) is shown as typed.
//!
//! Nesting is bounded: the tree is at most [`MAX_DEPTH`] containers deep (quotes, lists
//! and inline formatting together), and a container deeper than that is shown as typed.
//! Every consumer of the tree (the views, [`mentions`], `Drop`) may then walk it
//! recursively without a sender choosing the depth: 4 000 `>` characters once made the
//! server overflow its stack. pulldown-cmark itself needs no limit of ours: it keeps its
//! tree in an arena and walks it with loops (0.13 recurses only in a `Debug` impl),
//! and its time grows linearly on the deepest bodies (4 000 `>`, `- `, `[`,
//! `*_`: 1.5–2.6 ms each in a debug build; the tests bound them).

#[cfg(feature = "ssr")]
use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
#[cfg(feature = "ssr")]
use std::ops::Range;

/// How many containers (quotes, lists, strong, emphasis, strikethrough, links) may
/// nest, all kinds together. Chat messages need two or three.
pub const MAX_DEPTH: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Block {
    Para(Vec<Inline>),
    Quote(Vec<Block>),
    /// A bullet list (`start` is `None`) or a numbered one starting at `start`; each
    /// item is its blocks.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    /// A fenced code block's text, shown as typed.
    Code(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
/// and without a line that starts like a list item (most chat messages) skips the
/// parser.
const MARKDOWN_CHARS: &[char] = &['*', '_', '~', '`', '>', '[', '<', '&', '\\'];

/// Whether `body` needs the Markdown parser; if not, [`parse_plain`] reads it whole.
pub fn needs_parser(body: &str) -> bool {
    body.contains(MARKDOWN_CHARS) || body.lines().any(starts_like_list_item)
}

/// A body without Markdown ([`needs_parser`] false): one paragraph of text, bare links
/// and mentions. `me` is the reader's username, for `@me` mentions.
pub fn parse_plain(body: &str, me: &str) -> Vec<Block> {
    let body = body.trim();
    if body.is_empty() {
        return Vec::new();
    }
    vec![Block::Para(plain(body, me, true))]
}

/// The tree to show for a message: the server's (`formatted`) when it sent one, else
/// the plain reading of its body.
pub fn tree_of(body: &str, formatted: Option<&[Block]>, me: &str) -> Vec<Block> {
    match formatted {
        Some(tree) => tree.to_vec(),
        None => parse_plain(body, me),
    }
}

/// What a message carries besides its body: the parsed tree when the body needs the
/// parser (mentions unmarked: each reader's view marks its own), else nothing.
#[cfg(feature = "ssr")]
pub fn formatted(body: &str) -> Option<Vec<Block>> {
    needs_parser(body).then(|| parse(body, ""))
}

/// Parses a message body. `me` is the reader's username, for `@me` mentions.
#[cfg(feature = "ssr")]
pub fn parse(body: &str, me: &str) -> Vec<Block> {
    if !needs_parser(body) {
        return parse_plain(body, me);
    }
    let mut events = Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH)
        .into_offset_iter()
        .peekable();
    let cx = Cx { src: body, me };
    cx.blocks(&mut events, 0)
}

/// `- `, `+ `, `1. ` or `1) ` after any indentation (`*` is in [`MARKDOWN_CHARS`]).
fn starts_like_list_item(line: &str) -> bool {
    let line = line.trim_start().as_bytes();
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    let (markers, rest): (&[u8], _) = match digits {
        0 => (b"-+", line),
        1..=9 => (b".)", &line[digits..]),
        _ => return false,
    };
    match rest {
        [m] => markers.contains(m),
        [m, b' ' | b'\t', ..] => markers.contains(m),
        _ => false,
    }
}

/// The `@names` a body mentions (lower case, each once, in order), as [`parse`]
/// highlights them.
#[cfg(feature = "ssr")]
pub fn mentions(body: &str) -> Vec<String> {
    if !body.contains('@') {
        return Vec::new();
    }
    mentions_in(&parse(body, ""))
}

/// The `@names` a message mentions, from its tree or its plain body (the browser's
/// [`mentions`]).
pub fn message_mentions(body: &str, formatted: Option<&[Block]>) -> Vec<String> {
    match formatted {
        Some(tree) => mentions_in(tree),
        None if body.contains('@') => mentions_in(&parse_plain(body, "")),
        None => Vec::new(),
    }
}

/// The `@names` in a tree (lower case, each once, in order).
pub fn mentions_in(tree: &[Block]) -> Vec<String> {
    /// Where the walk is at each level: a loop over a stack rather than recursion.
    enum Walk<'a> {
        Blocks(std::slice::Iter<'a, Block>),
        Items(std::slice::Iter<'a, Vec<Block>>),
        Inlines(std::slice::Iter<'a, Inline>),
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![Walk::Blocks(tree.iter())];
    while let Some(top) = stack.last_mut() {
        // `None`: this level is done; `Some(None)`: a leaf; `Some(Some(w))`: go down.
        let step = match top {
            Walk::Blocks(it) => it.next().map(|b| match b {
                Block::Para(i) => Some(Walk::Inlines(i.iter())),
                Block::Quote(b) => Some(Walk::Blocks(b.iter())),
                Block::List { items, .. } => Some(Walk::Items(items.iter())),
                Block::Code(_) => None,
            }),
            Walk::Items(it) => it.next().map(|item| Some(Walk::Blocks(item.iter()))),
            Walk::Inlines(it) => it.next().map(|i| match i {
                Inline::Mention { name, .. } => {
                    if seen.insert(name) {
                        out.push(name.clone());
                    }
                    None
                }
                Inline::Strong(c)
                | Inline::Em(c)
                | Inline::Strike(c)
                | Inline::Link { children: c, .. } => Some(Walk::Inlines(c.iter())),
                _ => None,
            }),
        };
        match step {
            None => {
                stack.pop();
            }
            Some(Some(down)) => stack.push(down),
            Some(None) => {}
        }
    }
    out
}

#[cfg(feature = "ssr")]
type Events<'a> = std::iter::Peekable<pulldown_cmark::OffsetIter<'a>>;

/// Whether an event belongs inside a paragraph. A tight list item holds these directly,
/// without a paragraph around them.
#[cfg(feature = "ssr")]
fn is_inline(event: &Event<'_>) -> bool {
    match event {
        Event::Start(tag) => matches!(
            tag,
            Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript
                | Tag::Link { .. }
                | Tag::Image { .. }
        ),
        Event::End(_) | Event::Rule | Event::Html(_) | Event::DisplayMath(_) => false,
        _ => true,
    }
}

#[cfg(feature = "ssr")]
struct Cx<'a> {
    src: &'a str,
    me: &'a str,
}

#[cfg(feature = "ssr")]
impl<'a> Cx<'a> {
    /// Blocks until the end of the enclosing container (or of the input), `depth`
    /// containers down. Recurses at most [`MAX_DEPTH`] times: a deeper container is
    /// skipped (with a loop) and shown as typed.
    fn blocks(&self, events: &mut Events<'a>, depth: usize) -> Vec<Block> {
        let mut out = Vec::new();
        while let Some((next, _)) = events.peek() {
            if is_inline(next) {
                // A tight list item's text.
                out.push(Block::Para(self.inlines(events, true, depth, true)));
                continue;
            }
            let Some((event, range)) = events.next() else {
                break;
            };
            match event {
                Event::Start(Tag::Paragraph) => {
                    out.push(Block::Para(self.inlines(events, true, depth, false)))
                }
                Event::Start(Tag::BlockQuote(_) | Tag::List(_)) if depth >= MAX_DEPTH => {
                    skip_to_end(events);
                    out.push(self.as_typed(range, depth));
                }
                Event::Start(Tag::BlockQuote(_)) => {
                    out.push(Block::Quote(self.blocks(events, depth + 1)))
                }
                Event::Start(Tag::List(start)) => {
                    let items = self.items(events, depth + 1);
                    out.push(Block::List { start, items });
                }
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
                    out.push(self.as_typed(range, depth));
                }
                Event::End(_) => break,
                Event::Rule => out.push(self.as_typed(range, depth)),
                _ => {}
            }
        }
        out
    }

    /// A list's items until its end; each item's blocks are `depth` down.
    fn items(&self, events: &mut Events<'a>, depth: usize) -> Vec<Vec<Block>> {
        let mut items = Vec::new();
        while let Some((event, _)) = events.next() {
            match event {
                Event::Start(Tag::Item) => items.push(self.blocks(events, depth)),
                Event::Start(_) => skip_to_end(events),
                Event::End(_) => break,
                _ => {}
            }
        }
        items
    }

    /// Inline content until the end of the enclosing tag (consumed), `depth` containers
    /// down. `links`: bare URLs become links (not inside a link already, nor where a
    /// link would be one level too deep). `tight`: the content of a tight list item,
    /// which ends before the next block event (not consumed) instead.
    fn inlines(
        &self,
        events: &mut Events<'a>,
        links: bool,
        depth: usize,
        tight: bool,
    ) -> Vec<Inline> {
        let links = links && depth < MAX_DEPTH;
        let mut out: Vec<Inline> = Vec::new();
        loop {
            if tight && !events.peek().is_some_and(|(e, _)| is_inline(e)) {
                break;
            }
            let Some((event, range)) = events.next() else {
                break;
            };
            match event {
                Event::End(_) => break,
                Event::Text(t) => out.extend(plain(&t, self.me, links)),
                Event::Code(c) => out.push(Inline::Code(c.into_string())),
                Event::SoftBreak => out.push(Inline::Text("\n".into())),
                Event::HardBreak => out.push(Inline::Break),
                Event::Start(
                    Tag::Strong | Tag::Emphasis | Tag::Strikethrough | Tag::Link { .. },
                ) if depth >= MAX_DEPTH => {
                    // Too deep: the characters as typed (mentions still count).
                    skip_to_end(events);
                    out.extend(plain(&self.src[range], self.me, false));
                }
                Event::Start(Tag::Strong) => out.push(Inline::Strong(self.inlines(
                    events,
                    links,
                    depth + 1,
                    false,
                ))),
                Event::Start(Tag::Emphasis) => {
                    out.push(Inline::Em(self.inlines(events, links, depth + 1, false)))
                }
                Event::Start(Tag::Strikethrough) => out.push(Inline::Strike(self.inlines(
                    events,
                    links,
                    depth + 1,
                    false,
                ))),
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
                        let children = self.inlines(events, false, depth + 1, false);
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

    /// Source text as typed, `depth` containers down (where a bare URL may be a link).
    fn as_typed(&self, range: Range<usize>, depth: usize) -> Block {
        let links = depth < MAX_DEPTH;
        Block::Para(plain(self.src[range].trim_end(), self.me, links))
    }
}

/// Consumes events up to the end of the tag just started.
#[cfg(feature = "ssr")]
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
pub(crate) mod tests {
    use super::*;
    use crate::model::validate::BODY_MAX;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};
    use Block::{List, Para, Quote};
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

    #[test]
    fn lists_are_formatted() {
        let para = |s: &str| vec![Para(vec![t(s)])];
        assert_eq!(
            parse("- a\n- `b`", ""),
            vec![List {
                start: None,
                items: vec![para("a"), vec![Para(vec![Inline::Code("b".into())])]],
            }],
            "a tight list: its items' text has no paragraph of its own"
        );
        assert_eq!(
            parse("3. x\n4. **y**", ""),
            vec![List {
                start: Some(3),
                items: vec![para("x"), vec![Para(vec![Strong(vec![t("y")])])]],
            }]
        );
        assert_eq!(
            parse("+ a\n\n+ b", ""),
            vec![List {
                start: None,
                items: vec![para("a"), para("b")],
            }],
            "a loose list"
        );
        assert_eq!(
            parse("- a\n  - b\n  > c\n- d", ""),
            vec![List {
                start: None,
                items: vec![
                    vec![
                        Para(vec![t("a")]),
                        List {
                            start: None,
                            items: vec![para("b")],
                        },
                        Quote(para("c")),
                    ],
                    para("d"),
                ],
            }]
        );
        assert_eq!(
            parse("> 1) one", ""),
            vec![Quote(vec![List {
                start: Some(1),
                items: vec![para("one")],
            }])]
        );
        assert_eq!(
            mentions("- hi @carol\n  1. **@dave**\n\n  > @erin"),
            vec!["carol", "dave", "erin"]
        );
        // Not lists: no space after the marker, or digits too many.
        for s in ["-a", "1.5 kg", "1234567890. x", "a - b"] {
            assert_eq!(parse(s, ""), para(s), "{s}");
        }
    }

    /// How many containers deep `blocks` nest, walked with a stack (a tree this test
    /// finds too deep must not overflow it).
    fn depth(blocks: &[Block]) -> usize {
        enum Node<'a> {
            B(&'a Block),
            I(&'a Inline),
        }
        let mut stack: Vec<(Node, usize)> = blocks.iter().map(|b| (Node::B(b), 0)).collect();
        let mut max = 0;
        while let Some((node, d)) = stack.pop() {
            match node {
                Node::B(Para(i)) => stack.extend(i.iter().map(|i| (Node::I(i), d))),
                Node::B(Quote(b)) => {
                    max = max.max(d + 1);
                    stack.extend(b.iter().map(|b| (Node::B(b), d + 1)));
                }
                Node::B(List { items, .. }) => {
                    max = max.max(d + 1);
                    stack.extend(items.iter().flatten().map(|b| (Node::B(b), d + 1)));
                }
                Node::I(Strong(c) | Em(c) | Strike(c) | Link { children: c, .. }) => {
                    max = max.max(d + 1);
                    stack.extend(c.iter().map(|i| (Node::I(i), d + 1)));
                }
                Node::B(Block::Code(_)) | Node::I(_) => {}
            }
        }
        max
    }

    /// The most deeply nested and most backtracking bodies of the size limit we know.
    pub(crate) fn worst_bodies() -> Vec<String> {
        let fill = |piece: &str, tail: &str| {
            let n = (BODY_MAX - tail.chars().count()) / piece.chars().count();
            piece.repeat(n) + tail
        };
        let mut bodies = vec![
            fill(">", " @name"),
            fill("> ", "@name"),
            fill(">\n", "@name"),
            fill("- ", "@name"),
            fill("* ", "@name"),
            fill("1. ", "@name"),
            fill("-", ""),
            fill("*", ""),
            fill("*_", "@name"),
            fill("_*", "x"),
            fill("**", "x"),
            fill("~~", "x"),
            fill("*a ", "@name"),
            fill("[", "@name"),
            fill("[a](", ""),
            fill("[a](https://x.io/", ""),
            fill("](", ""),
            fill("![", ""),
            fill("`", "@name"),
            fill("`a", ""),
            fill("&amp;", "@name"),
            fill("&#", ""),
            fill("<", ""),
            fill("<a@b.cz>", ""),
            fill("\\", ""),
            fill("> - *", "@name"),
            fill("- > ", "@name"),
            fill("> 1. [**~~_", "@name"),
            // A bare URL is a link: one level more.
            fill("> ", "https://x.io/"),
            fill("- ", "https://x.io/"),
        ];
        // Lists nested by indentation, one level a line, as deep as the size allows.
        let mut nested = String::new();
        for level in 0.. {
            let line = format!("{}- @name\n", "  ".repeat(level));
            if nested.len() + line.len() > BODY_MAX {
                break;
            }
            nested.push_str(&line);
        }
        bodies.push(nested);
        // One deep line, then lazy continuation lines under it.
        bodies.push(">".repeat(2000) + " a" + &"\nb".repeat(999));
        bodies
    }

    /// The least time `work` took in three runs (a busy machine only adds to it).
    pub(crate) fn fastest<T>(mut work: impl FnMut() -> T) -> (T, Duration) {
        let mut best = Duration::MAX;
        let mut out = None;
        for _ in 0..3 {
            let started = Instant::now();
            out = Some(work());
            best = best.min(started.elapsed());
        }
        (out.unwrap(), best)
    }

    /// Parses `body` and takes its mentions, checking the tree's depth and the time.
    fn parse_bounded(body: &str) -> Vec<String> {
        let ((tree, found), took) = fastest(|| (parse(body, "name"), mentions(body)));
        let deep = depth(&tree);
        assert!(deep <= MAX_DEPTH, "{deep} deep: {body:.60}…");
        // Each takes 1–8 ms in a debug build; generous so that a loaded machine does
        // not fail it: the point is no blow-up.
        assert!(took < Duration::from_millis(50), "{took:?} for {body:.60}…");
        found
    }

    #[test]
    fn the_issue_body_parses_shallow_and_keeps_its_mention() {
        let body = ">".repeat(BODY_MAX - 6) + " @name";
        assert_eq!(body.chars().count(), BODY_MAX);
        assert_eq!(parse_bounded(&body), vec!["name"]);
        // The quotes the subset keeps, then the rest as typed.
        let mut tree = parse(&body, "");
        for _ in 0..MAX_DEPTH {
            match tree.as_slice() {
                [Quote(_)] => {}
                other => panic!("{other:?}"),
            }
            let Some(Quote(inner)) = tree.pop() else {
                unreachable!()
            };
            tree = inner;
        }
        match tree.as_slice() {
            [Para(inlines)] => {
                assert!(matches!(&inlines[0], Text(s) if s.starts_with(">>>>")));
                assert!(matches!(inlines.last(), Some(Mention { name, .. }) if name == "name"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn worst_bodies_parse_shallow_and_quickly() {
        for body in worst_bodies() {
            assert!(body.chars().count() <= BODY_MAX);
            let found = parse_bounded(&body);
            if body.ends_with("@name\n") || body.ends_with(" @name") {
                assert_eq!(found, vec!["name"], "{body:.60}…");
            }
        }
        let nested = worst_bodies()
            .into_iter()
            .find(|b| b.starts_with("- @name\n  - "))
            .unwrap();
        let tree = parse(&nested, "");
        assert_eq!(
            depth(&tree),
            MAX_DEPTH,
            "lists as deep as allowed, then text"
        );
    }

    /// Pieces that nest, open without closing, or make a parser look back.
    const PIECES: &[&str] = &[
        ">",
        "> ",
        "- ",
        "* ",
        "+ ",
        "1. ",
        "2) ",
        "  ",
        "    ",
        "\n",
        "\n\n",
        "*",
        "_",
        "*_",
        "_*",
        "**",
        "__",
        "~~",
        "~",
        "[",
        "]",
        "](",
        "(",
        ")",
        "![",
        "`",
        "``",
        "```",
        "&amp;",
        "&#35;",
        "&",
        "<",
        "</",
        "<a@b.cz>",
        "\\",
        "#",
        "|",
        "-",
        "=",
        "a",
        " ",
        " @bob",
        "https://x.io/",
    ];

    /// A body up to the size limit: a run of one piece, then a short pattern of runs
    /// repeated until the limit.
    fn hostile_body() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(PIECES);
        (
            (piece.clone(), 0..=BODY_MAX),
            prop::collection::vec((piece, 1..40usize), 1..6),
            0..=BODY_MAX,
        )
            .prop_map(|((first, n), runs, len)| {
                let mut body = first.repeat(n);
                let pattern: String = runs.iter().map(|(p, n)| p.repeat(*n)).collect();
                while body.len() < len {
                    body.push_str(&pattern);
                }
                body.chars().take(BODY_MAX).collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn hostile_bodies_parse_shallow_and_quickly(body in hostile_body()) {
            parse_bounded(&body);
        }
    }
}
