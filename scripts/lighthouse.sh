#!/usr/bin/env bash
# Lighthouse scores (performance, accessibility, best practices, SEO; mobile preset, as
# Lighthouse runs by default) of the pages a person meets, in Debian's Chromium against
# the release build. Not in CI (a minute or two); the figures are in BENCHMARKS.md.
#   scripts/lighthouse.sh        (after `cargo leptos build --release --precompress`)
# Installs npm's `lighthouse` into ~/.cache/natter-lighthouse the first time. Starts
# its own server on a free port of 127.0.0.1 with a throwaway database, and stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/natter"
[ -x "$BIN" ] || { echo "no release build at $BIN: run cargo leptos build --release --precompress" >&2; exit 1; }
LH="$HOME/.cache/natter-lighthouse"
if [ ! -x "$LH/node_modules/.bin/lighthouse" ]; then
  mkdir -p "$LH"
  (cd "$LH" && npm install --no-audit --no-fund --loglevel=error lighthouse@12)
fi
DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
LEPTOS_SITE_ROOT="$PWD/target/site" "$BIN" --bind "127.0.0.1:$PORT" --public-origin "$BASE" \
  --database-url "sqlite://$DIR/natter.db" >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; rm -rf "$DIR"' EXIT
until curl -sf "$BASE/healthz" >/dev/null; do sleep 0.2; done

call() { # call PATH FORM [COOKIE]: a server function, its JSON answer
  curl -sf -X POST "$BASE/api/$1" -H 'accept: application/json' -d "$2" ${3:+-H "cookie: $3"}
}
COOKIE="$(curl -s -i -X POST "$BASE/api/sign_up" -H 'accept: application/json' \
  -d 'username=lighthouse&password=password123' | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')"
call sign_up 'username=friend&password=password123' >/dev/null
CHAT="$(call create_chat 'members=friend&title=' "$COOKIE")"
for i in 1 2 3 4 5; do
  call send_message "chat_id=$CHAT&client_id=m$i&body=Message+$i,+see+https://example.org/docs" "$COOKIE" >/dev/null
done

printf '| page | performance | accessibility | best practices | SEO | FCP / LCP / TBT / CLS |\n|---|---|---|---|---|---|\n'
for page in /login /signup /chats /chats/new "/chats/$CHAT"; do
  CHROME_PATH=/usr/bin/chromium "$LH/node_modules/.bin/lighthouse" "$BASE$page" --quiet \
    --chrome-flags="--headless --no-sandbox --disable-gpu" \
    --only-categories=performance,accessibility,best-practices,seo \
    --extra-headers="{\"Cookie\":\"$COOKIE\"}" --output=json --output-path="$DIR/report.json" >/dev/null 2>&1
  python3 - "$page" "$DIR/report.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[2]))
r, a = report["categories"], report["audits"]
s = [round(r[k]["score"] * 100) for k in ("performance", "accessibility", "best-practices", "seo")]
m = " / ".join(a[k]["displayValue"].replace("\u00a0", " ") for k in (
    "first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift"))
print(f"| `{sys.argv[1]}` | " + " | ".join(map(str, s)) + f" | {m} |")
EOF
done
