#!/usr/bin/env bash
# Nested Keras models (a model used as a layer), built and run by real TF.js
# (tools/golden/nested.js): crest infer matches TF.js on each (1e-5 of the
# output's magnitude), as the TF.js folder, as a Keras .h5 with nested groups
# (tools/h5/tfjs_to_h5.py: model_weights/<nested>/<layer>/<w>:0, Keras'
# legacy trainable-first order), as a Keras 3 .keras (tools/h5/tfjs_to_keras.py:
# layers/sequential/layers/dense/vars/N, Keras 3's saving_lib layout) and
# after crest export tfjs / h5 / keras; --layer and
# --cut name a layer inside the nested base, alone or as 'outer/inner';
# crest train --base NESTED --cut <inner layer> runs on MNIST; a missing
# inner layer and cyclic nesting are clear errors.
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3

NODE_PATH="$ROOT/tools/node_modules" node "$ROOT/tools/golden/nested.js" "$tmp/g" 2>&1 |
  grep -v -e '^=*$' -e 'tfjs-node' -e 'Hi, looks'
[ -f "$tmp/g/deep/y.f32" ] || { echo "FAIL: nested.js made no cases"; exit 1; }

for d in "$tmp"/g/*/; do
  c="$(basename "$d")"
  shape="$(cat "$d/shape.txt")"
  run() {   # run LABEL MODEL: crest infer on MODEL matches TF.js
    "$C" infer "$2" --input "$d/x.f32" --shape "$shape" --out "$tmp/$c.$1.f32" 2> "$tmp/err" ||
      { die "$c ($1): infer: $(tail -1 "$tmp/err")"; return; }
    close "$d/y.f32" "$tmp/$c.$1.f32" || die "$c ($1): crest differs from TF.js"
  }
  run tfjs "$d"
  $PY "$ROOT/tools/h5/tfjs_to_h5.py" "$d" "$tmp/$c.h5" || die "$c: tfjs_to_h5.py"
  run h5 "$tmp/$c.h5"
  "$C" export "$d" --format tfjs --out "$tmp/$c.tfjs" > /dev/null 2>&1 || die "$c: export tfjs"
  run export_tfjs "$tmp/$c.tfjs"
  "$C" export "$tmp/$c.h5" --format h5 --out "$tmp/$c.re.h5" > /dev/null 2>&1 || die "$c: export h5"
  run export_h5 "$tmp/$c.re.h5"
  $PY "$ROOT/tools/h5/tfjs_to_keras.py" "$d" "$tmp/$c.keras" || die "$c: tfjs_to_keras.py"
  run keras "$tmp/$c.keras"
  "$C" export "$tmp/$c.keras" --format keras --out "$tmp/$c.re.keras" > /dev/null 2>&1 ||
    die "$c: export keras"
  run export_keras "$tmp/$c.re.keras"
done
# the .keras files nest as Keras 3's saver does (the weights' paths)
$PY - "$tmp/deep.keras" "$tmp/seq_in_fn.keras" <<'PY' || die "nested .keras layout"
import io, sys, zipfile
import h5py
want = [{'layers/sequential/layers/sequential/layers/sequential/layers/dense/vars'},
        {'layers/functional/layers/dense_1/vars', 'layers/sequential/layers/dense_1/vars'}]
for path, w in zip(sys.argv[1:], want):
    f = h5py.File(io.BytesIO(zipfile.ZipFile(path).read('model.weights.h5')), 'r')
    have = set()
    f.visit(lambda n: have.add(n) if n.endswith('/vars') and len(f[n]) else None)
    if not w <= have:
        sys.exit('%s: %s not in %s' % (path, w - have, sorted(have)))
PY

# inner layers by name, alone or as a path, in infer --layer and train --cut
g="$tmp/g/seq_in_seq"
"$C" infer "$g" --input "$g/x.f32" --shape 3,16,16,3 --layer b_bn1 --out "$tmp/a.f32" 2> /dev/null ||
  die "infer --layer b_bn1 (inside the nested base)"
"$C" infer "$g" --input "$g/x.f32" --shape 3,16,16,3 --layer base/b_bn1 --out "$tmp/b.f32" 2> /dev/null ||
  die "infer --layer base/b_bn1"
cmp -s "$tmp/a.f32" "$tmp/b.f32" || die "--layer b_bn1 and base/b_bn1 differ"
"$C" train --base "$g" --cut base/b_conv2 --data mnist --limit 200 --epochs 2 --out "$tmp/tl" \
  > "$tmp/out" 2> "$tmp/err" || die "train --base nested --cut base/b_conv2: $(tail -2 "$tmp/err")"
grep -q "accuracy" "$tmp/out" "$tmp/err" || die "train --base nested: no accuracy line"
"$C" evaluate "$tmp/tl" --data mnist:test --limit 50 --json > /dev/null 2>&1 ||
  die "evaluate after train --base nested"
"$C" export "$tmp/tl" --format h5 --out "$tmp/tl.h5" > /dev/null 2>&1 &&
  "$C" summary "$tmp/tl.h5" > /dev/null 2>&1 || die "export h5 of the trained nested model"
"$C" train --base "$g" --cut nope --data mnist --limit 100 --epochs 1 --out "$tmp/tl2" \
  > /dev/null 2> "$tmp/err" && die "--cut nope succeeded"
grep -q "no layer 'nope'" "$tmp/err" || die "--cut nope: $(cat "$tmp/err")"

# bad nesting: a missing inner layer, a model nested in itself
mk() {   # mk NAME PYTHON: a copy of fn_in_fn with model.json edited by PYTHON (j: the JSON)
  cp -r "$tmp/g/fn_in_fn" "$tmp/$1"
  $PY - "$tmp/$1/model.json" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(j, open(sys.argv[1], 'w'))
PY
}
inner='[e for e in j["modelTopology"]["config"]["layers"] if e["name"] == "inner"][0]'
mk missing "$inner['config']['layers'][1]['inbound_nodes'] = [[['ghost', 0, 0, {}]]]"
"$C" summary "$tmp/missing" > /dev/null 2> "$tmp/err"; rc=$?
[ $rc = 3 ] && grep -q "nested model 'inner'.*ghost" "$tmp/err" || die "missing inner layer: exit $rc: $(cat "$tmp/err")"
mk cyclic "import copy; e = $inner; e2 = copy.deepcopy(e); e2['inbound_nodes'] = [[['inner_in', 0, 0, {}]]]; e['config']['layers'].append(e2); e['config']['output_layers'] = [['inner', 1, 0]]"
"$C" summary "$tmp/cyclic" > /dev/null 2> "$tmp/err"; rc=$?
[ $rc = 3 ] && grep -q "cyclic nesting" "$tmp/err" || die "cyclic nesting: exit $rc: $(cat "$tmp/err")"

[ $fail = 0 ] && echo "nested: ok"
exit $fail
