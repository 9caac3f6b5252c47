#!/usr/bin/env bash
# Installs whatever natter needs that is missing, one line per step. Idempotent: a step
# whose tool is already there at the right version takes well under a second.
#
# Only package registries are used (crates.io, npm, Debian): see ../shared/toolchain.md.
# Sourced by scripts/start.sh and scripts/test.sh; also runnable on its own.
#   NATTER_SKIP_BROWSER=1  skip Chromium + Playwright (not needed to just run natter)
# setup_cluster_services (PostgreSQL, Redis, nginx) is called by test.sh and cluster.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.11"
BINARYEN_VERSION="132.0.0"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
# Builds live outside the clone so a fresh clone (CI) reuses earlier ones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/natter-target}"

step() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "natter setup: '$1' is required but missing. $2" >&2; exit 1; }
}

setup_rust() {
  need cargo "Install Rust with rustup first (https://rustup.rs)."
  need rustup "natter needs rustup to add the wasm32 target."
  step "Rust wasm32 target"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi

  step "cargo-leptos $CARGO_LEPTOS_VERSION (built with no_downloads; the first time ~12 min on 2 cores)"
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    # Its own release profile asks for fat LTO and one codegen unit, which is most of
    # its build time on 2 cores; a build tool gains nothing from it that we would
    # notice, so those two are overridden for this install (BENCHMARKS.md, "Set-up").
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked \
      --features no_downloads --ignore-rust-version
  fi

  # The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
  step "wasm-bindgen-cli $want (matches Cargo.lock; the first time ~2 min)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

setup_node() {
  need npm "Install Node.js 20+ and npm (Debian: apt-get install nodejs npm)."
  step "wasm-opt from npm binaryen $BINARYEN_VERSION (never Debian's: it breaks hydration)"
  if [ "$(node -p "try{require('$ROOT/node_modules/binaryen/package.json').version}catch(e){''}")" != "$BINARYEN_VERSION" ]; then
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

setup_browser() {
  step "Chromium (Debian package)"
  if ! command -v chromium >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  step "Playwright (npm, no browser download)"
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] \
    || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}

setup_cluster_services() {
  step "PostgreSQL, Redis, nginx, openssl (Debian packages; tests and cluster.sh start their own)"
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || ! command -v redis-server >/dev/null 2>&1 || ! command -v nginx >/dev/null 2>&1 \
    || ! command -v curl >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server nginx curl openssl
  fi
}

# moto's S3 server, in a virtual environment of natter's own outside the clone (a fresh
# clone reuses it). For tests and scripts/cluster.sh only; natter itself needs no Python.
NATTER_VENV="${NATTER_VENV:-$HOME/.cache/natter-venv}"
MOTO_VERSION="5.2.6"
setup_s3() {
  step "moto[server] $MOTO_VERSION (PyPI, in $NATTER_VENV: an S3-compatible server for tests; the first time ~1.5 min)"
  if [ "$("$NATTER_VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
    python3 -m venv "$NATTER_VENV"
    "$NATTER_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
}

setup_all() {
  setup_rust
  setup_node
  if [ "${NATTER_SKIP_BROWSER:-0}" != 1 ]; then setup_browser; fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  setup_all
  step "setup complete"
fi
