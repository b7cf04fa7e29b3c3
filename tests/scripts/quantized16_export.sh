#!/usr/bin/env bash
# TFLite export of models quantized with int16 activations (crest quantize
# --activations int16: TFLite's "16x8", int16 activations, int8 per-channel
# weights, int64 biases). The file states crest's numbers (q16_params.py:
# every int16 tensor has zero point 0 and a scale crest calibrated, biases
# int64 in units of input x weight scale, ADD the general-scale int16 one)
# and LiteRT.js runs it with the same top class as crest's int16 model on
# real Fashion-MNIST images, its probabilities within one int16 step
# (1/32768) of crest's for the MobileNetV2 head model of quantize16.sh and
# the same backbone with global max pooling (seen: 1.2e-7, 1.8e-7: float
# rounding only, LiteRT's convolutions, ADDs and poolings round as crest's)
# and within four for an MLP (seen: 3.7e-5, 4.9e-5 with the sanitizers'
# sizes): LiteRT's int16 FULLY_CONNECTED requantizes with the full 31-bit
# multiplier where crest's q16 gemm (as TFLite's reference int64
# rescaling) rounds it to 16 bits, so about one hidden code in 17 is one
# step apart (190 of 3,200 on 200 images; none with the 31-bit form). Arm
# NN 20.08 has no int64 tensors: the file is reported unsupported there
# (exit 3 of its runner), never wrong. The ONNX export still refuses such
# a model.
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte" ] || { echo "FAIL: no fashion-mnist: run tools/setup.sh"; exit 1; }
PY=/usr/bin/python3
MOB="$CREST_DATA/models/mobilenet_v2"
CACHE="${CREST_FEATURE_CACHE:-$CREST_DATA/.cache/features}"
LITERT="$ROOT/tests/tflite/litert_compare.mjs"
STEP=0.000030517578125   # 1/32768
[ -f "${CREST_LITERT:-$ROOT/tools/node_modules/@litertjs/core}/package.json" ] ||
  { echo "FAIL: @litertjs/core is missing from tools/node_modules (tools/setup.sh installs it)"; exit 1; }

# fm FILE N SIZE: the first N Fashion-MNIST test images in [0, 1], as SIZE x
# SIZE x 3 (each pixel repeated, grey in the 3 channels) or, SIZE 28, 784 values
fm() {
  $PY -c "
import numpy as np
b = np.frombuffer(open('$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte', 'rb').read()[16:16 + $2 * 784], np.uint8)
x = b.reshape($2, 28, 28)
if $3 != 28:
    r = $3 // 28
    x = x.repeat(r, 1).repeat(r, 2)[..., None].repeat(3, 3)
(x / np.float32(255)).astype('<f4').tofile('$1')"
}
top1() {   # top1 A.f32 B.f32 CLASSES: rows whose largest value is at the same index
  $PY -c "
import numpy as np
a, b = (np.fromfile(f, '<f4').reshape(-1, $3) for f in ('$1', '$2'))
print(int((a.argmax(1) == b.argmax(1)).sum()))"
}

# check NAME DIR16 N X.f32 SHAPE CLASSES TOL: export DIR16 (int16) and DIR8
# (uint8: the size to compare with), check the file's numbers, run it in
# LiteRT and Arm NN on the N samples and compare with crest infer
check() {
  local name="$1" d="$2" n="$3" x="$4" shape="$5" k="$6" tol="$7" out="$tmp/$1.tflite" l r
  "$C" export "$d" --format tflite --out "$out" > /dev/null 2> "$tmp/err" ||
    { die "$name: export: $(head -c 300 "$tmp/err")"; return 1; }
  (cd "$ROOT/tests/tflite" && $PY q16_params.py "$out" "$d") > "$tmp/par" 2>&1 ||
    { die "$name: $(tail -1 "$tmp/par")"; return 1; }
  "$C" infer "$d" --input "$x" --shape "$n,$shape" --out "$tmp/$name.ref" 2> "$tmp/err" ||
    { die "$name: crest infer: $(head -c 300 "$tmp/err")"; return 1; }
  l="$(node "$LITERT" "$out" "$x" "$n" "$tmp/$name.ref" "$tol" "$tmp/$name.lrt" 2> "$tmp/err")" ||
    { die "$name: LiteRT is not within $tol of crest: $l $(grep -v '^INFO\|^WARN' "$tmp/err" | head -c 300)"; return 1; }
  local same; same=$(top1 "$tmp/$name.ref" "$tmp/$name.lrt" "$k")
  [ "$same" = "$n" ] || { die "$name: LiteRT's top class is crest's on $same of $n inputs"; return 1; }
  r="$($PY "$ROOT/tests/tflite/armnn_compare.py" "$out" "$x" "$n" "$tmp/$name.ref" $STEP 2> "$tmp/err")"
  case $? in
    0) r="armnn $r" ;;
    3) r="Arm NN: unsupported ($(grep -v Skipped "$tmp/err" | grep -o 'Unsupported data type[^.]*' | head -1))" ;;
    *) die "$name: Arm NN disagrees with crest: $r $(grep -v Skipped "$tmp/err" | head -c 300)"; return 1 ;;
  esac
  echo "ok $name: $(cat "$tmp/par"); litert $l, top-1 $same/$n; $r; $(stat -c %s "$out") bytes"
}
# size NAME DIR8: the uint8 export of the same model, for the sizes
size() {
  "$C" export "$2" --format tflite --out "$tmp/$1_u8.tflite" > /dev/null 2>&1 || { die "$1: uint8 export"; return; }
  local a b; a=$(stat -c %s "$tmp/$1.tflite" 2> /dev/null); b=$(stat -c %s "$tmp/$1_u8.tflite")
  echo "$1: int16 file $a bytes, uint8 file $b"
  # int8 weights either way; int64 biases and int16 activations add little
  [ -n "$a" ] && [ "$((a * 100))" -lt "$((b * 110))" ] || die "$1: the int16 file ($a) is not within 10% of the uint8 one ($b)"
}

NS=200 NR=16 NM=100
[ -n "${CREST_SANITIZED:-}" ] && NS=50 NR=4 NM=20

# 1. the Fashion-MNIST MLP: its hidden Dense int16, the classifier float on its codes
if "$C" train --data fashion-mnist --hidden 16 --epochs 1 --limit 2000 --seed 1 --out "$tmp/mlp" \
     > /dev/null 2> "$tmp/err"; then
  for a in int16 uint8; do
    "$C" quantize "$tmp/mlp" --calibrate fashion-mnist --samples $NS --activations $a \
      --out "$tmp/mlp_$a" > /dev/null 2> "$tmp/err" || die "mlp: quantize $a: $(tail -2 "$tmp/err")"
  done
  fm "$tmp/x784.f32" $NM 28
  check mlp16 "$tmp/mlp_int16" $NM "$tmp/x784.f32" 784 10 $(awk -v s=$STEP 'BEGIN { print 4 * s }') && {
    $PY "$ROOT/tests/tflite/ops.py" "$tmp/mlp16.tflite" > "$tmp/ops" 2>&1
    [ "$(tr '\n' ' ' < "$tmp/ops")" = "RESHAPE float32 QUANTIZE float32 FULLY_CONNECTED int16 DEQUANTIZE int16 FULLY_CONNECTED float32 SOFTMAX float32 " ] ||
      die "mlp16: operators $(tr '\n' ' ' < "$tmp/ops")"
    size mlp16 "$tmp/mlp_uint8"
    # the comparison sees a wrong bias: the same file with its biases doubled
    (cd "$ROOT/tests/tflite" && $PY q16_params.py "$tmp/mlp16.tflite" - --biases-times 2 "$tmp/bad.tflite") &&
      [ -s "$tmp/bad.tflite" ] || die "mlp16: could not write the doubled-bias copy"
    node "$LITERT" "$tmp/bad.tflite" "$tmp/x784.f32" $NM "$tmp/mlp16.ref" "$(awk -v s=$STEP 'BEGIN { print 4 * s }')" \
      > /dev/null 2>&1 && die "mlp16: LiteRT agrees with crest on a file with doubled biases"; }
else
  die "MLP training: $(tail -2 "$tmp/err")"
fi

# 2. the MobileNetV2 head (quantize16.sh's): every op but the softmax int16
if "$C" train --base "$MOB" --data fashion-mnist --limit 2000 --epochs 10 --seed 1 --cache "$CACHE" \
     --out "$tmp/m" > /dev/null 2> "$tmp/err"; then
  for a in int16 uint8; do
    "$C" quantize "$tmp/m" --calibrate fashion-mnist:train --samples $NS --activations $a \
      --out "$tmp/m_$a" > /dev/null 2> "$tmp/err" || die "mobilenet: quantize $a: $(tail -2 "$tmp/err")"
  done
  fm "$tmp/x224.f32" $NR 224
  check mnv2_head16 "$tmp/m_int16" $NR "$tmp/x224.f32" 224,224,3 10 $STEP && {
    $PY "$ROOT/tests/tflite/ops.py" "$tmp/mnv2_head16.tflite" > "$tmp/ops" 2>&1
    [ "$(grep -c int16 "$tmp/ops")" -ge 60 ] && [ "$(grep -c float32 "$tmp/ops")" -le 5 ] ||
      die "mnv2_head16: not int16 throughout: $(sort "$tmp/ops" | uniq -c | tr '\n' ' ')"
    size mnv2_head16 "$tmp/m_uint8"; }
  expect_fail 3 "int16 activations.*ONNX" "$C" export "$tmp/m_int16" --format onnx --out "$tmp/x.onnx"
else
  die "train the MobileNetV2 head: $(tail -2 "$tmp/err")"
fi

# 3. the same backbone with global max pooling (MAX_POOL_2D over the image, int16)
if "$C" train --base "$MOB" --data fashion-mnist --limit 2000 --epochs 3 --seed 1 --pooling max \
     --cache "$CACHE" --out "$tmp/mx" > /dev/null 2> "$tmp/err" &&
   "$C" quantize "$tmp/mx" --calibrate fashion-mnist:train --samples $NS --activations int16 \
     --out "$tmp/mx_int16" > /dev/null 2> "$tmp/err"; then
  check mnv2_max16 "$tmp/mx_int16" $NR "$tmp/x224.f32" 224,224,3 10 $STEP &&
    { $PY "$ROOT/tests/tflite/ops.py" "$tmp/mnv2_max16.tflite" | grep -q "^MAX_POOL_2D int16" ||
        die "mnv2_max16: no int16 MAX_POOL_2D"; }
else
  die "the max-pooling head: $(tail -2 "$tmp/err")"
fi

[ "$fail" = 0 ] && echo "quantized16_export: ok"
exit $fail
