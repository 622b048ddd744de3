#!/usr/bin/env bash
# make bench: build the release binaries (timed), measure everything (bench/bench.py), rewrite BENCHMARKS.md
# (bench/report.py). wrk and moto are installed by the Makefile's bench target before this runs.
#
#   bench/run.sh                 everything (about 14 minutes from a clean clone on 2 cores: a 6.5-minute
#                                release build, then the sections; BENCHMARKS.md lists each section's time)
#   BENCH_SECTIONS=load,argon2 bench/run.sh    only some sections (load, argon2, aws, lambda, bulk, tasks, soak, reset); the
#                                              others' figures are kept from bench/results.json
#   BENCH_SECTIONS=makerun SKIP_BUILD=1 bench/run.sh   opt-in, not part of make bench: `make run` to the first
#                                              healthy answer after make test's build, and from a fresh clone (a
#                                              whole dev build: too long for the 15-minute budget)
#   SKIP_BUILD=1 bench/run.sh    use the release binaries and the functions already built
#   SKIP_BUILD=release bench/run.sh   use the release binaries already built; build (and time) the functions
#   BENCH_FUNCTIONS=all bench/run.sh           every Lambda function, not the default sample
#
# Raw figures go to bench/results.json; BENCHMARKS.md is generated from them. The build figures of a
# clean-clone `time .ci/run` are read from $KANRI_CI_LOG (default /tmp/ci.log) when it exists and kept in
# bench/ci-build.json for later runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
export PYTHON
START=$SECONDS
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v wrk >/dev/null 2>&1 || { log "wrk not found (make bench installs it with apt-get)"; exit 1; }

# The Lambda functions to build and measure: a sample covering each kind of route (public; session read;
# argon2; a console page; SCIM; operator with KMS), or "all" (every route id; the full set does not fit the
# 15-minute budget from a clean clone: each binary is its own LTO link).
BENCH_FUNCTIONS="${BENCH_FUNCTIONS:-health,users-get,auth-login,page-admin-users,scim-users-create,ops-tenants-create}"
export BENCH_FUNCTIONS
# The cargo profile of the measured Lambda binaries: lambda (default: as `make lambda-build` deploys them,
# thin LTO; a second build of every dependency, timed apart) or release (shares the build of kanri-local).
BENCH_LAMBDA_PROFILE="${BENCH_LAMBDA_PROFILE:-lambda}"
export BENCH_LAMBDA_PROFILE

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BUILD_JSON="$(mktemp /tmp/kanri-bench-build.XXXXXX.json)"
trap 'rm -f "$BUILD_JSON"' EXIT

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  echo '{}' >"$BUILD_JSON"
  if [[ "${SKIP_BUILD:-}" != release ]]; then
    # "clean" when nothing of the release profile was built before (a fresh clone, or after cargo clean).
    if [[ -d "$TARGET_DIR/release/deps" ]] && [[ -n "$(ls -A "$TARGET_DIR/release/deps" 2>/dev/null)" ]]; then
        state=incremental
    else
        state=clean
    fi
    if [[ "$BENCH_FUNCTIONS" == all && "$BENCH_LAMBDA_PROFILE" == release ]]; then
        BUILD=(cargo build --release -p kanri-functions -p kanri-bench)
    else
        BUILD=(cargo build --release -p kanri-functions -p kanri-bench --bin kanri-local --bin kanri-bench)
        # The functions themselves are built below when another profile measures them.
        if [[ "$BENCH_LAMBDA_PROFILE" == release ]]; then
            for f in ${BENCH_FUNCTIONS//,/ }; do BUILD+=(--bin "$f"); done
        fi
    fi
    log "${BUILD[*]} ($state)"
    t0=$(date +%s.%N)
    if ! "${BUILD[@]}" >/tmp/kanri-bench-build.log 2>&1; then
        tail -n 40 /tmp/kanri-bench-build.log >&2
        log "release build failed"
        exit 1
    fi
    t1=$(date +%s.%N)
    "$PYTHON" -c 'import json,sys; print(json.dumps({"release_build_s": round(float(sys.argv[2]) - float(sys.argv[1]), 1), "state": sys.argv[3], "command": sys.argv[4]}))' \
        "$t0" "$t1" "$state" "${BUILD[*]}" >"$BUILD_JSON"
    log "release build took $(cut -d, -f1 "$BUILD_JSON" | cut -d: -f2) s"
  fi
    if [[ "$BENCH_LAMBDA_PROFILE" != release ]]; then
        FN_BUILD=(cargo build --profile "$BENCH_LAMBDA_PROFILE" -p kanri-functions)
        if [[ "$BENCH_FUNCTIONS" != all ]]; then
            for f in ${BENCH_FUNCTIONS//,/ }; do FN_BUILD+=(--bin "$f"); done
        fi
        if [[ -d "$TARGET_DIR/$BENCH_LAMBDA_PROFILE/deps" ]] && [[ -n "$(ls -A "$TARGET_DIR/$BENCH_LAMBDA_PROFILE/deps" 2>/dev/null)" ]]; then
            fn_state=incremental
        else
            fn_state=clean
        fi
        log "${FN_BUILD[*]} ($fn_state)"
        t0=$(date +%s.%N)
        "${FN_BUILD[@]}" >>/tmp/kanri-bench-build.log 2>&1 || { tail -n 40 /tmp/kanri-bench-build.log >&2; exit 1; }
        t1=$(date +%s.%N)
        "$PYTHON" -c 'import json,sys; b=json.load(open(sys.argv[1])); b.update(lambda_build_s=round(float(sys.argv[3]) - float(sys.argv[2]), 1), lambda_state=sys.argv[4], lambda_command=sys.argv[5]); json.dump(b, open(sys.argv[1], "w"))' \
            "$BUILD_JSON" "$t0" "$t1" "$fn_state" "${FN_BUILD[*]}"
        log "$BENCH_LAMBDA_PROFILE build of the functions took $("$PYTHON" -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1") s"
    fi
else
    echo '{}' >"$BUILD_JSON"
fi

"$PYTHON" bench/bench.py --target "$TARGET_DIR" --out bench/results.json --build "$BUILD_JSON" \
    --sections "${BENCH_SECTIONS:-load,argon2,aws,lambda,bulk,tasks,soak,reset}"
# The wall time of `make bench` is recorded only when every section ran (a partial run keeps the last one).
TOTAL=()
[[ -z "${BENCH_SECTIONS:-}" ]] && TOTAL=(--total-seconds "$((SECONDS - START))")
"$PYTHON" bench/report.py --results bench/results.json --ci-log "${KANRI_CI_LOG:-/tmp/ci.log}" \
    --ci-json bench/ci-build.json --out BENCHMARKS.md "${TOTAL[@]}"
log "BENCHMARKS.md rewritten; make bench took $((SECONDS - START)) s"
"$PYTHON" -c 'import json,sys; e=json.load(open("bench/results.json"))["errors"]; [print("error:", x, file=sys.stderr) for x in e]; sys.exit(1 if e else 0)'
