#!/usr/bin/env bash
# Builds the Python word count to target/examples/wordcount-py.wasm with
# componentize-py (from PyPI, into a virtualenv under the target directory).
#
# With SPINDLE_INSTALL_TOOLCHAINS=1 (CI sets it) the virtualenv is made when
# missing; otherwise a machine without it skips this example.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=0.25.1
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/toolchains/componentize-py-$version"
if [ ! -x "$venv/bin/componentize-py" ]; then
    if [ "${SPINDLE_INSTALL_TOOLCHAINS:-}" != 1 ]; then
        echo "==> skipping the Python example: set SPINDLE_INSTALL_TOOLCHAINS=1 to install componentize-py $version"
        exit 0
    fi
    echo "==> installing componentize-py $version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "componentize-py==$version"
fi
mkdir -p target/examples
echo "==> building the Python word count"
"$venv/bin/componentize-py" -d wit -w job componentize -p examples/python wordcount -o target/examples/wordcount-py.wasm
echo "    target/examples/wordcount-py.wasm ($(wc -c < target/examples/wordcount-py.wasm) bytes)"
echo "==> building the Python Parquet fares job"
"$venv/bin/componentize-py" -d wit -w job componentize -p examples/python fares -o target/examples/fares-py.wasm
echo "    target/examples/fares-py.wasm ($(wc -c < target/examples/fares-py.wasm) bytes)"
