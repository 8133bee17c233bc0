#!/usr/bin/env bash
# Runs the benchmarks: builds the release CLI and the job components, installs
# PySpark, DuckDB and Polars into target/bench-venv (unless --no-spark or --small), then runs the
# harness. Arguments go to the harness (see `--help`): e.g. `bench/run.sh --small`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-examples.sh
cargo build --release -p spindle -p spindle-bench -p spindle-s3-server
target_dir="${CARGO_TARGET_DIR:-target}"

spark=1
for a in "$@"; do
    case "$a" in --no-spark|--small) spark=0 ;; esac
done
if [ "$spark" = 1 ] && [ ! -x target/bench-venv/bin/python ] || { [ "$spark" = 1 ] && ! target/bench-venv/bin/python -c 'import pyspark' 2>/dev/null; }; then
    echo "==> installing PySpark into target/bench-venv"
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install --quiet pyspark==4.3.0
fi
# DuckDB and Polars: the Parquet group-by baselines (`--only tables`).
if [ "$spark" = 1 ] && ! target/bench-venv/bin/python -c 'import duckdb, polars' 2>/dev/null; then
    echo "==> installing DuckDB and Polars into target/bench-venv"
    target/bench-venv/bin/pip install --quiet duckdb==2.0.1 polars==2.1.0
fi
exec "$target_dir/release/spindle-bench" --spindle "$target_dir/release/spindle" "$@"
