#!/usr/bin/env bash
# TF.js folders with quantized weights (crest export --format tfjs
# --quantize uint8|uint16|float16), as TF.js' converter writes them: the
# shard is 1 or 2 bytes per weight; real TF.js (4.22) opens each folder and
# computes what crest computes from it; on a Fashion-MNIST MLP trained here,
# uint8 weights agree with the float model on the top class of >= 99% of
# 2,000 test images and lose at most 1 point of accuracy; the uint8 export of
# nsfwjs' MobileNetV2 (stored as uint8 by its authors) is as large as theirs
# and within 1e-5 of the float model; a penguins table model keeps its
# accuracy; bad uses are refused.
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte" ] || { echo "FAIL: no fashion-mnist: run tools/setup.sh"; exit 1; }
MOB="$CREST_DATA/models/mobilenet_v2"

tfjs() {   # MODEL_DIR X.f32 SHAPE OUT.f32: real TF.js' output
  NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/infer_model.js" "$@" > "$tmp/node.log" 2>&1 ||
    die "TF.js on $1: $(tail -2 "$tmp/node.log")"
}
classes() {   # predict --json -> the most probable class's index, one per line
  python3 -c 'import json,sys; [print(max(range(len(p["probs"])), key=p["probs"].__getitem__)) for p in json.load(sys.stdin)["predictions"]]'
}
accuracy() { python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'; }

"$C" train --data fashion-mnist --hidden 128 --epochs 3 --seed 1 --out "$tmp/f" > /dev/null 2>&1 ||
  { echo "FAIL: train"; exit 1; }
params=$(( $(stat -c %s "$tmp"/f/weights.*.bin) / 4 ))
python3 -c "
import random, struct
random.seed(3)
open('$tmp/x.f32', 'wb').write(struct.pack('<%df' % (4 * 784), *[random.random() for _ in range(4 * 784)]))"
"$C" predict "$tmp/f" --data fashion-mnist:test --limit 2000 --json | classes > "$tmp/float.txt"
acc_f=$("$C" evaluate "$tmp/f" --data fashion-mnist:test --json | accuracy)

for q in uint8 uint16 float16; do
  d="$tmp/f_$q"
  "$C" export "$tmp/f" --format tfjs --quantize $q --out "$d" > /dev/null 2> "$tmp/err" ||
    { die "export --quantize $q: $(cat "$tmp/err")"; continue; }
  # every value within half a step of the float weight (uint8, uint16) or
  # of float16's rounding; 0 a code whenever a tensor's range covers it
  python3 - "$tmp/f" "$d" $q <<'PY' || die "$q: codes do not decode to the weights"
import glob, json, math, struct, sys
f, d, q = sys.argv[1:]
w = open(glob.glob(f + '/weights.*.bin')[0], 'rb').read()
c = open(glob.glob(d + '/weights.*.bin')[0], 'rb').read()
specs = json.load(open(d + '/model.json'))['weightsManifest'][0]['weights']
fo = co = 0
for s in specs:
    n = math.prod(s['shape'])
    v = struct.unpack_from('<%df' % n, w, fo); fo += 4 * n
    qz = s['quantization']
    if q == 'float16':
        dec = struct.unpack_from('<%de' % n, c, co); co += 2 * n
        tol = [abs(x) * 2 ** -11 + 2 ** -25 for x in v]
    else:
        fmt, size = ('B', 1) if q == 'uint8' else ('H', 2)
        codes = struct.unpack_from('<%d%s' % (n, fmt), c, co); co += size * n
        dec = [qz['min'] + qz['scale'] * k for k in codes]
        tol = [qz['scale'] / 2 * (1 + 1e-9)] * n
        if min(v) < 0 < max(v) and qz['min'] + qz['scale'] * round(-qz['min'] / qz['scale']) != 0:
            sys.exit('%s: 0 is not a code' % s['name'])
    bad = [i for i in range(n) if abs(dec[i] - v[i]) > tol[i]]
    if bad:
        sys.exit('%s[%d]: %r decodes to %r' % (s['name'], bad[0], v[bad[0]], dec[bad[0]]))
PY
  per=2; [ $q = uint8 ] && per=1
  size=$(stat -c %s "$d"/weights.*.bin)
  [ "$size" = $((params * per)) ] || die "$q shard has $size bytes, not $params x $per"
  grep -q "\"dtype\":\"$q\"" "$d/model.json" || die "$q: no quantization dtype in the manifest"
  # real TF.js decodes the shard as crest does
  "$C" infer "$d" --input "$tmp/x.f32" --shape 4,28,28 --out "$tmp/c.f32" 2> /dev/null || die "infer $q"
  tfjs "$d" "$tmp/x.f32" 4,28,28 "$tmp/t.f32" && { close "$tmp/t.f32" "$tmp/c.f32" || die "$q: crest and TF.js differ"; }
  "$C" predict "$d" --data fashion-mnist:test --limit 2000 --json | classes > "$tmp/q.txt"
  same=$(paste -d' ' "$tmp/float.txt" "$tmp/q.txt" | awk '$1 == $2' | wc -l)
  acc_q=$("$C" evaluate "$d" --data fashion-mnist:test --json | accuracy)
  echo "$q: $size bytes ($params weights), top-1 agreement $same/2000, accuracy $acc_q (float $acc_f)"
  at_least "$same" 1980 "$q top-1 agreement with float32 (of 2000)"
  awk -v f="$acc_f" -v q="$acc_q" 'BEGIN { exit !(q >= f - 0.01) }' || die "$q accuracy $acc_q < $acc_f - 0.01"
done

# a table model (penguins, feature columns in the folder's metadata): the
# uint8 folder predicts raw CSV rows as well as the float one
need_penguins
"$C" train --data "$P" --label species --epochs 20 --seed 1 --out "$tmp/p" > /dev/null 2>&1 || die "train penguins"
"$C" export "$tmp/p" --format tfjs --quantize uint8 --out "$tmp/p8" > /dev/null 2>&1 || die "export penguins uint8"
acc_pf=$("$C" evaluate "$tmp/p" --data "$P" --json | accuracy)
acc_pq=$("$C" evaluate "$tmp/p8" --data "$P" --json | accuracy)
echo "penguins: accuracy $acc_pq with uint8 weights (float $acc_pf)"
awk -v f="$acc_pf" -v q="$acc_pq" 'BEGIN { exit !(q >= f - 0.01) }' || die "penguins uint8 accuracy $acc_pq < $acc_pf - 0.01"

# a real backbone: nsfwjs' MobileNetV2 is stored as uint8 by its authors;
# crest's uint8 export is as large, and computes within 1e-5 of the float
python3 -c "
import random, struct
random.seed(4)
open('$tmp/img.f32', 'wb').write(struct.pack('<%df' % (224 * 224 * 3), *[random.random() for _ in range(224 * 224 * 3)]))"
"$C" export "$MOB" --format tfjs --quantize uint8 --out "$tmp/m8" > /dev/null 2>&1 || die "export mobilenet uint8"
[ "$(stat -c %s "$tmp"/m8/weights.*.bin)" = "$(stat -c %s "$MOB"/group1-shard1of1.bin)" ] ||
  die "MobileNetV2 uint8 shard differs in size from nsfwjs' own"
"$C" infer "$MOB" --input "$tmp/img.f32" --shape 1,224,224,3 --out "$tmp/mf.f32" 2> /dev/null
"$C" infer "$tmp/m8" --input "$tmp/img.f32" --shape 1,224,224,3 --out "$tmp/mq.f32" 2> /dev/null
close "$tmp/mf.f32" "$tmp/mq.f32" || die "MobileNetV2 re-quantized to uint8 computes differently"
tfjs "$tmp/m8" "$tmp/img.f32" 1,224,224,3 "$tmp/mt.f32" && { close "$tmp/mt.f32" "$tmp/mq.f32" || die "MobileNetV2 uint8: crest and TF.js differ"; }

# bad uses
EXPECT_LINES=2
expect_fail 2 "quantize needs --format tfjs" "$C" export "$tmp/f" --format h5 --quantize uint8 --out "$tmp/x.h5"
expect_fail 3 "--quantize 'int4' is not uint8, uint16 or float16" "$C" export "$tmp/f" --format tfjs --quantize int4 --out "$tmp/x4"

[ "$fail" = 0 ] && echo "quantized_export: ok"
exit $fail
