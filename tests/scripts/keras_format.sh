#!/usr/bin/env bash
# Keras 3 .keras files: read, written, and bad ones refused.
# Test files come from tools/h5/tfjs_to_keras.py (Debian python3-h5py and
# python's zipfile, following Keras 3's own saver; tools/h5/KERAS_FORMATS.md).
# 1. MobileNetV2 as .keras, in each variant the reader handles: crest gives the
#    TF.js folder's outputs bit for bit, through every command taking MODEL.
# 2. The round trip TF.js folder -> crest -> .h5 -> crest -> .keras -> crest ->
#    TF.js folder on every golden layer model and on MobileNetV2: crest's
#    outputs stay bit-identical at each step, and real TF.js (4.22) opening the
#    final folder matches crest within 1e-5 of the output's magnitude.
# 3. crest's .keras read back by h5py / zipfile: Keras' layout, and the same
#    weight paths and values as the generator's file.
# 4. Bad files: missing members, truncation, wrong counts and shapes, weights
#    naming no layer, NaN, damaged bytes: refused naming file, layer, weight.
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
CONV="$ROOT/tools/h5/tfjs_to_keras.py"
MNV2="$CREST_DATA/models/mobilenet_v2"
GOLD="$ROOT/tests/golden/layers"

# 1. MobileNetV2 (Functional, 156 layers) as .keras
$PY -c "import numpy as np; np.random.default_rng(7).random(2 * 224 * 224 * 3, 'f4').tofile('$tmp/x.f32')"
converted_match "$CONV" keras 2,224,224,3 "" \
  "--deflate --legacy-top --no-empty-groups --optimizer --keras-version 3.0.0"
# summary, bench; transfer learning with --base FILE.keras, then the
# follow-on commands
base_file_checks "$tmp/m1.keras" .keras 2
# the trained model (class names, input transform) through .keras and back
"$C" export "$tmp/tl" --format keras --out "$tmp/tl.keras" > /dev/null || die "export a trained model as .keras"
"$C" predict "$tmp/tl.keras" "$CREST_DATA/images/china.jpg" --json > "$tmp/p2.json" 2> /dev/null &&
  cmp -s "$tmp/p1.json" "$tmp/p2.json" || die "predict on the trained model's .keras differs"
"$C" evaluate "$tmp/tl.keras" --data "$tmp/img" --json > /dev/null 2>&1 || die "evaluate on .keras"

# 2. round trips, checked by real TF.js
: > "$tmp/list"
n=0
rt() {   # rt NAME DIR X SHAPE
  local name="$1" dir="$2" x="$3" shape="$4" d="$tmp/rt/$1"
  mkdir -p "$d"
  "$C" infer "$dir" --input "$x" --shape "$shape" --out "$d/y0.f32" > /dev/null 2>&1 ||
    { die "$name: infer on the TF.js folder"; return; }
  "$C" export "$dir" --format h5 --out "$d/m.h5" > /dev/null 2>&1 || { die "$name: export h5"; return; }
  local via="$d/m.keras" files="$d/m.h5 $d/m.keras $d/tfjs"
  if ! "$C" export "$d/m.h5" --format keras --out "$d/m.keras" > /dev/null 2> "$d/err"; then
    # Keras 2's hard_sigmoid has no Keras 3 name (hard_sigmoid.sh): refused, naming the layer
    grep -q "layer '.*': activation hard_sigmoid as Keras 2 and TF.js define it" "$d/err" &&
      [ ! -e "$d/m.keras" ] || { die "$name: export keras: $(head -c 300 "$d/err")"; return; }
    echo "refused $name as .keras: Keras 2's hard_sigmoid"
    via="$d/m.h5" files="$d/m.h5 $d/tfjs"
  fi
  "$C" export "$via" --format tfjs --out "$d/tfjs" > /dev/null 2>&1 || { die "$name: export tfjs"; return; }
  local f k=0
  for f in $files; do
    k=$((k + 1))
    "$C" infer "$f" --input "$x" --shape "$shape" --out "$d/y$k.f32" > /dev/null 2>&1 &&
      cmp -s "$d/y0.f32" "$d/y$k.f32" || die "$name: outputs changed at $(basename "$f")"
  done
  echo "$d/tfjs $x $shape $d/y0.f32 $dir" >> "$tmp/list"
  n=$((n + 1))
  # TF.js' own output for the case (its golden): crest matches it in every
  # format, including the cases real TF.js cannot reopen from a folder
  if [ -f "$dir/output.f32" ] && grep -q '"training": false' "$dir/meta.json"; then
    close "$dir/output.f32" "$d/y0.f32" || die "$name: crest differs from TF.js' golden output"
    g=$((g + 1))
  fi
}
g=0
while read -r case; do
  [ -n "$case" ] || continue
  shape=$($PY -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['input_shape'])))" \
          "$GOLD/$case/meta.json")
  rt "$case" "$GOLD/$case" "$GOLD/$case/input.f32" "$shape"
done < "$GOLD/cases.txt"
rt mobilenet_v2 "$MNV2" "$tmp/x.f32" 2,224,224,3
NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tests/tfjs/infer_compare.js" "$tmp/list" 1e-5 > "$tmp/tfjs.log" 2>&1 ||
  { die "real TF.js disagrees with crest on round-tripped models:"; grep -v "^ok" "$tmp/tfjs.log" | head -20; }
grep "^skipped" "$tmp/tfjs.log" | sed 's|^skipped [^ ]*/rt/\([^/]*\)/tfjs|skipped \1|'
tail -1 "$tmp/tfjs.log"
[ "$n" -ge 39 ] || die "only $n round trips ran"
echo "golden: $g cases equal TF.js' output after .h5, .keras and TF.js round trips"
[ "$g" -ge 140 ] || die "only $g cases compared with their TF.js goldens"

# 3. crest's .keras as Keras lays it out, and as the generator writes it
$PY - "$tmp/rt/mobilenet_v2/m.keras" "$tmp/m1.keras" "$tmp/rt/conv_valid/m.keras" <<'PY' || die "crest's .keras is not Keras 3's layout"
import io, json, sys, zipfile
import h5py, numpy as np
def open_keras(p):
    z = zipfile.ZipFile(p)
    names = z.namelist()
    assert names == ['metadata.json', 'config.json', 'model.weights.h5'], names
    assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    meta = json.loads(z.read('metadata.json'))
    assert meta['keras_version'].startswith('3.') and 'date_saved' in meta, meta
    return json.loads(z.read('config.json')), h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
def datasets(f):
    out = {}
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]
    f['layers'].visititems(visit)
    return out
crest, gen = sys.argv[1], sys.argv[2]
cfg, w = open_keras(crest)
assert cfg['class_name'] == 'Functional' and cfg['registered_name'] == 'Functional', cfg['class_name']
for k in ('module', 'class_name', 'config', 'registered_name'):
    for l in cfg['config']['layers']:
        assert k in l, (k, l.get('name'))
conv = next(l for l in cfg['config']['layers'] if l['class_name'] == 'Conv2D')
assert conv['config']['dtype']['class_name'] == 'DTypePolicy', conv['config']['dtype']
assert conv['config']['kernel_initializer']['module'] == 'keras.initializers'
node = conv['inbound_nodes'][0]
kt = node['args'][0]
assert kt['class_name'] == '__keras_tensor__' and len(kt['config']['keras_history']) == 3, node
assert kt['config']['shape'][0] is None
add = next(l for l in cfg['config']['layers'] if l['class_name'] == 'Add')
assert isinstance(add['inbound_nodes'][0]['args'][0], list)   # a merge takes one list
assert cfg['config']['input_layers'] == ['input_1', 0, 0], cfg['config']['input_layers']
assert 'vars' in w and 'layers' in w
a, b = datasets(w), datasets(open_keras(gen)[1])
assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))[:10]
for k in a:
    assert a[k].dtype == np.float32 and np.array_equal(a[k], b[k]), k
assert 'batch_normalization_1/vars/3' in a and 'conv2d/vars/0' in a
# a Sequential: an InputLayer entry first, batch_shape, build_config
cfg, w = open_keras(sys.argv[3])
assert cfg['class_name'] == 'Sequential' and cfg['module'] == 'keras', cfg['class_name']
first = cfg['config']['layers'][0]
assert first['class_name'] == 'InputLayer' and first['config']['batch_shape'][0] is None, first
assert 'batch_input_shape' not in cfg['config']['layers'][1]['config']
assert cfg['build_config']['input_shape'] == first['config']['batch_shape']
assert sorted(datasets(w)) == ['conv2d/vars/0', 'conv2d/vars/1'], sorted(datasets(w))
print('layout: ok')
PY

# 4. bad files
mk() {   # mk NAME PYTHON-EDIT: a copy of m1.keras edited (z: members dict, f: h5py file)
  $PY - "$tmp/m1.keras" "$tmp/$1.keras" "$2" <<'PY' || die "making $1"
import io, sys, zipfile
import h5py, numpy as np
src, dst, edit = sys.argv[1:]
z = zipfile.ZipFile(src)
members = {n: z.read(n) for n in z.namelist()}
buf = io.BytesIO(members['model.weights.h5'])
with h5py.File(buf, 'r+') as f:
    exec(edit, {'f': f, 'members': members, 'np': np})
if 'model.weights.h5' in members:
    members['model.weights.h5'] = buf.getvalue()
with zipfile.ZipFile(dst, 'w') as out:
    for n, b in members.items():
        out.writestr(n, b)
PY
}
mk noconfig "del members['config.json']"
mk noweights "del members['model.weights.h5']"
mk count "del f['layers/batch_normalization_1/vars/3']"
mk extra "f['layers/conv2d_1/vars'].create_dataset('1', data=np.zeros(3, 'f4'))"
mk shape "v = f['layers/conv2d/vars/0']; del f['layers/conv2d/vars/0']; f['layers/conv2d/vars'].create_dataset('0', data=np.zeros((3, 3), 'f4'))"
mk stray "f['layers'].create_group('dense_7/vars').create_dataset('0', data=np.zeros(3, 'f4'))"
mk missing "del f['layers/batch_normalization_2']"
mk nan "v = f['layers/batch_normalization/vars/1']; a = v[()]; a[2] = np.nan; v[...] = a"
mk npz "members['model.weights.npz'] = members.pop('model.weights.h5')"
expect_fail 3 "noconfig.keras: the zip has no member config.json" "$C" summary "$tmp/noconfig.keras"
expect_fail 3 "noweights.keras: the zip has no member model.weights.h5" "$C" summary "$tmp/noweights.keras"
expect_fail 3 "count.keras: layer '[A-Za-z_0-9]+' \(BatchNormalization\) has 4 weights, model.weights.h5 has 3 in 'layers/batch_normalization_1/vars'" "$C" summary "$tmp/count.keras"
expect_fail 3 "extra.keras: layer '[A-Za-z_0-9]+' \(Conv2D\) has 1 weights, model.weights.h5 has 2 in 'layers/conv2d_1/vars'" "$C" summary "$tmp/extra.keras"
expect_fail 3 "shape.keras: layer 'Conv1': weight 'kernel' \('layers/conv2d/vars/0'\) has shape \[3,3\], the layer's weight 'kernel' is \[3,3,3,32\]" "$C" summary "$tmp/shape.keras"
expect_fail 3 "stray.keras: model.weights.h5 has 1 weights in 'layers/dense_7/vars', which names no layer" "$C" summary "$tmp/stray.keras"
expect_fail 3 "missing.keras: layer '[A-Za-z_0-9]+' \(BatchNormalization\) has 4 weights, model.weights.h5 has none for it \(no group 'layers/batch_normalization_2/vars'\)" "$C" summary "$tmp/missing.keras"
expect_fail 3 "nan.keras: layer 'bn_Conv1': weight 'beta' \('layers/batch_normalization/vars/1'\): value 2 of 32 is NaN" "$C" summary "$tmp/nan.keras"
expect_fail 3 "npz.keras: .*model.weights.npz are not supported" "$C" summary "$tmp/npz.keras"
head -c $(( $(wc -c < "$tmp/m1.keras") / 2 )) "$tmp/m1.keras" > "$tmp/trunc.keras"
expect_fail 3 "trunc.keras: not a .keras zip, or a damaged one" "$C" summary "$tmp/trunc.keras"
# a flipped byte inside the stored weights: the member's CRC no longer holds
cp "$tmp/m1.keras" "$tmp/crc.keras"
printf '\x5a' | dd of="$tmp/crc.keras" bs=1 seek=$(( $(wc -c < "$tmp/m1.keras") - 200000 )) conv=notrunc 2> /dev/null
expect_fail 3 "crc.keras: .*(damaged|CRC)" "$C" summary "$tmp/crc.keras"
echo "not a zip" > "$tmp/text.keras"
expect_fail 3 "text.keras: not a .keras file \(no zip signature\)" "$C" summary "$tmp/text.keras"
expect_fail 3 "nothere.keras: No such file" "$C" summary "$tmp/nothere.keras"
[ "$fail" = 0 ] && echo "keras_format: ok"
exit "$fail"
