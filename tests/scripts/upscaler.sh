#!/usr/bin/env bash
# Third-party Keras models nobody here wrote: the 21 super-resolution models
# of the UpscalerJS npm packages (tools/setup.sh, data/upscalerjs): Keras 2.3
# to 2.10, float32 and uint8-quantized weights, inputs [None, None, None, 3],
# up to 477 layers, with the custom classes MultiplyBeta and PixelShuffleNx
# defined with no C code (--custom-layers). On a crop of a real photo, crest
# infer matches real TF.js (4.22, the classes registered in JS:
# tests/tfjs/upscaler_layers.js) within 1e-5 of the output's magnitude on
# every model; two more input sizes and a batch of two on two of them; the
# .h5 and .keras exports of a quantized 477-layer model give crest's bits
# again; without the definitions the error names layer, class and the way
# to define them.
. "$(dirname "$0")/common.bash"
U="$CREST_DATA/upscalerjs"
[ -f "$U/esrgan-thick/models/x8/model.json" ] || { echo "FAIL: no $U: run tools/setup.sh"; exit 1; }
EXPECT_LINES=2

# TF.js' output on X (shape S) for model M (a folder, or its .json) into OUT
tfjs() {
  local dir="$1"
  if [ -f "$1" ]; then      # infer_model.js reads DIR/model.json: link others
    dir="$tmp/json_model"
    rm -rf "$dir" && mkdir "$dir" && ln -s "$1" "$dir/model.json"
    ln -s "$(dirname "$1")"/*.bin "$dir/"
  fi
  NODE_PATH="$ROOT/tools/node_modules" node -r "$ROOT/tests/tfjs/upscaler_layers.js" \
    "$ROOT/tests/tfjs/infer_model.js" "$dir" "$2" "$3" "$4" > "$tmp/node.log" 2>&1 ||
    { die "TF.js on $1: $(tail -3 "$tmp/node.log")"; return 1; }
}

# REF GOT NAME: "max |diff| / max |REF|  NAME"
worst() {
  python3 - "$@" <<'PY'
import struct, sys
a, b = (open(f, 'rb').read() for f in sys.argv[1:3])
x = struct.unpack('<%df' % (len(a) // 4), a)
y = struct.unpack('<%df' % (len(b) // 4), b)
print('%.3g %s (magnitude %.3g)' % (max(abs(p - q) for p, q in zip(x, y)) / max(map(abs, x)), sys.argv[3], max(map(abs, x))))
PY
}

# a crop of a real photo, RGB in [0, 1]: crop W H LEFT TOP OUT (one image)
crop() {
  NODE_PATH="$ROOT/tools/node_modules" node -e '
const fs = require("fs"), jpeg = require("jpeg-js");
const [file, w, h, x0, y0, out] = process.argv.slice(1);
const im = jpeg.decode(fs.readFileSync(file), { useTArray: true });
const v = new Float32Array(w * h * 3);
for (let y = 0; y < h; y++)
  for (let x = 0; x < w; x++)
    for (let c = 0; c < 3; c++)
      v[(y * w + x) * 3 + c] = im.data[((+y0 + y) * im.width + (+x0 + x)) * 4 + c] / 255;
fs.writeFileSync(out, Buffer.from(v.buffer));
' "$CREST_DATA/images/flower.jpg" "$@"
}

crop 20 14 200 150 "$tmp/a.f32"          # [1, 14, 20, 3]
crop 9 11 330 210 "$tmp/b1.f32"
crop 9 11 60 40 "$tmp/b2.f32"
cat "$tmp/b1.f32" "$tmp/b2.f32" > "$tmp/b.f32"   # [2, 11, 9, 3]

# The classes as a user defines them (MultiplyBeta's beta and the shuffle's
# scale are the layers' own config fields).
cat > "$tmp/defs.json" <<'EOF'
{"MultiplyBeta": "x * beta",
 "PixelShuffle2x": "depth_to_space(x, scale)", "PixelShuffle3x": "depth_to_space(x, scale)",
 "PixelShuffle4x": "depth_to_space(x, scale)", "PixelShuffle8x": "depth_to_space(x, scale)"}
EOF
D=(--custom-layers "$tmp/defs.json")

n=0
while IFS= read -r json; do
  m="${json#"$U"/}"
  "$C" infer "$json" --input "$tmp/a.f32" --shape 1,14,20,3 --out "$tmp/c.f32" "${D[@]}" 2> "$tmp/err" ||
    { die "crest infer $m: $(cat "$tmp/err")"; continue; }
  tfjs "$json" "$tmp/a.f32" 1,14,20,3 "$tmp/t.f32" || continue
  if close "$tmp/t.f32" "$tmp/c.f32"; then n=$((n + 1)); else die "$m: crest differs from TF.js"; fi
  worst "$tmp/t.f32" "$tmp/c.f32" "$m" >> "$tmp/diffs"
done < <(find "$U" -name '*.json' | sort)
sort -g "$tmp/diffs" | tail -3 | sed 's/^/largest: /'
echo "upscalerjs: $n models agree with TF.js within 1e-5"
at_least "$n" 21 "models matching TF.js"

# other sizes, re-planned in one run: a batch of two smaller crops, one pass
# per sample and one pass for both
for m in esrgan-slim/models/x4 esrgan-thick/models/x3; do
  tfjs "$U/$m" "$tmp/b.f32" 2,11,9,3 "$tmp/tb.f32" || continue
  for batch in 1 2; do
    "$C" infer "$U/$m" --input "$tmp/b.f32" --shape 2,11,9,3 --batch $batch --out "$tmp/cb.f32" \
      "${D[@]}" 2> "$tmp/err" || { die "$m at 2x11x9: $(cat "$tmp/err")"; continue; }
    close "$tmp/tb.f32" "$tmp/cb.f32" || die "$m, batch $batch of 2x11x9: crest differs from TF.js"
  done
done

# Keras' summary of the largest one: 477 layers and unknown sizes
"$C" summary "$U/esrgan-legacy/models/gans" "${D[@]}" > "$tmp/sum.txt" 2>&1 || die "summary: $(tail -2 "$tmp/sum.txt")"
grep -q '(PixelShuffle4x) *(None, None, None, 3)' "$tmp/sum.txt" || die "summary lacks the shuffle's None shape"
[ "$(grep -c '(MultiplyBeta)' "$tmp/sum.txt")" = 40 ] || die "summary does not list 40 MultiplyBeta layers"
# its weights manifest's shapes sum to 4,176,100
grep -q '^Total params: 4,176,100$' "$tmp/sum.txt" || die "summary: $(grep Total "$tmp/sum.txt")"

# the quantized 477-layer model through .h5 and .keras: the same bits, and
# the definitions travel with the file
M="$U/esrgan-legacy/models/gans"
"$C" infer "$M" --input "$tmp/a.f32" --shape 1,14,20,3 --out "$tmp/g.f32" "${D[@]}" 2> /dev/null
for f in h5 keras; do
  "$C" export "$M" --format $f --out "$tmp/g.$f" "${D[@]}" > /dev/null 2> "$tmp/err" ||
    { die "export $f: $(cat "$tmp/err")"; continue; }
  "$C" infer "$tmp/g.$f" --input "$tmp/a.f32" --shape 1,14,20,3 --out "$tmp/g2.f32" 2> "$tmp/err" ||
    { die "infer on the .$f export: $(cat "$tmp/err")"; continue; }
  cmp -s "$tmp/g.f32" "$tmp/g2.f32" || die "the .$f export of $M predicts differently"
done

# no definitions: the first unknown layer, its class and the remedy
expect_fail 3 "layer 'multiply_beta_[0-9]+': class MultiplyBeta is not supported: define it with --custom-layers" \
  "$C" infer "$M" --input "$tmp/a.f32" --shape 1,14,20,3 --out "$tmp/z.f32"

[ "$fail" = 0 ] && echo "upscaler: ok"
exit $fail
