#!/usr/bin/env bash
# Builds the C word count to target/examples/wordcount-c.wasm.
#
# Needs Debian's clang, lld, wasi-libc and the wasm32 compiler runtime. With
# SPINDLE_INSTALL_TOOLCHAINS=1 (CI sets it) they are installed with apt-get when
# missing; otherwise a machine without them skips this example.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32)
have() { dpkg -s "$@" >/dev/null 2>&1; }
if ! have "${packages[@]}"; then
    if [ "${SPINDLE_INSTALL_TOOLCHAINS:-}" != 1 ]; then
        echo "==> skipping the C example: install ${packages[*]} (or set SPINDLE_INSTALL_TOOLCHAINS=1)"
        exit 0
    fi
    echo "==> installing the C toolchain: ${packages[*]}"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${packages[@]}"
fi

target_dir="${CARGO_TARGET_DIR:-target}"
work="$target_dir/c-guest"
mkdir -p "$work" target/examples
echo "==> building the C word count"
cargo run -q -p spindle-componentize -- c-bindings wit "$work/bindings"
clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wall -Werror -Wno-unused-function \
    -I"$work/bindings" examples/c/wordcount.c "$work/bindings/job.c" "$work/bindings/job_component_type.o" \
    -o "$work/wordcount-c.core.wasm"
cargo run -q -p spindle-componentize -- new "$work/wordcount-c.core.wasm" target/examples/wordcount-c.wasm
echo "    target/examples/wordcount-c.wasm ($(wc -c < target/examples/wordcount-c.wasm) bytes)"
