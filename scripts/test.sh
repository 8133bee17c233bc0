#!/usr/bin/env bash
# Runs every test: builds the example components and the CLI, then the whole
# workspace's tests (unit tests and end-to-end tests with real processes).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-examples.sh
echo "==> building the spindle CLI"
cargo build -p spindle
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi
echo "==> running tests"
cargo nextest run --workspace --no-fail-fast "$@"
