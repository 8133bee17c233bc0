#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60): installs
# cargo-fuzz if it is missing and builds the targets natively, without a
# sanitizer (`-s none`, which works on the stable toolchain). A crash stops the
# run with the input saved under fuzz/artifacts/TARGET/; replay it with
# `cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-...`.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none
for t in "${targets[@]}"; do
    echo "==> fuzzing $t for ${seconds} s"
    mkdir -p "corpus/$t"
    log="$(mktemp)"
    status=0
    cargo fuzz run -s none "$t" "corpus/$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|panicked|ERROR|SUMMARY|Test unit written' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
    fi
    rm -f "$log"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $t failed (exit $status); the input is under fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
done
