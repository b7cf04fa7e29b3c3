#!/usr/bin/env bash
# `mpirun crest train --base` (issue 14), on this one machine:
#   1. extraction of the same N images (default 2,000 Fashion-MNIST, through
#      MobileNetV2 224) by 1 rank of 1 thread and by 2 ranks of 1 thread,
#      ROUNDS rounds interleaved; the wall time crest prints ("features
#      (train): ... in X s", rank 0, after the slowest rank's share is
#      gathered), medians and the speed-up;
#   2. the head's gradient exchange on 2 ranks: MPI_Allreduce of its P
#      floats and MPI_Allgatherv of a batch's 4 micro-shard rows (what crest
#      exchanges), bench/mpi_exchange.c, built here with mpicc;
#   3. the head's training time (epochs 5, batch 32) on 1 and 2 ranks.
# usage: bench/mpi.sh [BUILD] [N] [ROUNDS]   (BUILD: an MPI build, default build-mpi)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build-mpi}"
N="${2:-2000}"
ROUNDS="${3:-3}"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
C="$ROOT/$BUILD/crest"
MODEL="$CREST_DATA/models/mobilenet_v2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-mpi.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
secs() { sed -n 's/^features (train): .* in \([0-9.]*\) s .*/\1/p' "$1"; }
head_s() { sed -n 's/^head training: \([0-9.]*\) s.*/\1/p' "$1"; }
for r in $(seq "$ROUNDS"); do
  for np in 1 2; do
    "${MPIRUN[@]}" -np "$np" "$C" train --base "$MODEL" --data fashion-mnist --limit "$N" \
      --threads 1 --epochs 5 --out "$WORK/m$np" > /dev/null 2> "$WORK/err"
    echo "$np $(secs "$WORK/err") $(head_s "$WORK/err")" | tee -a "$WORK/times"
  done
done
med() { awk -v np="$1" -v c="$2" '$1 == np { print $c }' "$WORK/times" | sort -n |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
e1=$(med 1 2); e2=$(med 2 2); h1=$(med 1 3); h2=$(med 2 3)
awk -v a="$e1" -v b="$e2" -v n="$N" -v h1="$h1" -v h2="$h2" 'BEGIN {
  printf "extraction of %d images: 1 rank x 1 thread %.2f s (%.2f ms/image), 2 ranks x 1 thread %.2f s: %.2fx\n", n, a, 1e3 * a / n, b, a / b
  printf "head training (5 epochs): 1 rank %.3f s, 2 ranks %.3f s\n", h1, h2 }'
mpicc -std=c11 -O2 -o "$WORK/mpi_exchange" "$ROOT/bench/mpi_exchange.c"
"${MPIRUN[@]}" -np 2 "$WORK/mpi_exchange" 12810 4 500   # Dense(1280 -> 10) + bias
