#!/usr/bin/env bash
# Quick start: installs what is missing, builds the CLI and the example, generates a
# sample text, and runs word count on it in local mode.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-examples.sh
echo "==> building target/release/spindle"
cargo build --release -p spindle
target_dir="${CARGO_TARGET_DIR:-target}"
if [ "$target_dir" != "target" ]; then
    mkdir -p target/release
    cp "$target_dir/release/spindle" target/release/spindle
fi

sample=target/sample
mkdir -p "$sample"
if [ ! -s "$sample/input.txt" ]; then
    echo "==> generating $sample/input.txt"
    python3 - "$sample/input.txt" <<'PY' 2>/dev/null || awk 'BEGIN { srand(7); split("the of and to a in is that it for über naïve 日本語 λόγος слово fox dog river stone light", w, " "); for (i = 0; i < 200000; i++) { line = ""; for (j = 0; j < 10; j++) { k = int(1 + 20 * rand() * rand()); line = line (j ? " " : "") w[k] } print line } }' > "$sample/input.txt"
import random, sys
random.seed(7)
base = "the of and to a in is that it for über naïve 日本語 λόγος слово fox dog river stone light".split()
vocab = base + [f"w{i}" for i in range(5000)]
weights = [1.0 / (r + 1) for r in range(len(vocab))]  # Zipf-like
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for _ in range(200_000):
        f.write(" ".join(random.choices(vocab, weights, k=10)) + "\n")
PY
fi

out="$sample/wordcount-out"
rm -rf "$out"
echo "==> target/release/spindle run target/examples/wordcount.wasm -- $sample/input.txt $out"
time target/release/spindle run target/examples/wordcount.wasm -- "$sample/input.txt" "$out"
echo "==> output: $(ls "$out" | tr '\n' ' ')"
