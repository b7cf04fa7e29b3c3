#!/usr/bin/env bash
# Unknown input dimensions end to end: a fully convolutional model whose
# input is [None, None, None, 3] (tools/golden/dynamic_shape.js: Conv2D,
# a residual Add, Conv2DTranspose stride 2, UpSampling2D bilinear), float32
# and uint8-quantized, run by `crest infer` at two input sizes and matched
# against real TF.js within 1e-4 of the output's magnitude; the same after
# `crest export --format h5`; `crest summary` shows None; a shape the model
# cannot take is an error naming the layer.
. "$(dirname "$0")/common.bash"
set -e
CREST="$C"
G="$ROOT/tests/golden/dynamic"

# max |a - b| <= 1e-4 * max |b| over two raw float32 files of equal size
close() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
def rd(p):
    b = open(p, 'rb').read()
    return struct.unpack('<%df' % (len(b) // 4), b)
a, b = rd(sys.argv[1]), rd(sys.argv[2])
if len(a) != len(b):
    sys.exit('%s: %d values, TF.js %d' % (sys.argv[3], len(a), len(b)))
mag = max(abs(v) for v in b)
d = max(abs(x - y) for x, y in zip(a, b))
print('%-28s max |diff| %.3g (output magnitude %.3g)' % (sys.argv[3], d, mag))
if not d <= 1e-4 * mag:
    sys.exit('%s: crest differs from TF.js by %g > 1e-4 * %g' % (sys.argv[3], d, mag))
PY
}

"$CREST" export "$G/float" --format h5 --out "$tmp/float.h5" > /dev/null
for kind in float uint8 h5; do
    model="$G/$kind"
    gold="$kind"
    [ "$kind" = h5 ] && model="$tmp/float.h5" && gold=float
    "$CREST" infer "$model" --input "$G/x_a.f32" --shape 1,9,13,3 --out "$tmp/a.f32" 2> "$tmp/a.log"
    grep -q 'output \[1,28,44,3\]' "$tmp/a.log" || { cat "$tmp/a.log"; exit 1; }
    close "$tmp/a.f32" "$G/y_${gold}_a.f32" "$kind 1x9x13"
    "$CREST" infer "$model" --input "$G/x_b.f32" --shape 2,16,11,3 --batch 1 --out "$tmp/b.f32" 2> "$tmp/b.log"
    grep -q 'output \[2,56,36,3\]' "$tmp/b.log" || { cat "$tmp/b.log"; exit 1; }
    close "$tmp/b.f32" "$G/y_${gold}_b.f32" "$kind 2x16x11"
done

# Keras' summary: None where a dimension follows the unknown input
"$CREST" summary "$G/float" > "$tmp/summary.txt"
grep -q 'up_tconv (Conv2DTranspose)  *(None, None, None, 6)' "$tmp/summary.txt" ||
    { cat "$tmp/summary.txt"; echo "summary: no None shapes"; exit 1; }
"$CREST" summary "$tmp/float.h5" --json | grep -q '"output_shape":\[null,null,null,3\]' ||
    { echo "summary --json: no null shapes"; exit 1; }

# a cut inside the model, as crest infer --layer, at the data's size
"$CREST" infer "$G/float" --input "$G/x_a.f32" --shape 1,9,13,3 --layer res --out "$tmp/res.f32" 2> "$tmp/res.log"
grep -q 'output \[1,7,11,8\]' "$tmp/res.log" || { cat "$tmp/res.log"; exit 1; }

# shapes the model cannot take: clear errors, exit 3, the layer named
set +e
"$CREST" infer "$G/float" --input "$G/x_a.f32" --shape 39,1,12,3 --out "$tmp/bad.f32" 2> "$tmp/bad.log"
rc=$?
set -e
[ "$rc" = 3 ] && grep -q "layer 'head'" "$tmp/bad.log" && grep -q "\[1,12,3\]" "$tmp/bad.log" ||
    { cat "$tmp/bad.log"; echo "too small an image: rc $rc"; exit 1; }
set +e
"$CREST" infer "$G/float" --input "$G/x_a.f32" --shape 1,9,13,3,1 --out "$tmp/bad.f32" 2> "$tmp/bad2.log"
rc2=$?
"$CREST" infer "$G/float" --input "$G/x_a.f32" --shape 1,9,39,1 --out "$tmp/bad.f32" 2> "$tmp/bad3.log"
rc3=$?
set -e
[ "$rc2" = 3 ] && grep -q "do not fit its input \[None,None,3\]" "$tmp/bad2.log" ||
    { cat "$tmp/bad2.log"; echo "wrong rank: rc $rc2"; exit 1; }
[ "$rc3" = 3 ] && grep -q "do not fit its input \[None,None,3\]" "$tmp/bad3.log" ||
    { cat "$tmp/bad3.log"; echo "wrong channels: rc $rc3"; exit 1; }
# transfer learning on it: cut, pooled, headed; images resized to --image-size
"$CREST" train --data fashion-mnist --base "$G/uint8" --cut res --image-size 20x16 --limit 60 \
    --epochs 1 --seed 2 --out "$tmp/tl" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; exit 1; }
grep -q "cut after 'res', avg pooling, 8 features" "$tmp/train.log" || { cat "$tmp/train.log"; exit 1; }
grep -q '"height":20,"width":16' "$tmp/tl/model.json" || { echo "image size not recorded"; exit 1; }
"$CREST" predict "$tmp/tl" --data fashion-mnist:test --limit 3 --json > "$tmp/pred.json"
grep -q '"probs"' "$tmp/pred.json" || { cat "$tmp/pred.json"; exit 1; }
"$CREST" evaluate "$tmp/tl" --data fashion-mnist:test --limit 20 --json | grep -q '"n":20' ||
    { echo "evaluate on the trained model failed"; exit 1; }
set +e
"$CREST" train --data fashion-mnist --base "$tmp/tl" --image-size 20x20 --limit 10 --epochs 1 \
    --out "$tmp/tl2" > /dev/null 2> "$tmp/fixed.log"
rc=$?
"$CREST" train --data fashion-mnist --base "$G/float" --image-size 20by16 --out "$tmp/tl3" 2> /dev/null
rc2=$?
set -e
[ "$rc" = 0 ] || { cat "$tmp/fixed.log"; echo "--image-size on the unknown-size backbone: rc $rc"; exit 1; }
[ "$rc2" = 3 ] || { echo "--image-size 20by16: rc $rc2, not a bad option value"; exit 1; }
echo "dynamic_shape: ok"
