#!/usr/bin/env bash
# Does --augment raise held-out accuracy on a small real image set?
# Fashion-MNIST's first 100 training images (about 10 a class) train a head
# on the frozen nsfwjs MobileNetV2 (30 epochs), with and without
#   --augment flip=horizontal,rotate=0.05,zoom=0.1,translate=0.05 --augment-copies 4
# and each is scored on the first 1,000 test images (the last epoch's
# val_accuracy), for seeds 1..3. Prints one line per run and the means.
#   bash bench/augment_accuracy.sh [BUILD]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
C="$ROOT/${1:-build}/crest"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
F="$ROOT/tests/scripts/fixtures.js"
node "$F" idx "$CREST_DATA" "$tmp/train" 100 1000 || exit 1
mkdir -p "$tmp/test"   # the 1,000 test images as a set of their own
for f in images-idx3-ubyte labels-idx1-ubyte; do
  cp "$tmp/train/t10k-$f" "$tmp/test/train-$f"
  cp "$tmp/train/t10k-$f" "$tmp/test/t10k-$f"
done
for seed in 1 2 3; do
  for mode in none augment; do
    extra=()
    [ $mode = augment ] && extra=(--augment flip=horizontal,rotate=0.05,zoom=0.1,translate=0.05
                                  --augment-copies 4)
    "$C" train --data "$tmp/train" --val "$tmp/test" --base "$CREST_DATA/models/mobilenet_v2" \
      --epochs 30 --seed $seed --cache "$tmp/cache" "${extra[@]}" --out "$tmp/m" \
      > "$tmp/log" 2>&1 || { echo "FAIL: $mode seed $seed: $(tail -2 "$tmp/log")"; exit 1; }
    acc=$(grep -o "val_accuracy: [0-9.]*" "$tmp/log" | tail -1 | awk '{print $2}')
    echo "seed $seed $mode val_accuracy $acc"
    echo "$mode $acc" >> "$tmp/all"
  done
done
awk '{s[$1] += $2; n[$1]++} END {printf "mean val_accuracy: none %.4f, augment %.4f\n",
     s["none"] / n["none"], s["augment"] / n["augment"]}' "$tmp/all"
