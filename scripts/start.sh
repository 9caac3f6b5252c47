#!/usr/bin/env bash
# Command 1: install what is missing, build the release, start natter on
# http://127.0.0.1:3000 with the embedded SQLite database (./natter.db, created and
# migrated at start). Ctrl-C stops it. Flags after `--` go to natter (see --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NATTER_SKIP_BROWSER=1 # the browser is only for the tests
source scripts/setup.sh
setup_all
step "building natter (release: the first time ~10 min on 2 cores, the WASM ~2½ and then the server ~8 with fat LTO; ~6 after a change, seconds when nothing changed) and starting it on http://127.0.0.1:3000"
exec cargo leptos serve --release --precompress "$@"
