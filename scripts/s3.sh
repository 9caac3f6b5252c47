#!/usr/bin/env bash
# A throwaway S3-compatible server for tests and the local cluster: moto's server mode
# (PyPI, in memory: its objects go when it stops), on a free loopback port, with one
# bucket, `natter`.
#
#   scripts/s3.sh start DIR   starts it (its pid and log in DIR); prints its endpoint
#                             (http://127.0.0.1:PORT) on stdout
#   scripts/s3.sh stop DIR    stops the server started in DIR
#
# Clients sign with any key (moto checks no credentials); natter's S3 settings for it:
# README, "Configuration".
set -euo pipefail
# moto is installed before it is spawned (set-up messages go to stderr: stdout is the URL).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_s3 >&2
setup_cluster_services >&2 # curl

cmd="${1:-}"; dir="${2:-}"
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    # Its own session, so that stopping it stops its children too.
    setsid "$NATTER_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! > "$dir/moto.pid"
    for _ in $(seq 150); do
      curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
      kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || { cat "$dir/moto.log" >&2; exit 1; }
      sleep 0.1
    done
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/natter" \
      || { echo "s3.sh: moto did not start or made no bucket" >&2; cat "$dir/moto.log" >&2; exit 1; }
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    if [ -f "$dir/moto.pid" ]; then
      kill -TERM -- "-$(cat "$dir/moto.pid")" 2>/dev/null || kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
      rm -f "$dir/moto.pid"
    fi
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
