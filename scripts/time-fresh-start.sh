#!/usr/bin/env bash
# Times `./scripts/start.sh` as a newcomer's first run (BENCHMARKS.md, "Set-up"): a
# clone of this checkout under a new HOME, so no cargo tools, no crates.io or npm cache
# and no build directory. Only the Rust toolchain (rustup) and the Debian packages are
# shared with this machine. Prints each output line with the seconds since the start,
# stops natter once /login answers, and leaves everything in DIR (default: a new
# temporary directory; ~5 GB) for a look afterwards.
#
#   scripts/time-fresh-start.sh [DIR]      (port 3000 must be free)
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(source "$SRC/scripts/setup.sh" && setup_cluster_services) # curl, before it is spawned
F="${1:-$(mktemp -d)}"
RUSTUP_BIN="$(dirname "$(command -v rustup)")"
RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
mkdir -p "$F/home/.cargo/bin"
for t in cargo rustc rustup rustdoc cargo-clippy cargo-fmt rustfmt clippy-driver; do
  ln -sf "$RUSTUP_BIN/$t" "$F/home/.cargo/bin/$t"
done
git clone -q "$SRC" "$F/natter"
export HOME="$F/home" RUSTUP_HOME
export CARGO_HOME="$F/home/.cargo"
unset CARGO_TARGET_DIR CARGO_INCREMENTAL
export PATH="$F/home/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
start=$(date +%s)
# Its own session, so the whole tree (cargo-leptos, natter) stops with one signal.
setsid bash -c "cd '$F/natter' && exec ./scripts/start.sh" > >(
  while IFS= read -r line; do printf '%5d %s\n' $(($(date +%s) - start)) "$line"; done
) 2>&1 &
leader=$!
until curl -sf -o /dev/null http://127.0.0.1:3000/login; do
  kill -0 "$leader" 2>/dev/null || { echo "start.sh ended before serving" >&2; exit 1; }
  sleep 3
done
printf '%5d serving: the first start took %d min %d s\n' $(($(date +%s) - start)) \
  $((($(date +%s) - start) / 60)) $((($(date +%s) - start) % 60))
kill -- -"$leader" 2>/dev/null || true
