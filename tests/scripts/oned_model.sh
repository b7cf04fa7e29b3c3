#!/usr/bin/env bash
# A 1-D CNN classifier over [300, 5] sequences (Conv1D-BN-ReLU-MaxPooling1D
# x2, GlobalAveragePooling1D, Dense softmax), built and run by TF.js 4.22
# (tools/golden/oned_model.js make tests/golden/oned_cnn), end to end:
#   1. crest summary shows Keras' shapes and parameter counts;
#   2. crest infer matches TF.js within 1e-4 of the output's magnitude (and
#      --layer gap matches TF.js's features);
#   3. crest export --format tfjs and --format h5 (and .h5 -> tfjs) give the
#      same outputs bit for bit, and real TF.js opens crest's folder and
#      agrees;
#   4. transfer learning on sequences: crest train --base MODEL --cut pool2
#      (GlobalAveragePooling1D appended) on a sequence set stored as an IDX
#      folder of uint8 [N, 300, 5] (each sample read as a 300 x 5 grey image:
#      no resize, the default preprocessing x / 255), then evaluate / predict;
#      predict on the IDX set equals predict on the same values / 255 as .f32;
#   5. a sequence of the wrong length is bad input (exit 3);
#   6. crest quantize makes the transferred model int8, its Conv1D kernels
#      too (batch norms folded), close to the float model.
if [ -n "${1:-}" ]; then export CREST_BUILD="$1"; fi   # or the build folder as $1
. "$(dirname "$0")/common.bash"
M="$ROOT/tests/golden/oned_cnn"
export NODE_PATH="$ROOT/tools/node_modules"
quiet() { grep -v -e '^=*$' -e 'tfjs-node' -e 'Hi, looks'; }

# close A B REL [ATOL]: float32 files of the same length, max |a - b| <= REL * max |b| (+ ATOL)
close() {
  node - "$@" <<'JS'
const fs = require('fs');
const [a, b, rel, atol] = process.argv.slice(2);
const rd = (f) => { const x = fs.readFileSync(f); return new Float32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)); };
const x = rd(a), y = rd(b);
if (x.length !== y.length || !x.length) { console.error(`${a}: ${x.length} values, ${b}: ${y.length}`); process.exit(1); }
let d = 0, mag = 0;
for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - y[i])); mag = Math.max(mag, Math.abs(y[i])); }
const tol = parseFloat(rel) * mag + parseFloat(atol || '0');
console.log(`${x.length} values: max |diff| ${d.toExponential(2)}, magnitude ${mag.toExponential(2)}, relative ${(d / mag).toExponential(2)}`);
process.exit(d <= tol && Number.isFinite(d) ? 0 : 1);
JS
}

# 1. summary
"$C" summary "$M" > "$tmp/sum.txt" 2>&1 || die "summary: $(head -3 "$tmp/sum.txt")"
for want in "conv1 (Conv1D) .*(None, 300, 16) .* 576" "pool1 (MaxPooling1D) .*(None, 150, 16)" \
            "conv2 (Conv1D) .*(None, 150, 32) .* 2592" "pool2 (MaxPooling1D) .*(None, 75, 32)" \
            "gap (GlobalAveragePooling1D) .*(None, 32)" "fc (Dense) .*(None, 4) .* 132" \
            "Total params: 3,492" "Non-trainable params: 96"; do
  grep -q -- "$want" "$tmp/sum.txt" || die "summary lacks '$want'"
done

# 2. infer against TF.js
"$C" infer "$M" --input "$M/x.f32" --shape 4,300,5 --out "$tmp/y.f32" 2> "$tmp/err" ||
  die "infer: $(cat "$tmp/err")"
echo "infer vs TF.js: $(close "$tmp/y.f32" "$M/y.f32" 1e-4)" || true
close "$tmp/y.f32" "$M/y.f32" 1e-4 > /dev/null || die "infer differs from TF.js by more than 1e-4 of the magnitude"
"$C" infer "$M" --input "$M/x.f32" --shape 4,300,5 --layer gap --out "$tmp/gap.f32" 2> /dev/null ||
  die "infer --layer gap"
close "$tmp/gap.f32" "$M/gap.f32" 1e-4 > /dev/null || die "infer --layer gap differs from TF.js"
"$C" infer "$M" --input "$M/x.f32" --shape 4,300,5 --batch 1 --threads 1 --out "$tmp/y1.f32" 2> /dev/null &&
  cmp -s "$tmp/y.f32" "$tmp/y1.f32" || die "infer --batch 1 --threads 1 gives other bytes"

# 3. export and reload
"$C" export "$M" --format tfjs --out "$tmp/tfjs" > /dev/null 2>&1 || die "export --format tfjs"
"$C" export "$M" --format h5 --out "$tmp/m.h5" > /dev/null 2>&1 || die "export --format h5"
"$C" export "$tmp/m.h5" --format tfjs --out "$tmp/back" > /dev/null 2>&1 || die "export .h5 --format tfjs"
for mm in "$tmp/tfjs" "$tmp/m.h5" "$tmp/back"; do
  "$C" infer "$mm" --input "$M/x.f32" --shape 4,300,5 --out "$tmp/yy.f32" 2> /dev/null &&
    cmp -s "$tmp/y.f32" "$tmp/yy.f32" || die "$(basename "$mm"): outputs differ from the original's"
  "$C" summary "$mm" 2> /dev/null | grep -q "Total params: 3,492" || die "$(basename "$mm"): summary"
done
grep -q '"class_name":"Conv1D"' "$tmp/back/model.json" || die "exported model.json has no Conv1D"
node "$ROOT/tools/golden/oned_model.js" predict "$tmp/back" "$M/x.f32" 4 "$tmp/tfjs_back.f32" 2>&1 | quiet
close "$tmp/tfjs_back.f32" "$M/y.f32" 1e-6 > /dev/null ||
  die "real TF.js on crest's exported folder disagrees with TF.js on the original"

# 4. transfer learning on sequences (an IDX folder of uint8 [N, 300, 5])
node - "$tmp/seq" <<'JS' || die "making the sequence set"
// two classes: a slow or a fast sine on channel 0, noise elsewhere
const fs = require('fs');
const dir = process.argv[2];
fs.mkdirSync(dir, { recursive: true });
let s = 12345;
const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
function set(pre, n) {
  const img = Buffer.alloc(16 + n * 300 * 5), lab = Buffer.alloc(8 + n);
  img.writeUInt32BE(0x803, 0); img.writeUInt32BE(n, 4); img.writeUInt32BE(300, 8); img.writeUInt32BE(5, 12);
  lab.writeUInt32BE(0x801, 0); lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) {
    const y = i % 2, f = y ? 0.5 : 0.05, ph = rnd() * 6.283;
    lab[8 + i] = y;
    for (let t = 0; t < 300; t++)
      for (let c = 0; c < 5; c++) {
        const v = c === 0 ? 0.5 + 0.4 * Math.sin(f * t + ph) : 0.3 + 0.4 * rnd();
        img[16 + (i * 300 + t) * 5 + c] = Math.round(255 * v);
      }
  }
  fs.writeFileSync(`${dir}/${pre}-images-idx3-ubyte`, img);
  fs.writeFileSync(`${dir}/${pre}-labels-idx1-ubyte`, lab);
}
set('train', 64);
set('t10k', 32);
JS
"$C" train --base "$M" --cut pool2 --data "$tmp/seq" --epochs 30 --lr 0.05 \
  --out "$tmp/tl" > "$tmp/tl.out" 2> "$tmp/tl.err" || die "train --base on sequences: $(tail -3 "$tmp/tl.err")"
grep -q "cut after 'pool2'" "$tmp/tl.err" || die "train --base: not cut after pool2: $(head -5 "$tmp/tl.err")"
"$C" summary "$tmp/tl" 2> /dev/null | grep -q "(GlobalAveragePooling1D) .*(None, 32)" ||
  die "the cut backbone has no GlobalAveragePooling1D"
"$C" evaluate "$tmp/tl" --data "$tmp/seq:test" --json > "$tmp/ev.json" 2> "$tmp/err" ||
  die "evaluate: $(cat "$tmp/err")"
acc="$(node -e "console.log(JSON.parse(require('fs').readFileSync('$tmp/ev.json','utf8')).accuracy)")"
echo "train --base --cut pool2 on [300, 5] sequences: test accuracy $acc"
node -e "process.exit($acc >= 0.9 ? 0 : 1)" || die "test accuracy $acc < 0.9"
# int8 (crest quantize): the Conv1D kernels (viewed [k, 1, in, filters])
# quantize with the Dense, both batch norms fold into them; probabilities
# within 0.02 of the float model's on the test set; evaluate runs it
"$C" quantize "$tmp/tl" --calibrate "$tmp/seq" --samples 100 --out "$tmp/tl8" --json \
  > "$tmp/q.json" 2> "$tmp/err" || die "quantize the 1-D model: $(tail -2 "$tmp/err")"
node -e 'const q = JSON.parse(require("fs").readFileSync(process.argv[1]));
  process.exit(q.folded_batch_norms === 2 && q.int8_weights === 3 ? 0 : 1)' "$tmp/q.json" ||
  die "1-D int8: not 2 batch norms folded and 3 int8 kernels: $(cat "$tmp/q.json")"
"$C" predict "$tmp/tl" --data "$tmp/seq" --json > "$tmp/pf.json" &&
  "$C" predict "$tmp/tl8" --data "$tmp/seq" --json > "$tmp/pq.json" || die "1-D int8 predict"
node - "$tmp/pf.json" "$tmp/pq.json" <<'JS' || die "1-D int8: probabilities more than 0.02 from the float model's"
const fs = require('fs');
const [f, q] = process.argv.slice(2).map((p) => JSON.parse(fs.readFileSync(p)).predictions);
let d = 0;
f.forEach((p, i) => p.probs.forEach((v, j) => { d = Math.max(d, Math.abs(v - q[i].probs[j])); }));
console.log(`1-D int8 model: ${f.length} predictions, max |float - int8| ${d.toFixed(4)}`);
process.exit(f.length === q.length && f.length > 0 && d < 0.02 ? 0 : 1);
JS
"$C" evaluate "$tmp/tl8" --data "$tmp/seq" > /dev/null || die "evaluate the 1-D int8 model"

# exports of the transferred model, float and int8: ONNX Runtime and LiteRT
# run them on 4 test sequences as crest does (float within 1e-5; int8 within
# 1e-4: the Conv1D kernels, reshaped views of their weights, export as int8
# as crest runs them, not float, which was 4.3e-4 off)
node - "$tmp/seq/t10k-images-idx3-ubyte" "$tmp/x4.f32" <<'JS'
const fs = require('fs');
const b = fs.readFileSync(process.argv[2]).subarray(16, 16 + 4 * 1500);
fs.writeFileSync(process.argv[3], Buffer.from(Float32Array.from(b, (v) => v / 255).buffer));
JS
for m in tl tl8; do
  tol=1e-5; [ $m = tl8 ] && tol=1e-4
  "$C" infer "$tmp/$m" --input "$tmp/x4.f32" --shape 4,300,5 --out "$tmp/$m.ref" 2> /dev/null ||
    { die "$m: crest infer"; continue; }
  "$C" export "$tmp/$m" --format onnx --out "$tmp/$m.onnx" > /dev/null 2> "$tmp/err" &&
    r=$(node "$ROOT/tests/onnx/ort_compare.js" "$tmp/$m.onnx" "$tmp/x4.f32" 4 "$tmp/$m.ref" $tol 2>&1) ||
    die "1-D $m: ONNX export or ONNX Runtime: $(tail -1 "$tmp/err") $r"
  echo "1-D $m ONNX: $r"
  "$C" export "$tmp/$m" --format tflite --out "$tmp/$m.tflite" > /dev/null 2> "$tmp/err" &&
    r=$(node "$ROOT/tests/tflite/litert_compare.mjs" "$tmp/$m.tflite" "$tmp/x4.f32" 4 "$tmp/$m.ref" $tol 2> "$tmp/lerr") ||
    die "1-D $m: TFLite export or LiteRT: $(tail -1 "$tmp/err") $r $(tail -2 "$tmp/lerr")"
  echo "1-D $m TFLite: $r"
done

# the IDX set reaches the model unchanged: predict on it = predict on its bytes as .f32
node - "$tmp/seq/t10k-images-idx3-ubyte" "$tmp/seq4.f32" <<'JS'
const fs = require('fs');
const b = fs.readFileSync(process.argv[2]).subarray(16, 16 + 4 * 1500);
fs.writeFileSync(process.argv[3], Buffer.from(Float32Array.from(b, (v) => v / 255).buffer));
JS
"$C" predict "$tmp/tl" --data "$tmp/seq:test" --limit 4 --json 2> /dev/null |
  sed 's/"input":"[^"]*",//g' > "$tmp/p_idx.json"
"$C" predict "$tmp/tl" "$tmp/seq4.f32" --json 2> /dev/null | sed 's/"input":"[^"]*",//g' > "$tmp/p_f32.json"
cmp -s "$tmp/p_idx.json" "$tmp/p_f32.json" ||
  die "predict on the IDX set and on its values as .f32 differ: $(head -c 300 "$tmp/p_idx.json") / $(head -c 300 "$tmp/p_f32.json")"

# 5. bad input: a sequence of the wrong length, a 1-D layer on an image
"$C" infer "$M" --input "$M/x.f32" --shape 2,600,5 --out "$tmp/bad.f32" > /dev/null 2> "$tmp/err"
[ $? = 3 ] || die "infer on [600, 5] sequences: not exit 3 ($(cat "$tmp/err"))"

[ "$fail" = 0 ] && echo "oned_model: ok"
exit "$fail"
