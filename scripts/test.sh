#!/usr/bin/env bash
# Runs every test: builds the example components and the CLI, then the whole
# workspace's tests (unit tests and end-to-end tests with real processes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-examples.sh
echo "==> building the workspace (the CLI, the bench harness, the tests)"
# The whole workspace with its tests at once: the same features as the test run
# below, so nothing is compiled twice.
cargo build --workspace --all-targets
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi
echo "==> running tests"
cargo nextest run --workspace --no-fail-fast "$@"
