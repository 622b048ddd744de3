#!/usr/bin/env bash
# Start a moto server (AWS emulator) on a free loopback port, in the background.
#
#   infra/moto.sh [URL_FILE]        URL_FILE defaults to /tmp/kanri-moto.url
#
# Writes the endpoint URL to URL_FILE, the server pid to URL_FILE.pid and its log to URL_FILE.log, and prints
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT
# so a caller can `eval "export $(infra/moto.sh)"`. Stop it with infra/moto-stop.sh URL_FILE.
set -euo pipefail

url_file="${1:-/tmp/kanri-moto.url}"
pid_file="$url_file.pid"
log_file="$url_file.log"
python="${PYTHON:-python3}"

if ! "$python" -c "import moto.server, flask, flask_cors" >/dev/null 2>&1; then
    echo "moto_server not found; installing moto[server] with pip" >&2
    "$python" -m pip install --quiet --disable-pip-version-check 'moto[server]' >&2
    hash -r
fi

# Ask the kernel for a free port. Another process could take it before moto binds it; the wait loop below
# notices that (moto exits) and reports it.
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
url="http://127.0.0.1:$port"

mkdir -p "$(dirname "$url_file")"
server="$(dirname "$0")/moto_server.py"
nohup "$python" "$server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 </dev/null &
pid=$!

# Wait up to 30 s for the server to answer (moto serves /moto-api/ for its own dashboard and reset calls).
for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "moto_server exited early; see $log_file:" >&2
        tail -n 20 "$log_file" >&2 || true
        exit 1
    fi
    if curl -fsS -o /dev/null --max-time 1 "$url/moto-api/" 2>/dev/null; then
        echo "$url" >"$url_file"
        echo "$pid" >"$pid_file"
        echo "AWS_ENDPOINT_URL=$url"
        exit 0
    fi
    sleep 0.1
done

echo "moto_server did not answer on $url within 30 s; see $log_file" >&2
kill "$pid" 2>/dev/null || true
exit 1
