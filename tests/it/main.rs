//! Every integration test, in one binary: each file here was a test binary of its own,
//! and each linked leptos, axum and sqlx again (see the README's "Tests"). One binary
//! links them once; `cargo test --features ssr --test it MODULE::` runs one file's tests.
//!
//! What a test may not assume, now that it shares the process with all the others:
//! that it is alone (counters of the metrics recorder, installed once per process, move
//! with every test; see `common::server::start_node`), or that an environment variable
//! it sets is seen only by itself (none sets one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod admin;
mod api_doc;
mod backup;
mod broadcast;
mod cluster;
mod consent;
mod conversation;
mod fault;
mod files;
mod fuzz;
mod hostile;
mod http;
mod injection;
mod logs;
mod metrics;
mod profiles;
mod push;
mod roles;
mod sse;
mod storage;
mod ws;
