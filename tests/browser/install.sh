#!/usr/bin/env bash
# Installs what the browser test of the web UI needs: Debian's Chromium (as root,
# with apt) and playwright-core from the npm registry (under the target
# directory; it drives the system's Chromium and downloads no browser).
#
# With SPINDLE_INSTALL_TOOLCHAINS=1 (CI sets it) they are installed when missing;
# otherwise a machine without them skips the browser test.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=1.64.1
target_dir="${CARGO_TARGET_DIR:-target}"
tools="$(realpath -m "$target_dir/toolchains/playwright-core-$version")"
if [ "${SPINDLE_INSTALL_TOOLCHAINS:-}" != 1 ]; then
    exit 0
fi
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's Chromium for the browser test"
    apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
fi
if [ ! -d "$tools/node_modules/playwright-core" ] && command -v npm >/dev/null; then
    echo "==> installing playwright-core $version into $tools"
    mkdir -p "$tools"
    (cd "$tools" && echo '{"private": true}' > package.json \
        && npm install --no-audit --no-fund --silent "playwright-core@$version")
fi
