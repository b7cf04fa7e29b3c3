#!/usr/bin/env bash
# Peak RSS of `crest infer` on a model at batch 1 against issue 11's bound:
# 1.5 x (the weights, float32, + the two largest layer outputs of one
# sample), both read from `crest summary --json`. Median of ROUNDS runs
# under /usr/bin/time -v, random input, 2 threads.
# usage: bench/infer_rss.sh [BUILD] [ROUNDS] [MODEL SHAPE]
#        (defaults build 5 $CREST_DATA/models/mobilenet_v2 1,224,224,3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
ROUNDS="${2:-5}"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
MODEL="${3:-$CREST_DATA/models/mobilenet_v2}"
shape="${4:-1,224,224,3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-rss.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$ROOT/$BUILD/crest" summary "$MODEL" --json > "$WORK/summary.json"
read -r weights acts < <(node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const sizes = s.layers.map(l => l.output_shape.slice(1).reduce((a, d) => a * d, 1))
                        .sort((a, b) => b - a);
  console.log(s.total_params * 4, (sizes[0] + sizes[1]) * 4);
' "$WORK/summary.json")
n=$(( $(echo "$shape" | tr ',' '*') ))
head -c $(( n * 4 )) /dev/urandom > "$WORK/x.f32"
for r in $(seq "$ROUNDS"); do
  /usr/bin/time -v "$ROOT/$BUILD/crest" infer "$MODEL" --input "$WORK/x.f32" --shape "$shape" \
      --out "$WORK/y.f32" --threads 2 2> "$WORK/err" > /dev/null
  sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/err"
done | sort -n > "$WORK/rss"
med=$(sed -n "$(( (ROUNDS + 1) / 2 ))p" "$WORK/rss")
awk -v k="$med" -v w="$weights" -v a="$acts" -v m="$MODEL" 'BEGIN {
  mb = 1048576; bound = 1.5 * (w + a) / mb
  printf "%s: peak RSS %.1f MB (median); weights %.1f MB + two largest outputs %.1f MB; " \
         "bound 1.5x = %.1f MB; ratio to bound %.2f\n", m, k / 1024, w / mb, a / mb, bound,
         (k / 1024) / bound }'
