# Kanri: `make run` (local server, embedded store) and `make test` (everything). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help deps run run-aws test test-rust test-lambda test-schemathesis test-browser test-scim lint build lambda-build fmt

help:
	@echo "make run        local server on http://127.0.0.1:3000, embedded store in .kanri/"
	@echo "make run-aws    the same server on DynamoDB/KMS/SES (AWS_ENDPOINT_URL, or a moto it starts)"
	@echo "make test       every test: unit, store conformance, HTTP on both backends, template, Lambda, schemathesis, SCIM conformance, browser"
	@echo "make lint       rustfmt, clippy -D warnings, cfn-lint"
	@echo "make lambda-build  release arm64 Lambda binaries with cargo-lambda (zig)"
	@echo "make bench      BENCHMARKS.md: one build (profile lambda), then the figures that fit 15 minutes"
	@echo "make bench-long the longer figures: notice to 10,000 subscribers on moto, 5-minute soak, fresh make run"

# The AWS emulator (PyPI): make test's and make bench's.
deps-moto:
	@$(PYTHON) -c "import moto.server, flask, flask_cors, boto3" 2>/dev/null \
		|| $(PYTHON) -m pip install --quiet --disable-pip-version-check 'moto[server]' boto3

# Installs what a fresh machine lacks: the AWS emulator and the template linter (PyPI).
deps: deps-moto
	@command -v cfn-lint >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet --disable-pip-version-check cfn-lint
	@# The SCIM conformance tools (tests/scripts/scim.sh), at the versions docs/SCIM.md reports on.
	@$(PYTHON) tests/scripts/scim-tools-ok.py \
		|| $(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/scripts/scim-requirements.txt
	@# The browser tests (tests/scripts/browser.sh): Debian's headless Chromium and a Japanese font (apt), and
	@# playwright-core to drive it (npm, pinned by tests/browser/package-lock.json; it never downloads a browser).
	@{ [ -x /usr/lib/chromium/chromium-headless-shell ] && fc-list 2>/dev/null | grep -qi 'IPAGothic'; } || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium-headless-shell fonts-ipafont-gothic >/dev/null; }
	@cmp -s tests/browser/package-lock.json tests/browser/node_modules/.kanri-installed-lock 2>/dev/null \
		|| (cd tests/browser && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.kanri-installed-lock)
	@# The OpenID provider of the single sign-on browser test (oidc-provider 8, pinned by tests/oidc/package-lock.json).
	@cmp -s tests/oidc/package-lock.json tests/oidc/node_modules/.kanri-installed-lock 2>/dev/null \
		|| (cd tests/oidc && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.kanri-installed-lock)

# `--workspace` resolves dependency features as `make test` does (cargo unifies features over the packages it
# builds), so after `make test` this links kanri-local from the same artefacts instead of recompiling the
# AWS SDK with another feature set.
# The allocator setting is template.yaml's: glibc hands argon2's freed 19 MiB blocks back to the kernel.
run:
	$(CARGO) build --workspace --bin kanri-local
	GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 ./target/debug/kanri-local

# Uses AWS_ENDPOINT_URL when set; otherwise starts moto on a free loopback port (stopped on exit).
# Provisions tables, key and mail identity from template.yaml (skipping what exists), then serves.
run-aws: deps
	@$(CARGO) build --workspace --bin kanri-local
	@set -a; \
	if [ -z "$${AWS_ENDPOINT_URL:-}" ]; then \
		eval "$$(infra/moto.sh /tmp/kanri-run-aws.url)"; \
		trap 'infra/moto-stop.sh /tmp/kanri-run-aws.url' EXIT; \
	fi; \
	eval "$$($(PYTHON) infra/provision.py)"; \
	KANRI_BACKEND=aws GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 ./target/debug/kanri-local

build:
	$(CARGO) build --workspace --bins

test: deps
	@bash tests/run.sh

# Only the SCIM conformance stage of `make test`: scim2-tester (through scim2-cli) and scim-sanity against
# kanri-local's /scim/v2, on both backends (a moto of its own unless AWS_ENDPOINT_URL names one).
test-scim: deps
	@bash tests/scripts/scim.sh

# Only the browser tests of the pages (both backends; screenshots into docs/screenshots/).
test-browser: deps
	@bash tests/scripts/browser.sh

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml

fmt:
	$(CARGO) fmt --all

# Release arm64 binaries for AWS Lambda, as `sam build` does with BuildMethod rust-cargolambda.
lambda-build:
	@command -v cargo-lambda >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet cargo-lambda
	$(CARGO) lambda build --profile lambda --arm64 -p kanri-functions

# Benchmarks (BENCHMARKS.md, issues #10 and #19). make bench: installs wrk (Debian package) and moto when
# missing, builds every measured binary in one cargo invocation (profile lambda), runs the sections that fit
# its 15 minutes from a clean clone and rewrites BENCHMARKS.md; its clock starts before the installs.
# make bench-long: the sections that take minutes each (the notice to 10,000 subscribers on moto, the
# 5-minute soak, a fresh clone's `make run`); BENCHMARKS.md shows their figures with the date of their run.
.PHONY: bench bench-long bench-deps deps-moto
bench-deps: deps-moto
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Read when make starts, before bench-deps runs.
BENCH_START := $(shell date +%s)
bench: bench-deps
	@KANRI_BENCH_START=$(BENCH_START) bash bench/run.sh

bench-long: bench-deps
	@BENCH_SECTIONS=fanout,soak,makerun bash bench/run.sh
