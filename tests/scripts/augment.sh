#!/usr/bin/env bash
# crest train --base ... --augment SPEC --augment-copies K on a small image
# folder: the augmentation line, K copies of every training image's features
# (cached: a second run reads them back), the follow-on commands on the
# trained model; the layers in the saved model (model.json, summary), the
# identity at inference (bit for bit against the model without them, which
# export --format tfjs writes and real TF.js opens), kept by .keras and .h5;
# --fine-tune with fresh draws every step, resumed bit-identical after a
# kill; a saved augmented model fine-tuned again augments; crop (images
# loaded larger, RandomCrop first, 256x256 model input); bad specs
# refused before any work (exit 2, naming the item).
. "$(dirname "$0")/common.bash"
MNV2="$CREST_DATA/models/mobilenet_v2"
mkdir -p "$tmp/img/a" "$tmp/img/b"
for k in 1 2 3; do
  cp "$CREST_DATA/images/china.jpg" "$tmp/img/a/$k.jpg"
  cp "$CREST_DATA/images/flower.jpg" "$tmp/img/b/$k.jpg"
done
run() { "$C" train --data "$tmp/img" --base "$MNV2" --epochs 2 --seed 3 --cache "$tmp/cache" \
          --augment flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1 --augment-copies 3 "$@"; }
run --out "$tmp/m" > /dev/null 2> "$tmp/log" || die "train --augment: $(tail -3 "$tmp/log")"
grep -q "augmentation: flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1, 3 copies" "$tmp/log" \
  || die "no augmentation line: $(head -5 "$tmp/log")"
grep -q "features (train): 18 images (augmented copies)" "$tmp/log" \
  || die "not 3 copies of 6 images: $(grep features "$tmp/log")"
run --out "$tmp/m2" > /dev/null 2> "$tmp/log2" || die "second run: $(tail -3 "$tmp/log2")"
grep -q "features (train): 18 images (augmented copies).*from the cache" "$tmp/log2" \
  || die "the augmented features were not read back from the cache"
cmp -s "$tmp/m/model.json" "$tmp/m2/model.json" || die "two runs with one seed differ (model.json)"
"$C" evaluate "$tmp/m" --data "$tmp/img" > /dev/null 2>&1 || die "evaluate after --augment"
"$C" predict "$tmp/m" "$CREST_DATA/images/china.jpg" > /dev/null 2>&1 || die "predict after --augment"
grep -q '"augment":"flip=horizontal,rotate=0.1,zoom=0.2,contrast=0.1"' "$tmp/m/model.json" \
  || die "the augmentation summary is not in the model's metadata"
# the layers themselves are the model's first, as Keras builds it (inputs ->
# augmentation -> backbone), with Keras' class names and configs
python3 - "$tmp/m/model.json" <<'PY' || die "model.json lacks the augmentation layers"
import json, sys
t = json.load(open(sys.argv[1]))['modelTopology']
L = t.get('model_config', t)['config']['layers']
want = [('RandomFlip', {'mode': 'horizontal', 'seed': 3}),
        ('RandomRotation', {'factor': 0.1, 'fill_mode': 'reflect', 'interpolation': 'bilinear',
                            'fill_value': 0, 'seed': 3}),
        ('RandomZoom', {'height_factor': 0.2, 'width_factor': None, 'fill_mode': 'reflect',
                        'interpolation': 'bilinear', 'seed': 3}),
        ('RandomContrast', {'factor': 0.1, 'value_range': [0, 1], 'seed': 3})]
assert L[0]['class_name'] == 'InputLayer', L[0]['class_name']
prev = L[0]['config']['name']
for (cls, cfg), l in zip(want, L[1:]):
    assert l['class_name'] == cls, (cls, l['class_name'])
    for k, v in cfg.items():
        assert l['config'].get(k, 'absent') == v, (cls, k, l['config'].get(k, 'absent'))
    assert l['inbound_nodes'][0][0][0] == prev, (cls, 'reads', l['inbound_nodes'][0][0][0])
    prev = l['config']['name']
nxt = L[len(want) + 1]   # the backbone's first layer reads the last augmentation layer
assert nxt['inbound_nodes'][0][0][0] == prev, (nxt['config']['name'], nxt['inbound_nodes'])
PY
"$C" summary "$tmp/m" > "$tmp/sum" 2>&1 || die "summary"
for l in "random_flip (RandomFlip)" "random_rotation (RandomRotation)" "random_zoom (RandomZoom)" \
         "random_contrast (RandomContrast)"; do
  grep -q "$l" "$tmp/sum" || die "summary does not list $l"
done
# inactive at inference: the model and the same model with the layers taken
# out (export --format tfjs leaves them out, saying so) give the same bits
"$C" export "$tmp/m" --format tfjs --out "$tmp/js" > /dev/null 2> "$tmp/xlog" || die "export tfjs"
grep -q "left out 4 augmentation layers" "$tmp/xlog" || die "no note on the layers left out"
! grep -q '"Random' "$tmp/js/model.json" || die "the TF.js export kept augmentation layers"
python3 -c "
import random, struct; random.seed(5)
open('$tmp/x.f32', 'wb').write(struct.pack('<%df' % (2 * 224 * 224 * 3),
    *[random.random() for _ in range(2 * 224 * 224 * 3)]))"
X=(--input "$tmp/x.f32" --shape 2,224,224,3)
"$C" infer "$tmp/m" "${X[@]}" --out "$tmp/y_m.f32" > /dev/null 2>&1 || die "infer"
"$C" infer "$tmp/js" "${X[@]}" --out "$tmp/y_js.f32" > /dev/null 2>&1 || die "infer (no layers)"
cmp -s "$tmp/y_m.f32" "$tmp/y_js.f32" || die "infer: the layers change the output at inference"
for cmd in "predict --json" "evaluate --json --data $tmp/img"; do
  # shellcheck disable=SC2086
  "$C" ${cmd%% *} "$tmp/m" ${cmd#* } $( [ "${cmd%% *}" = predict ] && echo "$tmp/img/a/1.jpg" ) \
    > "$tmp/o_m" 2>&1 || die "$cmd"
  # shellcheck disable=SC2086
  "$C" ${cmd%% *} "$tmp/js" ${cmd#* } $( [ "${cmd%% *}" = predict ] && echo "$tmp/img/a/1.jpg" ) \
    > "$tmp/o_js" 2>&1 || die "$cmd (no layers)"
  cmp -s "$tmp/o_m" "$tmp/o_js" || die "$cmd: the layers change the output at inference"
done
# no per-sample draws at inference: one image twice in a batch, two equal rows
python3 -c "
d = open('$tmp/x.f32', 'rb').read()[:224 * 224 * 3 * 4]
open('$tmp/xx.f32', 'wb').write(d + d)"
"$C" infer "$tmp/m" --input "$tmp/xx.f32" --shape 2,224,224,3 --out "$tmp/yy.f32" > /dev/null 2>&1 \
  || die "infer (one image twice)"
python3 -c "
d = open('$tmp/yy.f32', 'rb').read(); h = len(d) // 2
assert h and d[:h] == d[h:]" || die "infer: one image twice gave two outputs (a draw at inference)"
# real TF.js 4.22 opens the export (it has no RandomFlip...) and predicts
# what crest does
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/infer_model.js" "$tmp/js" \
  "$tmp/x.f32" 2,224,224,3 "$tmp/y_tfjs.f32" > /dev/null 2> "$tmp/nlog" \
  || die "real TF.js cannot open the export: $(tail -2 "$tmp/nlog")"
close "$tmp/y_tfjs.f32" "$tmp/y_m.f32" || die "TF.js and crest differ"
# .keras and .h5 keep the layers and reload to the same outputs
for f in keras h5; do
  "$C" export "$tmp/m" --format $f --out "$tmp/m.$f" > /dev/null 2>&1 || die "export $f"
  "$C" summary "$tmp/m.$f" > "$tmp/sum_$f" 2>&1 || die "summary $f"
  grep -q "random_zoom (RandomZoom)" "$tmp/sum_$f" || die "$f: the layers did not come back"
  "$C" infer "$tmp/m.$f" "${X[@]}" --out "$tmp/y_$f.f32" > /dev/null 2>&1 || die "infer $f"
  cmp -s "$tmp/y_m.f32" "$tmp/y_$f.f32" || die "$f: outputs differ after the round trip"
done
# fine-tuning: the augmentation runs on the images at every step
run --fine-tune 3 --fine-tune-epochs 2 --out "$tmp/ft" > /dev/null 2> "$tmp/log3" \
  || die "--augment with --fine-tune: $(tail -3 "$tmp/log3")"
grep -q "while fine-tuning, new draws every step" "$tmp/log3" || die "no fine-tuning note"
"$C" predict "$tmp/ft" "$CREST_DATA/images/flower.jpg" > /dev/null 2>&1 || die "predict after fine-tuning"
"$C" summary "$tmp/ft" > "$tmp/sum_ft" 2>&1 || die "summary (fine-tuned)"
grep -q "(RandomFlip)" "$tmp/sum_ft" || die "the fine-tuned model lacks the layers"
# a run killed while fine-tuning and continued (--resume) ends bit-identical
cc -shared -fPIC -O1 -o "$tmp/killshim.so" "$ROOT/tests/scripts/killshim.c" -ldl || die "shim"
{ KILL_ON=rename:fine-tune.ckpt:2 LD_PRELOAD="$tmp/killshim.so" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0" \
    run --fine-tune 3 --fine-tune-epochs 2 --out "$tmp/ftk" > /dev/null 2>&1; } 2> /dev/null
[ -f "$tmp/ftk/checkpoint/fine-tune.ckpt" ] && [ ! -f "$tmp/ftk/model.json" ] \
  || die "the run was not killed after its first fine-tuning epoch"
run --fine-tune 3 --fine-tune-epochs 2 --resume "$tmp/ftk" > /dev/null 2> "$tmp/log4" \
  || die "--resume: $(tail -2 "$tmp/log4")"
grep -q "fine-tune.ckpt after epoch 1/2" "$tmp/log4" || die "--resume did not resume: $(grep -i resum "$tmp/log4")"
cmp -s "$tmp"/ftk/weights*.bin "$tmp"/ft/weights*.bin || die "--resume: weights differ"
# fine-tuning a saved augmented model (--base): its layers stay and augment
# every step: the same run on its TF.js export (no layers) trains other weights
ft() { "$C" train --data "$tmp/img" --base "$1" --epochs 1 --seed 4 --fine-tune 2 \
         --fine-tune-epochs 2 --out "$2" > /dev/null 2> "$tmp/log5" || die "--base $1: $(tail -2 "$tmp/log5")"; }
ft "$tmp/m" "$tmp/b1"; ft "$tmp/js" "$tmp/b3"
"$C" summary "$tmp/b1" > "$tmp/sum_b1" 2>&1 || die "summary (--base)"
grep -q "(RandomContrast)" "$tmp/sum_b1" || die "--base: the layers were dropped"
! cmp -s "$tmp"/b1/weights*.bin "$tmp"/b3/weights*.bin || die "--base: its layers did not augment"
expect_fail 2 "already has augmentation layer 'random_flip'" "$C" train --data "$tmp/img" \
  --base "$tmp/m" --augment flip --out "$tmp/x"
# crop: images loaded at 256x256 for the 224x224 backbone, RandomCrop(224,
# 224) first (whatever its place in the spec), validation images resized to
# the window as at predict; the saved model takes 256x256 images
"$C" train --data "$tmp/img" --base "$MNV2" --epochs 1 --seed 3 --augment flip,crop \
  --augment-copies 2 --val-split 0.34 --fine-tune 2 --fine-tune-epochs 1 --out "$tmp/c" \
  > /dev/null 2> "$tmp/clog" || die "--augment crop: $(tail -3 "$tmp/clog")"
grep -q "images loaded at 256x256, a 224x224 window while training" "$tmp/clog" \
  || die "no crop line: $(grep -i crop "$tmp/clog")"
grep -q "features (validation): 2 images in" "$tmp/clog" || die "validation features"
python3 - "$tmp/c/model.json" <<'PY' || die "the crop model's model.json"
import json, sys
j = json.load(open(sys.argv[1]))
t = j['modelTopology']
L = t.get('model_config', t)['config']['layers']
assert L[0]['config']['batch_input_shape'] == [None, 256, 256, 3], L[0]['config']
assert L[1]['class_name'] == 'RandomCrop', L[1]['class_name']
assert {k: L[1]['config'][k] for k in ('height', 'width', 'seed')} == \
    {'height': 224, 'width': 224, 'seed': 3}, L[1]['config']
assert L[2]['class_name'] == 'RandomFlip', L[2]['class_name']
im = j['userDefinedMetadata']['crest']['image']
assert (im['height'], im['width']) == (256, 256), im
PY
"$C" predict "$tmp/c" --json "$CREST_DATA/images/china.jpg" "$CREST_DATA/images/flower.jpg" \
  > "$tmp/cp" 2>&1 || die "predict (crop): $(tail -2 "$tmp/cp")"
[ "$(grep -o '"probs"' "$tmp/cp" | wc -l)" = 2 ] || die "predict (crop): $(head -c 300 "$tmp/cp")"
"$C" evaluate "$tmp/c" --data "$tmp/img" > /dev/null 2>&1 || die "evaluate (crop)"
python3 -c "
import random, struct; random.seed(6); v = [random.random() for _ in range(256 * 256 * 3)]
open('$tmp/c.f32', 'wb').write(struct.pack('<%df' % (2 * len(v)), *(v + v)))"
"$C" infer "$tmp/c" --input "$tmp/c.f32" --shape 2,256,256,3 --out "$tmp/yc.f32" > /dev/null 2>&1 \
  || die "infer (crop)"
python3 -c "
d = open('$tmp/yc.f32', 'rb').read(); h = len(d) // 2
assert h and d[:h] == d[h:]" || die "infer (crop): one image twice gave two outputs (a random window)"
"$C" export "$tmp/c" --format keras --out "$tmp/c.keras" > /dev/null 2>&1 || die "export keras (crop)"
"$C" infer "$tmp/c.keras" --input "$tmp/c.f32" --shape 2,256,256,3 --out "$tmp/yck.f32" \
  > /dev/null 2>&1 || die "infer (crop, .keras)"
cmp -s "$tmp/yc.f32" "$tmp/yck.f32" || die "crop: .keras round trip changes the outputs"
expect_fail 3 "TF.js has no RandomCrop" "$C" export "$tmp/c" --format tfjs --out "$tmp/cjs"
expect_fail 2 "crop=1.5" "$C" train --data "$tmp/img" --base "$MNV2" --augment crop=1.5 --out "$tmp/x"
expect_fail 2 "crop twice" "$C" train --data "$tmp/img" --base "$MNV2" --augment crop,crop=0.9 \
  --out "$tmp/x"
expect_fail 2 "unknown item 'spin'" "$C" train --data "$tmp/img" --base "$MNV2" --augment spin=1 --out "$tmp/x"
expect_fail 2 "rotate needs a value" "$C" train --data "$tmp/img" --base "$MNV2" --augment rotate --out "$tmp/x"
expect_fail 2 "flip=diagonal" "$C" train --data "$tmp/img" --base "$MNV2" --augment flip=diagonal --out "$tmp/x"
expect_fail 2 "needs --base" "$C" train --data fashion-mnist --augment flip --out "$tmp/x"
expect_fail 2 "not supported" "$C" train --data "$tmp/img" --base "$MNV2" --preprocess torch \
  --augment brightness=0.2 --out "$tmp/x"
[ ! -e "$tmp/x" ] || die "a refused run left $tmp/x"
[ $fail = 0 ] && echo "augment: ok"
exit $fail
