//! A message body as view nodes, from the tree `model::markup` parses. Every string is
//! a text node; the only attribute taken from a message is a link's checked `href`.

use crate::model::markup::{self, Block, Inline};
use leptos::prelude::*;

/// A message body's element: `<p class="msg-body">` for one paragraph (most messages:
/// the same nodes a plain body had before formatting existed), else
/// `<div class="msg-body">` around its blocks. `me`: the reader's username, whose
/// mentions stand out.
pub fn formatted(body: &str, me: &str) -> AnyView {
    let mut blocks = markup::parse(body, me);
    if let [Block::Para(_)] = blocks.as_slice() {
        if let Some(Block::Para(inlines)) = blocks.pop() {
            return view! { <p class="msg-body">{inlines_view(inlines)}</p> }.into_any();
        }
    }
    let blocks: Vec<AnyView> = blocks.into_iter().map(block).collect();
    view! { <div class="msg-body">{blocks}</div> }.into_any()
}

fn block(b: Block) -> AnyView {
    match b {
        Block::Para(inlines) => view! { <p>{inlines_view(inlines)}</p> }.into_any(),
        Block::Quote(blocks) => {
            let inner: Vec<AnyView> = blocks.into_iter().map(block).collect();
            view! { <blockquote>{inner}</blockquote> }.into_any()
        }
        Block::Code(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
    }
}

fn inlines_view(list: Vec<Inline>) -> Vec<AnyView> {
    list.into_iter().map(inline).collect()
}

fn inline(i: Inline) -> AnyView {
    match i {
        Inline::Text(t) => t.into_any(),
        Inline::Strong(c) => view! { <strong>{inlines_view(c)}</strong> }.into_any(),
        Inline::Em(c) => view! { <em>{inlines_view(c)}</em> }.into_any(),
        Inline::Strike(c) => view! { <del>{inlines_view(c)}</del> }.into_any(),
        Inline::Code(t) => view! { <code>{t}</code> }.into_any(),
        Inline::Link { href, children } => view! {
            <a href=href target="_blank" rel="noopener noreferrer nofollow">{inlines_view(children)}</a>
        }
        .into_any(),
        Inline::Mention { name, me } => {
            let class = if me { "mention mention-me" } else { "mention" };
            view! { <span class=class>"@"{name}</span> }.into_any()
        }
        Inline::Break => view! { <br /> }.into_any(),
    }
}
