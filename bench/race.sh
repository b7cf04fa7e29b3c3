#!/usr/bin/env bash
# The forward-pass race (issue 11), every peer interleaved in one run:
#   MobileNetV2 224: crest, XNNPACK, ONNX Runtime; batch 1 and 32
#   InceptionV3 299: crest, XNNPACK; batch 1
# each at 1 and 2 threads. Every round runs each (network, peer, batch,
# threads) once, in the same order; then medians over the rounds, the
# crest/peer ratios and each side's 2-thread speed-up.
# Peers: the XNNPACK harnesses of ../shared/peers (Debian libxnnpack-dev +
# libpthreadpool-dev, built at run time); ONNX Runtime is onnxruntime-node
# (tools/setup.sh --bench) on the MobileNetV2 that bench/torch_mobilenet.py
# rebuilds from the same TF.js model and exports (it checks the goldens).
# All peers get random input; crest's MobileNetV2 runs the whole nsfwjs
# model (with its small head) as the ONNX export does.
# usage: bench/race.sh [BUILD] [ROUNDS] [ITERS]   (defaults build 5 20)
# The machine may be shared: `uptime` is printed before and after; read the
# ratios rather than the absolute times.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
ROUNDS="${2:-5}"
ITERS="${3:-20}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
[ -f "$PEERS/xnnpack_mobilenet_v2.c" ] || PEERS=/work/shared/peers
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-race.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
[ -x "$BUILD/crest" ] || { echo "no $BUILD/crest: make all first" >&2; exit 1; }

for net in mobilenet_v2 inception_v3; do
  gcc -O3 -march=native -o "$WORK/xnn_$net" "$PEERS/xnnpack_$net.c" \
      -lXNNPACK -lpthreadpool -lpthread -lm
done
/usr/bin/python3 bench/torch_mobilenet.py "$CREST_DATA/models/mobilenet_v2" \
    tests/golden/mobilenet_v2 "$WORK/mnv2.onnx" > "$WORK/export.log" 2>&1 ||
  { cat "$WORK/export.log" >&2; exit 1; }

# run PEER NET BATCH THREADS -> median ms/image of one measurement
run() {
  local it=$ITERS
  [ "$3" -gt 1 ] && it=$(( ITERS / 4 > 3 ? ITERS / 4 : 3 ))
  case "$1" in
    crest) "$BUILD/crest" bench "$CREST_DATA/models/$2" --threads "$4" --batch "$3" \
               --iters "$it" --json | sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' ;;
    xnn)   "$WORK/xnn_$2" "$4" "$3" "$it" | sed -n 's/.*\(median\|avg\) \([0-9.]*\) ms\/img.*/\2/p' ;;
    ort)   node bench/ort_mobilenet.js "$WORK/mnv2.onnx" --threads "$4" --batches "$3" \
               --iters "$it" | sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' ;;
  esac
}

CASES="mobilenet_v2:1 mobilenet_v2:32 inception_v3:1"
peers_of() { [ "$1" = mobilenet_v2 ] && echo "crest xnn ort" || echo "crest xnn"; }
echo "load before: $(uptime)"
for r in $(seq "$ROUNDS"); do
  for c in $CASES; do
    net=${c%:*}; b=${c#*:}
    for t in 1 2; do
      for p in $(peers_of "$net"); do
        echo "$p $net $b $t $(run "$p" "$net" "$b" "$t")" >> "$WORK/times"
      done
    done
  done
  echo "round $r done" >&2
done
echo "load after:  $(uptime)"

median() {  # PEER NET BATCH THREADS
  awk -v p="$1" -v n="$2" -v b="$3" -v t="$4" '$1 == p && $2 == n && $3 == b && $4 == t && $5 != "" { print $5 }' \
      "$WORK/times" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
                                                          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
printf '%-13s %5s %7s %9s %9s %9s %10s %10s\n' network batch threads crest xnnpack ort crest/xnn crest/ort
for c in $CASES; do
  net=${c%:*}; b=${c#*:}
  for t in 1 2; do
    cm=$(median crest "$net" "$b" "$t"); xm=$(median xnn "$net" "$b" "$t"); om=$(median ort "$net" "$b" "$t")
    printf '%-13s %5s %7s %9.3f %9.3f %9.3f %10s %10s\n' "$net" "$b" "$t" "$cm" "$xm" "$om" \
        "$(div "$cm" "$xm")" "$([ "$om" = 0 ] && echo - || div "$cm" "$om")"
  done
done
for c in $CASES; do
  net=${c%:*}; b=${c#*:}
  line="2-thread speed-up, $net batch $b:"
  for p in $(peers_of "$net"); do
    line="$line $p $(div "$(median "$p" "$net" "$b" 1)" "$(median "$p" "$net" "$b" 2)")x"
  done
  echo "$line"
done
