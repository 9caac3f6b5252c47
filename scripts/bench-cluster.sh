#!/usr/bin/env bash
# The cluster figures of BENCHMARKS.md, in one run on this machine: the same bench on one
# node with SQLite, one node with PostgreSQL, and two nodes on PostgreSQL + Redis
# (senders on node 1, receivers on node 2, so every delivery crosses nodes). It starts a
# throwaway PostgreSQL and Redis on free loopback ports and stops them at the end.
#
#   scripts/bench-cluster.sh            the figures (release builds, see BENCHMARKS.md)
#   scripts/bench-cluster.sh --smoke    tiny sizes, debug builds (scripts/test.sh)
#
#   BENCH, NATTER_BIN   the bench and server binaries (default: the release builds)
#   REPEAT              burst runs per configuration (default 7)
#   RATES               fanout rates per sender, 10 senders × 100 members (default 100,150,200)
#   PG_DURABLE=1        PostgreSQL with fsync and synchronous commit on (default: off)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# PostgreSQL and Redis are installed before they are spawned (a fresh machine has neither).
SETUP_TARGET_DIR="${CARGO_TARGET_DIR:-}"
source scripts/setup.sh
setup_cluster_services
T="${SETUP_TARGET_DIR:-target}"
SMOKE=()
PROFILE=release
if [ "${1:-}" = "--smoke" ]; then SMOKE=(--smoke); PROFILE=debug; fi
BENCH="${BENCH:-$T/$PROFILE/examples/bench}"
NATTER_BIN="${NATTER_BIN:-$T/$PROFILE/natter}"
REPEAT="${REPEAT:-7}"
RATES="${RATES:-100,150,200}"
for bin in "$BENCH" "$NATTER_BIN"; do
  [ -x "$bin" ] || { echo "bench-cluster.sh: $bin is not built (see BENCHMARKS.md)" >&2; exit 1; }
done
export NATTER_BIN LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$PWD/target/site}"

DIR="$(mktemp -d)"
REDIS_PID=""
cleanup() {
  set +e
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  bash scripts/pg.sh stop "$DIR/pg"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

PG_URL="$(bash scripts/pg.sh start "$DIR/pg")"
REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning &
REDIS_PID=$!
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done
fresh_db() { psql -q "$PG_URL/postgres" -c "CREATE DATABASE $1"; echo "$PG_URL/$1"; }

echo "## one node, SQLite"
"$BENCH" "${SMOKE[@]}" burst --repeat "$REPEAT"
echo; echo "## one node, PostgreSQL"
"$BENCH" "${SMOKE[@]}" burst --repeat "$REPEAT" --database-url "$(fresh_db single)"
echo; echo "## two nodes, PostgreSQL + Redis"
CLUSTER=(--cluster --database-url "$(fresh_db cluster)" --redis-url "redis://127.0.0.1:$REDIS_PORT")
"$BENCH" "${SMOKE[@]}" burst --repeat "$REPEAT" "${CLUSTER[@]}"
if [ ${#SMOKE[@]} -eq 0 ]; then
  "$BENCH" fanout --rate "$RATES" --seconds 5 "${CLUSTER[@]}"
  echo; echo "## the same fanout on one node, SQLite"
  "$BENCH" fanout --rate "$RATES" --seconds 5
else
  "$BENCH" --smoke fanout "${CLUSTER[@]}"
  "$BENCH" --smoke resume "${CLUSTER[@]}"
fi
