#!/usr/bin/env bash
# Extraction of a folder against the forward pass alone (issue 11: "extraction
# of a folder runs at the forward pass's speed"). A folder of real photos
# (N copies of the 640x427 JPEGs scikit-learn ships, in 2 classes) and one of
# N Fashion-MNIST JPEGs (28x28, resized up); for each, `crest train --base
# MobileNetV2 --epochs 1` prints its extraction time per image, which
# includes reading, decoding, resizing and the forward pass; `crest bench`
# gives the forward pass alone at the same batch (32) and threads. Rounds
# interleaved, medians, the ratio extraction / forward (1.00: decoding is
# free).
# usage: bench/extract_speed.sh [BUILD] [N] [ROUNDS] [THREADS]  (defaults build 256 3 2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
N="${2:-256}"
ROUNDS="${3:-3}"
THREADS="${4:-2}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
MNV2="$CREST_DATA/models/mobilenet_v2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-extract.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
make -s "$BUILD/crest" "$BUILD/bench/idx_to_folder" BUILD="$BUILD"
mkdir -p "$WORK/photos/china" "$WORK/photos/flower"
for i in $(seq "$((N / 2))"); do
  cp "$CREST_DATA/images/china.jpg" "$WORK/photos/china/$i.jpg"
  cp "$CREST_DATA/images/flower.jpg" "$WORK/photos/flower/$i.jpg"
done
"$BUILD/bench/idx_to_folder" "$CREST_DATA/fashion-mnist/train-images-idx3-ubyte" \
    "$CREST_DATA/fashion-mnist/train-labels-idx1-ubyte" "$N" "$WORK/fmnist" > /dev/null
echo "load before: $(uptime)"
for r in $(seq "$ROUNDS"); do
  for set in photos fmnist; do
    "$BUILD/crest" train --base "$MNV2" --data "$WORK/$set" --epochs 1 --threads "$THREADS" \
        --out "$WORK/m" 2> "$WORK/err" > /dev/null
    sed -n 's/^features (train): .*(\([0-9.]*\) ms\/image)$/\1/p' "$WORK/err" | tail -1 |
      sed "s/^/$set /" >> "$WORK/times"
    rm -rf "$WORK/m"
  done
  "$BUILD/crest" bench "$MNV2" --batch 32 --threads "$THREADS" --iters 4 --json |
    sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/forward \1/p' >> "$WORK/times"
done
echo "load after:  $(uptime)"
med() { grep "^$1 " "$WORK/times" | awk '{ print $2 }' | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fw=$(med forward)
printf 'forward pass alone (crest bench, batch 32, %s threads): %.2f ms/image\n' "$THREADS" "$fw"
for set in photos fmnist; do
  awk -v s="$set" -v e="$(med "$set")" -v f="$fw" -v n="$N" 'BEGIN {
    printf "extraction of %d %s: %.2f ms/image, %.2fx the forward pass\n", n,
           s == "photos" ? "640x427 photos" : "28x28 Fashion-MNIST JPEGs", e, e / f }'
done
