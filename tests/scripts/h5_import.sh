#!/usr/bin/env bash
# Keras HDF5 (.h5) models through every command that takes MODEL.
# Files are written by tools/h5/tfjs_to_h5.py (Debian python3-h5py) from TF.js
# models in Keras' own .h5 layout, in each variant the reader handles (whole
# model, weights only, float16/32/64 datasets, fixed and variable-length
# strings, attributes chunked as Keras writes them past 64 KiB); the real
# file is InVesalius' brain-MRI 3-D U-Net (Keras 2.2.4, plaidml backend,
# optimizer weights), which no script here wrote.
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
CONV="$ROOT/tools/h5/tfjs_to_h5.py"
MNV2="$CREST_DATA/models/mobilenet_v2"

# 1. MobileNetV2 (the uint8 TF.js model, dequantized into float32 datasets):
#    the .h5 must give the TF.js folder's outputs bit for bit
head -c $((3 * 224 * 224 * 3 * 4)) /dev/urandom > "$tmp/x.f32"
converted_match "$CONV" h5 3,224,224,3 "" "--dtype float64 --chunk-attrs 5 --vlen" \
  "--keras-version 2.2.4 --backend theano"
# float16 datasets: rounded weights, outputs close
$PY "$CONV" "$MNV2" "$tmp/f16.h5" --dtype float16 || die "tfjs_to_h5.py float16"
"$C" infer "$tmp/f16.h5" --input "$tmp/x.f32" --shape 3,224,224,3 --out "$tmp/f16.f32" 2> /dev/null ||
  die "infer on a float16 .h5"
$PY - "$tmp/ref.f32" "$tmp/f16.f32" <<'PY' || die "float16 .h5 outputs are not close to float32's"
import sys, numpy as np
a, b = (np.fromfile(f, '<f4') for f in sys.argv[1:])
d = np.abs(a - b).max()
sys.exit(0 if a.shape == b.shape and 0 < d < 0.05 else 1)   # rounded, not identical, close
PY
# (summary, bench) and 2. transfer learning with --base FILE.h5, then the
# follow-on commands
base_file_checks "$tmp/m1.h5" .h5 3
"$C" train --base "$MNV2" --data "$tmp/img" --epochs 3 --out "$tmp/tl0" > /dev/null 2>&1 &&
  "$C" predict "$tmp/tl0" "$CREST_DATA/images/china.jpg" --json > "$tmp/p0.json" 2> /dev/null &&
  cmp -s "$tmp/p0.json" "$tmp/p1.json" || die "--base .h5 and --base TF.js trained different heads"

# 3. a model crest trained, as .h5 (Sequential, weights in crest's order)
"$C" train --data fashion-mnist --hidden 16 --epochs 1 --limit 2000 --out "$tmp/mlp" > /dev/null 2>&1 ||
  die "MLP training"
$PY "$CONV" "$tmp/mlp" "$tmp/mlp.h5" --vlen --chunk-attrs 1 || die "tfjs_to_h5.py on the MLP"
"$C" predict "$tmp/mlp" --data fashion-mnist:test --limit 20 --json > "$tmp/q0.json" 2> /dev/null
"$C" predict "$tmp/mlp.h5" --data fashion-mnist:test --limit 20 --json > "$tmp/q1.json" 2> /dev/null ||
  die "predict on the MLP .h5"
# the same probabilities (tfjs_to_h5.py does not carry crest's metadata, so the
# .h5 names classes by index where the TF.js folder has Fashion-MNIST's names)
probs() { sed 's/"class":"[^"]*",//g; s/,"labels":\[[^]]*\]//' "$1"; }
[ "$(probs "$tmp/q0.json")" = "$(probs "$tmp/q1.json")" ] || die "MLP .h5 predictions differ"

# 3b. the round trip TF.js folder -> crest -> .h5 -> crest -> TF.js folder, whose
#     predictions real TF.js reproduces; h5py reads crest's .h5 as Keras lays it out
"$C" export "$tmp/mlp" --format h5 --out "$tmp/rt.h5" > /dev/null || die "export --format h5"
"$C" export "$tmp/rt.h5" --format tfjs --out "$tmp/rt" > /dev/null || die "export --format tfjs"
"$C" predict "$tmp/rt" --data fashion-mnist:test --limit 20 --json > "$tmp/q2.json" 2> /dev/null &&
  cmp -s "$tmp/q0.json" "$tmp/q2.json" || die "predictions changed over TF.js -> .h5 -> TF.js"
"$C" predict "$tmp/rt" --data fashion-mnist:test --limit 100 --json > "$tmp/q3.json" 2> /dev/null
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/predict_compare.js" "$tmp/rt" \
  "$tmp/q3.json" "$CREST_DATA/fashion-mnist/t10k-images-idx3-ubyte" 100 1e-5 > /dev/null ||
  die "real TF.js disagrees with crest on the round-tripped model"
$PY - "$tmp/rt.h5" <<'PY' || die "h5py does not read crest's .h5 as Keras' layout"
import json, sys, h5py
f = h5py.File(sys.argv[1], 'r')
cfg = json.loads(f.attrs['model_config'])
assert cfg['class_name'] == 'Sequential', cfg['class_name']
assert 'keras_version' in f.attrs and 'backend' in f.attrs
mw = f['model_weights']
names = [n.decode() for n in mw.attrs['layer_names']]
for n in names:
    for w in mw[n].attrs['weight_names']:
        w = w.decode()
        assert w.startswith(n + '/') and w.endswith(':0'), w
        assert mw[n][w].dtype == 'float32'
assert sum(len(mw[n].attrs['weight_names']) for n in names) == 4   # two Dense layers
PY
"$C" export "$tmp/mlp" --format tflite --out "$tmp/m.tflite" > /dev/null 2>&1 ||
  die "export --format tflite of the MLP failed (tflite_export.sh runs such files)"
[ "$(head -c 8 "$tmp/m.tflite" | tail -c 4)" = TFL3 ] || die "m.tflite is not a TFLite file"
"$C" export "$tmp/mlp" --format coreml --out "$tmp/m.coreml" > /dev/null 2>&1
[ $? = 3 ] || die "export --format coreml should be refused (exit 3)"
[ -e "$tmp/m.coreml" ] && die "a refused export left a file"

# 4. the real file: HDF5 read, config parsed, its 3-D layers built (its outputs
#    against real TF.js: tests/scripts/unet3d.sh)
"$C" summary "$CREST_DATA/models/invesalius_brain_mri_t1.h5" > "$tmp/unet.txt" 2> "$tmp/err" ||
  die "summary of the 3-D U-Net: $(head -c 300 "$tmp/err")"
grep -q "Total params: 793,179" "$tmp/unet.txt" || die "3-D U-Net: not 793,179 parameters"

# 5. bad files: each refused, naming the file and what is wrong
echo "not hdf5" > "$tmp/text.h5"
expect_fail 3 "text.h5: not an HDF5 file" "$C" summary "$tmp/text.h5"
head -c $(( $(wc -c < "$tmp/mlp.h5") / 2 )) "$tmp/mlp.h5" > "$tmp/trunc.h5"
expect_fail 3 "trunc.h5" "$C" summary "$tmp/trunc.h5"
$PY "$CONV" "$tmp/mlp" "$tmp/wo.h5" --weights-only || die "tfjs_to_h5.py --weights-only"
expect_fail 3 "weights-only file" "$C" summary "$tmp/wo.h5"
$PY - "$tmp/mlp.h5" "$tmp" <<'PY' || die "making damaged copies"
import shutil, sys, h5py, numpy as np
src, d = sys.argv[1], sys.argv[2]
def copy(name):
    shutil.copy(src, f'{d}/{name}.h5')
    return h5py.File(f'{d}/{name}.h5', 'r+')
def names(g):                       # weight_names, chunked (weight_names0, 1...)
    out, i = [], 0
    while f'weight_names{i}' in g.attrs:
        out += [n.decode() if isinstance(n, bytes) else n for n in g.attrs[f'weight_names{i}']]
        i += 1
    return out
with copy('shape') as f:            # a kernel of the wrong shape
    g = f['model_weights/dense']
    wn = names(g)
    del g[wn[0]]
    g.create_dataset(wn[0], data=np.zeros((3, 3), 'f4'))
with copy('nan') as f:              # a NaN weight
    g = f['model_weights/dense_1']
    wn = names(g)
    v = g[wn[1]][...]; v[0] = np.nan; g[wn[1]][...] = v
with copy('nonames') as f:          # no layer_names
    for k in list(f['model_weights'].attrs):
        if k.startswith('layer_names'):
            del f['model_weights'].attrs[k]
with copy('missing') as f:          # a weight listed but absent
    g = f['model_weights/dense']
    del g[names(g)[1]]
PY
expect_fail 3 "layer 'dense'.*shape \[3,3\]" "$C" summary "$tmp/shape.h5"
expect_fail 3 "value 0 of 10 is NaN" "$C" summary "$tmp/nan.h5"
expect_fail 3 "no layer_names" "$C" summary "$tmp/nonames.h5"
expect_fail 3 "no readable dataset" "$C" summary "$tmp/missing.h5"
expect_fail 3 "x.keras: No such file" "$C" summary "$tmp/x.keras" 2> /dev/null
# a damaged file libhdf5 1.10 loops on (found by fuzz_h5): stopped at the budget
export CREST_H5_SECONDS=2
expect_fail 3 "libhdf5 spent more than 2 s" "$C" summary "$ROOT/tests/fuzz/corpus/h5/libhdf5-loops"
unset CREST_H5_SECONDS
[ "$fail" = 0 ] && echo "h5_import: ok"
exit "$fail"
