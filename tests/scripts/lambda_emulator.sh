#!/usr/bin/env bash
# Exercise every Lambda binary (one per route id of `kanri-local routes`) under cargo-lambda's Runtime API
# emulator, against moto (DynamoDB, KMS, SES) provisioned with this run's own table names.
#
#   tests/scripts/lambda_emulator.sh
#
# How:
#   * infra/moto.sh starts moto; infra/provision.py creates kanri-data-<run>, kanri-log-<run>,
#     alias/kanri-data-<run> and the SES identity in it.
#   * `cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API and the invoke front ends without
#     building or watching anything. The script starts each prebuilt binary itself (target/debug/<id>) with
#     AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:PORT/.rt/<id>, so cargo-lambda never runs cargo and never reloads.
#   * Requests reach a function two ways, both as API Gateway HTTP API v2 events:
#       - http://127.0.0.1:PORT/lambda-url/<id>/<path>: cargo-lambda turns a plain HTTP request into the event
#         (no authorizer context: this is how IAM-less calls are tested);
#       - POST http://127.0.0.1:PORT/2015-03-31/functions/<id>/invocations with an event built here, which can
#         carry requestContext.authorizer.iam as API Gateway's IAM authorizer would (the operator routes).
#   * A tenant is also created through kanri-local (KANRI_BACKEND=aws, same moto and tables); its admin's
#     invitation link is read from the raw mail SES recorded in moto (/moto-api/data.json), and the rest of the
#     user flow runs through the Lambda binaries.
#   * The script fails if any route id was never called.
#
# Environment: SKIP_BUILD=1 uses the binaries already in target/debug; KEEP_WORK=1 keeps the temp dir (logs).
# Prints `lambda: N passed, M failed` last and exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/kanri-lambda-emu.XXXXXX)"
COUNTS="$WORK/counts"
PIDS=()
START=$SECONDS

log() { printf '[lambda %3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [[ -f "$WORK/moto.url.pid" ]] && "$ROOT/infra/moto-stop.sh" "$WORK/moto.url" >/dev/null 2>&1 || true
    local passed=0 failed=0
    if [[ -s "$COUNTS" ]]; then
        read -r passed failed <"$COUNTS"
    fi
    # A setup step that failed before the checks ran (or a checker that died) is a failure too.
    if [[ $rc -ne 0 && $failed -eq 0 ]]; then
        failed=1
    fi
    if [[ "${KEEP_WORK:-}" == 1 || $failed -ne 0 ]]; then
        log "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    log "took $((SECONDS - START)) s"
    echo "lambda: $passed passed, $failed failed"
    if [[ $failed -ne 0 ]]; then
        exit 1
    fi
    exit 0
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

# --- tools ---------------------------------------------------------------------------------------------------
if ! cargo lambda --version >/dev/null 2>&1; then
    log "cargo lambda not found; installing cargo-lambda with pip"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check cargo-lambda >&2
    hash -r
fi
log "$(cargo lambda --version)"

# --- binaries ------------------------------------------------------------------------------------------------
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/debug"
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    log "cargo build -p kanri-functions (debug)"
    if ! timeout 900 cargo build -p kanri-functions >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        log "build failed"
        exit 1
    fi
fi
"$BIN/kanri-local" routes >"$WORK/routes.json"
mapfile -t IDS < <("$PYTHON" -c 'import json,sys; [print(r["id"]) for r in json.load(open(sys.argv[1]))]' "$WORK/routes.json")
log "${#IDS[@]} route ids: ${IDS[*]}"
for id in "${IDS[@]}"; do
    [[ -x "$BIN/$id" ]] || { log "missing Lambda binary $BIN/$id"; exit 1; }
done

# --- moto + provisioning -------------------------------------------------------------------------------------
RUN_ID="$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=ap-northeast-1 AWS_DEFAULT_REGION=ap-northeast-1 AWS_EC2_METADATA_DISABLED=true
export KANRI_TABLE="kanri-data-$RUN_ID" KANRI_LOG_TABLE="kanri-log-$RUN_ID" KANRI_KMS_KEY_ID="alias/kanri-data-$RUN_ID"
log "starting moto"
moto_line="$(timeout 120 "$ROOT/infra/moto.sh" "$WORK/moto.url")"
export "${moto_line?}"
log "moto at $AWS_ENDPOINT_URL; provisioning run $RUN_ID"
if ! timeout 180 "$PYTHON" "$ROOT/infra/provision.py" >"$WORK/aws.env" 2>"$WORK/provision.log"; then
    cat "$WORK/provision.log" >&2
    exit 1
fi
set -a
# shellcheck disable=SC1091
. "$WORK/aws.env"
set +a
log "provisioned: $(tr '\n' ' ' <"$WORK/aws.env" | sed 's/AWS_SECRET_ACCESS_KEY=[^ ]*/AWS_SECRET_ACCESS_KEY=***/')"

# --- the emulator --------------------------------------------------------------------------------------------
EMU_PORT="$(free_port)"
log "starting cargo lambda watch --only-lambda-apis on 127.0.0.1:$EMU_PORT"
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$EMU_PORT" \
    >"$WORK/watch.log" 2>&1 </dev/null &
EMU_PID=$!
PIDS+=("$EMU_PID")
if ! wait_port "$EMU_PORT" "$EMU_PID" 60; then
    cat "$WORK/watch.log" >&2
    log "cargo lambda watch did not start"
    exit 1
fi

mkdir -p "$WORK/pids"
for id in "${IDS[@]}"; do
    env AWS_LAMBDA_FUNCTION_NAME="$id" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
        AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$EMU_PORT/.rt/$id" AWS_LAMBDA_LOG_FORMAT=JSON \
        RUST_LOG="${RUST_LOG:-info}" "$BIN/$id" >"$WORK/fn-$id.log" 2>&1 </dev/null &
    PIDS+=("$!")
    echo "$!" >"$WORK/pids/$id"
done
log "started ${#IDS[@]} Lambda binaries"

# --- the local server on the same moto and tables (to create a tenant as the operator) ------------------------
LOCAL_PORT="$(free_port)"
OPERATOR_TOKEN="op-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')"
mkdir -p "$WORK/local-data"
KANRI_BACKEND=aws KANRI_ADDR="127.0.0.1:$LOCAL_PORT" KANRI_DATA_DIR="$WORK/local-data" \
    KANRI_OPERATOR_TOKEN="$OPERATOR_TOKEN" KANRI_PUBLIC_URL="http://127.0.0.1:$LOCAL_PORT" \
    "$BIN/kanri-local" >"$WORK/local.log" 2>&1 </dev/null &
LOCAL_PID=$!
PIDS+=("$LOCAL_PID")
if ! wait_port "$LOCAL_PORT" "$LOCAL_PID" 30; then
    cat "$WORK/local.log" >&2
    log "kanri-local did not start"
    exit 1
fi
log "kanri-local (aws backend) at http://127.0.0.1:$LOCAL_PORT"

# --- the checks ----------------------------------------------------------------------------------------------
export EMU="http://127.0.0.1:$EMU_PORT" LOCAL="http://127.0.0.1:$LOCAL_PORT" OPERATOR_TOKEN WORK COUNTS RUN_ID
set +e
timeout 300 "$PYTHON" - <<'PY'
import base64, email, json, os, re, secrets, sys, time, urllib.error, urllib.parse, urllib.request

EMU, LOCAL, WORK, COUNTS = os.environ["EMU"], os.environ["LOCAL"], os.environ["WORK"], os.environ["COUNTS"]
MOTO, RUN = os.environ["AWS_ENDPOINT_URL"], os.environ["RUN_ID"]
OPTOK = os.environ["OPERATOR_TOKEN"]
ROUTES = json.load(open(f"{WORK}/routes.json"))
IDS = [r["id"] for r in ROUTES]
BY_ID = {r["id"]: r for r in ROUTES}
called: set[str] = set()
passed = failed = 0


def save():
    with open(COUNTS, "w") as f:
        f.write(f"{passed} {failed}\n")


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}", flush=True)
    else:
        failed += 1
        print(f"  FAIL {name}: {detail}", flush=True)
    save()
    return ok


def fn_alive(fn):
    try:
        pid = int(open(f"{WORK}/pids/{fn}").read())
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except (OSError, ValueError):
        return False


def fn_log_tail(fn, n=15):
    try:
        return "".join(open(f"{WORK}/fn-{fn}.log", errors="replace").readlines()[-n:])
    except OSError:
        return "(no log)"


class Resp:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, {k.lower(): v for k, v in headers.items()}, raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"{self.status} {self.raw[:400]!r}"


def http(method, url, body=None, headers=None, timeout=30):
    data = None
    h = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Resp(r.status, dict(r.headers), r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Resp(e.code, dict(e.headers), e.read().decode("utf-8", "replace"))


def lam(fn, method, path, body=None, token=None, headers=None):
    """Through cargo-lambda's function-URL front end: it builds the HTTP API v2 event (no authorizer)."""
    called.add(fn)
    if not fn_alive(fn):
        return Resp(0, {}, f"Lambda process {fn} is not running; log tail:\n{fn_log_tail(fn)}")
    h = dict(headers or {})
    if token:
        h["authorization"] = f"Bearer {token}"
    try:
        return http(method, f"{EMU}/lambda-url/{fn}{path}", body, h)
    except Exception as e:  # timeouts, resets
        return Resp(0, {}, f"{type(e).__name__}: {e}; log tail:\n{fn_log_tail(fn)}")


def v2_event(method, path, query="", headers=None, body=None, iam=True):
    now = time.time()
    h = {"accept": "application/json", "host": "abc123.execute-api.ap-northeast-1.amazonaws.com",
         "user-agent": "kanri-lambda-emulator-test"}
    h.update(headers or {})
    if body is not None:
        h["content-type"] = "application/json"
    ctx = {
        "accountId": "123456789012", "apiId": "abc123",
        "domainName": "abc123.execute-api.ap-northeast-1.amazonaws.com", "domainPrefix": "abc123",
        "requestId": secrets.token_hex(8), "routeKey": f"{method} {path}", "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                 "userAgent": h["user-agent"]},
    }
    if iam:
        ctx["authorizer"] = {"iam": {
            "accessKey": "AKIAIOSFODNN7EXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
            "cognitoIdentity": None, "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/kanri-operator", "userId": "AIDAEXAMPLE"}}
    ev = {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
          "headers": h, "requestContext": ctx, "isBase64Encoded": False}
    if body is not None:
        ev["body"] = json.dumps(body)
    return ev


def invoke(fn, event):
    """Through the emulator's Invoke API with an event built here (may carry IAM authorizer context)."""
    called.add(fn)
    if not fn_alive(fn):
        return Resp(0, {}, f"Lambda process {fn} is not running; log tail:\n{fn_log_tail(fn)}")
    try:
        r = http("POST", f"{EMU}/2015-03-31/functions/{fn}/invocations", event)
    except Exception as e:
        return Resp(0, {}, f"{type(e).__name__}: {e}; log tail:\n{fn_log_tail(fn)}")
    if r.status != 200 or not isinstance(r.json, dict) or "statusCode" not in r.json:
        return Resp(0, {}, f"invoke API answered {r!r}")
    out = r.json
    body = out.get("body") or ""
    if out.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return Resp(out["statusCode"], out.get("headers") or {}, body)


def is_error(r, status, code):
    return (r.status == status and isinstance(r.json, dict) and isinstance(r.json.get("error"), dict)
            and r.json["error"].get("code") == code and isinstance(r.json["error"].get("message"), str))


def is_scim_error(r, status):
    """A SCIM error body (RFC 7644 §3.12): the SCIM routes answer every error, 401 included, this way."""
    return (r.status == status and isinstance(r.json, dict)
            and r.json.get("schemas") == ["urn:ietf:params:scim:api:messages:2.0:Error"]
            and r.json.get("status") == str(status) and isinstance(r.json.get("detail"), str)
            and "bearer" in r.headers.get("www-authenticate", "").lower())


def unauthenticated(route, r):
    if route["path"].startswith("/scim/"):
        return is_scim_error(r, 401)
    return is_error(r, 401, "unauthenticated")


def invitation_token(to_addr, wait=15.0):
    """The token of the newest mail SES (moto) recorded for to_addr."""
    deadline = time.time() + wait
    while time.time() < deadline:
        data = json.loads(http("GET", f"{MOTO}/moto-api/data.json").raw)
        ses = data.get("ses") or {}
        for msg in reversed(ses.get("RawMessage") or []):
            if to_addr not in (msg.get("destinations") or []):
                continue
            m = email.message_from_string(msg["raw_data"])
            parts = [p for p in m.walk() if p.get_content_maintype() == "text"]
            for p in parts or [m]:
                text = (p.get_payload(decode=True) or b"").decode(p.get_content_charset() or "utf-8", "replace")
                if mt := re.search(r"/set-password\?token=([A-Za-z0-9_\-]+)", text):
                    return mt.group(1)
        for msg in reversed(ses.get("Message") or []):  # a Simple (non-raw) message, should one appear
            if to_addr in json.dumps(msg.get("destinations")) and (mt := re.search(
                    r"/set-password\?token=([A-Za-z0-9_\-]+)", json.dumps(msg))):
                return mt.group(1)
        time.sleep(0.5)
    return None


FAKE_ID = "00000000000000000000000000"


def fill(path, ident=FAKE_ID):
    return path.replace("{id}", ident)


# The 165 processes start at once, and their first answers can be slow (a cold page cache after a relink
# of every binary). cargo lambda watch hands a function's answers to its waiting requests in order, so a
# request given up by a client timeout would have its answer handed to the next request to that function:
# wait, without counting it as a check, until the first function answers before any check is made.
_ready_by = time.time() + 240
while True:
    try:
        http("GET", f"{EMU}/lambda-url/health/v1/health", timeout=240)
        break
    except Exception:
        if time.time() > _ready_by:
            break
        time.sleep(1)

print("== public routes", flush=True)
r = lam("health", "GET", "/v1/health")
check("health GET /v1/health -> 200 {status: ok}",
      r.status == 200 and isinstance(r.json, dict) and r.json.get("status") == "ok"
      and r.headers.get("content-type", "").startswith("application/json"), repr(r))

r = lam("openapi", "GET", "/v1/openapi.json")
doc = r.json if isinstance(r.json, dict) else {}
check("openapi GET /v1/openapi.json -> 200 with 'openapi'", r.status == 200 and "openapi" in doc, repr(r))
ops = {}
for p, item in (doc.get("paths") or {}).items():
    for m, op in item.items():
        if isinstance(op, dict) and op.get("operationId"):
            ops[op["operationId"]] = (m.upper(), p, op)
PAGES = [i for i in IDS if BY_ID[i].get("page")]
missing = [i for i in IDS if not BY_ID[i].get("page")
           and (i not in ops or ops[i][0] != BY_ID[i]["method"] or ops[i][1] != BY_ID[i]["path"])]
check("openapi document describes every route id with its method and path", not missing, f"missing/different: {missing}")
# Public routes: `security: []` in the document; the operator flag comes from the route table.
public = {i for i in IDS if i in ops and ops[i][2].get("security") == []}
log_public = sorted(public)
print(f"  (public routes per the document: {log_public})", flush=True)

r = lam("health", "GET", "/v1/nowhere")
check("unknown path inside a Lambda -> 404 not_found JSON", is_error(r, 404, "not_found"), repr(r))

print("== operator routes without IAM context (function URL event, no authorizer)", flush=True)
for rid in [i for i in IDS if BY_ID[i]["operator"]]:
    route = BY_ID[rid]
    body = {} if route["method"] in ("POST", "PATCH", "PUT") else None
    r = lam(rid, route["method"], fill(route["path"]), body)
    check(f"{rid} without IAM -> 401 unauthenticated", is_error(r, 401, "unauthenticated"), repr(r))
    r = lam(rid, route["method"], fill(route["path"]), body, token=OPTOK)
    check(f"{rid} with the local operator token but no IAM -> 401", is_error(r, 401, "unauthenticated"), repr(r))

print("== every non-public route without a session -> 401", flush=True)
for rid in IDS:
    if rid in public or BY_ID[rid]["operator"] or rid in PAGES:
        continue
    route = BY_ID[rid]
    body = {} if route["method"] in ("POST", "PATCH", "PUT") else None
    r = lam(rid, route["method"], fill(route["path"]), body)
    check(f"{rid} {route['method']} {route['path']} without a token -> 401 unauthenticated",
          unauthenticated(route, r), repr(r) + repr(r.headers))
    r = lam(rid, route["method"], fill(route["path"]), body, token="not-a-session-token")
    check(f"{rid} with a bogus bearer token -> 401 unauthenticated", unauthenticated(route, r), repr(r))

print("== pages (HTML): security headers, CSRF, no session", flush=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_page_opener = urllib.request.build_opener(_NoRedirect)


def page(fn, method, path, form=None, headers=None):
    """A browser-like request to a page function through the function-URL front end, redirects not followed."""
    called.add(fn)
    if not fn_alive(fn):
        return Resp(0, {}, f"Lambda process {fn} is not running; log tail:\n{fn_log_tail(fn)}")
    h = {"accept": "text/html", **(headers or {})}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        h["content-type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(f"{EMU}/lambda-url/{fn}{path}", data=data, method=method, headers=h)
    try:
        with _page_opener.open(req, timeout=30) as r:
            return Resp(r.status, dict(r.headers), r.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Resp(e.code, dict(e.headers), e.read().decode("utf-8", "replace"))
    except Exception as e:
        return Resp(0, {}, f"{type(e).__name__}: {e}; log tail:\n{fn_log_tail(fn)}")


def is_page(r, status, text=None):
    csp = r.headers.get("content-security-policy", "")
    return (r.status == status and r.headers.get("content-type", "").startswith("text/html")
            and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            and r.headers.get("x-frame-options") == "DENY" and r.headers.get("referrer-policy") == "no-referrer"
            and r.headers.get("x-content-type-options") == "nosniff"
            and (text is None or text in r.raw))


for rid, path, text in [("page-login", "/login", "ログイン"), ("page-password-reset", "/password-reset", "パスワードの再設定")]:
    r = page(rid, "GET", path)
    check(f"{rid} GET {path} -> 200 Japanese page with security headers and a CSRF cookie",
          is_page(r, 200, text) and "kanri_csrf=" in r.headers.get("set-cookie", ""), repr(r) + repr(r.headers))
r = page("page-login", "GET", "/login?lang=en")
check("page-login GET /login?lang=en -> English, language remembered in a cookie",
      is_page(r, 200, "Sign in") and "kanri_lang=en" in r.headers.get("set-cookie", ""), repr(r))
r = page("page-set-password", "GET", "/set-password?token=not-a-real-token")
check("page-set-password with an unknown token -> 410 page saying the link cannot be used",
      is_page(r, 410, "このリンクは使えません"), repr(r))
for rid, path in [("page-login-post", "/login"), ("page-password-reset-post", "/password-reset"),
                  ("page-set-password-post", "/set-password"), ("page-login-mfa-post", "/login/mfa")]:
    r = page(rid, "POST", path, {"tenant": "x", "login": "y", "password": "z", "token": "t"})
    check(f"{rid} POST {path} without a CSRF token -> 403 page", is_page(r, 403), repr(r))
# The code step without its challenge cookie starts the sign-in over.
r = page("page-login-mfa", "GET", "/login/mfa")
check("page-login-mfa GET /login/mfa without a challenge -> 303 to /login",
      is_page(r, 303) and r.headers.get("location") == "/login", repr(r) + repr(r.headers))
# Single sign-on: no tenant named yet -> the login page asks for it; a callback with no state of this browser
# is refused on a page (4xx), never a 5xx.
r = page("page-sso-start", "GET", "/sso/start")
check("page-sso-start GET /sso/start without a tenant -> 303 to /login?sso=1",
      is_page(r, 303) and r.headers.get("location") == "/login?sso=1", repr(r) + repr(r.headers))
r = page("page-sso-callback", "GET", "/sso/callback?state=forged&code=forged")
check("page-sso-callback with a state this browser never got -> a 4xx page",
      400 <= r.status < 500 and is_page(r, r.status), repr(r))
for rid in ["page-account", "page-account-password", "page-account-password-post",
            "page-account-subscriptions-post", "page-logout-post", "page-notices", "page-account-mfa",
            "page-account-mfa-totp-post", "page-account-mfa-confirm-post", "page-account-mfa-delete-post",
            ] + [i for i in PAGES if i.startswith("page-admin-")]:
    route = BY_ID[rid]
    form = {} if route["method"] == "POST" else None
    r = page(rid, route["method"], fill(route["path"]), form, {"cookie": "kanri_session=not-a-session"})
    check(f"{rid} {route['method']} {route['path']} without a session -> 303 to /login",
          is_page(r, 303) and r.headers.get("location") == "/login", repr(r) + repr(r.headers))

print("== tenant created by kanri-local (aws backend, same tables)", flush=True)
slug = f"lam-{RUN}"
admin_email = f"admin@{slug}.example.com"
r = http("POST", f"{LOCAL}/v1/ops/tenants",
         {"slug": slug, "name": "Lambda Test Co", "seat_limit": 5, "admin": {"name": "管理 太郎", "email": admin_email}},
         {"authorization": f"Bearer {OPTOK}"})
ok = check("kanri-local POST /v1/ops/tenants -> 201", r.status == 201 and isinstance(r.json, dict)
           and r.json.get("tenant", {}).get("slug") == slug, repr(r))
tenant_id = (r.json or {}).get("tenant", {}).get("id") if ok else None
admin_id = (r.json or {}).get("admin", {}).get("id") if ok else None

token = invitation_token(admin_email) if ok else None
check("invitation mail recorded by SES in moto, with a set-password token", token is not None,
      "no RawMessage to the admin with /set-password?token=... in /moto-api/data.json")

print("== operator routes with IAM authorizer context (Invoke API, HTTP API v2 event)", flush=True)
if tenant_id:
    r = invoke("ops-tenants-get", v2_event("GET", f"/v1/ops/tenants/{tenant_id}"))
    check("ops-tenants-get (IAM) reads the tenant kanri-local created -> 200",
          r.status == 200 and (r.json or {}).get("id") == tenant_id and (r.json or {}).get("slug") == slug, repr(r))
r = invoke("ops-tenants-get", v2_event("GET", f"/v1/ops/tenants/{tenant_id or FAKE_ID}", iam=False))
check("ops-tenants-get event without authorizer -> 401", is_error(r, 401, "unauthenticated"), repr(r))
slug2 = f"lam2-{RUN}"
r = invoke("ops-tenants-create", v2_event("POST", "/v1/ops/tenants", body={
    "slug": slug2, "name": "Lambda Second", "seat_limit": 3, "admin": {"name": "Second Admin", "email": f"admin@{slug2}.example.com"}}))
ok2 = check("ops-tenants-create (IAM) -> 201", r.status == 201 and (r.json or {}).get("tenant", {}).get("slug") == slug2, repr(r))
t2 = (r.json or {}).get("tenant", {}).get("id") if ok2 else None
if t2:
    r = invoke("ops-tenants-update", v2_event("PATCH", f"/v1/ops/tenants/{t2}", body={"seat_limit": 7, "name": "Lambda Second KK"}))
    check("ops-tenants-update (IAM) -> 200 with the changes",
          r.status == 200 and (r.json or {}).get("seat_limit") == 7 and (r.json or {}).get("name") == "Lambda Second KK", repr(r))
    r = http("GET", f"{LOCAL}/v1/ops/tenants/{t2}", headers={"authorization": f"Bearer {OPTOK}"})
    check("kanri-local reads the tenant the Lambda created and updated -> 200",
          r.status == 200 and (r.json or {}).get("seat_limit") == 7, repr(r))
    check("ops-tenants-create (Lambda) mailed the invitation through SES", invitation_token(f"admin@{slug2}.example.com") is not None,
          "no invitation mail for the second tenant's admin")
r = invoke("ops-tenants-create", v2_event("POST", "/v1/ops/tenants", body={"slug": "x", "unknown": 1}))
check("ops-tenants-create (IAM) with an invalid body -> 400 invalid_request", is_error(r, 400, "invalid_request"), repr(r))

print("== user flow through the Lambda binaries", flush=True)
pw = f"Lambda-{secrets.token_urlsafe(9)}-pw"
session = None
if token:
    r = lam("auth-password-reset", "POST", "/v1/auth/password-reset", {"tenant": "no-such-tenant", "login": "nobody@example.jp"})
    check("auth-password-reset for an unknown account -> 202 {}", r.status == 202 and r.json == {}, repr(r))
    r = lam("auth-login-mfa", "POST", "/v1/auth/login/mfa", {"challenge": "bogus-challenge", "code": "123456"})
    check("auth-login-mfa with a bogus challenge -> 401 invalid_challenge", is_error(r, 401, "invalid_challenge"), repr(r))
    r = lam("auth-set-password", "POST", "/v1/auth/set-password", {"token": "bogus-token", "password": pw})
    check("auth-set-password with a bogus token -> 400 invalid_token", is_error(r, 400, "invalid_token"), repr(r))
    r = lam("auth-set-password", "POST", "/v1/auth/set-password", {"token": token, "password": pw})
    check("auth-set-password -> 204", r.status == 204 and not r.raw, repr(r))
    r = lam("auth-set-password", "POST", "/v1/auth/set-password", {"token": token, "password": pw + "x"})
    check("auth-set-password with the used token -> 400 invalid_token", is_error(r, 400, "invalid_token"), repr(r))

    r = lam("auth-login", "POST", "/v1/auth/login", {"tenant": slug, "login": admin_email, "password": pw + "wrong"})
    check("auth-login with a wrong password -> 401 invalid_credentials", is_error(r, 401, "invalid_credentials"), repr(r))
    r = lam("auth-login", "POST", "/v1/auth/login", {"tenant": slug, "login": admin_email, "password": pw})
    ok = check("auth-login -> 200 {token, expires_at, user}", r.status == 200 and isinstance(r.json, dict)
               and isinstance(r.json.get("token"), str) and r.json.get("expires_at")
               and (r.json.get("user") or {}).get("id") == admin_id, repr(r))
    session = r.json["token"] if ok else None
else:
    print("  (no invitation token: the flow below is skipped and counts as failed)", flush=True)
    check("user flow", False, "skipped: no invitation token")

if session:
    r = lam("me-get", "GET", "/v1/me", token=session)
    check("me-get -> 200 with grants", r.status == 200 and (r.json or {}).get("email") == admin_email
          and (r.json or {}).get("status") == "active" and isinstance((r.json or {}).get("grants"), dict), repr(r))
    r = lam("tenant-get", "GET", "/v1/tenant", token=session)
    check("tenant-get -> 200", r.status == 200 and (r.json or {}).get("id") == tenant_id and (r.json or {}).get("slug") == slug, repr(r))

    login_id = f"staff.{RUN}"
    r = lam("users-create", "POST", "/v1/users", {"name": "スタッフ 花子", "login_id": login_id, "delivery": "generated"}, token=session)
    ok = check("users-create (delivery generated) -> 201 with initial_password",
               r.status == 201 and isinstance((r.json or {}).get("initial_password"), str)
               and (r.json or {}).get("user", {}).get("login_id") == login_id
               and (r.json or {}).get("user", {}).get("must_change_password") is True, repr(r))
    user_id = r.json["user"]["id"] if ok else FAKE_ID
    initial_pw = r.json.get("initial_password") if ok else None
    r = lam("users-create", "POST", "/v1/users", {"name": "No Mail", "login_id": f"nomail.{RUN}", "delivery": "invite_link"}, token=session)
    check("users-create invite_link without email -> 400 delivery_requires_email", is_error(r, 400, "delivery_requires_email"), repr(r))

    r = lam("users-list", "GET", "/v1/users?limit=10", token=session)
    ids = [u.get("id") for u in (r.json or {}).get("items", [])] if isinstance(r.json, dict) else []
    check("users-list -> 200 page containing both users", r.status == 200 and user_id in ids and admin_id in ids
          and "next_cursor" in (r.json or {}), repr(r))
    r = lam("users-list", "GET", f"/v1/users?q=staff.{RUN}", token=session)
    ids = [u.get("id") for u in (r.json or {}).get("items", [])] if isinstance(r.json, dict) else []
    check("users-list ?q= prefix search -> only the staff user", r.status == 200 and ids == [user_id], repr(r))

    r = lam("users-get", "GET", f"/v1/users/{user_id}", token=session)
    check("users-get -> 200", r.status == 200 and (r.json or {}).get("id") == user_id, repr(r))
    r = lam("users-get", "GET", f"/v1/users/{FAKE_ID}", token=session)
    check("users-get unknown id -> 404 not_found", is_error(r, 404, "not_found"), repr(r))

    r = lam("users-update", "PATCH", f"/v1/users/{user_id}", {"name": "スタッフ 花子 (更新)"}, token=session)
    check("users-update -> 200 with the new name", r.status == 200 and (r.json or {}).get("name") == "スタッフ 花子 (更新)", repr(r))

    r = lam("roles-list", "GET", "/v1/roles", token=session)
    roles = (r.json or {}).get("items", []) if isinstance(r.json, dict) else []
    check("roles-list -> 200 with built-in admin role", r.status == 200 and any(x.get("id") == "admin" and x.get("builtin") for x in roles), repr(r))
    r = lam("permissions", "GET", "/v1/permissions", token=session)
    check("permissions -> 200 with a settings feature", r.status == 200 and any(
        x.get("feature") == "settings" for x in (r.json or {}).get("items", [])), repr(r))

    if initial_pw:
        r = lam("auth-login", "POST", "/v1/auth/login", {"tenant": slug, "login": login_id, "password": initial_pw})
        ok = check("auth-login with the generated password -> 200", r.status == 200 and isinstance((r.json or {}).get("token"), str), repr(r))
        if ok:
            r = lam("tenant-get", "GET", "/v1/tenant", token=r.json["token"])
            check("a user who must change the password -> 403 password_change_required",
                  is_error(r, 403, "password_change_required"), repr(r))

    pw2 = f"Lambda-{secrets.token_urlsafe(9)}-new"
    r = lam("me-password", "POST", "/v1/me/password", {"current_password": pw, "new_password": pw2}, token=session)
    check("me-password -> 204", r.status == 204 and not r.raw, repr(r))
    r = lam("auth-login", "POST", "/v1/auth/login", {"tenant": slug, "login": admin_email, "password": pw})
    check("auth-login with the old password -> 401 invalid_credentials", is_error(r, 401, "invalid_credentials"), repr(r))
    r = lam("auth-login", "POST", "/v1/auth/login", {"tenant": slug, "login": admin_email, "password": pw2})
    check("auth-login with the new password -> 200", r.status == 200 and isinstance((r.json or {}).get("token"), str), repr(r))

    # The same person through the pages: cookies cross API Gateway's v2 event both ways.
    r = page("page-login", "GET", "/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.raw)
    csrf_cookie = re.search(r"kanri_csrf=([^;]+)", r.headers.get("set-cookie", ""))
    ok = check("page-login hands out the form token with its cookie", r.status == 200 and csrf and csrf_cookie
               and csrf.group(1) == csrf_cookie.group(1), repr(r) + repr(r.headers))
    if ok:
        r = page("page-login-post", "POST", "/login",
                 {"tenant": slug, "login": admin_email, "password": pw2, "csrf": csrf.group(1)},
                 {"cookie": f"kanri_csrf={csrf_cookie.group(1)}"})
        cookie = re.search(r"kanri_session=([^;]+);[^,]*HttpOnly", r.headers.get("set-cookie", ""))
        ok = check("page-login-post -> 303 to /account with an HttpOnly session cookie",
                   is_page(r, 303) and r.headers.get("location") == "/account" and cookie, repr(r) + repr(r.headers))
    if ok:
        r = page("page-account", "GET", "/account", headers={"cookie": f"kanri_session={cookie.group(1)}"})
        check("page-account with the session cookie -> 200 with the person's name", is_page(r, 200, "管理 太郎"),
              repr(r))
        r = lam("me-get", "GET", "/v1/me", token=cookie.group(1))
        check("the page session is an API session", r.status == 200 and (r.json or {}).get("email") == admin_email,
              repr(r))

    r = lam("auth-logout", "POST", "/v1/auth/logout", token=session)
    check("auth-logout -> 204", r.status == 204 and not r.raw, repr(r))
    r = lam("me-get", "GET", "/v1/me", token=session)
    check("me-get with the logged-out token -> 401 unauthenticated", is_error(r, 401, "unauthenticated"), repr(r))
elif token:
    check("user flow after login", False, "skipped: login failed")

print("== coverage", flush=True)
for rid in IDS:
    check(f"route {rid} called through its Lambda binary", rid in called, "never called")
dead = [i for i in IDS if not fn_alive(i)]
check("every Lambda process still running", not dead, f"exited: {dead}; " + "; ".join(f"{d}: {fn_log_tail(d, 5)}" for d in dead))
save()
sys.exit(1 if failed else 0)
PY
rc=$?
set -e
if [[ $rc -ne 0 && ! -s "$COUNTS" ]]; then
    log "checker exited with $rc before counting"
fi
exit $rc
