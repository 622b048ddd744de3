#!/usr/bin/env python3
"""Check that template.yaml routes every API route to its own function, and nothing else.

    python3 tests/template_routes.py ROUTES.json [TEMPLATE]

ROUTES.json is the server's route table, as printed by `kanri-local routes`: a JSON list (or an object with a
"routes" list) of {"id": "users-create", "method": "POST", "path": "/v1/users", "operator": false}; other fields
are ignored. TEMPLATE defaults to template.yaml at the repository root.

For every route: exactly one AWS::Serverless::Function builds the binary named by its id
(Metadata.BuildProperties.Binary), and that function has exactly one HttpApi event, on the template's HttpApi,
with the same method and path; operator routes (and only they) use the AWS_IAM authorizer. Every function with
an HttpApi event must be in the route table, and no two functions may serve the same method and path. Every
function builds with rust-cargolambda from the workspace root and runs bootstrap on provided.al2023 / arm64
(its own property or the Globals).

Exit status 0 when everything matches; 1 with a list of mismatches otherwise; 2 on unusable input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

EXPECTED = {  # property -> value, looked up on the function, then in Globals.Function
    "Runtime": "provided.al2023",
    "Architectures": ["arm64"],
    "Handler": "bootstrap",
    "CodeUri": ".",
}
BUILD_METHOD = "rust-cargolambda"
OPS_PREFIX = "/v1/ops/"


def load_routes(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("routes")
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of routes (or an object with a \"routes\" list)")
    routes = []
    for i, r in enumerate(data):
        missing = [k for k in ("id", "method", "path", "operator") if k not in r]
        if missing:
            raise ValueError(f"route #{i} {r!r} lacks {', '.join(missing)}")
        routes.append({"id": str(r["id"]), "method": str(r["method"]).upper(), "path": str(r["path"]),
                       "operator": bool(r["operator"])})
    return routes


def load_template(path: Path) -> dict:
    from cfnlint.decode import decode

    tpl, matches = decode(str(path))
    if matches or tpl is None:
        raise ValueError("; ".join(str(m) for m in matches or ["cannot parse"]))
    return tpl


def ref_name(value) -> str | None:
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return str(value["Ref"])
    return None


def authorizer(event_props: dict) -> str | None:
    auth = event_props.get("Auth") or {}
    a = auth.get("Authorizer")
    return None if a in (None, "NONE") else str(a)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    routes_path = Path(argv[1])
    template_path = Path(argv[2]) if len(argv) > 2 else REPO / "template.yaml"
    try:
        routes = load_routes(routes_path)
    except (OSError, ValueError) as e:
        print(f"template routes: cannot read {routes_path}: {e}", file=sys.stderr)
        return 2
    try:
        tpl = load_template(template_path)
    except (OSError, ValueError) as e:
        print(f"template routes: cannot read {template_path}: {e}", file=sys.stderr)
        return 2

    resources = tpl.get("Resources") or {}
    globals_fn = (tpl.get("Globals") or {}).get("Function") or {}
    http_apis = {lid for lid, r in resources.items() if r.get("Type") == "AWS::Serverless::HttpApi"}

    # Every function, with its binary and its HttpApi events.
    functions: dict[str, dict] = {}
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        meta = res.get("Metadata") or {}
        events = []
        for name, ev in (props.get("Events") or {}).items():
            if (ev or {}).get("Type") == "HttpApi":
                ep = ev.get("Properties") or {}
                events.append({"name": name, "method": str(ep.get("Method", "")).upper(),
                               "path": str(ep.get("Path", "")), "auth": authorizer(ep),
                               "api": ref_name(ep.get("ApiId"))})
        functions[lid] = {
            "binary": (meta.get("BuildProperties") or {}).get("Binary"),
            "build_method": meta.get("BuildMethod"),
            "props": props,
            "events": events,
        }

    def config_problems(lid: str) -> list[str]:
        f = functions[lid]
        out = []
        if f["build_method"] != BUILD_METHOD:
            out.append(f"{lid}: Metadata.BuildMethod is {f['build_method']!r}, expected {BUILD_METHOD!r}")
        if not f["binary"]:
            out.append(f"{lid}: no Metadata.BuildProperties.Binary")
        for key, want in EXPECTED.items():
            have = f["props"].get(key, globals_fn.get(key))
            if key == "CodeUri" and have == "./":
                have = "."
            if have != want:
                out.append(f"{lid}: {key} is {have!r}, expected {want!r}")
        return out

    by_binary: dict[str, list[str]] = {}
    for lid, f in functions.items():
        if f["binary"]:
            by_binary.setdefault(str(f["binary"]), []).append(lid)

    passed = 0
    failures: list[tuple[str, list[str]]] = []  # (item, problems)

    # Template-wide: the IAM authorizer must be enabled on the API for AWS_IAM routes.
    global_problems = []
    if not http_apis:
        global_problems.append("no AWS::Serverless::HttpApi resource")
    if any(ev["auth"] == "AWS_IAM" for f in functions.values() for ev in f["events"]):
        for api in sorted(http_apis):
            auth = (resources[api].get("Properties") or {}).get("Auth") or {}
            if auth.get("EnableIamAuthorizer") is not True:
                global_problems.append(f"{api}: Auth.EnableIamAuthorizer must be true for AWS_IAM routes")
    for api in sorted(http_apis):
        default = ((resources[api].get("Properties") or {}).get("Auth") or {}).get("DefaultAuthorizer")
        if default not in (None, "NONE"):
            global_problems.append(f"{api}: DefaultAuthorizer {default!r} would apply to tenant routes")
    if global_problems:
        failures.append(("template", global_problems))

    # Two routes with the same id or the same method and path are a broken route table.
    seen_ids: dict[str, int] = {}
    seen_routes: dict[tuple[str, str], str] = {}
    table_problems = []
    for r in routes:
        seen_ids[r["id"]] = seen_ids.get(r["id"], 0) + 1
        key = (r["method"], r["path"])
        if key in seen_routes:
            table_problems.append(f"{r['method']} {r['path']}: both {seen_routes[key]} and {r['id']}")
        seen_routes.setdefault(key, r["id"])
    table_problems += [f"route id {i} appears {n} times" for i, n in seen_ids.items() if n > 1]
    if table_problems:
        failures.append(("route table", table_problems))

    # Route -> function.
    for r in routes:
        problems = []
        label = f"{r['id']} ({r['method']} {r['path']})"
        if r["path"].startswith(OPS_PREFIX) != r["operator"]:
            problems.append(f"operator={str(r['operator']).lower()} disagrees with the path "
                            f"({'' if r['path'].startswith(OPS_PREFIX) else 'not '}under {OPS_PREFIX})")
        lids = by_binary.get(r["id"], [])
        if not lids:
            problems.append(f"no function builds binary {r['id']!r}")
        elif len(lids) > 1:
            problems.append(f"{len(lids)} functions build binary {r['id']!r}: {', '.join(sorted(lids))}")
        else:
            lid = lids[0]
            f = functions[lid]
            events = f["events"]
            if len(events) != 1:
                problems.append(f"{lid} has {len(events)} HttpApi events, expected exactly 1")
            for ev in events:
                where = f"{lid}.Events.{ev['name']}"
                if (ev["method"], ev["path"]) != (r["method"], r["path"]):
                    problems.append(f"{where} is {ev['method']} {ev['path']}, expected {r['method']} {r['path']}")
                if ev["api"] not in http_apis:
                    problems.append(f"{where}: ApiId must be !Ref to the template's HttpApi "
                                    f"(got {ev['api']!r}); without it SAM makes a separate implicit API")
                want_auth = "AWS_IAM" if r["operator"] else None
                if ev["auth"] != want_auth:
                    problems.append(f"{where}: authorizer {ev['auth'] or 'none'}, expected {want_auth or 'none'}")
            problems += config_problems(lid)
        if problems:
            failures.append((label, problems))
        else:
            passed += 1

    # Function -> route: every HTTP function must be in the route table; no method+path served twice.
    route_ids = {r["id"] for r in routes}
    served: dict[tuple[str, str], list[str]] = {}
    for lid, f in functions.items():
        for ev in f["events"]:
            served.setdefault((ev["method"], ev["path"]), []).append(lid)
    for (method, path), lids in sorted(served.items()):
        if len(lids) > 1:
            failures.append((f"{method} {path}", [f"served by {len(lids)} functions: {', '.join(sorted(lids))}"]))
    for lid, f in functions.items():
        if f["binary"] in route_ids:
            continue  # checked above
        problems = []
        if f["events"]:
            for ev in f["events"]:
                problems.append(f"{lid} (binary {f['binary']!r}) serves {ev['method']} {ev['path']}, "
                                "which is not in the route table")
        problems += config_problems(lid)  # jobs too: same runtime and build
        if problems:
            failures.append((lid, problems))

    if failures:
        print(f"template routes: mismatches between {routes_path} and {template_path}:", file=sys.stderr)
        for item, problems in failures:
            print(f"  {item}:", file=sys.stderr)
            for p in problems:
                print(f"    - {p}", file=sys.stderr)
    print(f"template routes: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
