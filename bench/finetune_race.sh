#!/usr/bin/env bash
# The fine-tuning race (issue 11): time per training step (forward, backward,
# Adam update) of MobileNetV2 224 cut at out_relu + global average pooling +
# Dense(10, softmax), the backbone's last N layers trainable, batch 32, crest
# (bench/bench_finetune.c, as `crest train --base --fine-tune N` runs it)
# against PyTorch 1.13 on OpenBLAS (bench/torch_finetune.py), same threads,
# rounds interleaved, medians over rounds, ratios: of the medians (crest_x)
# and the median of each round's ratio (paired_x: both sides of a ratio ran
# within the same minute, so a loaded machine's drift cancels better).
#
# usage: bench/finetune_race.sh [BUILD] [ROUNDS] [STEPS]
#   env: FT_N="20 56" (layers unfrozen), FT_THREADS=2, FT_BATCH=32,
#        FT_TORCH="channels_last nchw" (PyTorch memory formats raced; crest is
#        compared with the faster), CREST_DATA (default data/)
# Needs: make bench; Debian python3-torch and libopenblas0-pthread
# (tools/setup.sh --bench), whose libblas.so.3 alternative torch then loads.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"; ROUNDS="${2:-5}"; STEPS="${3:-3}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
MODEL="$CREST_DATA/models/mobilenet_v2"
PY=/usr/bin/python3     # Debian's python3 (python3-torch); a pyenv shim would not see it
NS="${FT_N:-20 56}"; T="${FT_THREADS:-2}"; B="${FT_BATCH:-32}"
LAYOUTS="${FT_TORCH:-channels_last nchw}"
[ -x "$BUILD/bench/bench_finetune" ] || make -s BUILD="$BUILD" "$BUILD/bench/bench_finetune"
export OPENBLAS_NUM_THREADS="$T" OMP_NUM_THREADS="$T"
# libgomp threads that spin while waiting lose their core on a loaded VM:
# torch runs faster here with passive waits (override: OMP_WAIT_POLICY=ACTIVE)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
field() { sed -n "s/.*\"$1\": \"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" "$2"; }

echo "fine-tuning race: batch $B, $T threads, $ROUNDS rounds of $STEPS steps (+1 warm-up); $(uptime)"
for r in $(seq 1 "$ROUNDS"); do
  for n in $NS; do
    "$BUILD/bench/bench_finetune" "$MODEL" --threads "$T" --fine-tune "$n" --batch "$B" \
        --steps "$STEPS" --warmup 1 > "$out/crest.$n.$r"
    for l in $LAYOUTS; do
      flag=(); [ "$l" = channels_last ] && flag=(--channels-last)
      $PY bench/torch_finetune.py "$MODEL" --threads "$T" --fine-tune "$n" --batch "$B" \
          --steps "$STEPS" --warmup 1 "${flag[@]}" > "$out/torch_$l.$n.$r"
    done
    echo "round $r, N=$n: crest $(field ms_per_step "$out/crest.$n.$r") ms;" \
         "$(for l in $LAYOUTS; do printf 'torch %s %s ms; ' "$l" "$(field ms_per_step "$out/torch_$l.$n.$r")"; done)"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "load after: $(uptime)"
printf '%-4s %-18s %12s %12s %10s %10s\n' N first_trainable crest_ms torch_ms crest_x paired_x
for n in $NS; do
  a=$(cat "$out/crest.$n."* | sed -n 's/.*"first_trainable": "\([^"]*\)".*/\1/p' | head -1)
  c=$(for f in "$out/crest.$n."*; do field ms_per_step "$f"; done | median)
  best=""
  for l in $LAYOUTS; do
    b=$(cat "$out/torch_$l.$n."* | sed -n 's/.*"first_trainable": "\([^"]*\)".*/\1/p' | head -1)
    [ "$a" = "$b" ] || { echo "N=$n: crest trains from $a, torch from $b" >&2; exit 1; }
    p=$(for f in "$out/torch_$l.$n."*; do field ms_per_step "$f"; done | median)
    # each round's torch / crest (the same minute's load on both), their median
    pr=$(for r in $(seq 1 "$ROUNDS"); do
           awk -v c="$(field ms_per_step "$out/crest.$n.$r")" \
               -v p="$(field ms_per_step "$out/torch_$l.$n.$r")" 'BEGIN { print p / c }'
         done | median)
    printf '%-4s %-18s %12.1f %12.1f %9.2fx %9.2fx   torch %s, %s\n' "$n" "$a" "$c" "$p" \
           "$(awk -v c="$c" -v p="$p" 'BEGIN { print p / c }')" "$pr" "$l" \
           "$(field blas "$out/torch_$l.$n.1")"
    best=$(awk -v b="$best" -v p="$p" 'BEGIN { print (b == "" || p < b) ? p : b }')
  done
  awk -v n="$n" -v c="$c" -v p="$best" -v t="$T" 'BEGIN {
    printf "N=%s, %s threads: crest %.1f ms/step, fastest PyTorch %.1f ms/step: crest %.2fx faster (issue 11: >= 2x)\n",
           n, t, c, p, p / c }'
done
