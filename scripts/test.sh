#!/usr/bin/env bash
# Command 2: install what is missing and run every test: formatting and lints, unit and
# integration tests (real SQLite files, the real router; the storage, HTTP and WebSocket
# suites once more on a real PostgreSQL), then Playwright end-to-end in Debian's Chromium
# against the release build. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
setup_all
# Everything the tests spawn is installed before the first test (issue 28): the plain
# `cargo test` step already starts Redis (tests/it/hostile.rs), the next one PostgreSQL.
setup_cluster_services
step "every program the tests and scripts spawn is installed (scripts/check-setup.py)"
python3 scripts/check-setup.py --installed

step "server layers: imports point down, no cycles, AppState only on top (scripts/check-layers.py)"
python3 scripts/check-layers.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (server and browser builds, warnings are errors)"
cargo clippy --features ssr --all-targets -- -D warnings
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

# The integration tests are one binary (tests/it/main.rs); a test written for both
# databases (`test_both_dbs!`, tests/it/common/mod.rs) is `NAME_sqlite`, run here, and
# `NAME_postgres`, ignored here and run in the next step.
step "unit and integration tests (SQLite)"
cargo test --features ssr

step "the integration tests' PostgreSQL and S3 variants (storage, HTTP, WebSocket, SSE, files...), and two nodes with Redis"
PG_DIR="$(mktemp -d)"
CLUSTER_PID=""
# Stops what this script started, whatever state it is in (never fails the run itself).
cleanup() {
  set +e
  if [ -n "$CLUSTER_PID" ]; then kill -TERM "$CLUSTER_PID" 2>/dev/null; wait "$CLUSTER_PID" 2>/dev/null; fi
  bash scripts/pg.sh stop "$PG_DIR/pg"
  bash scripts/s3.sh stop "$PG_DIR/s3"
  rm -rf "$PG_DIR" "${CLUSTER_LOG:-}"
}
trap cleanup EXIT
NATTER_TEST_PG="$(bash scripts/pg.sh start "$PG_DIR/pg")"
NATTER_TEST_S3="$(bash scripts/s3.sh start "$PG_DIR/s3")" # moto, an S3-compatible server
# The ignored tests are the `_postgres` and `_s3` ones: each fails without its server.
NATTER_TEST_PG="$NATTER_TEST_PG" NATTER_TEST_S3="$NATTER_TEST_S3" cargo test --features ssr --test it -- --ignored
bash scripts/pg.sh stop "$PG_DIR/pg"
bash scripts/s3.sh stop "$PG_DIR/s3"

step "benchmark smoke: every scenario once at a tiny size (figures: BENCHMARKS.md)"
cargo run --features ssr --example bench -- --smoke --repeat 2 --page-also /login --server-bin "$CARGO_TARGET_DIR/debug/natter"
cargo run --features ssr --example bench -- --smoke --sse --server-bin "$CARGO_TARGET_DIR/debug/natter" # receivers on SSE
bash scripts/bench-cluster.sh --smoke # its cluster mode: two nodes on PostgreSQL + Redis

step "release build (server + WASM, optimised with wasm-opt)"
cargo leptos build --release --precompress

# The budget guards every feature to come (BENCHMARKS.md, "First visit: four levers taken",
# and what Web Push's browser half added; the issue's target is 250 KB, which today's
# client cannot meet).
step "first-visit budget: a chat page and every file it loads, compressed, at most 420 KiB"
cargo run --features ssr --example bench -- page --smoke --first-visit-budget-kib 420 --server-bin "$CARGO_TARGET_DIR/release/natter"

step "end-to-end tests (Playwright, Chromium)"
NATTER_E2E_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export NATTER_E2E_PORT
export NATTER_BIN="$CARGO_TARGET_DIR/release/natter"
export LEPTOS_SITE_ROOT="$PWD/target/site"
(cd end2end && npx playwright test)

# Waits until scripts/cluster.sh (started in the background as $CLUSTER_PID) answers at $1.
wait_cluster() {
  for _ in $(seq 300); do
    curl -skf "$1/healthz" >/dev/null && return 0
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$CLUSTER_LOG"; exit 1; }
    sleep 0.2
  done
  cat "$CLUSTER_LOG"; exit 1
}

step "end-to-end through the two-node cluster (nginx round robin, PostgreSQL, Redis; Web Push)"
CLUSTER_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
CLUSTER_LOG="$(mktemp)"
# The nodes may push to the push service of tests/push.spec.ts (NATTER_PUSH_ALLOW_ENDPOINT).
NATTER_E2E_PUSH_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export NATTER_E2E_PUSH_PORT
NATTER_PUSH_ALLOW_ENDPOINT="http://127.0.0.1:$NATTER_E2E_PUSH_PORT/" NATTER_CLUSTER_PORT="$CLUSTER_PORT" \
  bash scripts/cluster.sh --no-build >"$CLUSTER_LOG" 2>&1 &
CLUSTER_PID=$!
wait_cluster "http://127.0.0.1:$CLUSTER_PORT"
(cd end2end && NATTER_E2E_CLUSTER="http://127.0.0.1:$CLUSTER_PORT" npx playwright test tests/cluster.spec.ts tests/push.spec.ts)
kill -TERM "$CLUSTER_PID" 2>/dev/null; wait "$CLUSTER_PID" 2>/dev/null || true
CLUSTER_PID=""

step "end-to-end through a proxy that does not pass WebSocket upgrades (the SSE fallback)"
NATTER_CLUSTER_PROXY=plain NATTER_CLUSTER_PORT="$CLUSTER_PORT" bash scripts/cluster.sh --no-build >"$CLUSTER_LOG" 2>&1 &
CLUSTER_PID=$!
wait_cluster "http://127.0.0.1:$CLUSTER_PORT"
(cd end2end && NATTER_E2E_NO_UPGRADE=1 NATTER_E2E_CLUSTER="http://127.0.0.1:$CLUSTER_PORT" npx playwright test tests/proxy.spec.ts)
kill -TERM "$CLUSTER_PID" 2>/dev/null; wait "$CLUSTER_PID" 2>/dev/null || true
CLUSTER_PID=""

step "end-to-end through HTTPS with HTTP/2 (deploy/nginx-tls.conf): eight tabs on the fallback"
NATTER_CLUSTER_PROXY=tls NATTER_CLUSTER_PORT="$CLUSTER_PORT" bash scripts/cluster.sh --no-build >"$CLUSTER_LOG" 2>&1 &
CLUSTER_PID=$!
wait_cluster "https://127.0.0.1:$CLUSTER_PORT"
(cd end2end && NATTER_E2E_TLS=1 NATTER_E2E_CLUSTER="https://127.0.0.1:$CLUSTER_PORT" npx playwright test tests/tabs.spec.ts)

step "all tests passed"
