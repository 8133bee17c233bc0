#!/usr/bin/env bash
# Builds the JavaScript word count to target/examples/wordcount-js.wasm with
# componentize-js (from the npm registry, installed under the target directory)
# through its library API (examples/js/componentize.mjs). Needs Node.js.
#
# With SPINDLE_INSTALL_TOOLCHAINS=1 (CI sets it) componentize-js is installed
# when missing; otherwise a machine without it skips this example.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=0.23.0
target_dir="${CARGO_TARGET_DIR:-target}"
tools="$(realpath -m "$target_dir/toolchains/componentize-js-$version")"
if [ ! -d "$tools/node_modules/@bytecodealliance/componentize-js" ]; then
    if [ "${SPINDLE_INSTALL_TOOLCHAINS:-}" != 1 ] || ! command -v npm >/dev/null; then
        echo "==> skipping the JavaScript example: needs Node.js; set SPINDLE_INSTALL_TOOLCHAINS=1 to install componentize-js $version"
        exit 0
    fi
    echo "==> installing componentize-js $version into $tools"
    mkdir -p "$tools"
    (cd "$tools" && echo '{"private": true, "type": "module"}' > package.json \
        && npm install --no-audit --no-fund --silent "@bytecodealliance/componentize-js@$version")
fi
mkdir -p target/examples
echo "==> building the JavaScript word count"
cp examples/js/componentize.mjs "$tools/componentize.mjs"
node "$tools/componentize.mjs" "$PWD/examples/js/wordcount.js" "$PWD/wit" "$PWD/target/examples/wordcount-js.wasm"
echo "    target/examples/wordcount-js.wasm ($(wc -c < target/examples/wordcount-js.wasm) bytes)"
