#!/usr/bin/env bash
# The rest of Keras' layer list (tools/golden/cases/misc.js) at model level:
#  1. misc_model, a functional TF.js model using many of the classes
#     (Normalization, Resizing, CenterCrop, PReLU, LayerNormalization,
#     Permute, Softmax(axis), ELU, ThresholdedReLU, Subtract, Maximum,
#     Minimum, Dot, RepeatVector, GaussianNoise, AlphaDropout): crest infer
#     matches TF.js's output within 1e-5 of the output's magnitude (max |y|);
#  2. every misc case, exported to .h5 and read back, and exported again to
#     a TF.js folder: crest infer gives the same bytes each time.
. "$(dirname "$0")/common.bash"
G="$ROOT/tests/golden/layers"
export NODE_PATH="$ROOT/tools/node_modules"
# shape CASE: the input shape of a golden case, "2,6,6,2"
shape() { node -e "process.stdout.write(require('$G/$1/meta.json').input_shape.join(','))"; }

# 1. crest infer against TF.js
M="$G/misc_model"
"$C" infer "$M" --input "$M/input.f32" --shape "$(shape misc_model)" --out "$tmp/y.f32" 2> "$tmp/err" ||
  die "infer on misc_model: $(head -c 300 "$tmp/err")"
node - "$tmp/y.f32" "$M/output.f32" <<'JS' || die "misc_model: crest infer differs from TF.js"
const fs = require('fs');
const rd = (f) => { const b = fs.readFileSync(f); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const [a, r] = process.argv.slice(2).map(rd);
let d = 0, mag = 0;
for (let i = 0; i < r.length; i++) { d = Math.max(d, Math.abs(a[i] - r[i])); mag = Math.max(mag, Math.abs(r[i])); }
const worst = d / mag;
console.log(`misc_model: crest infer vs TF.js: max |diff| ${d.toExponential(2)}, ${worst.toExponential(2)} of max |y| over ${r.length} values`);
process.exit(a.length === r.length && worst <= 1e-5 ? 0 : 1);
JS
"$C" summary "$M" > "$tmp/summary.txt" 2>&1 || die "summary of misc_model"
for cls in Normalization Resizing CenterCrop PReLU LayerNormalization Permute Softmax ELU \
           ThresholdedReLU Subtract Maximum Minimum Dot RepeatVector GaussianNoise AlphaDropout; do
  grep -q "($cls)" "$tmp/summary.txt" || die "summary of misc_model lacks a $cls layer"
done

# 2. each misc case through .h5 and back
n=0
for d in $(node -e "
  const tf = require('@tensorflow/tfjs');
  const cs = require('$ROOT/tools/golden/cases/misc.js')(tf, { setLayer: () => (t) => t });
  console.log(cs.map((c) => c.name).join(' '))" 2> /dev/null); do
  n=$((n + 1))
  s="$(shape "$d")"
  "$C" infer "$G/$d" --input "$G/$d/input.f32" --shape "$s" --out "$tmp/a.f32" 2> "$tmp/err" ||
    { die "$d: infer: $(head -c 200 "$tmp/err")"; continue; }
  "$C" export "$G/$d" --format h5 --out "$tmp/$d.h5" > /dev/null 2> "$tmp/err" ||
    { die "$d: export --format h5: $(head -c 200 "$tmp/err")"; continue; }
  "$C" infer "$tmp/$d.h5" --input "$G/$d/input.f32" --shape "$s" --out "$tmp/b.f32" 2> "$tmp/err" ||
    { die "$d: infer on the .h5: $(head -c 200 "$tmp/err")"; continue; }
  cmp -s "$tmp/a.f32" "$tmp/b.f32" || die "$d: the .h5 predicts differently"
  "$C" export "$tmp/$d.h5" --format tfjs --out "$tmp/$d.tfjs" > /dev/null 2> "$tmp/err" ||
    { die "$d: export .h5 -> tfjs: $(head -c 200 "$tmp/err")"; continue; }
  "$C" infer "$tmp/$d.tfjs" --input "$G/$d/input.f32" --shape "$s" --out "$tmp/c.f32" 2> /dev/null &&
    cmp -s "$tmp/a.f32" "$tmp/c.f32" || die "$d: TF.js -> .h5 -> TF.js predicts differently"
done
[ "$n" -ge 30 ] || die "only $n misc cases found"
echo "misc cases through .h5 and back: $n"
[ "$fail" = 0 ] && echo "misc_model: ok"
exit "$fail"
