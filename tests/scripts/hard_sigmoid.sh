#!/usr/bin/env bash
# "hard_sigmoid" by Keras version: a .keras file from Keras 3 (metadata.json
# keras_version 3.x) means Keras 3's relu6(x + 3) / 6, one from Keras 2.15
# means Keras 2's / TF.js' clip(0.2 x + 0.5, 0, 1), in Conv2D, Dense and
# Activation layers (tools/h5/hard_sigmoid_keras.py writes both files and
# numpy's outputs for both formulas). Saving never changes the meaning: a
# Keras 3 hard_sigmoid saved to .keras reads back the same, and to a TF.js
# folder or an .h5 file (whose hard_sigmoid is Keras 2's) is an error naming
# the layer; a Keras 2 one saved to .keras is an error, to TF.js it is kept;
# ONNX export writes HardSigmoid(alpha 1/6) and ONNX Runtime matches numpy.
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
GEN="$ROOT/tools/h5/hard_sigmoid_keras.py"
X=(--shape 2,5,5,2)

"$PY" "$GEN" "$tmp/k3" || die "hard_sigmoid_keras.py"
"$PY" "$GEN" "$tmp/k2" --keras-version 2.15.0 || die "hard_sigmoid_keras.py --keras-version 2.15.0"

infer() {   # model dir-of-x out
  "$C" infer "$1" --input "$2/x.f32" "${X[@]}" --out "$3" 2> "$tmp/err" > /dev/null ||
    die "infer $1: $(cat "$tmp/err")"
}
infer "$tmp/k3/model.keras" "$tmp/k3" "$tmp/y3.f32"
close "$tmp/k3/y_keras3.f32" "$tmp/y3.f32" || die "a Keras 3 file's hard_sigmoid is not Keras 3's"
close "$tmp/k3/y_keras2.f32" "$tmp/y3.f32" 2> /dev/null && die "the two definitions agree: the test proves nothing"
infer "$tmp/k2/model.keras" "$tmp/k2" "$tmp/y2.f32"
close "$tmp/k2/y_keras2.f32" "$tmp/y2.f32" || die "a Keras 2.15 file's hard_sigmoid is not Keras 2's"

# Keras 3's, saved as .keras: "hard_sigmoid" again, and the same numbers
"$C" export "$tmp/k3/model.keras" --format keras --out "$tmp/re.keras" > /dev/null 2> "$tmp/err" ||
  die "export keras: $(cat "$tmp/err")"
"$PY" - "$tmp/re.keras" <<'PY' || die "crest's .keras does not write Keras 3's name"
import json, sys, zipfile
c = zipfile.ZipFile(sys.argv[1]).read('config.json').decode()
sys.exit(0 if c.count('"hard_sigmoid"') == 3 and 'keras3' not in c else c[:400])
PY
infer "$tmp/re.keras" "$tmp/k3" "$tmp/yre.f32"
cmp -s "$tmp/y3.f32" "$tmp/yre.f32" || die "the .keras round trip changed the outputs"
# ... and refused in the formats whose hard_sigmoid is Keras 2's
for f in tfjs h5; do
  out="$tmp/e_$f"; [ $f = h5 ] && out="$tmp/e.h5"
  expect_fail 3 "layer 'conv': activation hard_sigmoid of a Keras 3 file \(relu6\(x \+ 3\) / 6\) has no equivalent .*save it as a .keras file" \
    "$C" export "$tmp/k3/model.keras" --format $f --out "$out"
  [ -e "$out" ] && die "export $f left $out behind"
done

# ONNX has both: HardSigmoid with alpha 1/6 for Keras 3's (ONNX Runtime runs it)
"$C" export "$tmp/k3/model.keras" --format onnx --out "$tmp/k3.onnx" > /dev/null 2> "$tmp/err" ||
  die "export onnx: $(cat "$tmp/err")"
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/onnx/ort_compare.js" "$tmp/k3.onnx" \
  "$tmp/k3/x.f32" 2 "$tmp/k3/y_keras3.f32" 1e-5 > "$tmp/ort" 2>&1 ||
  die "ONNX Runtime on the Keras 3 hard_sigmoid model: $(cat "$tmp/ort")"

# Keras 2's: refused as .keras, kept as a TF.js folder
expect_fail 3 "layer 'conv': activation hard_sigmoid as Keras 2 and TF.js define it \(clip\(0.2 x \+ 0.5, 0, 1\)\) has no Keras 3 equivalent" \
  "$C" export "$tmp/k2/model.keras" --format keras --out "$tmp/e2.keras"
"$C" export "$tmp/k2/model.keras" --format tfjs --out "$tmp/e2" > /dev/null 2> "$tmp/err" ||
  die "export tfjs of the Keras 2 file: $(cat "$tmp/err")"
infer "$tmp/e2" "$tmp/k2" "$tmp/ye2.f32"
cmp -s "$tmp/y2.f32" "$tmp/ye2.f32" || die "the Keras 2 file's TF.js export predicts differently"

[ $fail = 0 ] && echo "hard_sigmoid: ok"
exit $fail
