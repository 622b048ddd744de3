#!/usr/bin/env bash
# The whole test suite, as `make test` runs it: one moto for every AWS test, then
#   1. cargo test: unit tests, the store conformance suite and the HTTP tests on both backends,
#      the layout checks (route table ↔ binaries ↔ template.yaml ↔ OpenAPI)
#   2. cfn-lint on template.yaml
#   3. every Lambda binary under cargo-lambda's Runtime API emulator
#   4. schemathesis against the local server's OpenAPI document
#   5. the SCIM conformance tools (scim2-tester, scim-sanity) against /scim/v2, on both backends
#   6. the pages in headless Chromium, on both backends (screenshots into docs/screenshots/)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
state=$(mktemp -d /tmp/kanri-test.XXXXXX)
cleanup() { infra/moto-stop.sh "$state/moto.url" >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT

eval "$(infra/moto.sh "$state/moto.url" | sed 's/^/export /')"
export KANRI_TEST_AWS_ENDPOINT="$AWS_ENDPOINT_URL"

echo "== cargo test (both backends; moto at $AWS_ENDPOINT_URL)"
cargo build --workspace --bins
cargo test --workspace --no-fail-fast

echo "== cfn-lint template.yaml"
cfn-lint template.yaml
echo "cfn-lint: 1 passed, 0 failed"

echo "== Lambda binaries under the Runtime API emulator"
SKIP_BUILD=1 bash tests/scripts/lambda_emulator.sh  # the binaries were built above

echo "== schemathesis"
SKIP_BUILD=1 bash tests/scripts/schemathesis.sh

echo "== SCIM conformance (scim2-tester, scim-sanity; both backends)"
# On a moto of its own, as the browser stage below (the shared one is slow by now).
env -u AWS_ENDPOINT_URL -u KANRI_TEST_AWS_ENDPOINT SKIP_BUILD=1 bash tests/scripts/scim.sh

echo "== browser (pages)"
# On a moto of its own: the one above holds every cargo test's tables and mails by now and answers in
# seconds, past the AWS clients' 8 s operation timeout for the task queue's polls.
env -u AWS_ENDPOINT_URL -u KANRI_TEST_AWS_ENDPOINT SKIP_BUILD=1 bash tests/scripts/browser.sh

echo "make test: everything passed in $(( $(date +%s) - started )) s"
