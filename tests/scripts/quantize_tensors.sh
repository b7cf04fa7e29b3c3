#!/usr/bin/env bash
# `crest quantize --calibrate X.f32 --shape N,D1,...`: calibration on raw
# float32 model inputs (the file crest infer reads), for models whose inputs
# are not images or tables:
#   1. the same samples as an IDX set and as .f32 (Fashion-MNIST MLP, 300
#      real training images): byte-identical quantized folders;
#   2. a 1-D CNN (tests/golden/oned_cnn: Conv1D-BN-ReLU-MaxPooling1D x2,
#      GlobalAveragePooling1D, Dense) calibrated on 64 sequences drawn as its
#      golden inputs are:
#      its Conv1D kernels int8 and batch norms folded, the held-out golden
#      inputs within 0.03 of the float probabilities with the same classes,
#      1 and 2 threads the same bits, its int8 ONNX export run by ONNX
#      Runtime within 1e-5;
#   3. a model of unknown input size ([None, None, 3]: tests/golden/dynamic)
#      calibrated at 24x20 keeps its unknown size and runs int8 at 9x13;
#   4. bad calls: no --shape (exit 2), --shape or --preprocess where they do
#      not apply (exit 2, the message naming what they are for), a shape
#      that does not fit the model or the file (exit 3), and nothing saved.
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/fashion-mnist/train-images-idx3-ubyte" ] || { echo "FAIL: no fashion-mnist: run tools/setup.sh"; exit 1; }
export NODE_PATH="$ROOT/tools/node_modules"
G="$ROOT/tests/golden"
# near A B ATOL: float32 files of one length, max |a - b| <= ATOL; the same argmax per row of K
near() {
  python3 - "$@" <<'PY'
import struct, sys
a, b = (open(f, 'rb').read() for f in sys.argv[1:3])
tol, k = float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0
if len(a) != len(b) or not a:
    sys.exit('sizes %d, %d' % (len(a), len(b)))
x = struct.unpack('<%df' % (len(a) // 4), a)
y = struct.unpack('<%df' % (len(b) // 4), b)
d = max(abs(p - q) for p, q in zip(x, y))
print('max difference %.3g' % d)
am = lambda v, i: max(range(k), key=lambda j: v[i * k + j])
if d > tol or (k and any(am(x, i) != am(y, i) for i in range(len(x) // k))):
    sys.exit('max difference %g (at most %g), or classes differ' % (d, tol))
PY
}

# 1. the same 300 images as an IDX set and as float32 values / 255
python3 - "$CREST_DATA/fashion-mnist" "$tmp/idx" "$tmp/fm300.f32" <<'PY'
import os, struct, sys
src, out, f32 = sys.argv[1:]
n = 300
img = open(os.path.join(src, 'train-images-idx3-ubyte'), 'rb').read()[16:16 + n * 784]
lab = open(os.path.join(src, 'train-labels-idx1-ubyte'), 'rb').read()[8:8 + n]
os.makedirs(out)
open(os.path.join(out, 'train-images-idx3-ubyte'), 'wb').write(struct.pack('>IIII', 0x803, n, 28, 28) + img)
open(os.path.join(out, 'train-labels-idx1-ubyte'), 'wb').write(struct.pack('>II', 0x801, n) + lab)
open(f32, 'wb').write(struct.pack('<%df' % len(img), *[v / 255.0 for v in img]))
PY
"$C" train --data fashion-mnist --limit 2000 --hidden 32 --epochs 1 --seed 1 --out "$tmp/mlp" > /dev/null 2>&1 ||
  die "train the MLP"
"$C" quantize "$tmp/mlp" --calibrate "$tmp/idx" --samples 300 --out "$tmp/q_idx" > /dev/null 2> "$tmp/err" ||
  die "quantize on the IDX set: $(tail -2 "$tmp/err")"
"$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 300,28,28 --out "$tmp/q_f32" > "$tmp/out" 2> "$tmp/err" ||
  die "quantize on .f32: $(tail -2 "$tmp/err")"
grep -q "calibrated on 300 samples of $tmp/fm300.f32" "$tmp/out" || die "quantize on .f32 says: $(head -2 "$tmp/out")"
for f in model.json $(cd "$tmp/q_idx" && ls weights*.bin); do
  cmp -s "$tmp/q_idx/$f" "$tmp/q_f32/$f" || die "quantized on IDX and on .f32: $f differs"
done
echo "1. MLP calibrated on 300 images as IDX and as .f32: the same folder"

# 2. a 1-D CNN over [300, 5] sequences, calibrated on 64 sequences drawn as
#    its golden inputs are (uniform in [-2, 2]), another seed
python3 -c "
import random, struct, sys
random.seed(11)
n = 64 * 300 * 5
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[random.uniform(-2, 2) for _ in range(n)]))" "$tmp/seq.f32"
"$C" quantize "$G/oned_cnn" --calibrate "$tmp/seq.f32" --shape 64,300,5 --out "$tmp/c8" --json > "$tmp/q.json" 2> "$tmp/err" ||
  die "quantize the 1-D CNN: $(tail -2 "$tmp/err")"
python3 -c "
import json, sys
q = json.load(open(sys.argv[1]))
assert q['samples'] == 64 and q['int8_weights'] == 3 and q['folded_batch_norms'] == 2, q" "$tmp/q.json" ||
  die "1-D CNN: want 64 samples, 3 int8 kernels, 2 folded norms: $(cat "$tmp/q.json")"
"$C" infer "$G/oned_cnn" --input "$G/oned_cnn/x.f32" --shape 4,300,5 --out "$tmp/yf.f32" 2> /dev/null || die "infer float 1-D"
"$C" infer "$tmp/c8" --input "$G/oned_cnn/x.f32" --shape 4,300,5 --out "$tmp/y1.f32" --threads 1 2> /dev/null &&
  "$C" infer "$tmp/c8" --input "$G/oned_cnn/x.f32" --shape 4,300,5 --out "$tmp/y2.f32" --threads 2 2> /dev/null ||
  die "infer int8 1-D"
near "$tmp/y1.f32" "$tmp/yf.f32" 0.03 4 || die "1-D CNN int8 against float"
cmp -s "$tmp/y1.f32" "$tmp/y2.f32" || die "1-D CNN int8: 1 and 2 threads differ"
"$C" export "$tmp/c8" --format onnx --out "$tmp/c8.onnx" > /dev/null 2> "$tmp/err" || die "export the int8 1-D CNN: $(tail -2 "$tmp/err")"
node "$ROOT/tests/onnx/ort_compare.js" "$tmp/c8.onnx" "$G/oned_cnn/x.f32" 4 "$tmp/y1.f32" 1e-5 ||
  die "ONNX Runtime on the int8 1-D CNN"
echo "2. 1-D CNN int8 from 64 .f32 sequences: close to float, exported"

# 3. unknown input size: calibrated at 24x20, run at 9x13
python3 -c "
import random, struct, sys
random.seed(int(sys.argv[3]))
n = int(sys.argv[2])
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[random.random() for _ in range(n)]))" "$tmp/d.f32" $((16 * 24 * 20 * 3)) 2
python3 -c "
import random, struct, sys
random.seed(int(sys.argv[3]))
n = int(sys.argv[2])
open(sys.argv[1], 'wb').write(struct.pack('<%df' % n, *[random.random() for _ in range(n)]))" "$tmp/dx.f32" $((2 * 9 * 13 * 3)) 3
D="$G/dynamic/float"
"$C" quantize "$D" --calibrate "$tmp/d.f32" --shape 16,24,20,3 --out "$tmp/d8" > /dev/null 2> "$tmp/err" ||
  die "quantize the unknown-size model: $(tail -2 "$tmp/err")"
"$C" summary "$tmp/d8" | grep -q "(None, None, None, 8)" || die "the quantized model lost its unknown size"
"$C" infer "$D" --input "$tmp/dx.f32" --shape 2,9,13,3 --out "$tmp/dyf.f32" 2> /dev/null &&
  "$C" infer "$tmp/d8" --input "$tmp/dx.f32" --shape 2,9,13,3 --out "$tmp/dy8.f32" 2> /dev/null ||
  die "infer at 9x13"
mag=$(python3 -c "
import struct, sys
b = open(sys.argv[1], 'rb').read()
print(max(abs(v) for v in struct.unpack('<%df' % (len(b) // 4), b)))" "$tmp/dyf.f32")
near "$tmp/dy8.f32" "$tmp/dyf.f32" "$(python3 -c "print(0.03 * $mag)")" || die "unknown-size model int8 at 9x13"
echo "3. unknown-size model calibrated at 24x20 runs int8 at 9x13"

# 4. bad calls, nothing saved
expect_fail 2 "needs --shape" "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --out "$tmp/bad"
expect_fail 2 "--shape is for raw float32 inputs" "$C" quantize "$tmp/mlp" --calibrate fashion-mnist --shape 3,28,28 --out "$tmp/bad"
expect_fail 2 "--preprocess is for images and IDX sets, not $tmp/fm300.f32" \
  "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 300,28,28 --preprocess tf --out "$tmp/bad"
expect_fail 2 "--preprocess is for images and IDX sets, not penguins" \
  "$C" evaluate "$tmp/mlp" --data penguins --preprocess tf
expect_fail 3 "does not fit the model's input of 784" \
  "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 300,28,27 --out "$tmp/bad"
expect_fail 3 "expected exactly 7840 float32 values" \
  "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 10,28,28 --out "$tmp/bad"
expect_fail 3 "No such file" "$C" quantize "$tmp/mlp" --calibrate "$tmp/none.f32" --shape 1,28,28 --out "$tmp/bad"
expect_fail 3 "not N,D1,D2" "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 300,x --out "$tmp/bad"
expect_fail 3 "more than 2\^40" "$C" quantize "$tmp/mlp" --calibrate "$tmp/fm300.f32" --shape 16777216,16777216,784 --out "$tmp/bad"
[ -e "$tmp/bad" ] && die "a failed quantize left $tmp/bad"
echo "4. bad calls refused"
exit $fail
