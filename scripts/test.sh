#!/usr/bin/env bash
# Runs every test: builds the example components and the CLI, then the whole
# workspace's tests (unit tests and end-to-end tests with real processes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-examples.sh
echo "==> building the host crates (the CLI, the bench harness, the tests)"
# The default members (every host crate and the SDK) with their tests at once: the
# same selection as the test run below, so nothing is compiled twice.
cargo build --all-targets
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi
# The network tests put each process in its own network namespace: they need
# root and iproute2 (`ip`), and skip with a message without them.
if ! command -v ip >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing iproute2 for the network tests"
    apt-get install -y -qq iproute2 >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq iproute2) || true
fi
# The browser test of the web UI drives Debian's Chromium with playwright-core
# (installed with SPINDLE_INSTALL_TOOLCHAINS=1; skipped without them otherwise).
tests/browser/install.sh
echo "==> running tests"
cargo nextest run --no-fail-fast "$@"
