#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and the local cluster, on a free loopback
# port, in a temporary folder. PostgreSQL refuses to run as root: as root, the server
# runs as the `postgres` user (created by Debian's package).
#
#   scripts/pg.sh start DIR   initdb + start in DIR; prints the server's URL
#                             (postgres://natter@127.0.0.1:PORT) on stdout
#   scripts/pg.sh stop DIR    fast shutdown of the server in DIR
set -euo pipefail
# PostgreSQL is installed before it is spawned (set-up messages go to stderr: stdout is the URL).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_cluster_services >&2

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PG_BIN/initdb" ] || { echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd="${1:-}"; dir="${2:-}"
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      # The server's user must reach DIR: a mktemp folder is root's alone.
      chmod a+x "$(dirname "$dir")"
      chown postgres: "$dir"
    fi
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    # UTF-8 whatever the caller's locale: without LANG (a bare CI environment) initdb
    # would pick SQL_ASCII, and text beyond ASCII (the search's markers) fails.
    as_pg "$PG_BIN/initdb" -D "$dir/data" -A trust -U natter --no-sync -E UTF8 --no-locale \
      >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a test server's data is thrown away; never use this for real data.
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=400" \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://natter@127.0.0.1:$port"
    ;;
  stop)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
