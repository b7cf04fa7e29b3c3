#!/usr/bin/env bash
# `crest quantize --activations int16` (TFLite's 16x8: int16 activations,
# int8 weights) on real data: the MobileNetV2 head model of quantize.sh
# (transfer-learned on Fashion-MNIST at 224x224; backbone features cached in
# $CREST_DATA/.cache/features) agrees with the float model on the top class
# of at least 98.5% of 1,000 test images, a floor the uint8 model does not
# reach (957-964 of 1,000): a silent fall back to 8 bits fails here. The
# folder records int16 and reloads to the same predictions; 1 and 2 threads
# give the same bits; evaluate / infer / bench run it; the ONNX export
# refuses it (exit 3, a message naming the cause; the TFLite export:
# quantized16_export.sh); old uint8 folders still load.
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte" ] || { echo "FAIL: no fashion-mnist: run tools/setup.sh"; exit 1; }
MOB="$CREST_DATA/models/mobilenet_v2"
CACHE="${CREST_FEATURE_CACHE:-$CREST_DATA/.cache/features}"
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
classes() {
  python3 -c 'import json,sys; [print(max(range(len(p["probs"])), key=p["probs"].__getitem__)) for p in json.load(sys.stdin)["predictions"]]'
}
agree() { paste -d' ' "$1" "$2" | awk '$1 == $2' | wc -l; }
l1() { python3 -c '
import json, sys
f, q = (json.load(open(a))["predictions"] for a in sys.argv[1:])
print("%.4f" % (sum(sum(abs(x - y) for x, y in zip(a["probs"], b["probs"])) for a, b in zip(f, q)) / len(f)))
' "$1" "$2"; }

# under sanitizers 100 images and 50 calibration samples (slow int16 loops
# there): floor 98 (seen: 100; uint8 gets 95 of the first 100, 193 of 200)
NT=1000 NCAL=200 FLOOR=985
[ -n "${CREST_SANITIZED:-}" ] && NT=100 NCAL=50 FLOOR=98
"$C" train --base "$MOB" --data fashion-mnist --limit 2000 --epochs 10 --seed 1 --cache "$CACHE" \
  --out "$tmp/m" > /dev/null 2> "$tmp/err" || { die "train the MobileNetV2 head: $(tail -2 "$tmp/err")"; exit 1; }
"$C" quantize "$tmp/m" --calibrate fashion-mnist:train --samples $NCAL --activations int16 \
  --out "$tmp/m16" --json > "$tmp/q.json" 2> "$tmp/err" || die "quantize --activations int16: $(cat "$tmp/err")"
cat "$tmp/q.json"
[ "$(jget activations < "$tmp/q.json")" = int16 ] || die "quantize --json: activations is not int16"
[ "$(jget float_ops < "$tmp/q.json")" = 1 ] || die "int16: every op but the softmax should run integer"
grep -q '"activations_dtype":"int16"' "$tmp/m16/model.json" || die "int16 not recorded in model.json"
"$C" predict "$tmp/m" --data fashion-mnist:test --limit $NT --json > "$tmp/mf.json"
"$C" predict "$tmp/m16" --data fashion-mnist:test --limit $NT --json > "$tmp/mq.json"
classes < "$tmp/mf.json" > "$tmp/mf.txt"
classes < "$tmp/mq.json" > "$tmp/mq.txt"
[ "$(wc -l < "$tmp/mq.txt")" = $NT ] || die "int16 predict"
same=$(agree "$tmp/mf.txt" "$tmp/mq.txt"); d=$(l1 "$tmp/mf.json" "$tmp/mq.json")
echo "MobileNetV2 head, int16 activations: top-1 agreement $same/$NT, mean L1 of probabilities $d"
# seen: 993 of 1,000, L1 0.007 (uint8: 962, 0.060)
at_least "$same" $FLOOR "int16/float top-1 agreement (of $NT test images)"
awk -v d="$d" 'BEGIN { exit !(d < 0.02) }' || die "int16: mean L1 $d is not under 0.02 (uint8: 0.06)"

# the same bits: 1 and 2 threads, and predict from the folder vs evaluate
python3 -c "
import random, struct
random.seed(5)
open('$tmp/x.f32', 'wb').write(struct.pack('<%df' % (3 * 224 * 224 * 3), *[random.uniform(-1, 1) for _ in range(3 * 224 * 224 * 3)]))"
"$C" infer "$tmp/m16" --input "$tmp/x.f32" --shape 3,224,224,3 --out "$tmp/y1.f32" --threads 1 2> "$tmp/err" ||
  die "infer int16 (1 thread): $(cat "$tmp/err")"
"$C" infer "$tmp/m16" --input "$tmp/x.f32" --shape 3,224,224,3 --out "$tmp/y2.f32" --threads 2 --batch 2 2> /dev/null ||
  die "infer int16 (2 threads)"
cmp -s "$tmp/y1.f32" "$tmp/y2.f32" || die "int16 infer: 1 and 2 threads (or batches of 2) differ"
"$C" evaluate "$tmp/m16" --data fashion-mnist:test --limit 50 --json > /dev/null || die "evaluate int16"
"$C" bench "$tmp/m16" --iters 2 --json > /dev/null || die "bench int16"
# a uint8 folder still loads (no activations_dtype: uint8) and runs uint8
"$C" quantize "$tmp/m" --calibrate fashion-mnist:train --samples 16 --out "$tmp/m8" > "$tmp/q8.txt" 2>&1 ||
  die "quantize uint8"
grep -q "ops integer (uint8 activations)" "$tmp/q8.txt" || die "quantize: the summary does not name uint8 activations"
grep -q '"activations_dtype":"uint8"' "$tmp/m8/model.json" || die "uint8 not recorded"
sed -i 's/"activations_dtype":"uint8",//' "$tmp/m8/model.json"
"$C" infer "$tmp/m8" --input "$tmp/x.f32" --shape 3,224,224,3 --out "$tmp/y8.f32" 2> "$tmp/err" ||
  die "a uint8 folder without activations_dtype: $(cat "$tmp/err")"
# ONNX is the next step: refused, nothing written
expect_fail 3 "int16 activations.*ONNX" "$C" export "$tmp/m16" --format onnx --out "$tmp/x.onnx"
[ -e "$tmp/x.onnx" ] && die "a refused export left a file"
expect_fail 3 "--activations .int4. is not uint8 or int16" "$C" quantize "$tmp/m" --calibrate fashion-mnist --activations int4 --out "$tmp/e"

[ "$fail" = 0 ] && echo "quantize16: ok"
exit $fail
