#!/usr/bin/env bash
# `crest infer` on the MobileNetV2 golden inputs matches TF.js: probabilities
# within 1e-4, pooled out_relu features (--layer out_relu, mean over H,W)
# within 1e-4 x max |feature|; outputs are bit-identical with 1 thread and
# one image per pass; `crest summary` and `crest bench --json` work on it;
# bad input is exit 3 with a message.
. "$(dirname "$0")/common.bash"
set -e
CREST="$C"
M="$CREST_DATA/models/mobilenet_v2"
G="$ROOT/tests/golden/mobilenet_v2"
cat "$G/china.input.f32" "$G/flower.input.f32" > "$tmp/x.f32"
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 2,224,224,3 --out "$tmp/probs.f32" --threads 2
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 2,224,224,3 --layer out_relu \
    --out "$tmp/feat.f32" --threads 2
node - "$tmp" "$G" <<'JS'
const fs = require('fs');
const [tmp, g] = process.argv.slice(2);
const f32 = (p) => { const b = fs.readFileSync(p); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const probs = f32(`${tmp}/probs.f32`), feat = f32(`${tmp}/feat.f32`);
if (probs.length !== 10 || feat.length !== 2 * 7 * 7 * 1280) throw new Error(`sizes ${probs.length} ${feat.length}`);
['china', 'flower'].forEach((img, k) => {
  const rp = f32(`${g}/${img}.probs.f32`), rf = f32(`${g}/${img}.features.f32`);
  let dp = 0, df = 0, mx = 0;
  for (let i = 0; i < 5; i++) dp = Math.max(dp, Math.abs(probs[k * 5 + i] - rp[i]));
  for (let c = 0; c < 1280; c++) {
    let s = 0;
    for (let q = 0; q < 49; q++) s += feat[(k * 49 + q) * 1280 + c];
    df = Math.max(df, Math.abs(s / 49 - rf[c]));
    mx = Math.max(mx, Math.abs(rf[c]));
  }
  console.log(`${img}: probs max |diff| ${dp.toExponential(2)}, features ${df.toExponential(2)} (max |feature| ${mx.toFixed(3)})`);
  if (!(dp <= 1e-4) || !(df <= 1e-4 * mx)) { console.log('FAIL'); process.exit(1); }
});
JS
# bit-identical for any thread count and pass size
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 2,224,224,3 --layer out_relu \
    --out "$tmp/feat1.f32" --threads 1 --batch 1 2> /dev/null
cmp "$tmp/feat.f32" "$tmp/feat1.f32"
"$CREST" summary "$M" | grep -q "Total params: 2,619,461"
"$CREST" summary "$M" --json | node -e 'const j=JSON.parse(require("fs").readFileSync(0));if(j.layers.length<150||j.total_params!==2619461)process.exit(1)'
"$CREST" bench "$M" --batch 2 --threads 2 --iters 2 --json | node -e 'const j=JSON.parse(require("fs").readFileSync(0));for(const k of ["ms_per_image_median","ms_per_image_min","batch","threads","iters"])if(!(k in j))process.exit(1)'
# bad input: exit 3 and a message naming it
set +e
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 3,224,224,3 --out "$tmp/y.f32" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "x.f32" "$tmp/err" || { echo "short input: exit $rc"; cat "$tmp/err"; exit 1; }
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 2,224,224,3 --layer nope --out "$tmp/y.f32" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "nope" "$tmp/err" || { echo "unknown layer: exit $rc"; cat "$tmp/err"; exit 1; }
"$CREST" infer "$M" --input "$tmp/x.f32" --shape 2,2,2 --out "$tmp/y.f32" 2> "$tmp/err"; rc=$?
[ $rc -eq 3 ] || { echo "wrong shape: exit $rc"; exit 1; }
echo ok
