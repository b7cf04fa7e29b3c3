#!/usr/bin/env bash
# Custom Keras layer classes with no C code (--custom-layers FILE): a model
# with MultiplyBeta and PixelShuffle2x, built and run by real TF.js with the
# classes registered (tools/golden/custom_layers.js); crest infer with
# {"MultiplyBeta": "x * beta", "PixelShuffle2x": "depth_to_space(x, scale)"}
# matches TF.js; without the file the error names layer, class and the way
# to define it; the definitions travel in saved models (export tfjs / h5 load
# without --custom-layers) and real TF.js opens crest's export with its own
# classes; bad definitions are errors naming file, class and field.
# The expression math (abs sign sqrt rsqrt square log exp reciprocal pow clip
# maximum minimum, max / min / mean over an axis): five classes written with
# TF.js' ops in tools/golden/custom_math.js, matched by crest with the
# definitions that script writes, through save and reload as above; bad
# calls (unknown function, wrong number of arguments, a tensor exponent)
# are errors naming the layer, class and position.
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
GEN="$ROOT/tools/golden/custom_layers.js"
EXPECT_LINES=2
node_run() { NODE_PATH="$ROOT/tools/node_modules" node "$@" 2>&1 | grep -v -e '^=*$' -e 'tfjs-node' -e 'Hi, looks'; }

node_run "$GEN" "$tmp/m"
[ -f "$tmp/m/y.f32" ] || { echo "FAIL: custom_layers.js made nothing"; exit 1; }
echo '{"MultiplyBeta": "x * beta", "PixelShuffle2x": "depth_to_space(x, scale)"}' > "$tmp/defs.json"
X=(--input "$tmp/m/x.f32" --shape 2,6,6,3)

expect_fail 3 "layer 'mul_beta': class MultiplyBeta is not supported: define it with --custom-layers" \
  "$C" infer "$tmp/m" "${X[@]}" --out "$tmp/y0.f32"
"$C" infer "$tmp/m" "${X[@]}" --out "$tmp/y.f32" --custom-layers "$tmp/defs.json" 2> "$tmp/err" ||
  die "infer --custom-layers: $(cat "$tmp/err")"
close "$tmp/m/y.f32" "$tmp/y.f32" || die "crest with --custom-layers differs from TF.js"
"$C" summary "$tmp/m" --custom-layers "$tmp/defs.json" | grep -q "shuffle (PixelShuffle2x)" ||
  die "summary --custom-layers"

# saved models keep the definitions: no --custom-layers needed to load them
"$C" export "$tmp/m" --format tfjs --out "$tmp/e" --custom-layers "$tmp/defs.json" > /dev/null 2>&1 ||
  die "export tfjs"
grep -q '"crest_custom_layers"' "$tmp/e/model.json" || die "export tfjs: no crest_custom_layers"
"$C" infer "$tmp/e" "${X[@]}" --out "$tmp/ye.f32" 2> "$tmp/err" || die "infer on the export: $(cat "$tmp/err")"
cmp -s "$tmp/y.f32" "$tmp/ye.f32" || die "the tfjs export predicts differently"
"$C" export "$tmp/e" --format h5 --out "$tmp/e.h5" > /dev/null 2>&1 || die "export h5"
"$C" infer "$tmp/e.h5" "${X[@]}" --out "$tmp/yh.f32" 2> "$tmp/err" || die "infer on the .h5: $(cat "$tmp/err")"
cmp -s "$tmp/y.f32" "$tmp/yh.f32" || die "the .h5 export predicts differently"
# real TF.js opens crest's export with its own registered classes
node_run "$GEN" "$tmp/m2" "$tmp/e"
close "$tmp/m/y.f32" "$tmp/m2/y_reloaded.f32" || die "TF.js on crest's export differs"

# bad definitions: errors name the file and the class (and the field)
echo '{"MultiplyBeta": "x * (beta"}' > "$tmp/bad1.json"
expect_fail 3 "bad1.json: custom layer class 'MultiplyBeta': expression 'x \* \(beta'" \
  "$C" summary "$tmp/m" --custom-layers "$tmp/bad1.json"
echo '{"MultiplyBeta": "x * gamma", "PixelShuffle2x": "depth_to_space(x, scale)"}' > "$tmp/bad2.json"
expect_fail 3 "layer 'mul_beta' \(MultiplyBeta\): custom layer class 'MultiplyBeta' \(defined in .*bad2.json\).*'gamma'.*names no numeric config field" \
  "$C" summary "$tmp/m" --custom-layers "$tmp/bad2.json"
echo '{"MultiplyBeta": 3}' > "$tmp/bad3.json"
expect_fail 3 "bad3.json: custom layer class 'MultiplyBeta': its definition is not an expression" \
  "$C" summary "$tmp/m" --custom-layers "$tmp/bad3.json"
echo '{"Dense": "x"}' > "$tmp/bad4.json"
expect_fail 3 "custom layer class 'Dense' is a built-in class" \
  "$C" summary "$tmp/m" --custom-layers "$tmp/bad4.json"
expect_fail 3 "--custom-layers: .*nope.json" "$C" summary "$tmp/m" --custom-layers "$tmp/nope.json"

# ---- the expression math, against TF.js ----
MATH="$ROOT/tools/golden/custom_math.js"
node_run "$MATH" "$tmp/mm"
[ -f "$tmp/mm/y.f32" ] || { echo "FAIL: custom_math.js made nothing"; exit 1; }
XM=(--input "$tmp/mm/x.f32" --shape 2,6,6,3)
"$C" infer "$tmp/mm" "${XM[@]}" --out "$tmp/ym.f32" --custom-layers "$tmp/mm/defs.json" 2> "$tmp/err" ||
  die "infer the math model: $(cat "$tmp/err")"
close "$tmp/mm/y.f32" "$tmp/ym.f32" || die "crest's expression math differs from TF.js"
"$C" export "$tmp/mm" --format h5 --out "$tmp/mm.h5" --custom-layers "$tmp/mm/defs.json" > /dev/null 2>&1 ||
  die "export the math model to .h5"
"$C" export "$tmp/mm.h5" --format tfjs --out "$tmp/me" > /dev/null 2>&1 || die "export the math .h5 to tfjs"
"$C" infer "$tmp/me" "${XM[@]}" --out "$tmp/yme.f32" 2> "$tmp/err" || die "infer the math export: $(cat "$tmp/err")"
cmp -s "$tmp/ym.f32" "$tmp/yme.f32" || die "the math model's export predicts differently"
node_run "$MATH" "$tmp/mm2" "$tmp/me"
close "$tmp/mm/y.f32" "$tmp/mm2/y_reloaded.f32" || die "TF.js on crest's export of the math model differs"

# bad calls: the error names the layer, the class and the position
bad_def() {   # class expression expected-message
  "$PY" - "$tmp/mm/defs.json" "$1" "$2" > "$tmp/badm.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d[sys.argv[2]] = sys.argv[3]; print(json.dumps(d))
PY
  expect_fail 3 "$3" "$C" summary "$tmp/mm" --custom-layers "$tmp/badm.json"
}
bad_def RmsNorm 'x * rsqrtt(x)' "custom layer class 'RmsNorm'.*at 5 \('rsqrtt'\): unknown function"
bad_def SoftClip 'clip(x, lo)' "custom layer class 'SoftClip'.*at 11 \('\)'\): expected ',' and more arguments: clip\(x, lo, hi\)"
bad_def LogRatio 'sqrt(x, 2)' "custom layer class 'LogRatio'.*at 7 \(','\): too many arguments: sqrt\(x\)"
bad_def LogRatio 'relu(x, 2)' "custom layer class 'LogRatio'.*at 7 \(','\): too many arguments"
bad_def SignedRoot 'pow(x, x)' "layer 'root' \(SignedRoot\).*at 8 \('x'\): pow's exponent must be a number"
bad_def SoftClip 'clip(x, hi, lo)' "layer 'softclip' \(SoftClip\).*clip's lower bound is above its upper bound"

# a config field may share a function's name ("max"): a name with no call
# is the field, max(...) the function
cp -r "$tmp/mm" "$tmp/mmf"
"$PY" - "$tmp/mmf/model.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for l in j['modelTopology']['config']['layers']:
    if l['config']['name'] == 'root':
        l['config']['max'] = 0.5
json.dump(j, open(sys.argv[1], 'w'))
PY
"$PY" - "$tmp/mm/defs.json" > "$tmp/maxf.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d['SignedRoot'] = 'minimum(x, max) + max(x, -1) * 0'
print(json.dumps(d))
PY
"$C" infer "$tmp/mmf" "${XM[@]}" --out "$tmp/ymf.f32" --custom-layers "$tmp/maxf.json" 2> "$tmp/err" > /dev/null ||
  die "a field named max: $(cat "$tmp/err")"

[ $fail = 0 ] && echo "custom_layers: ok"
exit $fail
