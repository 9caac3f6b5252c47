#!/usr/bin/env bash
# Command 3: a local natter cluster on this machine: a throwaway PostgreSQL, Redis, an
# S3-compatible server for shared files (moto), two natter nodes and nginx round-robin in
# front on http://127.0.0.1:3000 (no sticky sessions). Installs what is missing, builds the release. Ctrl-C stops everything it
# started; the cluster's data lives in a temporary folder and goes with it.
#   NATTER_CLUSTER_PORT  the proxy's port (default 3000)
#   NATTER_CLUSTER_PROXY=plain  a proxy that does not pass WebSocket upgrades
#                        (deploy/nginx-plain.conf: the browser falls back to SSE)
#   NATTER_CLUSTER_PROXY=tls    HTTPS with HTTP/2 on https://127.0.0.1:PORT
#                        (deploy/nginx-tls.conf, a throwaway self-signed certificate)
#   --no-build           use the release binary as built (scripts/test.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NATTER_SKIP_BROWSER=1
source scripts/setup.sh
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; fi # test.sh: the release is built already
if [ "$BUILD" = 1 ]; then setup_all; fi
setup_cluster_services

PORT="${NATTER_CLUSTER_PORT:-3000}"
PROXY="${NATTER_CLUSTER_PROXY:-cluster}"
SCHEME=http
if [ "$PROXY" = tls ]; then SCHEME=https; fi
ORIGIN="$SCHEME://127.0.0.1:$PORT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "$BUILD" = 1 ]; then
  step "building natter (release)"
  cargo leptos build --release --precompress
fi
BIN="$CARGO_TARGET_DIR/release/natter"

DIR="$(mktemp -d)"
PIDS=()
stop_all() {
  trap - EXIT INT TERM
  step "stopping the cluster"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/pg.sh stop "$DIR/pg"
  bash scripts/s3.sh stop "$DIR/s3"
  rm -rf "$DIR"
}
trap stop_all EXIT INT TERM

step "PostgreSQL (throwaway, in $DIR)"
PG_URL="$(bash scripts/pg.sh start "$DIR/pg")"
psql -q "$PG_URL/postgres" -c 'CREATE DATABASE natter'
DATABASE_URL="$PG_URL/natter"

step "Redis (with a password: anyone on the machine can reach a loopback port)"
REDIS_PORT="$(free_port)"
REDIS_PASS="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# The password goes in a file of mode 0600, not on a command line that `ps` shows.
(umask 077; printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\nloglevel warning\nrequirepass %s\n' \
  "$REDIS_PORT" "$REDIS_PASS" > "$DIR/redis.conf")
redis-server "$DIR/redis.conf" &
PIDS+=($!)
# In the environment rather than as --redis-url, for the same reason.
export NATTER_REDIS_URL="redis://:$REDIS_PASS@127.0.0.1:$REDIS_PORT"

step "S3-compatible storage for shared files (moto, in memory: its files go with it)"
S3_ENDPOINT="$(bash scripts/s3.sh start "$DIR/s3")"
# The usual AWS variables, as a deployment sets them (moto accepts any key).
export AWS_ENDPOINT_URL="$S3_ENDPOINT" AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=natter-cluster AWS_SECRET_ACCESS_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

NODE1="$(free_port)"; NODE2="$(free_port)"
for port in "$NODE1" "$NODE2"; do
  step "natter node on 127.0.0.1:$port"
  "$BIN" --bind "127.0.0.1:$port" --public-origin "$ORIGIN" --site-root target/site \
    --database-url "$DATABASE_URL" --trusted-proxy 127.0.0.1 --files-url s3://natter/cluster &
  PIDS+=($!)
done
for port in "$NODE1" "$NODE2"; do
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
done

step "nginx round-robin on $ORIGIN"
if [ "$PROXY" = tls ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$DIR/tls.key" -out "$DIR/tls.crt" 2>/dev/null
fi
sed -e "s|@DIR@|$DIR|g" -e "s|@NODE1@|$NODE1|g" -e "s|@NODE2@|$NODE2|g" -e "s|@PORT@|$PORT|g" \
  -e "s|@CERT@|$DIR/tls.crt|g" -e "s|@KEY@|$DIR/tls.key|g" \
  "deploy/nginx-$PROXY.conf" > "$DIR/nginx.conf"
nginx -p "$DIR" -e "$DIR/nginx-error.log" -c "$DIR/nginx.conf" &
PIDS+=($!)
until curl -skf "$ORIGIN/healthz" >/dev/null; do sleep 0.2; done
step "natter cluster ready on $ORIGIN (nodes :$NODE1 and :$NODE2; Ctrl-C stops it)"
wait -n "${PIDS[@]}" || true
echo "natter cluster: a process ended; stopping the rest" >&2
