#!/usr/bin/env bash
# A model crest trains and saves opens in real TF.js and predicts the same
# probabilities (within 1e-5) on 100 Fashion-MNIST test images.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
DATA="${CREST_DATA:-$ROOT/data}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$ROOT/$BUILD/crest" train --data fashion-mnist --hidden 64 --dropout 0.2 --epochs 1 \
    --seed 3 --out "$tmp/model" 2> "$tmp/train.log"
"$ROOT/$BUILD/crest" predict "$tmp/model" --data fashion-mnist:test --limit 100 --json > "$tmp/crest.json"
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/predict_compare.js" \
    "$tmp/model" "$tmp/crest.json" "$DATA/fashion-mnist/t10k-images-idx3-ubyte" 100 1e-5
