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
echo "==> running tests"
cargo nextest run --no-fail-fast "$@"
