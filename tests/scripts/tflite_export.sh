#!/usr/bin/env bash
# crest export --format tflite, verified by a runtime that is not crest's:
# Arm NN (Debian python3-pyarmnn: its TfLite parser and reference CPU
# backend, tools/setup.sh) must give crest's outputs on the same inputs
# within 1e-5 of their magnitude (max |armnn - crest| <= 1e-5 * max(1,
# max |crest|)). Models: MobileNetV2 (a TF.js import), a MobileNetV2
# transfer model crest train made, the Fashion-MNIST MLP, the custom-model,
# Lambda and expression heads of the examples (through
# build/tests/crest_examples, which registers their C code), and every
# layer golden case Arm NN 20.08 can run; the penguins model
# (DenseFeatures) is refused with exit 3 naming the layer, nothing written.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-${CREST_BUILD:-build}}"
C="$ROOT/$BUILD/crest"
X="$ROOT/$BUILD/tests/crest_examples"
PY=/usr/bin/python3
RUN="$ROOT/tests/tflite/armnn_compare.py"
export CREST_DATA="${CREST_DATA:-$ROOT/data}"
MNV2="$CREST_DATA/models/mobilenet_v2"
GOLD="$ROOT/tests/golden/layers"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
die() { echo "FAIL: $*"; fail=1; }

$PY -c 'import pyarmnn' 2> /dev/null ||
  { echo "FAIL: python3-pyarmnn is missing (tools/setup.sh installs it)"; exit 1; }

# rand_f32 FILE COUNT LO HI SEED: uniform floats
rand_f32() {
  $PY -c "import numpy as np; np.random.seed($5); np.random.uniform($3, $4, $2).astype('<f4').tofile('$1')"
}

# verify NAME MODEL N X.f32 SHAPE: export MODEL, run it in Arm NN on the N
# samples of X.f32 (each of SHAPE) and compare with crest infer. With
# ALLOW_REFUSAL, a layer crest cannot export (exit 3 naming it, no file) or
# an operator Arm NN 20.08 cannot run (exit 3 of the runner) is reported,
# not failed; a disagreement always fails.
verify() {
  local name="$1" model="$2" n="$3" x="$4" shape="$5" out="$tmp/$1.tflite" C="${WITH:-$C}"
  "$C" export "$model" --format tflite --out "$out" > /dev/null 2> "$tmp/err"
  local rc=$?
  if [ "$rc" = 3 ] && [ -n "${ALLOW_REFUSAL:-}" ] && [ ! -e "$out" ] &&
     grep -q "layer '.*'.*cannot be exported to TFLite" "$tmp/err"; then
    echo "refused $name: $(head -c 200 "$tmp/err")"
    return
  fi
  [ "$rc" = 0 ] || { die "$name: export: $(head -c 300 "$tmp/err")"; return; }
  [ "$(head -c 8 "$out" | tail -c 4)" = "TFL3" ] || { die "$name: no TFL3 identifier"; return; }
  "$C" infer "$model" --input "$x" --shape "$n,$shape" --out "$tmp/$name.ref" 2> "$tmp/err" ||
    { die "$name: crest infer: $(head -c 300 "$tmp/err")"; return; }
  local r
  r="$($PY "$RUN" "$out" "$x" "$n" "$tmp/$name.ref" 1e-5 2> "$tmp/err")"
  rc=$?
  if [ "$rc" = 3 ] && [ -n "${ALLOW_REFUSAL:-}" ]; then
    echo "armnn-unsupported $name: $(grep -v Skipped "$tmp/err" | head -c 200)"
    return
  fi
  [ "$rc" = 0 ] ||
    { die "$name: Arm NN disagrees with crest: $r $(grep -v Skipped "$tmp/err" | head -c 300)"; return; }
  echo "ok $name: armnn $r; $(stat -c %s "$out") bytes"
}

# 1. an imported functional model (TF.js layers folder)
rand_f32 "$tmp/x224.f32" $((3 * 224 * 224 * 3)) 0 1 1
verify mobilenet_v2 "$MNV2" 3 "$tmp/x224.f32" 224,224,3

# 2. a transfer model crest train made on MobileNetV2 (frozen backbone, new head)
mkdir -p "$tmp/img/a" "$tmp/img/b"
for k in 1 2 3; do
  cp "$CREST_DATA/images/china.jpg" "$tmp/img/a/$k.jpg"
  cp "$CREST_DATA/images/flower.jpg" "$tmp/img/b/$k.jpg"
done
if "$C" train --base "$MNV2" --data "$tmp/img" --limit 6 --epochs 1 --hidden 8 --out "$tmp/tl" \
     > /dev/null 2> "$tmp/err"; then
  verify transfer_mnv2 "$tmp/tl" 3 "$tmp/x224.f32" 224,224,3
else
  die "train --base: $(tail -2 "$tmp/err")"
fi

# 3. a Dense model: the Fashion-MNIST MLP
if "$C" train --data fashion-mnist --hidden 16 --epochs 1 --limit 2000 --out "$tmp/mlp" \
     > /dev/null 2> "$tmp/err"; then
  rand_f32 "$tmp/x784.f32" $((20 * 784)) 0 1 3
  verify mlp "$tmp/mlp" 20 "$tmp/x784.f32" 784
else
  die "MLP training: $(tail -2 "$tmp/err")"
fi

# 3b. the other model kinds: custom (class TwoStage), Lambda, expression
for kind in custom lambda expr; do
  if "$X" train-example "$kind" --data fashion-mnist --limit 500 --epochs 1 --seed 1 \
       --out "$tmp/$kind" > /dev/null 2> "$tmp/err"; then
    WITH="$X" verify "$kind" "$tmp/$kind" 20 "$tmp/x784.f32" 784
  else
    die "$kind training: $(tail -2 "$tmp/err")"
  fi
done

# 4. feature columns are not exportable: a clear refusal, nothing written
if "$C" train --data penguins --label species --epochs 1 --out "$tmp/peng" > /dev/null 2> "$tmp/err"; then
  "$C" export "$tmp/peng" --format tflite --out "$tmp/peng.tflite" > /dev/null 2> "$tmp/err"
  rc=$?
  [ "$rc" = 3 ] || die "penguins: export exited $rc, not 3"
  grep -q "layer '.*': DenseFeatures .*cannot be exported to TFLite" "$tmp/err" ||
    die "penguins: message does not name the DenseFeatures layer: $(head -c 300 "$tmp/err")"
  [ -e "$tmp/peng.tflite" ] && die "penguins: a refused export left a file"
  ls "$tmp" | grep -q 'peng.tflite.tmp' && die "penguins: a refused export left a temp file"
else
  die "penguins training: $(tail -2 "$tmp/err")"
fi

# 5. the layer golden cases of 2-D images and vectors: every one exports
#    and agrees in Arm NN, or is refused by crest (exit 3 naming the layer,
#    no file) or holds an operator Arm NN 20.08 lacks; none disagrees
n_ok=0
n_refused=0
n_armnn=0
while read -r case; do
  [ -n "$case" ] || continue
  shape="$($PY -c "import json; s = json.load(open('$GOLD/$case/meta.json'))['input_shape']; print(s[0], ','.join(map(str, s[1:])))")"
  ALLOW_REFUSAL=1 verify "golden_$case" "$GOLD/$case" ${shape%% *} "$GOLD/$case/input.f32" \
    "${shape#* }" > "$tmp/line"
  cat "$tmp/line"
  grep -q '^ok ' "$tmp/line" && n_ok=$((n_ok + 1))
  grep -q '^refused ' "$tmp/line" && n_refused=$((n_refused + 1))
  grep -q '^armnn-unsupported ' "$tmp/line" && n_armnn=$((n_armnn + 1))
done < "$GOLD/cases.txt"
echo "golden layer cases exported and agreeing in Arm NN: $n_ok of $(grep -c . "$GOLD/cases.txt");" \
     "refused by crest: $n_refused; operators Arm NN 20.08 lacks: $n_armnn"
[ "$n_ok" -ge "${TFLITE_GOLDEN_MIN:-62}" ] ||
  die "only $n_ok golden cases export and agree (at least ${TFLITE_GOLDEN_MIN:-62} did)"

# 6. refusals of the command line
"$C" export "$MNV2" --format tflite --out "$tmp/no/such/dir/m.tflite" > /dev/null 2> "$tmp/err"
[ $? = 3 ] || die "export to a missing folder: not exit 3"

[ "$fail" = 0 ] && echo "tflite_export: ok"
exit "$fail"
