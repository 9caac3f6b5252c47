//! A message body as view nodes, from the tree `model::markup` parses. Every string is
//! a text node; the only attributes taken from a message are a link's checked `href`
//! and a numbered list's first number. The functions here call each other once per
//! level of the tree, which the parser bounds (`markup::MAX_DEPTH`), so a sender cannot
//! choose how deep they go.

use crate::model::markup::{self, Block, Inline};
use leptos::prelude::*;

/// A message body's element, from its tree (`markup::tree_of`): `<p class="msg-body">`
/// for one paragraph (most messages: the same nodes a plain body had before formatting
/// existed), else `<div class="msg-body">` around its blocks. `me`: the reader's
/// username, whose mentions stand out (the server's trees leave that to each reader).
pub fn formatted(mut blocks: Vec<Block>, me: &str) -> AnyView {
    if let [Block::Para(_)] = blocks.as_slice() {
        if let Some(Block::Para(inlines)) = blocks.pop() {
            return view! { <p class="msg-body">{inlines_view(inlines, me)}</p> }.into_any();
        }
    }
    let blocks: Vec<AnyView> = blocks.into_iter().map(|b| block(b, me)).collect();
    view! { <div class="msg-body">{blocks}</div> }.into_any()
}

fn block(b: Block, me: &str) -> AnyView {
    match b {
        Block::Para(inlines) => view! { <p>{inlines_view(inlines, me)}</p> }.into_any(),
        Block::Quote(blocks) => {
            let inner: Vec<AnyView> = blocks.into_iter().map(|b| block(b, me)).collect();
            view! { <blockquote>{inner}</blockquote> }.into_any()
        }
        Block::List { start, items } => {
            let items: Vec<AnyView> = items.into_iter().map(|i| item(i, me)).collect();
            match start {
                Some(n) => view! { <ol start=n.to_string()>{items}</ol> }.into_any(),
                None => view! { <ul>{items}</ul> }.into_any(),
            }
        }
        Block::Code(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
    }
}

/// A list item: a lone paragraph's text directly in the `<li>` (a tight item), else
/// its blocks.
fn item(mut blocks: Vec<Block>, me: &str) -> AnyView {
    if let [Block::Para(_)] = blocks.as_slice() {
        if let Some(Block::Para(inlines)) = blocks.pop() {
            return view! { <li>{inlines_view(inlines, me)}</li> }.into_any();
        }
    }
    let inner: Vec<AnyView> = blocks.into_iter().map(|b| block(b, me)).collect();
    view! { <li>{inner}</li> }.into_any()
}

fn inlines_view(list: Vec<Inline>, me: &str) -> Vec<AnyView> {
    list.into_iter().map(|i| inline(i, me)).collect()
}

fn inline(i: Inline, me: &str) -> AnyView {
    match i {
        Inline::Text(t) => t.into_any(),
        Inline::Strong(c) => view! { <strong>{inlines_view(c, me)}</strong> }.into_any(),
        Inline::Em(c) => view! { <em>{inlines_view(c, me)}</em> }.into_any(),
        Inline::Strike(c) => view! { <del>{inlines_view(c, me)}</del> }.into_any(),
        Inline::Code(t) => view! { <code>{t}</code> }.into_any(),
        Inline::Link { href, children } => {
            // The server checked it; a tree from elsewhere is checked again.
            if !markup::safe_href(&href) {
                return inlines_view(children, me).into_any();
            }
            view! {
                <a href=href target="_blank" rel="noopener noreferrer nofollow">{inlines_view(children, me)}</a>
            }
            .into_any()
        }
        Inline::Mention { name, me: marked } => {
            let mine = marked || (!me.is_empty() && name == me);
            let class = if mine {
                "mention mention-me"
            } else {
                "mention"
            };
            view! { <span class=class>"@"{name}</span> }.into_any()
        }
        Inline::Break => view! { <br /> }.into_any(),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::formatted;
    use crate::model::markup::tests::{fastest, worst_bodies};
    use leptos::prelude::RenderHtml;
    use std::time::Duration;

    fn html(body: &str) -> String {
        formatted(crate::model::markup::parse(body, ""), "name").to_html()
    }

    #[test]
    fn lists_render_as_lists() {
        let out = html("- a `b`\n- @name\n\n3. x\n4. <i>y</i>");
        for part in [
            "<ul><li>a <code>b</code>",
            "<span class=\"mention mention-me\">@",
            "<ol start=\"3\"><li>x",
            "&lt;i&gt;",
        ] {
            assert!(out.contains(part), "{part} not in {out}");
        }
        assert!(!out.contains("<i>"), "{out}");
    }

    /// The deepest bodies render on a test thread's stack (as small as a Tokio
    /// worker's), quickly.
    #[test]
    fn worst_bodies_render_without_overflow() {
        for body in worst_bodies() {
            let (out, took) = fastest(|| html(&body));
            assert!(out.contains("msg-body"), "{out:.200}");
            assert!(
                took < Duration::from_millis(100),
                "{took:?} for {body:.60}…"
            );
        }
    }
}
