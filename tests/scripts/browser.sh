#!/usr/bin/env bash
# Browser tests of the pages (issue 16) and the admin console (issue 17): headless Chromium from Debian (chromium-headless-shell, never a
# downloaded browser) driven by playwright-core (tests/browser, installed with `npm ci`), against two
# kanri-local servers: one on the embedded store, one with KANRI_BACKEND=aws on moto (AWS_ENDPOINT_URL when
# set, as tests/run.sh sets it; otherwise a moto started here), each with its own data dir, tables and port.
#
#   tests/scripts/browser.sh
#
# The first server's run saves a screenshot of each page in docs/screenshots/ (SCREENSHOTS=<dir> elsewhere,
# SCREENSHOTS= for none). SKIP_BUILD=1 uses target/debug/kanri-local as it is; KEEP_WORK=1 keeps the temp dir
# (server logs). BROWSER_TESTS=<files> runs only those test files (default: every tests/browser/*.test.mjs). Prints `browser: N passed, M failed` last and exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/kanri-browser.XXXXXX)"
PIDS=()
START=$SECONDS
PASSED=0
FAILED=0
OWN_MOTO=0

log() { printf '[browser %3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ $OWN_MOTO == 1 ]] && "$ROOT/infra/moto-stop.sh" "$WORK/moto.url" >/dev/null 2>&1 || true
    if [[ $rc -ne 0 && $FAILED -eq 0 ]]; then FAILED=1; fi
    if [[ "${KEEP_WORK:-}" == 1 || $FAILED -ne 0 ]]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
    log "took $((SECONDS - START)) s"
    echo "browser: $PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]] && exit 0 || exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # PORT PID SECONDS
    local port=$1 pid=$2 secs=$3
    for _ in $(seq 1 $((secs * 10))); do
        kill -0 "$pid" 2>/dev/null || return 1
        if "$PYTHON" -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# --- tools: the browser (Debian) and its driver (npm) ----------------------------------------------------------
CHROMIUM="${CHROMIUM:-/usr/lib/chromium/chromium-headless-shell}"
[[ -x "$CHROMIUM" ]] || { log "no $CHROMIUM: run make deps (apt-get install chromium-headless-shell)"; exit 1; }
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    log "npm ci (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --silent) >&2
fi

# --- the server binary -----------------------------------------------------------------------------------------
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/debug/kanri-local"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    log "cargo build --workspace --bin kanri-local (debug)"
    timeout 900 cargo build --workspace --bin kanri-local >"$WORK/build.log" 2>&1 || {
        tail -n 30 "$WORK/build.log" >&2
        exit 1
    }
fi

OPERATOR_TOKEN="op-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')"

start_server() { # NAME [ENV...]: starts kanri-local; its base URL in SERVER_URL
    local name=$1
    shift
    local port
    port="$(free_port)"
    mkdir -p "$WORK/$name-data"
    # X-Forwarded-For is trusted as a proxy's header would be, so a test can speak from another address
    # (the sign-in policy's IP allow-list); requests without it come from the socket's 127.0.0.1.
    env "$@" KANRI_ADDR="127.0.0.1:$port" KANRI_DATA_DIR="$WORK/$name-data" KANRI_OPERATOR_TOKEN="$OPERATOR_TOKEN" \
        KANRI_PUBLIC_URL="http://127.0.0.1:$port" KANRI_CLIENT_IP_HEADER=x-forwarded-for "$BIN" >"$WORK/$name.log" 2>&1 </dev/null &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid" 60; then
        cat "$WORK/$name.log" >&2
        log "kanri-local ($name) did not start"
        return 1
    fi
    SERVER_URL="http://127.0.0.1:$port"
}

# --- embedded store ---------------------------------------------------------------------------------------------
start_server embedded KANRI_BACKEND=embedded
EMBEDDED="$SERVER_URL"
log "kanri-local (embedded) at $EMBEDDED"

# --- AWS backend on moto, with this run's own tables ------------------------------------------------------------
RUN_ID="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=ap-northeast-1 AWS_DEFAULT_REGION=ap-northeast-1 AWS_EC2_METADATA_DISABLED=true
export KANRI_TABLE="kanri-data-br-$RUN_ID" KANRI_LOG_TABLE="kanri-log-br-$RUN_ID" KANRI_KMS_KEY_ID="alias/kanri-data-br-$RUN_ID"
if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
    log "starting moto"
    moto_line="$(timeout 120 "$ROOT/infra/moto.sh" "$WORK/moto.url")"
    export "${moto_line?}"
    OWN_MOTO=1
fi
if ! timeout 180 "$PYTHON" "$ROOT/infra/provision.py" >"$WORK/aws.env" 2>"$WORK/provision.log"; then
    cat "$WORK/provision.log" >&2
    exit 1
fi
set -a
# shellcheck disable=SC1091
. "$WORK/aws.env"
set +a
start_server aws KANRI_BACKEND=aws
AWS="$SERVER_URL"
log "kanri-local (aws on $AWS_ENDPOINT_URL) at $AWS"

# --- the browser walk --------------------------------------------------------------------------------------------
SHOTS="${SCREENSHOTS-$ROOT/docs/screenshots}"
export KANRI_BROWSER_TARGETS
KANRI_BROWSER_TARGETS="$("$PYTHON" -c 'import json,sys; print(json.dumps([
    {"name": "embedded", "base": sys.argv[1], "operator": sys.argv[3], "outbox": sys.argv[4]},
    {"name": "aws", "base": sys.argv[2], "operator": sys.argv[3], "moto": sys.argv[5]}]))' \
    "$EMBEDDED" "$AWS" "$OPERATOR_TOKEN" "$WORK/embedded-data/outbox" "$AWS_ENDPOINT_URL")"
log "node --test tests/browser/*.test.mjs"
set +e
CHROMIUM="$CHROMIUM" SCREENSHOTS="$SHOTS" timeout 600 node --test --test-reporter=spec \
    ${BROWSER_TESTS:-tests/browser/*.test.mjs} 2>&1 | tee "$WORK/node.log" >&2
rc=${PIPESTATUS[0]}
set -e
PASSED="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -1)"
FAILED="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -1)"
PASSED=${PASSED:-0}
FAILED=${FAILED:-0}
if [[ $rc -ne 0 && $FAILED -eq 0 ]]; then FAILED=1; fi
