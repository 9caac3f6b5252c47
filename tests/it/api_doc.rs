//! docs/API.md lists every server function the server registers, and nothing else: a
//! function added, renamed or removed without the document fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

#[test]
fn the_api_document_lists_exactly_the_registered_server_functions() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    // Each endpoint is documented by a list item that starts "- **`POST /api/<name>`**".
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- **`POST "))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect();
    // The registry fills from what is linked: the router links every page and server
    // function, as in the server binary.
    std::hint::black_box(natter::server::edge::router::app as fn(_) -> _);
    let served: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| {
            assert_eq!(method, http::Method::POST, "{path}");
            path.to_string()
        })
        .collect();
    assert!(served.len() >= 18, "registered: {served:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "served but not in docs/API.md: {undocumented:?}; in docs/API.md but not served: {stale:?}"
    );
}
