#!/usr/bin/env python3
"""make bench: measure the local server, the AWS requests per endpoint, the Lambda binaries, argon2, the bulk
operations and the background tasks (notice mails, background imports), and write every figure to a JSON file (bench/report.py turns it into BENCHMARKS.md).

    bench/bench.py --target TARGET_DIR --out RESULTS.json [--build BUILD.json] [--sections load,aws,lambda]

Expects the binaries in TARGET_DIR/PROFILE (kanri-local, kanri-bench, the sampled route ids; PROFILE is
BENCH_PROFILE, default `lambda`) and wrk on PATH; bench/run.sh builds them in one cargo invocation. Every
section is independent: one that fails is recorded under
"errors" and the others still run. Knobs (environment):

    BENCH_RUNS=3          timed wrk runs per endpoint (the figures are their medians; 3, not 5, for make bench's
                          15 minutes: a median of 3 still sets an outlier run aside)
    BENCH_SECONDS=6       seconds per wrk run (each endpoint also gets one untimed warm-up run)
    BENCH_CONNECTIONS=32  open connections (the fixed concurrency) for the throughput runs
    BENCH_WRK_THREADS=1   wrk threads
    BENCH_LOGIN_RUNS=3    timed login runs (one connection each, BENCH_SECONDS long)
    BENCH_ARGON2_N=30     timed argon2 hashes
    BENCH_LAMBDA_RUNS=3   cold starts per Lambda binary
    BENCH_LAMBDA_INVOKES=5 requests per cold-started process (the first, then warm ones)
    BENCH_FUNCTIONS=a,b   the Lambda functions to measure (route ids), or "all" (default: all)
    BENCH_PROFILE=lambda  the cargo profile of every measured binary: kanri-local, kanri-bench and the functions
                          (lambda: as the functions are deployed; one build of every dependency serves all three)
    BENCH_BULK_USERS=10000     rows of the CSV import on the local server (embedded store)
    BENCH_BULK_RUNS=5          timed imports (each into a fresh tenant; the last one is then purged)
    BENCH_BULK_AWS_USERS=2000  rows of the CSV import counted against moto (then purged there)
    BENCH_BULK_MEMBERS=1000    users added to one group in one request, against moto
    BENCH_BULK_GROUPS=1000     groups created in one request, against moto
    BENCH_TASKS_SUBSCRIBERS=10000  subscribers a release notice is mailed to (embedded store; moto: section fanout)
    BENCH_TASKS_TENANTS=4          tenants they are spread over
    BENCH_TASKS_IMPORT_ROWS=100000 rows of the background import on the local server
    BENCH_TASKS_AWS_ROWS=2000      rows of the background import counted against moto
    BENCH_SOAK_SECONDS=300     length of the soak: mixed traffic against the local server
    BENCH_SOAK_THREADS=8       client threads of the soak (each one keep-alive connection)
    BENCH_SOAK_RATE=500        requests/s of the soak, all threads together (0: as fast as they can)
    BENCH_SOAK_PRELOAD_USERS=40000  users imported before the soak, so the store starts larger than its cache
    BENCH_RESET_N=1000         timed password-reset requests for each of a known and an unknown login
    BENCH_MAKERUN_TEST_BUILD=1 section makerun (opt-in): first build as make test does (tests/run.sh's
                               `cargo build --workspace --bins`, `cargo test --workspace --no-run`), untimed;
                               0 when the target dir has it already
    BENCH_MAKERUN_FRESH=1      section makerun: also a fresh clone's `make run` (empty target dir: a whole
                               dev build, 5 minutes or more on 2 cores; the clone is deleted afterwards)

Only the sections run are replaced in --out: the figures of the other sections are kept from the file.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import email
import email.header
import glob
import http.client as httpclient
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "scripts"))
from runtime_api import RuntimeApi  # noqa: E402

PYTHON = os.environ.get("PYTHON", sys.executable)
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "1"))
LOGIN_RUNS = int(os.environ.get("BENCH_LOGIN_RUNS", "3"))
ARGON2_N = int(os.environ.get("BENCH_ARGON2_N", "30"))
LAMBDA_RUNS = int(os.environ.get("BENCH_LAMBDA_RUNS", "3"))
LAMBDA_INVOKES = int(os.environ.get("BENCH_LAMBDA_INVOKES", "5"))
# One profile for every binary the bench runs (bench/run.sh builds them together): the local server's figures are
# of the same optimisation settings as the deployed functions'. BENCH_LAMBDA_PROFILE is its older name.
PROFILE = os.environ.get("BENCH_PROFILE") or os.environ.get("BENCH_LAMBDA_PROFILE") or "lambda"
BULK_USERS = int(os.environ.get("BENCH_BULK_USERS", "10000"))
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", "5"))
BULK_AWS_USERS = int(os.environ.get("BENCH_BULK_AWS_USERS", "2000"))
BULK_MEMBERS = int(os.environ.get("BENCH_BULK_MEMBERS", "1000"))
BULK_GROUPS = int(os.environ.get("BENCH_BULK_GROUPS", "1000"))
TASKS_SUBSCRIBERS = int(os.environ.get("BENCH_TASKS_SUBSCRIBERS", "10000"))
TASKS_TENANTS = int(os.environ.get("BENCH_TASKS_TENANTS", "4"))
TASKS_IMPORT_ROWS = int(os.environ.get("BENCH_TASKS_IMPORT_ROWS", "100000"))
TASKS_AWS_ROWS = int(os.environ.get("BENCH_TASKS_AWS_ROWS", "2000"))
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "300"))
SOAK_THREADS = int(os.environ.get("BENCH_SOAK_THREADS", "8"))
SOAK_RATE = int(os.environ.get("BENCH_SOAK_RATE", "500"))
SOAK_SEED_USERS = 48
SOAK_PRELOAD_USERS = int(os.environ.get("BENCH_SOAK_PRELOAD_USERS", "40000"))
SOAK_SAMPLE_S = 10
RESET_N = int(os.environ.get("BENCH_RESET_N", "1000"))
RESET_WARMUP = 50
# make bench runs MAKE_BENCH_SECTIONS; the others are `make bench-long`'s (bench/run.sh): each takes minutes that
# do not fit beside the build in make bench's 15-minute budget, and BENCHMARKS.md shows their figures from their
# own dated run.
SECTIONS = ("load", "argon2", "aws", "lambda", "bulk", "tasks", "reset", "fanout", "soak", "makerun")
MAKE_BENCH_SECTIONS = ("load", "argon2", "aws", "lambda", "bulk", "tasks", "reset")
JST = datetime.timezone(datetime.timedelta(hours=9))
CLK_TCK = os.sysconf("SC_CLK_TCK")
FAKE_ID = "00000000000000000000000000"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- small helpers ---------------------------------------------------------------------------------------

def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, token=None, timeout=30, csv=None):
    """One request with a JSON body, or with `csv` as a text/csv body; (status, parsed JSON or text)."""
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if csv is not None:
        data = csv.encode()
        headers["content-type"] = "text/csv"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def need(what, status, body, want):
    if status != want:
        raise RuntimeError(f"{what}: expected {want}, got {status} {str(body)[:300]}")
    return body


def wait_health(base, proc, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if http("GET", f"{base}/v1/health", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{base} did not answer within {seconds} s")


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, round(p / 100 * len(xs) + 0.5) - 1))
    return xs[k]


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return None

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round((mem_kib or 0) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": version(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "rustc": version(["rustc", "--version"]),
        "wrk": version(["sh", "-c", "wrk --version 2>&1 | head -n1"]),
        "python": platform.python_version(),
    }


def git_state():
    def git(*a):
        r = subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    # The bench's own outputs do not make the measured code "uncommitted".
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md",
                 ":!bench/results.json", ":!bench/ci-build.json")
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(status)}


def read_outbox_token(data_dir, to_addr, wait=10.0):
    deadline = time.time() + wait
    while time.time() < deadline:
        for path in sorted(glob.glob(f"{data_dir}/outbox/*.eml"), key=os.path.getmtime, reverse=True):
            msg = email.message_from_binary_file(open(path, "rb"))
            if to_addr not in (msg.get("To") or ""):
                continue
            for part in msg.walk():
                if part.get_content_maintype() != "text":
                    continue
                text = (part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8", "replace")
                if m := re.search(r"/set-password\?token=([A-Za-z0-9_\-]+)", text):
                    return m.group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no invitation mail to {to_addr} in {data_dir}/outbox")


def moto_tokens(moto_url) -> dict[str, str]:
    """to address -> set-password token of the newest invitation SES (moto) recorded for it."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=60) as r:
        data = json.load(r)
    out = {}
    for msg in (data.get("ses") or {}).get("RawMessage") or []:
        m = email.message_from_string(msg.get("raw_data") or "")
        for p in [p for p in m.walk() if p.get_content_maintype() == "text"] or [m]:
            text = (p.get_payload(decode=True) or b"").decode(p.get_content_charset() or "utf-8", "replace")
            if mt := re.search(r"/set-password\?token=([A-Za-z0-9_\-]+)", text):
                for to in msg.get("destinations") or []:
                    out[to] = mt.group(1)
    return out


def onboard(base, optok, slug, admin_email, password, get_token, seat_limit=1_000_000):
    """Tenant + admin through the API: create, set the password from the invitation, log in."""
    st, body = http("POST", f"{base}/v1/ops/tenants",
                    {"slug": slug, "name": "Bench KK", "seat_limit": seat_limit,
                     "admin": {"name": "Bench Admin", "email": admin_email}}, optok)
    body = need("POST /v1/ops/tenants", st, body, 201)
    token = get_token(admin_email)
    st, b = http("POST", f"{base}/v1/auth/set-password", {"token": token, "password": password})
    need("POST /v1/auth/set-password", st, b, 204)
    st, b = http("POST", f"{base}/v1/auth/login", {"tenant": slug, "login": admin_email, "password": password})
    b = need("POST /v1/auth/login", st, b, 200)
    return body["tenant"]["id"], body["admin"]["id"], b["token"]


class LocalServer:
    """target/PROFILE/kanri-local on a fresh data dir (embedded store), with an operator token."""

    def __init__(self, target, name, **extra_env):
        self.name = name
        self.work = Path(tempfile.mkdtemp(prefix=f"kanri-bench-{name}."))
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.optok = "op-" + secrets.token_urlsafe(18)
        self.data = self.work / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(KANRI_BACKEND="embedded", KANRI_ADDR=f"127.0.0.1:{port}", KANRI_DATA_DIR=str(self.data),
                   KANRI_OPERATOR_TOKEN=self.optok, KANRI_PUBLIC_URL=self.base,
                   # as `make run` and template.yaml start it
                   GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")
        env.update(extra_env)
        self.log = open(self.work / "server.log", "wb")
        try:
            self.proc = subprocess.Popen([f"{target}/{PROFILE}/kanri-local"], env=env, stdout=self.log,
                                         stderr=self.log, stdin=subprocess.DEVNULL)
        except OSError:
            self.log.close()
            shutil.rmtree(self.work, ignore_errors=True)
            raise

    def __enter__(self):
        wait_health(self.base, self.proc)
        return self

    def onboard(self, slug, seat_limit=1_000_000):
        """A tenant and its admin's session: (tenant id, admin id, session, admin e-mail, password)."""
        admin = f"admin@{slug}.example.com"
        pw = f"Bench-{secrets.token_urlsafe(9)}-pw"
        tid, aid, session = onboard(self.base, self.optok, slug, admin, pw,
                                    lambda a: read_outbox_token(self.data, a), seat_limit)
        return tid, aid, session, admin, pw

    def close(self, res):
        stop(self.proc)
        self.log.close()
        if (self.work / "server.log").stat().st_size:
            tail = (self.work / "server.log").read_bytes()[-2000:].decode("utf-8", "replace")
            if "panicked" in tail:
                res["errors"].append(f"{self.name}: kanri-local panicked: {tail}")
        shutil.rmtree(self.work, ignore_errors=True)


# ---- 1. the local server under load (embedded store) ------------------------------------------------------

def wrk(url, method="GET", token=None, body=None, connections=CONNECTIONS, threads=WRK_THREADS, seconds=SECONDS):
    env = dict(os.environ, KANRI_WRK_METHOD=method, KANRI_WRK_TOKEN=token or "", KANRI_WRK_BODY=body or "",
               KANRI_WRK_RUN=secrets.token_hex(4))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(HERE / "scripts" / "wrk.lua"), url]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
    return json.loads(lines[-1])


def load_runs(pid, url, runs, **kw):
    out = []
    wrk(url, seconds=2, **{k: v for k, v in kw.items() if k != "seconds"})  # warm-up, not counted
    for _ in range(runs):
        c0 = cpu_seconds(pid)
        w = wrk(url, **kw)
        c1 = cpu_seconds(pid)
        secs = w["duration_us"] / 1e6
        n = w["requests"]
        errors = sum(w["errors"].values())
        out.append({
            "requests": n,
            "seconds": round(secs, 3),
            "rps": n / secs if secs else None,
            "p50_ms": w["latency_us"]["p50"] / 1000,
            "p90_ms": w["latency_us"]["p90"] / 1000,
            "p99_ms": w["latency_us"]["p99"] / 1000,
            "max_ms": w["latency_us"]["max"] / 1000,
            "errors": errors,
            "non_2xx": w["errors"]["status"],
            "server_cpu_s": round(c1 - c0, 3),
            "cpu_us_per_request": (c1 - c0) / n * 1e6 if n else None,
        })
        log(f"  {out[-1]['rps']:.0f} req/s, p50 {out[-1]['p50_ms']:.2f} ms, p99 {out[-1]['p99_ms']:.2f} ms, "
            f"{out[-1]['cpu_us_per_request']:.0f} µs CPU/request, {errors} errors")
    summary = {k: median([r[k] for r in out]) for k in
               ("rps", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_request")}
    summary["errors"] = sum(r["errors"] for r in out)
    summary["requests"] = sum(r["requests"] for r in out)
    return {"runs": out, "median": summary}


def section_load(target, res):
    srv = LocalServer(target, "load")
    base, proc = srv.base, srv.proc
    try:
        srv.__enter__()
        slug = f"load-{secrets.token_hex(3)}"
        _, admin_id, session, admin, pw = srv.onboard(slug)
        ids = []
        for i in range(60):
            st, b = http("POST", f"{base}/v1/users",
                         {"name": f"Seed User {i:02}", "email": f"seed{i}@{slug}.example.com",
                          "delivery": "invite_link"}, session)
            ids.append(need("POST /v1/users (seed)", st, b, 201)["user"]["id"])
        uid = ids[0]
        out = {"config": {"connections": CONNECTIONS, "wrk_threads": WRK_THREADS, "seconds": SECONDS,
                          "runs": RUNS, "tenant_users_at_start": len(ids) + 1}}
        cases = [
            ("users-get", "GET /v1/users/{id}", dict(url=f"{base}/v1/users/{uid}", token=session)),
            ("users-list", "GET /v1/users?limit=50 (a full page of 50)",
             dict(url=f"{base}/v1/users?limit=50", token=session)),
            ("users-create", "POST /v1/users (delivery invite_link)",
             dict(url=f"{base}/v1/users", method="POST", token=session,
                  body=json.dumps({"name": "Load {n}", "email": "load-{n}@" + f"{slug}.example.com",
                                   "delivery": "invite_link"}))),
        ]
        # The page really has 50 users in it.
        st, b = http("GET", f"{base}/v1/users?limit=50", token=session)
        if st != 200 or len((b or {}).get("items", [])) != 50:
            raise RuntimeError(f"GET /v1/users?limit=50 did not answer a page of 50: {st}")
        out["endpoints"] = {}
        for rid, label, kw in cases:
            log(f"load: {label}: {RUNS} × {SECONDS} s, {CONNECTIONS} connections, {WRK_THREADS} wrk thread(s)")
            r = load_runs(proc.pid, **kw, runs=RUNS)
            r["label"] = label
            out["endpoints"][rid] = r
        log(f"load: POST /v1/auth/login: {LOGIN_RUNS} × {SECONDS} s, 1 connection")
        login_body = json.dumps({"tenant": slug, "login": admin, "password": pw})
        r = load_runs(proc.pid, f"{base}/v1/auth/login", LOGIN_RUNS, method="POST", body=login_body,
                      connections=1, threads=1)
        r["label"] = "POST /v1/auth/login (1 connection)"
        out["login"] = r
        out["server_peak_rss_mib"] = round((proc_status_kib(proc.pid, "VmHWM") or 0) / 1024, 1)
        st, b = http("GET", f"{base}/v1/tenant", token=session)
        out["tenant_users_at_end"] = (b or {}).get("seats_used") if st == 200 else None
        res["load"] = out
    finally:
        srv.close(res)


# ---- 2. argon2 -------------------------------------------------------------------------------------------

def section_argon2(target, res):
    log(f"argon2: {ARGON2_N} hashes")
    r = subprocess.run([f"{target}/{PROFILE}/kanri-bench", "argon2", str(ARGON2_N)], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"kanri-bench argon2: {r.stderr[-500:]}")
    a = json.loads(r.stdout)
    a["median_ms"] = median(a["ms"])
    a["p99_ms"] = percentile(a["ms"], 99)
    a["min_ms"] = min(a["ms"])
    res["argon2"] = a
    log(f"argon2: median {a['median_ms']:.1f} ms")
    a["concurrent"] = hash_memory(target, res)


HASH_CONCURRENCY = 32


def hash_memory(target, res):
    """Peak RSS of the local server under 32 concurrent creates with generated passwords, then 32
    concurrent logins: every one is an argon2 hash, and the server runs at most one per core at a time."""
    from concurrent.futures import ThreadPoolExecutor
    srv = LocalServer(target, "hash-memory")
    try:
        srv.__enter__()
        base = srv.base
        slug = f"mem-{secrets.token_hex(3)}"
        _, _, session, admin, pw = srv.onboard(slug)
        idle = (proc_status_kib(srv.proc.pid, "VmRSS") or 0) / 1024

        def create(i):
            return http("POST", f"{base}/v1/users", {"name": f"Mem {i}", "login_id": f"mem{i:03}",
                                                    "delivery": "generated"}, session, timeout=120)

        def login(_):
            return http("POST", f"{base}/v1/auth/login", {"tenant": slug, "login": admin, "password": pw},
                        timeout=120)

        out = {"concurrency": HASH_CONCURRENCY, "idle_rss_mib": round(idle, 1)}
        with ThreadPoolExecutor(HASH_CONCURRENCY) as pool:
            for name, fn, want in (("creates", create, 201), ("logins", login, 200)):
                t0 = time.monotonic()
                answers = list(pool.map(fn, range(HASH_CONCURRENCY)))
                out[f"{name}_s"] = round(time.monotonic() - t0, 2)
                out[f"{name}_ok"] = sum(1 for st, _ in answers if st == want)
                out[f"rss_after_{name}_mib"] = round((proc_status_kib(srv.proc.pid, "VmRSS") or 0) / 1024, 1)
        out["peak_rss_mib"] = round((proc_status_kib(srv.proc.pid, "VmHWM") or 0) / 1024, 1)
        log(f"argon2: {HASH_CONCURRENCY} concurrent creates + logins: peak RSS {out['peak_rss_mib']} MiB "
            f"(idle {out['idle_rss_mib']} MiB)")
        return out
    finally:
        srv.close(res)


# ---- 3. AWS requests per endpoint and 4. Lambda, both on moto ---------------------------------------------

class Moto:
    def __init__(self, work: Path):
        self.url_file = work / "moto.url"
        # infra/moto_server.py takes moto's transaction rollback copy once per table instead of once per item
        # (same behaviour; a 10,000-row import would take hours otherwise).
        line = subprocess.run([str(ROOT / "infra/moto.sh"), str(self.url_file)], capture_output=True, text=True,
                              timeout=180)
        if line.returncode != 0:
            raise RuntimeError(f"infra/moto.sh: {line.stderr[-800:]}")
        self.url = line.stdout.strip().split("=", 1)[1]
        run = secrets.token_hex(4)
        env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
        env.update(AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_SESSION_TOKEN="testing", AWS_REGION="ap-northeast-1", AWS_DEFAULT_REGION="ap-northeast-1",
                   AWS_EC2_METADATA_DISABLED="true", KANRI_TABLE=f"kanri-data-bench-{run}",
                   KANRI_LOG_TABLE=f"kanri-log-bench-{run}", KANRI_KEYS_TABLE=f"kanri-keys-bench-{run}",
                   KANRI_KMS_KEY_ID=f"alias/kanri-data-bench-{run}")
        p = subprocess.run([PYTHON, str(ROOT / "infra/provision.py")], env=env, capture_output=True, text=True,
                           timeout=300)
        if p.returncode != 0:
            self.stop()
            raise RuntimeError(f"infra/provision.py: {p.stderr[-800:]}")
        for line in p.stdout.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
        self.env = env

    def stop(self):
        subprocess.run([str(ROOT / "infra/moto-stop.sh"), str(self.url_file)], capture_output=True)


def section_aws(target, res, moto: Moto):
    log("aws: AWS requests per endpoint (kanri-bench aws-requests, in-process app on moto)")
    env = dict(moto.env, KANRI_COUNT_AWS_REQUESTS="1", KANRI_BENCH_AWS_ENDPOINT=moto.url, RUST_LOG="error")
    r = subprocess.run([f"{target}/{PROFILE}/kanri-bench", "aws-requests"], env=env, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"kanri-bench aws-requests: {r.stderr[-1500:]}")
    out = json.loads(r.stdout)
    res["aws"] = out
    for f in out.get("failures", []):
        res["errors"].append(f"aws: {f}")
    log(f"aws: {len(out['rows'])} calls counted")


def v2_event(method, path, query="", token=None, body=None, iam=False, cookie=None, content_type="application/json"):
    """An API Gateway HTTP API (payload 2.0) event, as the template's HttpApi sends it."""
    now = time.time()
    h = {"accept": "application/json", "host": "abc123.execute-api.ap-northeast-1.amazonaws.com",
         "user-agent": "kanri-bench"}
    if token:
        h["authorization"] = f"Bearer {token}"
    if body is not None:
        h["content-type"] = content_type
    ctx = {
        "accountId": "123456789012", "apiId": "abc123",
        "domainName": "abc123.execute-api.ap-northeast-1.amazonaws.com", "domainPrefix": "abc123",
        "requestId": secrets.token_hex(8), "routeKey": "$default", "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                 "userAgent": "kanri-bench"},
    }
    if iam:
        ctx["authorizer"] = {"iam": {
            "accessKey": "AKIAIOSFODNN7EXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
            "cognitoIdentity": None, "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/kanri-operator", "userId": "AIDAEXAMPLE"}}
    ev = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query, "headers": h,
          "requestContext": ctx, "isBase64Encoded": False}
    if cookie:
        # Payload 2.0 carries the Cookie header as a list of its own.
        ev["cookies"] = [cookie]
    if query:
        ev["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if body is not None:
        ev["body"] = json.dumps(body)
    return ev


def zipped_size(path: Path) -> int:
    """Size of the deployment zip (the binary as `bootstrap`, deflate as `zip` and cargo-lambda use)."""
    with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp.name, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
        return os.path.getsize(tmp.name)


def section_lambda(target, res, moto: Moto):
    routes = json.loads(subprocess.run([f"{target}/{PROFILE}/kanri-local", "routes"], capture_output=True,
                                       text=True, check=True).stdout)
    all_ids = [r["id"] for r in routes]
    by_id = {r["id"]: r for r in routes}
    wanted = os.environ.get("BENCH_FUNCTIONS", "all")
    ids = all_ids if wanted == "all" else [i for i in wanted.split(",") if i in by_id]
    missing = [i for i in wanted.split(",") if wanted != "all" and i not in by_id]
    if missing:
        res["errors"].append(f"lambda: BENCH_FUNCTIONS names unknown route ids {missing}")
    funcs = {}
    fn_dir = Path(target) / PROFILE
    for rid in ids:
        p = fn_dir / rid
        funcs[rid] = {"bytes": p.stat().st_size, "zip_bytes": zipped_size(p)}
    log(f"lambda: sizes of {len(ids)} function binaries ({PROFILE} profile) measured")

    # The tenant, users, tokens and sessions the requests need, made through kanri-local on the same moto.
    work = Path(tempfile.mkdtemp(prefix="kanri-bench-lambda."))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    optok = "op-" + secrets.token_urlsafe(18)
    env = dict(moto.env, KANRI_BACKEND="aws", KANRI_ADDR=f"127.0.0.1:{port}", KANRI_DATA_DIR=str(work / "data"),
               KANRI_OPERATOR_TOKEN=optok, KANRI_PUBLIC_URL=base, RUST_LOG="warn")
    local_log = open(work / "local.log", "wb")
    local = subprocess.Popen([f"{target}/{PROFILE}/kanri-local"], env=env, stdout=local_log, stderr=local_log,
                             stdin=subprocess.DEVNULL)
    api = RuntimeApi().start()
    procs = []
    try:
        wait_health(base, local)
        slug = f"lam-{secrets.token_hex(3)}"
        dom = f"{slug}.example.com"
        admin = f"admin@{dom}"
        pw = f"Bench-{secrets.token_urlsafe(9)}-pw"
        tenant_id, admin_id, session = onboard(base, optok, slug, admin, pw, lambda a: moto_tokens(moto.url)[a])
        n = LAMBDA_RUNS * LAMBDA_INVOKES

        def create(i, kind):
            st, b = http("POST", f"{base}/v1/users", {"name": f"Lambda {kind} {i}", "email": f"{kind}{i}@{dom}",
                                                      "delivery": "invite_link"}, session)
            return need("POST /v1/users", st, b, 201)["user"]["id"]

        target_user = create(0, "target")
        deletable = [create(i, "del") for i in range(n)]
        bulk = [create(i, "bulk") for i in range(n)]
        invited = [f"inv{i}@{dom}" for i in range(n)]
        for i in range(n):
            create(i, "inv")
        # me-password: one user per cold start, whose password each request changes.
        mepw_users = []
        for i in range(LAMBDA_RUNS):
            create(i, "mepw")
        toks = moto_tokens(moto.url)
        for i in range(LAMBDA_RUNS):
            addr = f"mepw{i}@{dom}"
            p0 = f"Mepw-{secrets.token_urlsafe(9)}-0"
            need("set-password (mepw)", *http("POST", f"{base}/v1/auth/set-password",
                                              {"token": toks[addr], "password": p0}), 204)
            st, b = http("POST", f"{base}/v1/auth/login", {"tenant": slug, "login": addr, "password": p0})
            mepw_users.append({"session": need("login (mepw)", st, b, 200)["token"], "pw": p0})
        inv_tokens = [toks[a] for a in invited]
        logout_sessions = []
        for _ in range(n):
            st, b = http("POST", f"{base}/v1/auth/login", {"tenant": slug, "login": admin, "password": pw})
            logout_sessions.append(need("login (logout pool)", st, b, 200)["token"])
        # scim-users-create: a SCIM token of the tenant, as an identity provider holds one.
        st, b = http("POST", f"{base}/v1/scim-tokens", {"name": "bench"}, session)
        scim_token = need("POST /v1/scim-tokens", st, b, 201)["token"]
        log(f"lambda: tenant {slug} ready with {3 + 3 * n + LAMBDA_RUNS} users")

        counter = {"i": 0}

        def uniq():
            counter["i"] += 1
            return f"{secrets.token_hex(2)}{counter['i']}"

        def request_for(rid, run, k):
            """(event, expected status) for request k of cold start `run` of function rid."""
            s = session
            if rid == "health":
                return v2_event("GET", "/v1/health"), 200
            if rid == "openapi":
                return v2_event("GET", "/v1/openapi.json"), 200
            if rid == "permissions":
                return v2_event("GET", "/v1/permissions", token=s), 200
            if rid == "roles-list":
                return v2_event("GET", "/v1/roles", token=s), 200
            if rid == "tenant-get":
                return v2_event("GET", "/v1/tenant", token=s), 200
            if rid == "me-get":
                return v2_event("GET", "/v1/me", token=s), 200
            if rid == "users-get":
                return v2_event("GET", f"/v1/users/{target_user}", token=s), 200
            if rid == "users-list":
                return v2_event("GET", "/v1/users", "limit=50", token=s), 200
            if rid == "users-create":
                return v2_event("POST", "/v1/users", token=s, body={
                    "name": "Lambda Created", "email": f"made{uniq()}@{dom}", "delivery": "invite_link"}), 201
            if rid == "users-update":
                return v2_event("PATCH", f"/v1/users/{target_user}", token=s,
                                body={"name": f"Lambda Target {uniq()}"}), 200
            if rid == "users-delete":
                return v2_event("DELETE", f"/v1/users/{deletable.pop()}", token=s), 204
            if rid == "users-bulk-delete":
                return v2_event("POST", "/v1/users/bulk-delete", token=s, body={"ids": [bulk.pop()]}), 200
            if rid == "auth-login":
                return v2_event("POST", "/v1/auth/login", body={"tenant": slug, "login": admin, "password": pw}), 200
            if rid == "auth-logout":
                return v2_event("POST", "/v1/auth/logout", token=logout_sessions.pop()), 204
            if rid == "auth-set-password":
                return v2_event("POST", "/v1/auth/set-password", body={
                    "token": inv_tokens.pop(), "password": f"Invited-{secrets.token_urlsafe(9)}"}), 204
            if rid == "me-password":
                u = mepw_users[run]
                new = f"Mepw-{secrets.token_urlsafe(9)}-{k + 1}"
                ev = v2_event("POST", "/v1/me/password", token=u["session"],
                              body={"current_password": u["pw"], "new_password": new})
                u["pw"] = new
                return ev, 204
            if rid == "page-admin-users":
                # The console's user list: the session in its cookie, as a browser sends it.
                return v2_event("GET", "/admin/users", cookie=f"kanri_session={s}"), 200
            if rid == "scim-users-create":
                email = f"scim{uniq()}@{dom}"
                return v2_event("POST", "/scim/v2/Users", token=scim_token, content_type="application/scim+json", body={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": True,
                    "displayName": "Lambda SCIM", "emails": [{"primary": True, "type": "work", "value": email}],
                    "name": {"familyName": "Lambda", "givenName": "SCIM"}}), 201
            if rid == "ops-tenants-create":
                sl = f"lamop-{uniq()}"
                return v2_event("POST", "/v1/ops/tenants", iam=True, body={
                    "slug": sl, "name": "Lambda Op KK", "seat_limit": 10,
                    "admin": {"name": "Op Admin", "email": f"admin@{sl}.example.com"}}), 201
            if rid == "ops-tenants-get":
                return v2_event("GET", f"/v1/ops/tenants/{tenant_id}", iam=True), 200
            if rid == "ops-tenants-update":
                return v2_event("PATCH", f"/v1/ops/tenants/{tenant_id}", iam=True,
                                body={"seat_limit": 1_000_000 - k}), 200
            # A route this bench does not know yet: its method and path with the admin's session.
            r = by_id[rid]
            body = {} if r["method"] in ("POST", "PATCH", "PUT") else None
            return v2_event(r["method"], r["path"].replace("{id}", FAKE_ID), token=s, body=body,
                            iam=r["operator"]), None

        fn_env = {k: v for k, v in moto.env.items()}
        # Each AWS request logs its duration (metrics.rs), so the time spent waiting for moto can be told
        # apart from the function's own time.
        # The allocator setting the functions get from template.yaml (Globals), so peak memory is measured
        # as deployed; the parent's own setting, if any, is not passed on.
        fn_env.pop("GLIBC_TUNABLES", None)
        tunables = re.search(r"^\s+GLIBC_TUNABLES:\s*(\S+)\s*$", (ROOT / "template.yaml").read_text(), re.M)
        if tunables:
            fn_env["GLIBC_TUNABLES"] = tunables.group(1)
        fn_env.update(AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
                      AWS_LAMBDA_LOG_FORMAT="JSON",
                      RUST_LOG="info,kanri_aws=debug", KANRI_COUNT_AWS_REQUESTS="1", KANRI_PUBLIC_URL=base)

        def aws_ms_since(path, offset):
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            total, n = 0.0, 0
            for line in data.decode("utf-8", "replace").splitlines():
                if "aws request" in line:
                    try:
                        total += float(json.loads(line).get("ms", 0))
                        n += 1
                    except ValueError:
                        pass
            return total, n, offset + len(data)

        for rid in ids:
            funcs[rid].update(runs=[], statuses=[], known_request=True)
        for run in range(LAMBDA_RUNS):
            for rid in ids:
                runtime_api = api.new_generation()
                flog = open(work / f"fn-{rid}.log", "ab")
                t0 = time.perf_counter()
                p = subprocess.Popen([f"{fn_dir}/{rid}"],
                                     env=dict(fn_env, AWS_LAMBDA_FUNCTION_NAME=rid, AWS_LAMBDA_RUNTIME_API=runtime_api),
                                     stdout=flog, stderr=flog, stdin=subprocess.DEVNULL)
                procs.append(p)
                t_next = api.wait_first_next(15)
                one = {"init_ms": (t_next - t0) * 1000 if t_next else None, "requests_ms": [], "statuses": [],
                       "aws_ms": [], "aws_requests": []}
                flog.flush()
                offset = os.path.getsize(work / f"fn-{rid}.log")
                if t_next is None:
                    res["errors"].append(f"lambda {rid}: no `next` call within 15 s "
                                         f"(init error: {api.init_error()!r})")
                else:
                    for k in range(LAMBDA_INVOKES):
                        ev, want = request_for(rid, run, k)
                        status, payload, secs = api.invoke(ev)
                        one["requests_ms"].append(secs * 1000)
                        one["statuses"].append(status)
                        aws_ms, aws_n, offset = aws_ms_since(work / f"fn-{rid}.log", offset)
                        one["aws_ms"].append(aws_ms)
                        one["aws_requests"].append(aws_n)
                        if want is None:
                            funcs[rid]["known_request"] = False
                        elif status != want:
                            res["errors"].append(f"lambda {rid}: request {k + 1} answered {status}, expected "
                                                 f"{want}: {str(payload)[:300]}")
                one["peak_rss_kib"] = proc_status_kib(p.pid, "VmHWM")
                one["rss_kib"] = proc_status_kib(p.pid, "VmRSS")
                stop(p)
                flog.close()
                funcs[rid]["runs"].append(one)
            log(f"lambda: cold start {run + 1}/{LAMBDA_RUNS} of {len(ids)} functions done")
        for rid in ids:
            runs = funcs[rid]["runs"]
            funcs[rid]["init_ms"] = median([r["init_ms"] for r in runs])
            funcs[rid]["first_request_ms"] = median([r["requests_ms"][0] for r in runs if r["requests_ms"]])
            funcs[rid]["warm_request_ms"] = median([x for r in runs for x in r["requests_ms"][1:]])
            funcs[rid]["first_request_aws_ms"] = median([r["aws_ms"][0] for r in runs if r["aws_ms"]])
            funcs[rid]["first_request_own_ms"] = median([r["requests_ms"][0] - r["aws_ms"][0]
                                                         for r in runs if r["aws_ms"]])
            funcs[rid]["first_request_aws_requests"] = median([r["aws_requests"][0] for r in runs
                                                               if r["aws_requests"]])
            funcs[rid]["warm_request_own_ms"] = median([a - b for r in runs
                                                        for a, b in zip(r["requests_ms"][1:], r["aws_ms"][1:])])
            peaks = [r["peak_rss_kib"] for r in runs if r["peak_rss_kib"]]
            funcs[rid]["peak_rss_mib"] = round(max(peaks) / 1024, 1) if peaks else None
            funcs[rid]["peak_rss_mib_median"] = round(median(peaks) / 1024, 1) if peaks else None
            funcs[rid]["first_status"] = [r["statuses"][0] if r["statuses"] else None for r in runs]
        res["lambda"] = {"functions": funcs, "runs": LAMBDA_RUNS, "invokes": LAMBDA_INVOKES,
                         "memory_size_env": 256, "route_ids": all_ids,
                         "sample": wanted != "all", "profile": PROFILE}
    finally:
        for p in procs:
            stop(p)
        api.stop()
        stop(local)
        local_log.close()
        if os.environ.get("KEEP_WORK") == "1":
            log(f"lambda: logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---- 5. bulk operations: CSV import, group members, purge -------------------------------------------------

def users_csv(n, domain):
    """A users CSV with short rows (`I<i>,i<i>@domain,,,`), as `kanri-bench bulk-requests` writes it."""
    return "name,email,login_id,role,groups\n" + "".join(f"I{i},i{i}@{domain},,,\n" for i in range(n))


def purge_until_gone(base, optok, tenant_id, res, what):
    """Ends the tenant's contract today, then runs the purge job as of 100 days later (`as_of` stands in for the
    clock) until it reports the tenant purged. (An end date already past would also end every user's sessions
    at once, one query per user: a cost of its own, not the purge's.)"""
    now = datetime.datetime.now(JST)
    end = now.date().isoformat()
    need("POST /v1/ops/tenants/{id}/terminate",
         *http("POST", f"{base}/v1/ops/tenants/{tenant_id}/terminate", {"contract_end": end}, optok), 200)
    as_of = (now + datetime.timedelta(days=100)).isoformat(timespec="seconds")
    runs = []
    for k in range(100):
        t0 = time.perf_counter()
        st, b = http("POST", f"{base}/v1/ops/jobs/purge", {"as_of": as_of}, optok, timeout=600)
        secs = time.perf_counter() - t0
        b = need("POST /v1/ops/jobs/purge", st, b, 200)
        runs.append({"seconds": round(secs, 3), "items_deleted": b.get("items_deleted"),
                     "purged": b.get("purged"), "in_progress": b.get("in_progress")})
        log(f"bulk: {what} purge run {k + 1}: {b.get('items_deleted')} items in {secs:.2f} s")
        if tenant_id in (b.get("purged") or []):
            break
        if not b.get("items_deleted"):
            res["errors"].append(f"bulk: {what} purge run {k + 1} deleted nothing: {str(b)[:300]}")
            break
    items = sum(r["items_deleted"] or 0 for r in runs)
    secs = sum(r["seconds"] for r in runs)
    return {"contract_end": end, "as_of": as_of, "runs": runs, "items_deleted": items, "seconds": round(secs, 3),
            "items_per_s": items / secs if secs else None}


def bulk_embedded(target, res):
    """BULK_RUNS timed imports of BULK_USERS rows, each into a fresh tenant, then the purge of the last."""
    srv = LocalServer(target, "bulk")
    try:
        srv.__enter__()
        # Every tenant first, so that reading an admin's invitation never walks thousands of imported mails.
        tenants = []
        for i in range(BULK_RUNS):
            slug = f"bulk{i}-{secrets.token_hex(3)}"
            tid, _, session, _, _ = srv.onboard(slug, seat_limit=BULK_USERS + 10)
            tenants.append((slug, tid, session))
        runs = []
        for i, (slug, tid, session) in enumerate(tenants):
            csv = users_csv(BULK_USERS, f"{slug}.example.com")
            c0 = cpu_seconds(srv.proc.pid)
            t0 = time.perf_counter()
            st, b = http("POST", f"{srv.base}/v1/users/import?delivery=invite_link", token=session, csv=csv,
                         timeout=600)
            secs = time.perf_counter() - t0
            cpu = cpu_seconds(srv.proc.pid) - c0
            b = need("POST /v1/users/import", st, b, 200)
            created, failed = b.get("created"), b.get("failed") or []
            if created != BULK_USERS:
                res["errors"].append(f"bulk: import run {i + 1} created {created} of {BULK_USERS} rows, "
                                     f"{len(failed)} failed: {str(failed)[:300]}")
            runs.append({"seconds": round(secs, 3), "server_cpu_s": round(cpu, 3), "created": created,
                         "failed": len(failed), "csv_bytes": len(csv.encode())})
            log(f"bulk: import of {BULK_USERS} rows (embedded) run {i + 1}/{BULK_RUNS}: {secs:.2f} s, "
                f"{created} created, {len(failed)} failed")
        out = {"rows": BULK_USERS, "runs": runs, "median_seconds": median([r["seconds"] for r in runs]),
               "median_server_cpu_s": median([r["server_cpu_s"] for r in runs]),
               "all_created": all(r["created"] == BULK_USERS for r in runs)}
        _, tid, session = tenants[-1]
        st, b = http("GET", f"{srv.base}/v1/tenant", token=session)
        out["purge"] = purge_until_gone(srv.base, srv.optok, tid, res, "embedded")
        out["purge"]["tenant_users"] = (b or {}).get("seats_used") if st == 200 else None
        out["server_peak_rss_mib"] = round((proc_status_kib(srv.proc.pid, "VmHWM") or 0) / 1024, 1)
        return out
    finally:
        srv.close(res)


def section_bulk(target, res, moto: Moto | None):
    res["bulk"] = out = {"config": {"users": BULK_USERS, "runs": BULK_RUNS, "aws_users": BULK_AWS_USERS,
                                    "members": BULK_MEMBERS, "groups": BULK_GROUPS}}
    log(f"bulk: CSV import of {BULK_USERS} users on the local server, {BULK_RUNS} runs, then the purge")
    out["embedded"] = bulk_embedded(target, res)
    if moto is None:
        raise RuntimeError("no moto for the DynamoDB request counts")
    log(f"bulk: DynamoDB requests (kanri-bench bulk-requests {BULK_AWS_USERS} {BULK_MEMBERS} {BULK_GROUPS}, "
        "in-process app on moto)")
    env = dict(moto.env, KANRI_COUNT_AWS_REQUESTS="1", KANRI_BENCH_AWS_ENDPOINT=moto.url, RUST_LOG="error")
    t0 = time.perf_counter()
    r = subprocess.run([f"{target}/{PROFILE}/kanri-bench", "bulk-requests", str(BULK_AWS_USERS), str(BULK_MEMBERS),
                        str(BULK_GROUPS)], env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"kanri-bench bulk-requests: {r.stderr[-1500:]}")
    aws = json.loads(r.stdout)
    aws["seconds"] = round(time.perf_counter() - t0, 1)
    out["aws"] = aws
    for f in aws.get("failures", []):
        res["errors"].append(f"bulk: {f}")
    log(f"bulk: {len(aws['rows'])} calls counted in {aws['seconds']} s")


# ---- 6. background tasks: notice fan-out, background import -------------------------------------------------

def kanri_bench(target, args, env=None, timeout=900):
    """`kanri-bench ARGS` (its JSON answer); env None runs it without AWS settings (the embedded store)."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KANRI_"))}
    t0 = time.perf_counter()
    r = subprocess.run([f"{target}/{PROFILE}/kanri-bench", *map(str, args)], env=dict(env, RUST_LOG="error"),
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"kanri-bench {' '.join(map(str, args))}: {r.stderr[-1500:]}")
    out = json.loads(r.stdout)
    out["process_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def put_bytes(url, data, headers, timeout=300):
    req = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status


def background_import_embedded(target, res):
    """TASKS_IMPORT_ROWS rows through `POST /v1/uploads`, the PUT, `POST /v1/imports`, polled until done."""
    srv = LocalServer(target, "tasks")
    try:
        srv.__enter__()
        slug = f"bgimp-{secrets.token_hex(3)}"
        _, _, session, _, _ = srv.onboard(slug, seat_limit=TASKS_IMPORT_ROWS + 10)
        csv = users_csv(TASKS_IMPORT_ROWS, f"{slug}.example.com").encode()
        if len(csv) > 20 * 1024 * 1024:
            raise RuntimeError(f"the {TASKS_IMPORT_ROWS}-row CSV has {len(csv)} bytes, over the 20 MiB limit")
        c0 = cpu_seconds(srv.proc.pid)
        t0 = time.perf_counter()
        st, up = http("POST", f"{srv.base}/v1/uploads", {"purpose": "user_import", "filename": "users.csv",
                                                         "content_type": "text/csv", "size": len(csv)}, session)
        up = need("POST /v1/uploads", st, up, 201)
        put_bytes(up["upload_url"], csv, up.get("upload_headers") or {})
        t_put = time.perf_counter() - t0
        st, b = http("POST", f"{srv.base}/v1/imports", {"upload_id": up["id"], "kind": "users"}, session)
        imp = need("POST /v1/imports", st, b, 202)["id"]
        polls = 0
        while True:
            st, view = http("GET", f"{srv.base}/v1/imports/{imp}", token=session)
            view = need("GET /v1/imports/{id}", st, view, 200)
            polls += 1
            if view.get("status") in ("done", "failed"):
                break
            if time.perf_counter() - t0 > 540:
                raise RuntimeError(f"the background import did not finish in 540 s: {str(view)[:300]}")
            time.sleep(0.25)
        secs = time.perf_counter() - t0
        cpu = cpu_seconds(srv.proc.pid) - c0
        created = view.get("created")
        if view.get("status") != "done" or created != TASKS_IMPORT_ROWS:
            res["errors"].append(f"tasks: background import of {TASKS_IMPORT_ROWS} rows ended {view.get('status')} "
                                 f"with {created} created: {str(view)[:300]}")
        outbox = len(os.listdir(srv.data / "outbox"))
        log(f"tasks: background import of {TASKS_IMPORT_ROWS} rows (embedded): {secs:.1f} s, {created} created")
        return {"rows": TASKS_IMPORT_ROWS, "csv_bytes": len(csv), "seconds": round(secs, 2),
                "upload_seconds": round(t_put, 2), "server_cpu_s": round(cpu, 2), "created": created,
                "failed": view.get("failed"), "status": view.get("status"), "polls": polls,
                "rows_per_s": created / secs if created else None, "outbox_files": outbox,
                "server_peak_rss_mib": round((proc_status_kib(srv.proc.pid, "VmHWM") or 0) / 1024, 1)}
    finally:
        srv.close(res)


def section_tasks(target, res, moto: Moto | None):
    res["tasks"] = out = {"config": {"subscribers": TASKS_SUBSCRIBERS, "tenants": TASKS_TENANTS,
                                     "import_rows": TASKS_IMPORT_ROWS, "aws_rows": TASKS_AWS_ROWS}}
    timings = out["seconds"] = {}

    def part(name, fn):
        t = time.perf_counter()
        try:
            out[name] = fn()
            for f in out[name].get("failures") or []:
                res["errors"].append(f"tasks: {f}")
        except Exception as e:  # noqa: BLE001 - recorded, the other parts still run
            traceback.print_exc()
            res["errors"].append(f"tasks: {name}: {type(e).__name__}: {e}")
        timings[name] = round(time.perf_counter() - t, 1)

    log(f"tasks: background import of {TASKS_IMPORT_ROWS} rows on the local server")
    part("import_embedded", lambda: background_import_embedded(target, res))
    log(f"tasks: notice to {TASKS_SUBSCRIBERS} subscribers in {TASKS_TENANTS} tenants, embedded store")
    part("fanout_embedded", lambda: kanri_bench(target, ["notice-fanout", "embedded", TASKS_SUBSCRIBERS,
                                                         TASKS_TENANTS]))
    if moto is None:
        raise RuntimeError("no moto for the AWS request counts")
    env = dict(moto.env, KANRI_COUNT_AWS_REQUESTS="1", KANRI_BENCH_AWS_ENDPOINT=moto.url)
    # The import first: its admin's invitation is read from moto's state, which the fan-out's mails enlarge.
    log(f"tasks: background import of {TASKS_AWS_ROWS} rows on moto (kanri-bench import-requests)")
    part("import_aws", lambda: kanri_bench(target, ["import-requests", TASKS_AWS_ROWS], env))
    log("tasks: " + ", ".join(f"{k} {v} s" for k, v in timings.items()))


def section_fanout(target, res, moto: Moto):
    """The notice fan-out of section tasks against moto (make bench-long): TASKS_SUBSCRIBERS SendEmail through the
    emulator take minutes (about 4.5 for 10,000 on 2 cores), more than make bench's budget leaves."""
    env = dict(moto.env, KANRI_COUNT_AWS_REQUESTS="1", KANRI_BENCH_AWS_ENDPOINT=moto.url)
    log(f"fanout: notice to {TASKS_SUBSCRIBERS} subscribers in {TASKS_TENANTS} tenants on moto "
        "(kanri-bench notice-fanout aws)")
    t = time.perf_counter()
    out = kanri_bench(target, ["notice-fanout", "aws", TASKS_SUBSCRIBERS, TASKS_TENANTS], env)
    for f in out.get("failures") or []:
        res["errors"].append(f"fanout: {f}")
    out["part_seconds"] = round(time.perf_counter() - t, 1)
    res["fanout"] = out


# ---- build: `make run` to the first healthy answer -------------------------------------------------------

MAKERUN_TIMEOUT = 3600


def time_make_run(repo: Path, name):
    """`make run` in REPO (its dev build, then the server) until GET /v1/health answers 200: the seconds, and
    the crates cargo compiled on the way (its `Compiling` lines)."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix=f"kanri-bench-makerun-{name}."))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "KANRI_", "CARGO_TARGET_DIR", "CARGO_BUILD"))}
    env.update(KANRI_ADDR=f"127.0.0.1:{port}", KANRI_DATA_DIR=str(work / "data"))
    log_path = work / "make-run.log"
    base = f"http://127.0.0.1:{port}"
    try:
        with open(log_path, "wb") as logf:
            t0 = time.perf_counter()
            # A session of its own: make's child (the server) is stopped with it.
            proc = subprocess.Popen(["make", "run"], cwd=repo, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"make run exited with {proc.returncode}: "
                                           f"{log_path.read_text(errors='replace')[-1500:]}")
                    if time.perf_counter() - t0 > MAKERUN_TIMEOUT:
                        raise RuntimeError(f"make run not healthy within {MAKERUN_TIMEOUT} s")
                    try:
                        if http("GET", f"{base}/v1/health", timeout=1)[0] == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.1)
                secs = time.perf_counter() - t0
            finally:
                for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                    try:
                        os.killpg(proc.pid, sig)
                        proc.wait(wait)
                        break
                    except ProcessLookupError:
                        break
                    except subprocess.TimeoutExpired:
                        continue
        text = log_path.read_text(errors="replace")
        compiled = [ln.split()[1] for ln in text.splitlines() if ln.strip().startswith("Compiling ")]
        finished = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Finished ")]
        log(f"makerun: {name}: healthy after {secs:.1f} s, {len(compiled)} crates compiled")
        return {"seconds": round(secs, 1), "crates_compiled": len(compiled), "compiled": compiled[:30],
                "cargo_finished": finished[-1] if finished else None}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def section_makerun(target, res):
    """A newcomer's second command: `make run` after make test's build (the same feature set, so nothing to
    compile), and a fresh clone's `make run` (empty target dir) to the first healthy answer."""
    root = Path(__file__).resolve().parent.parent
    out = res["makerun"] = {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if os.environ.get("BENCH_MAKERUN_TEST_BUILD", "1") == "1":
        for cmd in (["cargo", "build", "--workspace", "--bins"], ["cargo", "test", "--workspace", "--no-run"]):
            log(f"makerun: {' '.join(cmd)} (make test's build, untimed)")
            r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)}: {r.stderr[-1500:]}")
        out["test_build"] = "cargo build --workspace --bins; cargo test --workspace --no-run"
    else:
        out["test_build"] = "already in the target dir (BENCH_MAKERUN_TEST_BUILD=0)"
    out["after_test"] = time_make_run(root, "after-test")
    if os.environ.get("BENCH_MAKERUN_FRESH", "1") == "1":
        parent = Path(tempfile.mkdtemp(prefix="kanri-bench-clone."))
        try:
            clone = parent / "kanri"
            subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
            commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip()
            log(f"makerun: fresh clone of {commit}: make run with an empty target dir")
            out["fresh_clone"] = dict(time_make_run(clone, "fresh-clone"), commit=commit)
        finally:
            shutil.rmtree(parent, ignore_errors=True)


# ---- 8. soak: mixed traffic for minutes, errors and memory every 10 s ---------------------------------------

SOAK_MIX = (("users-get", 50), ("users-list", 20), ("users-create", 15), ("users-update", 10), ("tenant-get", 5))


def error_kind(status, body: bytes) -> str:
    """'409 conflict' from an error answer (its status and the JSON error code), for the error tallies."""
    try:
        code = (json.loads(body) or {}).get("error", {}).get("code")
    except (ValueError, AttributeError):
        code = None
    return f"{status} {code or '(no error code)'}"


def section_soak(target, res):
    """SOAK_SECONDS of mixed reads and writes against the local server (default cache), at a steady
    SOAK_RATE requests/s: requests, errors by kind, latency, RSS and the store's size every SOAK_SAMPLE_S
    seconds. Memory must stay flat while the store grows.

    Each client thread renames only its own share of the seed users: two admins renaming the same user within
    the same millisecond is not what a deployment sees, and the API answers it 409 `conflict` by design (the
    write is conditioned on the user being unchanged since it was read; the client reads again and retries).
    An unpaced run (SOAK_RATE=0) with every thread renaming any seed user got 1,875 errors in 1.13 million
    requests; a 40 s re-run of it recorded 115, every one `users-update: 409 conflict`. Paced at 500/s (about
    half of what the unpaced client reaches while other builds share the two cores), the server keeps headroom
    and the load, and so the store's growth, is the same from run to run."""
    srv = LocalServer(target, "soak")
    try:
        srv.__enter__()
        slug = f"soak-{secrets.token_hex(3)}"
        _, _, session, _, _ = srv.onboard(slug)
        ids = []
        for i in range(SOAK_SEED_USERS):
            st, b = http("POST", f"{srv.base}/v1/users",
                         {"name": f"Soak Seed {i:02}", "email": f"seed{i}@{slug}.example.com",
                          "delivery": "invite_link"}, session)
            ids.append(need("POST /v1/users (soak seed)", st, b, 201)["user"]["id"])
        # A deployment's store is larger than the page cache: preload users (CSV imports of 10,000 rows, not
        # timed) so the soak starts with the cache full, and RSS growth then means a leak, not a filling cache.
        preload_s = time.perf_counter()
        for c in range(0, SOAK_PRELOAD_USERS, 10_000):
            n = min(10_000, SOAK_PRELOAD_USERS - c)
            st, b = http("POST", f"{srv.base}/v1/users/import?delivery=invite_link", token=session,
                         csv=users_csv(n, f"p{c // 10_000}.{slug}.example.com"), timeout=600)
            b = need("POST /v1/users/import (soak preload)", st, b, 200)
            if b.get("created") != n:
                raise RuntimeError(f"soak preload: {b.get('created')} of {n} rows created")
        preload_s = time.perf_counter() - preload_s
        log(f"soak: preloaded {SOAK_PRELOAD_USERS} users in {preload_s:.1f} s")
        host, port = srv.base.removeprefix("http://").split(":")
        lock = threading.Lock()
        tally = {"requests": 0, "errors": 0}
        kinds: dict[str, int] = {}
        examples: dict[str, str] = {}
        latencies: dict[str, list[float]] = {m: [] for m, _ in SOAK_MIX}
        behind = [0.0]  # the most any thread fell behind its schedule, seconds
        stop = threading.Event()
        created = [0]

        def request(conn, rnd, k, own):
            op = rnd.choices([m for m, _ in SOAK_MIX], [w for _, w in SOAK_MIX])[0]
            body = None
            if op == "users-get":
                method, path = "GET", f"/v1/users/{rnd.choice(ids)}"
            elif op == "users-list":
                method, path = "GET", "/v1/users?limit=50"
            elif op == "tenant-get":
                method, path = "GET", "/v1/tenant"
            elif op == "users-update":
                method, path = "PATCH", f"/v1/users/{rnd.choice(own)}"
                body = {"name": f"Soak Seed {rnd.randrange(10**6)}"}
            else:
                with lock:
                    created[0] += 1
                    n = created[0]
                method, path = "POST", "/v1/users"
                body = {"name": f"Soak {k}-{n}", "email": f"soak{k}-{n}@{slug}.example.com",
                        "delivery": "invite_link"}
            headers = {"authorization": f"Bearer {session}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["content-type"] = "application/json"
            t = time.perf_counter()
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            return op, r.status, raw, time.perf_counter() - t

        def client(k):
            rnd = random.Random(k)
            own = ids[k::SOAK_THREADS]  # this thread's share of the users it renames
            conn = httpclient.HTTPConnection(host, int(port), timeout=30)
            interval = SOAK_THREADS / SOAK_RATE if SOAK_RATE > 0 else 0.0
            # Threads start spread over one interval, then each keeps its own fixed schedule.
            due = time.perf_counter() + interval * k / SOAK_THREADS
            while not stop.is_set():
                if interval:
                    late = time.perf_counter() - due
                    if late < 0:
                        time.sleep(-late)
                    elif late > behind[0]:
                        behind[0] = late
                    due += interval
                op, kind, detail, secs = None, None, None, None
                try:
                    op, st, raw, secs = request(conn, rnd, k, own)
                    if not 200 <= st < 300:
                        kind, detail = error_kind(st, raw), raw[:300].decode("utf-8", "replace")
                except (OSError, httpclient.HTTPException) as e:
                    kind, detail = f"connection {type(e).__name__}", str(e)[:300]
                    conn.close()
                    conn = httpclient.HTTPConnection(host, int(port), timeout=30)
                with lock:
                    tally["requests"] += 1
                    if secs is not None and kind is None:
                        latencies[op].append(secs)
                    if kind:
                        tally["errors"] += 1
                        key = f"{op or '?'}: {kind}"
                        kinds[key] = kinds.get(key, 0) + 1
                        examples.setdefault(key, detail)
            conn.close()

        def store_mib():
            try:
                return round(os.path.getsize(srv.data / "kanri.redb") / 1048576, 1)
            except OSError:
                return None

        def rss_mib():
            return round((proc_status_kib(srv.proc.pid, "VmRSS") or 0) / 1024, 1)

        samples = [{"t": 0, "requests": 0, "errors": 0, "rss_mib": rss_mib(), "store_mib": store_mib()}]
        rate = f"{SOAK_RATE:,} requests/s" if SOAK_RATE > 0 else "unpaced"
        log(f"soak: {SOAK_SECONDS} s of mixed traffic ({', '.join(f'{m} {w} %' for m, w in SOAK_MIX)}), "
            f"{SOAK_THREADS} connections, {rate}; RSS {samples[0]['rss_mib']} MiB at start")
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(SOAK_THREADS)]
        t0 = time.perf_counter()
        c0 = cpu_seconds(srv.proc.pid)
        for t in threads:
            t.start()
        last = {"requests": 0, "errors": 0}
        while (elapsed := time.perf_counter() - t0) < SOAK_SECONDS:
            time.sleep(min(SOAK_SAMPLE_S, SOAK_SECONDS - elapsed))
            with lock:
                now = dict(tally)
            s = {"t": round(time.perf_counter() - t0), "requests": now["requests"] - last["requests"],
                 "errors": now["errors"] - last["errors"], "rss_mib": rss_mib(), "store_mib": store_mib()}
            last = now
            samples.append(s)
            log(f"soak: {s['t']:>4} s: {s['requests']} requests, {s['errors']} errors, RSS {s['rss_mib']} MiB, "
                f"store {s['store_mib']} MiB")
        stop.set()
        for t in threads:
            t.join(timeout=60)
        secs = time.perf_counter() - t0
        st, b = http("GET", f"{srv.base}/v1/tenant", token=session)
        rss = [x["rss_mib"] for x in samples]
        half = rss[len(rss) // 2]
        second_half = rss[len(rss) // 2:]
        all_ms = sorted(x * 1000 for xs in latencies.values() for x in xs)
        res["soak"] = {
            "config": {"seconds": SOAK_SECONDS, "threads": SOAK_THREADS, "sample_s": SOAK_SAMPLE_S,
                       "rate": SOAK_RATE, "seed_users": SOAK_SEED_USERS, "preload_users": SOAK_PRELOAD_USERS,
                       "mix": dict(SOAK_MIX), "store_cache_mib": 64},
            "samples": samples,
            "requests": tally["requests"],
            "errors": tally["errors"],
            "errors_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "error_examples": examples,
            "rps": round(tally["requests"] / secs, 1) if secs else None,
            "max_behind_schedule_s": round(behind[0], 3) if SOAK_RATE > 0 else None,
            "latency_ms": {
                "all": {"p50": percentile(all_ms, 50), "p99": percentile(all_ms, 99),
                        "max": all_ms[-1] if all_ms else None},
                **{op: {"p50": percentile([x * 1000 for x in xs], 50), "p99": percentile([x * 1000 for x in xs], 99),
                        "n": len(xs)} for op, xs in latencies.items()},
            },
            "server_cpu_s": round(cpu_seconds(srv.proc.pid) - c0, 1),
            "rss_start_mib": rss[0],
            "rss_half_mib": half,
            "rss_end_mib": rss[-1],
            "rss_second_half_min_mib": min(second_half),
            "rss_second_half_max_mib": max(second_half),
            "rss_peak_mib": round((proc_status_kib(srv.proc.pid, "VmHWM") or 0) / 1024, 1),
            "store_start_mib": samples[0]["store_mib"],
            "store_end_mib": samples[-1]["store_mib"],
            "tenant_users_at_end": (b or {}).get("seats_used") if st == 200 else None,
        }
        log(f"soak: {tally['requests']} requests, {tally['errors']} errors {kinds or ''}; "
            f"RSS {rss[0]} → {rss[-1]} MiB")
        for kind, n in kinds.items():
            log(f"soak: error {kind} × {n}: {examples[kind]}")
    finally:
        srv.close(res)


# ---- 9. password reset: the answer does not tell a known account from an unknown one -----------------------

def mails_to(data_dir, addr, subject_part):
    """The outbox's mails to `addr` whose decoded subject contains `subject_part`, oldest first."""
    out = []
    for path in sorted(glob.glob(f"{data_dir}/outbox/*.eml"), key=os.path.getmtime):
        msg = email.message_from_binary_file(open(path, "rb"))
        if addr not in (msg.get("To") or ""):
            continue
        subject = str(email.header.make_header(email.header.decode_header(msg.get("Subject") or "")))
        if subject_part in subject:
            out.append(msg)
    return out


def section_reset(target, res):
    """POST /v1/auth/password-reset for a known account and for an unknown login of the same tenant,
    interleaved (each pair in random order), RESET_N of each after RESET_WARMUP untimed pairs, every request
    from its own source address (X-Forwarded-For, trusted by the server), one keep-alive connection; the time
    from sending the request to the end of the answer, as the client sees it. Then the outbox must hold the
    known account's reset mails (the worker mails at most 3 an hour per account) and none for the unknown."""
    srv = LocalServer(target, "reset", KANRI_CLIENT_IP_HEADER="X-Forwarded-For")
    try:
        srv.__enter__()
        slug = f"reset-{secrets.token_hex(3)}"
        _, _, session, _, _ = srv.onboard(slug)
        dom = f"{slug}.example.com"
        known, unknown = f"known@{dom}", f"unknown@{dom}"
        st, b = http("POST", f"{srv.base}/v1/users", {"name": "Known User", "email": known,
                                                      "delivery": "invite_link"}, session)
        need("POST /v1/users (known)", st, b, 201)
        pw = f"Bench-{secrets.token_urlsafe(9)}-pw"
        need("set-password (known)", *http("POST", f"{srv.base}/v1/auth/set-password",
                                           {"token": read_outbox_token(srv.data, known), "password": pw}), 204)
        host, port = srv.base.removeprefix("http://").split(":")
        conn = httpclient.HTTPConnection(host, int(port), timeout=30)
        sent = [0]
        statuses: dict[str, int] = {}

        def ask(login):
            sent[0] += 1
            n = sent[0]
            body = json.dumps({"tenant": slug, "login": login}).encode()
            headers = {"content-type": "application/json",
                       # a trusted proxy's list: the right-most entry is the source that counts
                       "x-forwarded-for": f"198.51.100.7, 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
            t = time.perf_counter()
            conn.request("POST", "/v1/auth/password-reset", body=body, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            secs = time.perf_counter() - t
            if r.status != 202:
                kind = error_kind(r.status, raw)
                statuses[kind] = statuses.get(kind, 0) + 1
            return secs * 1000

        rnd = random.Random(7)
        times = {"known": [], "unknown": []}
        log(f"reset: {RESET_WARMUP} untimed pairs, then {RESET_N} timed requests each for a known and an unknown "
            "login, interleaved")
        for i in range(RESET_WARMUP + RESET_N):
            pair = [("known", known), ("unknown", unknown)]
            rnd.shuffle(pair)
            for name, login in pair:
                ms = ask(login)
                if i >= RESET_WARMUP:
                    times[name].append(ms)
        conn.close()
        # The worker's half: the known account's mails (3 an hour at most), none for the unknown login.
        subject = "Reset your Kanri password"
        deadline = time.time() + 15
        while time.time() < deadline and len(mails_to(srv.data, known, subject)) < 3:
            time.sleep(0.2)
        time.sleep(1)  # let the worker finish the queue: a fourth mail would be a broken limit
        known_mails = mails_to(srv.data, known, subject)
        unknown_mails = mails_to(srv.data, unknown, "")
        link_ok = None
        if known_mails:
            # Each new link deletes the account's older ones in its own transaction, and the worker may send
            # the mails of one burst in any order (file times are no guide): exactly one mailed link is
            # live, whichever mail carries it, and it sets the password.
            tokens = []
            for msg in known_mails:
                for part in msg.walk():
                    if part.get_content_maintype() == "text":
                        text = (part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8",
                                                                             "replace")
                        if m := re.search(r"/set-password\?token=([A-Za-z0-9_\-]+)", text):
                            tokens.append(m.group(1))
                            break
            worked = 0
            for token in dict.fromkeys(tokens):
                st, _ = http("POST", f"{srv.base}/v1/auth/set-password",
                             {"token": token, "password": f"Reset-{secrets.token_urlsafe(9)}-pw"})
                worked += st == 204
            link_ok = worked == 1
        out = {"config": {"n": RESET_N, "warmup_pairs": RESET_WARMUP}, "non_202": statuses,
               "known_reset_mails": len(known_mails), "unknown_mails": len(unknown_mails),
               "newest_link_sets_password": link_ok}
        for name, xs in times.items():
            out[name] = {"n": len(xs), "p50_ms": median(xs), "p90_ms": percentile(xs, 90),
                         "p99_ms": percentile(xs, 99), "min_ms": min(xs), "mean_ms": statistics.fmean(xs)}
        # The same split of the same class twice (first half against second half of the known account's times):
        # how far two medians drift apart when nothing differs, on this machine.
        half = len(times["known"]) // 2
        out["same_class_halves_diff_ms"] = abs(median(times["known"][:half]) - median(times["known"][half:]))
        res["reset"] = out
        if statuses:
            res["errors"].append(f"reset: answers other than 202: {statuses}")
        if not known_mails or len(known_mails) > 3:
            res["errors"].append(f"reset: the known account got {len(known_mails)} reset mail(s), expected 1 to 3")
        if unknown_mails:
            res["errors"].append(f"reset: {len(unknown_mails)} mail(s) went to the unknown login")
        if link_ok is False:
            res["errors"].append("reset: not exactly one of the mailed reset links set the password")
        k, u = out["known"], out["unknown"]
        log(f"reset: median known {k['p50_ms']:.3f} ms (p90 {k['p90_ms']:.3f}), unknown {u['p50_ms']:.3f} ms "
            f"(p90 {u['p90_ms']:.3f}); {len(known_mails)} reset mail(s) to the known account, "
            f"{len(unknown_mails)} to the unknown")
    finally:
        srv.close(res)


# ---- main ------------------------------------------------------------------------------------------------

def migrate(prev):
    """A results file from before section fanout held the moto fan-out in tasks (`fanout_aws`): it becomes
    section fanout, with the date and commit of that tasks run."""
    tasks = prev.get("tasks") or {}
    if "fanout" in prev or not tasks.get("fanout_aws"):
        return prev
    prev = copy.deepcopy(prev)
    prev["fanout"] = prev["tasks"].pop("fanout_aws")
    secs = prev["tasks"].get("seconds") or {}
    if secs.get("fanout_aws") is not None:
        prev["fanout"]["part_seconds"] = secs.pop("fanout_aws")
        prev.setdefault("section_seconds", {})["fanout"] = prev["fanout"]["part_seconds"]
        if (prev.get("section_seconds") or {}).get("tasks") is not None:
            prev["section_seconds"]["tasks"] = round(prev["section_seconds"]["tasks"] - prev["fanout"]["part_seconds"], 1)
    if (prev.get("section_runs") or {}).get("tasks"):
        prev["section_runs"]["fanout"] = dict(prev["section_runs"]["tasks"])
    return prev


def merge_previous(res, prev, sections, moto_ran):
    """Keeps from an earlier results file the sections this run did not measure (and their errors)."""
    runs = res.setdefault("section_runs", {})
    prev = migrate(prev)
    for name in SECTIONS:
        if name in sections:
            runs[name] = {"date": res["date"], "git": res["git"], "profile": PROFILE}
        elif name in prev:
            res[name] = prev[name]
            runs[name] = (prev.get("section_runs") or {}).get(name) or {"date": prev.get("date"),
                                                                           "git": prev.get("git")}
            if (prev.get("section_seconds") or {}).get(name) is not None:
                res.setdefault("section_seconds", {})[name] = prev["section_seconds"][name]

    def kept(e):
        m = re.match(r"[a-z0-9]+", e)
        name = m.group(0) if m else ""
        return name not in sections and not (name == "moto" and moto_ran)

    res["errors"] = [e for e in prev.get("errors") or [] if kept(e)] + res["errors"]
    # The build figures shown are those of the last whole make bench (its wall time includes them): a run of
    # some sections (make bench-long's, say, whose build finds everything built) keeps them, and its own build
    # is kept apart; a run that built nothing (SKIP_BUILD=1) keeps them too.
    whole = set(MAKE_BENCH_SECTIONS) <= set(sections)
    if prev.get("build") and (not res.get("build") or not whole):
        if res.get("build"):
            res["partial_run_build"] = res["build"]
        res["build"] = prev["build"]
    if prev.get("make_bench_seconds") is not None and not set(MAKE_BENCH_SECTIONS) <= set(sections):
        res["make_bench_seconds"] = prev["make_bench_seconds"]
        if prev.get("make_bench_sections"):
            res["make_bench_sections"] = prev["make_bench_sections"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build", help="JSON written by bench/run.sh (bench/build_figures.py): the build's figures")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    args = ap.parse_args()
    sections = args.sections.split(",")
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections {unknown} (known: {', '.join(SECTIONS)})")
    prev = {}
    if os.path.exists(args.out):
        try:
            prev = json.loads(Path(args.out).read_text())
        except ValueError:
            log(f"{args.out} is not JSON: starting afresh")
    started = time.time()
    res = {
        "date": datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=9))).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_state(),
        "errors": [],
    }
    if args.build and os.path.exists(args.build):
        res["build"] = json.load(open(args.build))
    moto_sections = [x for x in ("aws", "lambda", "bulk", "tasks", "fanout") if x in sections]

    done = []

    def run(name, fn, *a):
        if name not in sections:
            return
        t = time.time()
        try:
            fn(*a)
        except Exception as e:  # noqa: BLE001 - recorded, the other sections still run
            traceback.print_exc()
            res["errors"].append(f"{name}: {type(e).__name__}: {e}")
        res.setdefault("section_seconds", {})[name] = round(time.time() - t, 1)
        # Written after every section, so a run stopped part-way keeps the sections it finished.
        done.append(name)
        partial = copy.deepcopy(res)
        merge_previous(partial, prev, done, any(x in done for x in moto_sections))
        Path(args.out).write_text(json.dumps(partial, indent=1, ensure_ascii=False) + "\n")

    run("load", section_load, args.target, res)
    run("argon2", section_argon2, args.target, res)
    run("reset", section_reset, args.target, res)
    run("soak", section_soak, args.target, res)
    run("makerun", section_makerun, args.target, res)
    if moto_sections:
        work = Path(tempfile.mkdtemp(prefix="kanri-bench-moto."))
        moto = None
        try:
            log("starting moto and provisioning tables, key and mail identity")
            moto = Moto(work)
            run("aws", section_aws, args.target, res, moto)
            run("lambda", section_lambda, args.target, res, moto)
            # Last on this moto: its thousands of users and mails would slow the others' reads of moto's state.
            run("bulk", section_bulk, args.target, res, moto)
            run("tasks", section_tasks, args.target, res, moto)
            run("fanout", section_fanout, args.target, res, moto)  # 10,000 mails: the last on this moto
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            res["errors"].append(f"moto: {type(e).__name__}: {e}")
            if moto is None:
                run("bulk", section_bulk, args.target, res, None)  # its local-server half needs no moto
                run("tasks", section_tasks, args.target, res, None)  # so do its embedded parts
        finally:
            if moto:
                moto.stop()
            shutil.rmtree(work, ignore_errors=True)
    res["bench_seconds"] = round(time.time() - started, 1)
    merge_previous(res, prev, sections, bool(moto_sections))
    Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    log(f"results in {args.out} ({res['bench_seconds']} s); {len(res['errors'])} error(s)")
    for e in res["errors"]:
        log(f"error: {e}")


if __name__ == "__main__":
    main()
