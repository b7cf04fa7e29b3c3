#!/usr/bin/env bash
# The int8 race (issue 12): a transfer-learned MobileNetV2 224 head model
# (`crest train --base`, 1 epoch on 200 Fashion-MNIST training images as
# JPEGs) quantized by `crest quantize` (calibrated on those images) against
# the same float32 model in crest, the int16-activation model (`--activations
# int16`, TFLite's 16x8) and XNNPACK's int8 MobileNetV2
# (bench/xnn_mobilenet_v2_q8.c: QC8 convolutions, QS8 add / pooling / fully
# connected; Debian libxnnpack-dev, built at run time), batch 1 and 32, 1 and
# 2 threads. Every round runs each case once in the same order; medians over
# the rounds; ratios crest int8 / crest fp32 (the issue asks <= 0.5) and
# crest int8 / XNNPACK int8 (<= 0.9); then crest int16 / fp32 and / int8.
# usage: bench/race_q8.sh [BUILD] [ROUNDS] [ITERS]   (defaults build 5 20)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
ROUNDS="${2:-5}"
ITERS="${3:-20}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
MNV2="$CREST_DATA/models/mobilenet_v2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-race-q8.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
[ -x "$BUILD/crest" ] || { echo "no $BUILD/crest: make all first" >&2; exit 1; }
gcc -std=c11 -O2 -march=native -o "$WORK/xnn_q8" bench/xnn_mobilenet_v2_q8.c \
    -lXNNPACK -lpthreadpool -lpthread -lm
make -s "$BUILD/bench/idx_to_folder" BUILD="$BUILD"
"$BUILD/bench/idx_to_folder" "$CREST_DATA/fashion-mnist/train-images-idx3-ubyte" \
    "$CREST_DATA/fashion-mnist/train-labels-idx1-ubyte" 200 "$WORK/calib" > /dev/null
"$BUILD/crest" train --base "$MNV2" --data "$WORK/calib" --epochs 1 --out "$WORK/mnv2" \
    > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log" >&2; exit 1; }
"$BUILD/crest" quantize "$WORK/mnv2" --calibrate "$WORK/calib" --samples 200 \
    --out "$WORK/mnv2_q8" > "$WORK/quantize.log" 2>&1 || { cat "$WORK/quantize.log" >&2; exit 1; }
"$BUILD/crest" quantize "$WORK/mnv2" --calibrate "$WORK/calib" --samples 200 --activations int16 \
    --out "$WORK/mnv2_q16" > "$WORK/quantize.log" 2>&1 || { cat "$WORK/quantize.log" >&2; exit 1; }

run() {   # run PEER BATCH THREADS -> ms/image, median of one measurement
  local it=$ITERS
  [ "$2" -gt 1 ] && it=$(( ITERS / 4 > 3 ? ITERS / 4 : 3 ))
  case "$1" in
    fp32) "$BUILD/crest" bench "$WORK/mnv2" --batch "$2" --threads "$3" --iters "$it" --json |
            sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' ;;
    int8) "$BUILD/crest" bench "$WORK/mnv2_q8" --batch "$2" --threads "$3" --iters "$it" --json |
            sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' ;;
    int16) "$BUILD/crest" bench "$WORK/mnv2_q16" --batch "$2" --threads "$3" --iters "$it" --json |
            sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' ;;
    xnn8) "$WORK/xnn_q8" "$3" "$2" "$it" | sed -n 's/^median \([0-9.]*\) ms\/img.*/\1/p' ;;
  esac
}
echo "load before: $(uptime)"
for r in $(seq "$ROUNDS"); do
  for b in 1 32; do
    for t in 1 2; do
      for p in fp32 int8 int16 xnn8; do
        echo "$p $b $t $(run "$p" "$b" "$t")" >> "$WORK/times"
      done
    done
  done
done
echo "load after:  $(uptime)"
med() { awk -v p="$1" -v b="$2" -v t="$3" '$1 == p && $2 == b && $3 == t { print $4 }' "$WORK/times" |
        sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-6s %-7s %10s %10s %10s %11s %11s %10s %11s %11s\n' batch threads "crest fp32" \
       "crest int8" "xnn int8" "int8/fp32" "int8/xnn8" "crest i16" "int16/fp32" "int16/int8"
for b in 1 32; do
  for t in 1 2; do
    f=$(med fp32 "$b" "$t"); q=$(med int8 "$b" "$t"); x=$(med xnn8 "$b" "$t")
    s=$(med int16 "$b" "$t")
    awk -v b="$b" -v t="$t" -v f="$f" -v q="$q" -v x="$x" -v s="$s" 'BEGIN {
      printf "%-6s %-7s %10.3f %10.3f %10.3f %11.3f %11.3f %10.3f %11.3f %11.3f\n", b, t, f, q,
             x, q / f, q / x, s, s / f, s / q }'
  done
done
