#!/usr/bin/env bash
# MLP training throughput, crest vs PyTorch, same model / batch / threads, same run.
# usage: bench/mlp_throughput.sh [BUILD] [EPOCHS]      (needs: make bench; python3-torch)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"; EPOCHS="${2:-1}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
PY=/usr/bin/python3     # Debian's python3 (python3-torch); a pyenv shim would not see it
[ -x "$BUILD/bench/bench_mlp" ] || make -s BUILD="$BUILD" "$BUILD/bench/bench_mlp"
for t in 1 2; do
  c=$("$BUILD/bench/bench_mlp" --threads "$t" --epochs "$EPOCHS")
  p=$($PY bench/torch_mlp.py --threads "$t" --epochs "$EPOCHS")
  echo "$c"; echo "$p"
  cs=$(sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p' <<<"$c")
  ps=$(sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p' <<<"$p")
  awk -v t="$t" -v c="$cs" -v p="$ps" \
    'BEGIN { printf "mlp threads=%s: crest %.0f samples/s, pytorch %.0f samples/s, ratio crest/pytorch %.2fx\n", t, c, p, c / p }'
done
