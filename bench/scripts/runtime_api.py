"""A minimal AWS Lambda Runtime API (2018-06-01) for timing Lambda binaries on this machine.

It serves what a custom runtime calls:
    GET  /2018-06-01/runtime/invocation/next              long-polls until an event is queued
    POST /2018-06-01/runtime/invocation/{id}/response     the handler's result
    POST /2018-06-01/runtime/invocation/{id}/error        a handler error
    POST /2018-06-01/runtime/init/error                   an init error
and timestamps (time.perf_counter) the first `next` call of each process generation, which is where a
runtime's init ends: Lambda reports "Init Duration" up to that call too. Each generation (process) gets its
own path prefix (/g<N>), so a request a stopped process left in flight never counts for the next one.

    api = RuntimeApi(); api.start()               # binds 127.0.0.1 on a free port
    runtime_api = api.new_generation()            # before spawning each process: its AWS_LAMBDA_RUNTIME_API
    t_next = api.wait_first_next(timeout)         # perf_counter of the process's first `next`
    status, payload, seconds = api.invoke(event)  # hands the event to the waiting `next`, waits for the result
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class _Generation:
    def __init__(self, gid: int):
        self.gid = gid
        self.events: queue.Queue = queue.Queue()
        self.first_next: float | None = None
        self.results: dict[str, tuple[float, str, bytes]] = {}
        self.init_error: bytes | None = None
        self.cond = threading.Condition()


class RuntimeApi:
    def __init__(self):
        self.gen = _Generation(0)
        self.gens = {0: self.gen}
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, code: int, body: bytes = b"", headers: dict | None = None):
                try:
                    self.send_response(code)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if body:
                        self.wfile.write(body)
                except OSError:  # the process was stopped while its request was open
                    self.close_connection = True

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _gen_and_path(self):
                head, _, rest = self.path.lstrip("/").partition("/")
                gen = api.gens.get(int(head[1:])) if head[:1] == "g" and head[1:].isdigit() else None
                return gen, "/" + rest

            def do_GET(self):
                gen, path = self._gen_and_path()
                if gen is None or path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                with gen.cond:
                    if gen.first_next is None:
                        gen.first_next = time.perf_counter()
                        gen.cond.notify_all()
                item = gen.events.get()
                if item is None:  # the generation ended; its process is being stopped
                    return self._reply(500, b'{"errorMessage":"stopped"}')
                rid, payload = item
                deadline = int((time.time() + 30) * 1000)
                self._reply(200, payload, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": rid,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        "arn:aws:lambda:ap-northeast-1:123456789012:function:kanri-bench",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)};Sampled=0",
                })

            def do_POST(self):
                body = self._body()
                gen, path = self._gen_and_path()
                if gen is None or not path.startswith(PREFIX):
                    return self._reply(404)
                parts = path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    with gen.cond:
                        gen.init_error = body
                        gen.cond.notify_all()
                    return self._reply(202, b"{}")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with gen.cond:
                        gen.results[parts[1]] = (time.perf_counter(), parts[2], body)
                        gen.cond.notify_all()
                    return self._reply(202, b"{}")
                return self._reply(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.new_generation()
        self.server.shutdown()

    def new_generation(self) -> str:
        """Releases a `next` still waiting for the previous process and starts afresh; returns the
        AWS_LAMBDA_RUNTIME_API value for the next process."""
        old = self.gen
        self.gen = _Generation(old.gid + 1)
        self.gens[self.gen.gid] = self.gen
        for _ in range(4):
            old.events.put(None)
        return f"http://127.0.0.1:{self.port}/g{self.gen.gid}"

    def wait_first_next(self, timeout: float) -> float | None:
        gen = self.gen
        with gen.cond:
            gen.cond.wait_for(lambda: gen.first_next is not None or gen.init_error is not None, timeout)
            return gen.first_next

    def init_error(self) -> bytes | None:
        return self.gen.init_error

    def invoke(self, event: dict, timeout: float = 30.0):
        """Returns (HTTP status of the API Gateway response or None, parsed payload or raw text, seconds)."""
        gen = self.gen
        rid = secrets.token_hex(16)
        payload = json.dumps(event).encode()
        t0 = time.perf_counter()
        gen.events.put((rid, payload))
        with gen.cond:
            gen.cond.wait_for(lambda: rid in gen.results, timeout)
            res = gen.results.get(rid)
        if res is None:
            return None, "timeout", time.perf_counter() - t0
        t1, kind, body = res
        try:
            out = json.loads(body)
        except ValueError:
            out = body.decode("utf-8", "replace")
        status = out.get("statusCode") if kind == "response" and isinstance(out, dict) else None
        return status, out, t1 - t0
