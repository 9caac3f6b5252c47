#!/usr/bin/env bash
# Lighthouse scores (performance, accessibility, best practices, SEO; mobile preset, as
# Lighthouse runs by default) of the pages a person meets, in light and dark colour
# schemes, in Debian's Chromium against the release build. Not in CI (a minute or two); the figures are in BENCHMARKS.md.
#   scripts/lighthouse.sh        (after `cargo leptos build --release --precompress`)
# Installs npm's `lighthouse` into ~/.cache/natter-lighthouse the first time. Starts
# its own server on a free port of 127.0.0.1 with a throwaway database, and stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/natter"
source scripts/setup.sh # Chromium and curl, installed before they are spawned
setup_browser
setup_cluster_services
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
sign_up() { # sign_up NAME: the new account's session cookie
  curl -s -i -X POST "$BASE/api/sign_up" -H 'accept: application/json' \
    -d "username=$1&password=password123" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p'
}
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
COOKIE="$(sign_up lighthouse)"
FRIEND="$(sign_up friend)"
CHAT="$(call create_chat 'members=friend&title=' "$COOKIE")"
# The chat page as issue 19 lists it: own and others' messages, links, formatting, an
# edited and a deleted message.
for i in 1 2 3 4 5; do
  call send_message "chat_id=$CHAT&client_id=m$i&body=Message+$i,+see+https://example.org/docs" "$COOKIE" >/dev/null
done
call send_message "chat_id=$CHAT&client_id=f1&body=Hi+%40lighthouse,+**bold**+and+%60code%60" "$FRIEND" >/dev/null
EDITED="$(call send_message "chat_id=$CHAT&client_id=e1&body=A+tpyo" "$COOKIE" | id_of)"
call edit_message "message_id=$EDITED&body=A+typo,+fixed" "$COOKIE" >/dev/null
GONE="$(call send_message "chat_id=$CHAT&client_id=d1&body=Never+mind" "$COOKIE" | id_of)"
call delete_message "message_id=$GONE" "$COOKIE" >/dev/null
call send_message "chat_id=$CHAT&client_id=f2&body=See+you" "$FRIEND" >/dev/null

printf '| page | scheme | performance | accessibility | best practices | SEO | FCP / LCP / TBT / CLS |\n|---|---|---|---|---|---|---|\n'
# Dark: Blink's preferred colour scheme (0 = dark), so `prefers-color-scheme: dark` holds.
for scheme in light dark; do
  case "$scheme" in light) SCHEME_FLAG="" ;; dark) SCHEME_FLAG="--blink-settings=preferredColorScheme=0" ;; esac
for page in /login /signup /chats /chats/new "/chats/$CHAT"; do
  CHROME_PATH=/usr/bin/chromium "$LH/node_modules/.bin/lighthouse" "$BASE$page" --quiet \
    --chrome-flags="--headless --no-sandbox --disable-gpu $SCHEME_FLAG" \
    --only-categories=performance,accessibility,best-practices,seo \
    --extra-headers="{\"Cookie\":\"$COOKIE\"}" --output=json --output-path="$DIR/report.json" >/dev/null 2>&1
  python3 - "$page" "$scheme" "$DIR/report.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[3]))
r, a = report["categories"], report["audits"]
s = [round(r[k]["score"] * 100) for k in ("performance", "accessibility", "best-practices", "seo")]
m = " / ".join(a[k]["displayValue"].replace("\u00a0", " ") for k in (
    "first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift"))
print(f"| `{sys.argv[1]}` | {sys.argv[2]} | " + " | ".join(map(str, s)) + f" | {m} |")
# What an accessibility score below 100 is made of (and audits of weight 0 that fail).
for ref in r["accessibility"]["auditRefs"]:
    audit = a[ref["id"]]
    if audit.get("score") not in (None, 1):
        nodes = [(i.get("node") or {}).get("snippet") for i in audit.get("details", {}).get("items", [])]
        print(f"  accessibility: {ref['id']} (weight {ref['weight']}): {nodes[:3]}")
EOF
done
done
