#!/usr/bin/env bash
# All peer benchmarks in one run, with ratios:
#   1. MLP training throughput, crest vs PyTorch (threads 1 and 2)
#   2. MobileNetV2 forward ms/image at batch 1 and 32 with 2 threads:
#      crest (`crest bench`) vs ONNX Runtime (onnxruntime-node) and PyTorch;
#   3. peak RSS of crest infer; 4. the fine-tuning race against PyTorch on
#      OpenBLAS (bench/finetune_race.sh).
# usage: bench/run_all.sh [BUILD]
# needs: make all bench; tools/setup.sh --bench (python3-torch, onnxruntime-node)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
cd "$ROOT"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
PY=/usr/bin/python3
MODEL="$CREST_DATA/models/mobilenet_v2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "== MLP training throughput (Fashion-MNIST, batch 32, Adam)"
bash bench/mlp_throughput.sh "$BUILD"

echo "== MobileNetV2 forward, 2 threads"
$PY bench/torch_mobilenet.py "$MODEL" tests/golden/mobilenet_v2 "$WORK/mnv2.onnx" \
    --bench-threads 2 2> "$WORK/torch.log" > "$WORK/torch.json" || { cat "$WORK/torch.log"; exit 1; }
grep 'golden' "$WORK/torch.log"
node bench/ort_mobilenet.js "$WORK/mnv2.onnx" --threads 2 --batches 1,32 > "$WORK/ort.json"
cat "$WORK/torch.json" "$WORK/ort.json"

ms() {  # ms() FILE BATCH -> median ms/image of that batch
  grep "\"batch\": *$2[,}]" "$1" | sed -n 's/.*"ms_per_image_median": *\([0-9.e+-]*\).*/\1/p' | head -1
}
: > "$WORK/crest.json"
for b in 1 32; do
  "$BUILD/crest" bench "$MODEL" --batch "$b" --threads 2 --iters "$([ "$b" = 1 ] && echo 30 || echo 6)" --json \
    | sed 's/^{/{"peer": "crest", /' >> "$WORK/crest.json"
done
cat "$WORK/crest.json"
for b in 1 32; do
  awk -v b="$b" -v c="$(ms "$WORK/crest.json" "$b")" -v o="$(ms "$WORK/ort.json" "$b")" \
      -v p="$(ms "$WORK/torch.json" "$b")" 'BEGIN {
    printf "mobilenet_v2 batch=%s: crest %.2f ms/image, onnxruntime %.2f (crest/ort %.2fx), pytorch %.2f (crest/torch %.2fx)\n",
           b, c, o, c / o, p, c / p }'
done

echo "== peak RSS of crest infer (issue 11 bound)"
bash bench/infer_rss.sh "$BUILD" 5

echo "== fine-tuning step, MobileNetV2 batch 32, crest vs PyTorch on OpenBLAS (issue 11)"
bash bench/finetune_race.sh "$BUILD" 5
