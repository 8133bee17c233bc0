#!/usr/bin/env bash
# Builds the example job components for wasm32-wasip2 and copies them to
# target/examples/NAME.wasm. Installs the wasm target if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

examples=(wordcount datasets aggregate tables tour pagerank kmeans join sort bench-jobs attack paced-wordcount cache-check fuzz-job)
echo "==> building example components: ${examples[*]}"
cargo build --profile guest --target wasm32-wasip2 $(printf -- '-p %s ' "${examples[@]}")

target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p target/examples
for e in "${examples[@]}"; do
    cp "$target_dir/wasm32-wasip2/guest/${e//-/_}.wasm" "target/examples/$e.wasm"
    echo "    target/examples/$e.wasm ($(wc -c < "target/examples/$e.wasm") bytes)"
done

# Word count in other languages (skipped when their toolchains are missing,
# unless SPINDLE_INSTALL_TOOLCHAINS=1 installs them).
examples/c/build.sh
examples/python/build.sh
examples/js/build.sh
examples/go/build.sh
