#!/usr/bin/env bash
# MobileNetV2 224 forward, crest vs the XNNPACK peer, interleaved in one run:
#   for each round: crest 1 thread, crest 2 threads, XNNPACK 1, XNNPACK 2
#   (at batch 1 and at batch 32), then medians over the rounds and ratios:
#   crest / XNNPACK at each thread count, and 1-thread / 2-thread speed-ups.
# The XNNPACK peer (../shared/peers, Debian libxnnpack-dev + libpthreadpool-dev)
# is built at run time into a temporary folder; PEERS points at its sources.
# usage: bench/xnnpack_race.sh [BUILD] [ROUNDS] [ITERS]   (defaults build 5 20)
# The machine may be shared: also print `uptime` before and after, and read
# the ratios rather than the absolute times.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
ROUNDS="${2:-5}"
ITERS="${3:-20}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
PEERS="${PEERS:-$ROOT/../../shared/peers}"
[ -f "$PEERS/xnnpack_mobilenet_v2.c" ] || PEERS=/work/shared/peers
MODEL="$CREST_DATA/models/mobilenet_v2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-xnn.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

gcc -O3 -march=native -o "$WORK/xnn_mnv2" "$PEERS/xnnpack_mobilenet_v2.c" \
    -lXNNPACK -lpthreadpool -lpthread -lm
[ -x "$BUILD/crest" ] || { echo "no $BUILD/crest: make all first" >&2; exit 1; }

crest_ms() {  # threads batch -> median ms/image
  "$BUILD/crest" bench "$MODEL" --threads "$1" --batch "$2" --iters "$ITERS" --json |
    sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p'
}
xnn_ms() {    # threads batch -> median ms/image
  "$WORK/xnn_mnv2" "$1" "$2" "$ITERS" | sed -n 's/^median \([0-9.]*\) ms\/img.*/\1/p'
}

echo "load before: $(uptime)"
for r in $(seq "$ROUNDS"); do
  for b in 1 32; do
    for t in 1 2; do
      echo "crest $b $t $(crest_ms $t $b)" >> "$WORK/times"
      echo "xnn $b $t $(xnn_ms $t $b)" >> "$WORK/times"
    done
  done
  echo "round $r done" >&2
done
echo "load after:  $(uptime)"

median() {  # who batch threads
  awk -v w="$1" -v b="$2" -v t="$3" '$1 == w && $2 == b && $3 == t { print $4 }' "$WORK/times" |
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
                                           else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > 0 ? a / b : 0) }'; }
printf '%-10s %8s %10s %10s %12s\n' "batch" "threads" "crest ms" "xnnpack ms" "crest/xnn"
for b in 1 32; do
  for t in 1 2; do
    c=$(median crest $b $t); x=$(median xnn $b $t)
    printf '%-10s %8s %10.3f %10.3f %12.3f\n' "$b" "$t" "$c" "$x" "$(div "$c" "$x")"
  done
done
for b in 1 32; do
  c1=$(median crest $b 1); c2=$(median crest $b 2); x1=$(median xnn $b 1); x2=$(median xnn $b 2)
  printf 'batch %-3s 2-thread speed-up: crest %.2fx, xnnpack %.2fx\n' "$b" \
    "$(div "$c1" "$c2")" "$(div "$x1" "$x2")"
done
