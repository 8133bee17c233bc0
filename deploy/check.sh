#!/usr/bin/env bash
# Checks the Kubernetes manifests offline against the Kubernetes API schemas
# (kubernetes-validate from PyPI, strict: unknown fields are errors), in a
# virtual environment of its own.
set -euo pipefail
cd "$(dirname "$0")"
venv="${SPINDLE_TOOLS_DIR:-${CARGO_TARGET_DIR:-../target}/tools}/kubernetes-validate"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    echo "==> installing kubernetes-validate into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate
fi
"$venv/bin/kubernetes-validate" --strict --kubernetes-version 1.32.0 kubernetes/*.yaml
