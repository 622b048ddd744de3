#!/usr/bin/env bash
# make bench: one build of every measured binary (timed), then the sections (bench/bench.py), then BENCHMARKS.md
# (bench/report.py). wrk and moto are installed by the Makefile's bench target before this runs.
#
#   bench/run.sh                 make bench: the build, then sections load, argon2, aws, lambda, bulk, tasks, reset
#                                (target: 15 minutes from a clean clone on 2 cores. Measured under load: the
#                                dependencies 634 s of CPU, each function's thin-LTO link 168 s, kanri-local's
#                                194 s, kanri-bench's 217 s: 1,381 s of CPU, 11.5 minutes on two busy cores; the
#                                sections about 5 minutes. BENCHMARKS.md shows each phase of the last make bench)
#   BENCH_SECTIONS=fanout,soak,makerun bench/run.sh   make bench-long: the sections that take minutes each and do
#                                not fit beside the build in make bench's 15 minutes (the notice fan-out to 10,000
#                                subscribers on moto, the 5-minute soak, a fresh clone's `make run`); BENCHMARKS.md
#                                keeps their figures with the date of their own run
#   BENCH_SECTIONS=load,argon2 bench/run.sh    only some sections (any of the above); the others' figures are
#                                              kept from bench/results.json
#   SKIP_BUILD=1 bench/run.sh    use the binaries already built
#   BENCH_FUNCTIONS=all bench/run.sh           every Lambda function, not the default sample
#   BENCH_PROFILE=release bench/run.sh         another cargo profile for every binary (default lambda)
#
# Raw figures go to bench/results.json; BENCHMARKS.md is generated from them. The build figures of a
# clean-clone `time .ci/run` are read from $KANRI_CI_LOG (default /tmp/ci.log) when it exists and kept in
# bench/ci-build.json for later runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
export PYTHON
# The clock of the whole `make bench`: the Makefile starts it before installing wrk and moto.
START_EPOCH="${KANRI_BENCH_START:-$(date +%s)}"
elapsed() { echo $(( $(date +%s) - START_EPOCH )); }
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PHASES=()
phase() { PHASES+=("$1=$2"); log "phase $1 took $2 s"; }
# wrk and moto installed (or found) by the Makefile's bench-deps, on make bench's clock.
[[ -n "${KANRI_BENCH_START:-}" ]] && phase deps "$(elapsed)"

command -v wrk >/dev/null 2>&1 || { log "wrk not found (make bench installs it with apt-get)"; exit 1; }

# make bench's sections; bench/bench.py knows the rest (make bench-long's).
MAKE_BENCH_SECTIONS=load,argon2,aws,lambda,bulk,tasks,reset
SECTIONS="${BENCH_SECTIONS:-$MAKE_BENCH_SECTIONS}"

# The Lambda functions to build and measure: by default the two largest packages measured so far (auth-login:
# argon2, the most memory; ops-tenants-create: KMS GenerateDataKey on its first request). Each function is its own
# thin-LTO link, minutes of CPU on 2 cores, so every one more takes make bench's 15 minutes; one of each kind:
# BENCH_FUNCTIONS=health,users-get,auth-login,page-admin-users,scim-users-create,ops-tenants-create, or "all"
# (every route id: hours, see `make lambda-build` in BENCHMARKS.md section 5).
BENCH_FUNCTIONS="${BENCH_FUNCTIONS:-auth-login,ops-tenants-create}"
export BENCH_FUNCTIONS
# One cargo profile for everything measured: the functions (as `make lambda-build` deploys them), kanri-local
# and kanri-bench. One cargo invocation of one profile compiles every dependency once; a second profile would
# compile them all again (minutes on 2 cores). BENCH_LAMBDA_PROFILE is the knob's older name.
BENCH_PROFILE="${BENCH_PROFILE:-${BENCH_LAMBDA_PROFILE:-lambda}}"
export BENCH_PROFILE

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BUILD_JSON="$(mktemp /tmp/kanri-bench-build.XXXXXX.json)"
TIMES="$(mktemp /tmp/kanri-bench-time.XXXXXX)"
trap 'rm -f "$BUILD_JSON" "$TIMES"' EXIT
echo '{}' >"$BUILD_JSON"

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    # "clean" when nothing of this profile was built before (a fresh clone, or after cargo clean).
    if [[ -n "$(ls -A "$TARGET_DIR/$BENCH_PROFILE/deps" 2>/dev/null)" ]]; then state=incremental; else state=clean; fi
    # --timings: cargo's report of each unit's time (target/cargo-timings/cargo-timing.html), from which
    # bench/build_figures.py takes each function's own compile and LTO link.
    BUILD=(cargo build --timings --profile "$BENCH_PROFILE" -p kanri-functions -p kanri-bench)
    if [[ "$BENCH_FUNCTIONS" != all ]]; then
        BUILD+=(--bin kanri-local --bin kanri-bench)
        for f in ${BENCH_FUNCTIONS//,/ }; do BUILD+=(--bin "$f"); done
    fi
    load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
    log "${BUILD[*]} ($state; load average $load_start)"
    t0=$SECONDS
    TIMEFORMAT='%R %U %S'
    if ! { time "${BUILD[@]}" >/tmp/kanri-bench-build.log 2>&1; } 2>"$TIMES"; then
        tail -n 40 /tmp/kanri-bench-build.log >&2
        log "build failed"
        exit 1
    fi
    phase build "$((SECONDS - t0))"
    "$PYTHON" bench/build_figures.py --times "$TIMES" --state "$state" --profile "$BENCH_PROFILE" \
        --command "${BUILD[*]}" --load-start "$load_start" --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
        --timings "$TARGET_DIR/cargo-timings/cargo-timing.html" --functions "$BENCH_FUNCTIONS" \
        --all-binaries "$(ls functions/src/bin/*.rs | wc -l)" >"$BUILD_JSON"
    log "build: $(cat "$BUILD_JSON")"
fi

t0=$SECONDS
"$PYTHON" bench/bench.py --target "$TARGET_DIR" --out bench/results.json --build "$BUILD_JSON" \
    --sections "$SECTIONS"
phase sections "$((SECONDS - t0))"
# The wall time of `make bench` is recorded only when it ran its whole set (a partial run keeps the last one).
TOTAL=()
[[ -z "${BENCH_SECTIONS:-}" ]] && TOTAL=(--total-seconds "$(elapsed)" --phases "$(IFS=,; echo "${PHASES[*]}")")
t0=$SECONDS
"$PYTHON" bench/report.py --results bench/results.json --ci-log "${KANRI_CI_LOG:-/tmp/ci.log}" \
    --ci-json bench/ci-build.json --out BENCHMARKS.md "${TOTAL[@]}"
phase report "$((SECONDS - t0))"
# Each phase's wall time: the build, every section run (bench/bench.py's own clock), the report.
"$PYTHON" -c 'import json,sys; r=json.load(open("bench/results.json")); s=r.get("section_seconds") or {}; print("; ".join(f"{k} {s[k]} s" for k in sys.argv[1].split(",") if k in s))' \
    "$SECTIONS" | sed 's/^/[bench] sections: /' >&2
log "phases: ${PHASES[*]}"
log "BENCHMARKS.md rewritten; all took $(elapsed) s (sections: $SECTIONS)"
"$PYTHON" -c 'import json,sys; e=json.load(open("bench/results.json"))["errors"]; [print("error:", x, file=sys.stderr) for x in e]; sys.exit(1 if e else 0)'
