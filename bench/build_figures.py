#!/usr/bin/env python3
"""The build figures of a bench/run.sh build, as JSON on stdout (bench.py keeps them in bench/results.json).

    bench/build_figures.py --times FILE --state clean|incremental --profile P --command CMD \
        --load-start "a b c" --load-end "a b c" --timings cargo-timing.html --functions a,b --all-binaries N

--times holds bash's `time` of the cargo invocation (TIMEFORMAT='%R %U %S': wall, user and system seconds);
--timings is the report of `cargo build --timings`, whose UNIT_DATA gives each unit's wall time. A function's
unit is its own compile and its link, which on the `lambda` profile is the thin-LTO optimisation and code
generation of everything the function reaches (the dependencies are compiled to bitcode only): that is what
each further function costs `make lambda-build` once the dependencies are built.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys


def units(path: str) -> list[dict]:
    """cargo's UNIT_DATA: [{name, target, duration, ...}], or [] when the report is missing or unreadable."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return []
    m = re.search(r"const UNIT_DATA = (\[.*?\n\]);", text, re.S)
    if not m:
        return []
    try:
        return json.loads(m.group(1))
    except ValueError:
        return []


def bin_name(unit: dict) -> str | None:
    m = re.fullmatch(r'\s*(\S+) "bin"', unit.get("target") or "")
    return m.group(1) if m else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--load-start", default="")
    ap.add_argument("--load-end", default="")
    ap.add_argument("--timings", default="")
    ap.add_argument("--functions", default="")
    ap.add_argument("--all-binaries", type=int, default=0)
    a = ap.parse_args()
    out = {"state": a.state, "profile": a.profile, "command": a.command,
           "load_average_start": a.load_start.split(), "load_average_end": a.load_end.split(),
           "jobs": os.cpu_count()}
    try:
        real, user, sys_ = (float(x) for x in open(a.times).read().split()[-3:])
        out.update(build_s=round(real, 1), user_s=round(user, 1), sys_s=round(sys_, 1))
    except (OSError, ValueError):
        print(f"build_figures: no time in {a.times}", file=sys.stderr)
    # Units already fresh are listed too, with a duration of 0: only the compiled ones count.
    us = [u for u in (units(a.timings) if a.timings else []) if u.get("duration", 0) > 0]
    if us:
        out["units_compiled"] = len(us)
        bins = {bin_name(u): round(u["duration"], 1) for u in us if bin_name(u)}
        # The library unit's target is empty in the report (a binary's is ` name "bin"`).
        lib = [u for u in us if u.get("name") == "kanri" and not (u.get("target") or "").strip()]
        if lib:
            out["kanri_lib_s"] = round(lib[0]["duration"], 1)
        out["binaries_s"] = bins
        sample = [f for f in a.functions.split(",") if f in bins and f not in ("kanri-local", "kanri-bench")]
        if sample and a.all_binaries:
            mean = statistics.mean(bins[f] for f in sample)
            jobs = out["jobs"] or 1
            out["function_link"] = {
                "functions": {f: bins[f] for f in sample},
                "mean_s": round(mean, 1),
                "all_binaries": a.all_binaries,
                # cargo runs as many units at once as there are cores; the sampled units were timed so too.
                "all_estimate_s": round(mean * a.all_binaries / jobs),
            }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
