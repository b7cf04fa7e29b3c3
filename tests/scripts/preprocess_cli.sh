#!/usr/bin/env bash
# Images for a Keras model crest did not train (no image transform
# recorded): predict, evaluate and quantize take --preprocess MODE (and
# --image-size HxW for an input of unknown size), on nsfwjs' MobileNetV2
# classifier as a user brings it.
#   1. without --preprocess: exit 3, the message names the option;
#   2. a 224x224 PNG (no resize) through --preprocess rescale|tf|torch|caffe
#      gives the probabilities of its pixels preprocessed by Keras' formulas
#      (x/255; x/127.5 - 1; x/255 - mean, / std; BGR - mean) given as .f32;
#   3. real photos are nsfwjs' class 2 ("Neutral") with p > 0.9;
#   4. evaluate on a class-folder set, quantize calibrated on it: the int8
#      folder records the transform, so predict and evaluate need no option;
#   5. refusals: bad mode, a size the model does not take, an input of
#      unknown size without --image-size, a model whose input is no image,
#      --preprocess with a table.
. "$(dirname "$0")/common.bash"
M="$CREST_DATA/models/mobilenet_v2"
IMG="$CREST_DATA/images"
[ -f "$M/model.json" ] || { echo "FAIL: $M missing (bash tools/setup.sh)"; exit 1; }

expect_fail 3 "no image preprocessing recorded.*--preprocess none" \
  "$C" predict "$M" "$IMG/flower.jpg"
mkdir -p "$tmp/set"/{a,b,c}
cp "$IMG/flower.jpg" "$tmp/set/a/"; cp "$IMG/flower.jpg" "$tmp/set/b/"
cp "$IMG/flower.jpg" "$IMG/china.jpg" "$tmp/set/c/"
expect_fail 3 "--preprocess" "$C" evaluate "$M" --data "$tmp/set"
expect_fail 3 "--preprocess" "$C" quantize "$M" --calibrate "$tmp/set" --out "$tmp/q"

# 2. a random 224x224 RGB PNG and its pixels through each mode, as Keras
/usr/bin/python3 - "$tmp" <<'PY'
import random, struct, sys, zlib
d = sys.argv[1]
random.seed(7)
H = W = 224
px = [[random.randrange(256) for _ in range(3 * W)] for _ in range(H)]
raw = b''.join(b'\0' + bytes(r) for r in px)
def chunk(t, b):
    return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
open(d + '/x.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 2, 0, 0, 0))
                               + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
cm = (103.939, 116.779, 123.68)
modes = {
    'rescale': lambda p, c: p / 255.0,
    'tf': lambda p, c: p / 127.5 - 1.0,
    'torch': lambda p, c: (p / 255.0 - mean[c]) / std[c],
}
for name, f in modes.items():
    v = [f(r[3 * x + c], c) for r in px for x in range(W) for c in range(3)]
    open('%s/x_%s.f32' % (d, name), 'wb').write(struct.pack('<%df' % len(v), *v))
v = [r[3 * x + (2 - c)] - cm[c] for r in px for x in range(W) for c in range(3)]   # BGR
open(d + '/x_caffe.f32', 'wb').write(struct.pack('<%df' % len(v), *v))
PY
probs() { python3 -c 'import json,sys; print(" ".join("%.6f" % p for p in json.load(sys.stdin)["predictions"][0]["probs"]))'; }
for pp in rescale tf torch caffe; do
  a=$("$C" predict "$M" "$tmp/x.png" --preprocess $pp --json 2> "$tmp/err" | probs) ||
    { die "predict --preprocess $pp: $(tail -2 "$tmp/err")"; continue; }
  b=$("$C" predict "$M" "$tmp/x_$pp.f32" --json | probs)
  python3 - "$a" "$b" "$pp" <<'PY' || fail=1
import sys
a, b = ([float(v) for v in s.split()] for s in sys.argv[1:3])
d = max(abs(x - y) for x, y in zip(a, b))
print('--preprocess %-8s png vs Keras-preprocessed .f32: max |dp| %.2g' % (sys.argv[3], d))
if len(a) != 5 or d > 2e-6:
    sys.exit('FAIL: --preprocess %s: %s vs %s' % (sys.argv[3], a, b))
PY
done
a=$("$C" predict "$M" "$tmp/x.png" --preprocess none --json | probs)
[ "$a" != "$("$C" predict "$M" "$tmp/x.png" --preprocess rescale --json | probs)" ] ||
  die "--preprocess none and rescale gave the same probabilities"

# 3. real photos: "Neutral"
"$C" predict "$M" "$IMG/flower.jpg" "$IMG/china.jpg" --preprocess rescale --json > "$tmp/p.json" 2> "$tmp/err" ||
  die "predict photos: $(tail -2 "$tmp/err")"
python3 - "$tmp/p.json" <<'PY' || fail=1
import json, sys
for p in json.load(open(sys.argv[1]))["predictions"]:
    k = max(range(len(p["probs"])), key=p["probs"].__getitem__)
    print('%s: class %d, p %.4f' % (p["input"].split('/')[-1], k, p["probs"][k]))
    if k != 2 or p["probs"][k] < 0.9:
        sys.exit('FAIL: a photo is not "Neutral" with p > 0.9')
PY

# 4. evaluate, quantize; the int8 folder keeps the transform
acc() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["n"], round(j["accuracy"], 4))'; }
got=$("$C" evaluate "$M" --data "$tmp/set" --preprocess rescale --json 2> "$tmp/err" | acc)
[ "$got" = "4 0.5" ] || die "evaluate --preprocess rescale: n, accuracy '$got' (want 4 0.5: class c's two photos right) $(tail -1 "$tmp/err")"
"$C" quantize "$M" --calibrate "$tmp/set" --preprocess rescale --out "$tmp/q8" > /dev/null 2> "$tmp/err" ||
  die "quantize --preprocess rescale: $(tail -2 "$tmp/err")"
grep -q '"preprocess":"rescale"' "$tmp/q8/model.json" || die "the int8 model does not record its transform"
got=$("$C" evaluate "$tmp/q8" --data "$tmp/set" --json 2> "$tmp/err" | acc)
[ "$got" = "4 0.5" ] || die "int8 evaluate without --preprocess: '$got' $(tail -1 "$tmp/err")"
"$C" predict "$tmp/q8" "$IMG/china.jpg" > "$tmp/out" 2> "$tmp/err" && grep -q "^.*china.jpg\[0\]: 2 " "$tmp/out" ||
  die "int8 predict of a photo: $(cat "$tmp/out" "$tmp/err" | head -3)"

# 5. refusals
expect_fail 3 "'bogus' is not none" "$C" predict "$M" "$IMG/flower.jpg" --preprocess bogus
expect_fail 3 "takes 224x224 images only" "$C" predict "$M" "$IMG/flower.jpg" --preprocess tf --image-size 100x100
expect_fail 3 "unknown \(None\): give --image-size" \
  "$C" predict "$ROOT/tests/golden/dynamic/float" "$IMG/flower.jpg" --preprocess rescale
# an image-to-image model (the golden upscaler: [None, None, 3] in and out)
# has no class probabilities: predict and evaluate say so (evaluate wrote
# past its score buffer, sized before the data's shape)
D="$ROOT/tests/golden/dynamic/float"
expect_fail 3 "output per sample is \[56,36,3\], not class probabilities; crest infer" \
  "$C" predict "$D" "$IMG/flower.jpg" --preprocess rescale --image-size 16x11
expect_fail 3 "output per sample is \[56,36,3\], not class probabilities" \
  "$C" evaluate "$D" --data "$tmp/set" --preprocess rescale --image-size 16x11
"$C" train --data penguins --label species --out "$tmp/peng" --epochs 1 > /dev/null 2> "$tmp/err" || die "train penguins: $(tail -2 "$tmp/err")"
expect_fail 3 "not an image" "$C" predict "$tmp/peng" "$IMG/flower.jpg" --preprocess rescale
expect_fail 2 "is for" "$C" evaluate "$tmp/peng" --data penguins --label species --preprocess rescale
[ "$fail" = 0 ] && echo "preprocess cli: ok"
exit $fail
