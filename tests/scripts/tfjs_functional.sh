#!/usr/bin/env bash
# A two-input functional model crest trains and saves opens in real TF.js
# (class Model, inbound_nodes) and predicts the same probabilities (1e-5).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
CREST_TFJS_OUT="$tmp" "$ROOT/$BUILD/tests/test_functional" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/functional_compare.js" "$tmp" 2>&1 | grep -v -e '^=*$' -e 'tfjs-node' -e 'Hi, looks'
