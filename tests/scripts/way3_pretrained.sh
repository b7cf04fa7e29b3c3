#!/usr/bin/env bash
# The way-3 recipe end to end (examples/way3_pretrained.c): MobileNetV2 cut
# after out_relu, frozen, GlobalAveragePooling2D, Dense(10, softmax), Adam 1e-3,
# batch 32, 10 epochs, Fashion-MNIST 2,000 train / 1,000 test upsized to 224.
# TF.js on the same recipe (tools/golden/tl_reference.js) reaches about 0.77;
# crest must be within one point: accuracy >= 0.76.
# Backbone features for the 3,000 images are the heavy part (about a minute on
# 2 cores): they are cached in $CREST_DATA/.cache/features (override with
# CREST_FEATURE_CACHE), keyed by a hash of the model's weights, the images and
# the input transform, so later runs take seconds and any change recomputes.
# Extraction itself is checked in tests/test_transfer.c and against TF.js in
# the MobileNetV2 golden tests.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export CREST_CACHE="${CREST_FEATURE_CACHE:-$CREST_DATA/.cache/features}"
"$ROOT/$BUILD/examples/way3_pretrained" > "$tmp/out" 2> "$tmp/err"
rc=$?
cat "$tmp/out"
if [ $rc -ne 0 ]; then
  cat "$tmp/err" | tail -3
  exit 1
fi
last="$(tail -1 "$tmp/out")"
acc="${last#accuracy: }"
[[ "$last" =~ ^accuracy:\ 0\.[0-9]{4}$ ]] || { echo "FAIL: last line is '$last'"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a >= 0.76) }' || { echo "FAIL: accuracy $acc < 0.76"; exit 1; }
# a second run reuses the cached features: no backbone pass
"$ROOT/$BUILD/examples/way3_pretrained" > "$tmp/out2" 2> /dev/null || { echo "FAIL: second run"; exit 1; }
grep -q "\[cached\]" "$tmp/out2" || { echo "FAIL: second run did not use the cache"; exit 1; }
[ "$(tail -1 "$tmp/out2")" = "$last" ] || { echo "FAIL: cached run gives $(tail -1 "$tmp/out2")"; exit 1; }
echo ok
