#!/usr/bin/env bash
# Stop the moto server started by infra/moto.sh with the same URL_FILE (default /tmp/kanri-moto.url).
set -euo pipefail

url_file="${1:-/tmp/kanri-moto.url}"
pid_file="$url_file.pid"

if [[ ! -f "$pid_file" ]]; then
    echo "no pid file $pid_file; nothing to stop" >&2
    exit 0
fi
pid="$(cat "$pid_file")"
if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    # Give it up to 5 s to exit, then insist.
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$pid_file" "$url_file"
