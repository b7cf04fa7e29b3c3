#!/usr/bin/env bash
# Class names everywhere: `crest predict` and `crest evaluate` (text and
# --json) name classes, never bare indices, for every kind of model crest
# trains: an image folder's sub-folder names (train --base), Fashion-MNIST's
# own label names (recorded by train on fashion-mnist, IDX or through a
# backbone), a table's label values; evaluate's confusion matrix is labelled
# by name on both axes (by [index] with a legend when names are too long for
# a column); predict --json lists the "labels" its "probs" follow.
. "$(dirname "$0")/common.bash"
has() { grep -qE -- "$2" "$1" || die "$3: no /$2/ in: $(head -c 400 "$1")"; }
export NODE_PATH="$ROOT/tools/node_modules"
FASHION='["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"]'

# ---- Fashion-MNIST: an MLP on the IDX set ------------------------------------------
"$C" train --data fashion-mnist --limit 300 --epochs 1 --seed 1 --threads 1 --out "$tmp/fm" \
  > /dev/null 2>&1 || die "train on fashion-mnist"
"$C" evaluate "$tmp/fm" --data fashion-mnist:test --limit 200 > "$tmp/out" 2>&1 || die "evaluate fm"
has "$tmp/out" "^Ankle boot +[0-9.]+ +[0-9.]+" "evaluate text: per-class rows by name"
has "$tmp/out" "^ +T-shirt/top +Trouser +Pullover .* Ankle boot$" "evaluate: confusion columns"
has "$tmp/out" "^Sneaker( +[0-9]+){10}$" "evaluate: confusion rows"
"$C" evaluate "$tmp/fm" --data fashion-mnist:test --limit 200 --json > "$tmp/out" 2>&1
has "$tmp/out" "\"labels\":$(printf '%s' "$FASHION" | sed 's/[][/]/\\&/g')" "evaluate --json labels"
has "$tmp/out" '"per_class":\[\{"label":"T-shirt/top"' "evaluate --json per_class"
"$C" predict "$tmp/fm" --data fashion-mnist:test --limit 3 --top 2 > "$tmp/out" 2>&1 || die "predict fm"
n=$(grep -cE '^fashion-mnist:test\[[0-9]\]: [A-Za-z][A-Za-z /-]+ \([0-9.]+\) [A-Za-z][A-Za-z /-]+ \([0-9.]+\)$' "$tmp/out")
[ "$n" = 3 ] || die "predict text: not 3 rows of two named classes: $(cat "$tmp/out")"
"$C" predict "$tmp/fm" --data fashion-mnist:test --limit 2 --json > "$tmp/out" 2>&1
has "$tmp/out" '"class":"[A-Za-z][A-Za-z /-]+"' "predict --json class"
has "$tmp/out" "\"labels\":$(printf '%s' "$FASHION" | sed 's/[][/]/\\&/g')" "predict --json labels"
grep -qE '"class":"[0-9]+"' "$tmp/out" && die "predict --json: a class by index"

# ---- an image folder through a backbone: the sub-folders' names -----------------
node -e '
const fs = require("fs"), jpeg = require("jpeg-js"), [d, size] = [process.argv[1], 12];
["daisy", "tulip", "a_very_long_class_name"].forEach((c, k) => { fs.mkdirSync(`${d}/${c}`, { recursive: true });
  for (let i = 0; i < 6; i++) { const b = Buffer.alloc(size * size * 4);
    for (let p = 0; p < size * size; p++) { const v = 30 + 90 * k + ((p * 7 + i * 13) % 40);
      b[4 * p] = v; b[4 * p + 1] = 255 - v; b[4 * p + 2] = v; b[4 * p + 3] = 255; }
    fs.writeFileSync(`${d}/${c}/${i}.jpg`, jpeg.encode({ data: b, width: size, height: size }, 90).data); } });
const bb = process.argv[2]; fs.mkdirSync(bb, { recursive: true });
const topo = { class_name: "Sequential", config: { name: "tiny", layers: [
  { class_name: "GlobalAveragePooling2D", config: { name: "gap", trainable: true,
    batch_input_shape: [null, 32, 32, 3], data_format: "channels_last" } },
  { class_name: "Dense", config: { name: "dense", trainable: true, units: 2, activation: "softmax", use_bias: true } } ] } };
fs.writeFileSync(`${bb}/model.json`, JSON.stringify({ format: "layers-model", modelTopology: topo,
  weightsManifest: [{ paths: ["weights.bin"], weights: [{ name: "dense/kernel", shape: [3, 2], dtype: "float32" },
                                                         { name: "dense/bias", shape: [2], dtype: "float32" }] }] }));
fs.writeFileSync(`${bb}/weights.bin`, Buffer.from(new Float32Array([0.1, -0.1, 0.2, 0, 0, 0.3, 0, 0]).buffer));
' "$tmp/flowers" "$tmp/bb" || die "making the images and the backbone"
"$C" train --base "$tmp/bb" --cut gap --data "$tmp/flowers" --epochs 30 --lr 0.05 --seed 1 \
  --out "$tmp/fl" > /dev/null 2>&1 || die "train --base on a folder"
"$C" predict "$tmp/fl" "$tmp/flowers/tulip/1.jpg" --top 3 > "$tmp/out" 2>&1 || die "predict image"
has "$tmp/out" "tulip/1.jpg\[0\]: (daisy|tulip|a_very_long_class_name) \([0-9.]+\) .* \([0-9.]+\) .* \([0-9.]+\)$" "predict image text"
"$C" predict "$tmp/fl" "$tmp/flowers/daisy/0.jpg" --json > "$tmp/out" 2>&1
has "$tmp/out" '"class":"(daisy|tulip|a_very_long_class_name)"' "predict image --json"
has "$tmp/out" '"labels":\["a_very_long_class_name","daisy","tulip"\]' "predict image --json labels"
"$C" evaluate "$tmp/fl" --data "$tmp/flowers" > "$tmp/out" 2>&1 || die "evaluate folder"
has "$tmp/out" "^a_very_long_class_name +[0-9.]+ +[0-9.]+ +[0-9.]+ +6$" "evaluate folder per class"
# names wider than a column: columns by index, names in a legend
has "$tmp/out" "^ +\[0\] +\[1\] +\[2\]$" "evaluate folder: confusion columns by index"
has "$tmp/out" "^tulip( +[0-9]+){3}$" "evaluate folder: confusion rows by name"
has "$tmp/out" "^\[0\] a_very_long_class_name$" "evaluate folder: legend"
"$C" evaluate "$tmp/fl" --data "$tmp/flowers" --json > "$tmp/out" 2>&1
has "$tmp/out" '"labels":\["a_very_long_class_name","daisy","tulip"\]' "evaluate folder --json"

# ---- Fashion-MNIST through a backbone: the names travel with the image source ----
"$C" train --base "$tmp/bb" --cut gap --data fashion-mnist --limit 100 --epochs 1 --seed 1 \
  --out "$tmp/fmb" > /dev/null 2>&1 || die "train --base on fashion-mnist"
"$C" evaluate "$tmp/fmb" --data fashion-mnist:test --limit 50 --json > "$tmp/out" 2>&1 \
  || die "evaluate --base fashion-mnist"
has "$tmp/out" "\"labels\":$(printf '%s' "$FASHION" | sed 's/[][/]/\\&/g')" "backbone model labels"

# ---- a table: the label column's values -------------------------------------------
"$C" train --data penguins --label species --epochs 3 --seed 1 --threads 1 --out "$tmp/pg" \
  > /dev/null 2>&1 || die "train penguins"
"$C" evaluate "$tmp/pg" --data penguins --label species > "$tmp/out" 2>&1 || die "evaluate table"
has "$tmp/out" "^ +Adelie +Chinstrap +Gentoo$" "table confusion columns"
has "$tmp/out" "^Chinstrap( +[0-9]+){3}$" "table confusion rows"
"$C" predict "$tmp/pg" "$CREST_DATA/penguins/penguins.csv" --limit 1 --json > "$tmp/out" 2>&1 \
  || die "predict table"
has "$tmp/out" '"(Adelie|Chinstrap|Gentoo)"' "table predict --json"

# ---- many classes: --top K of a 5000-way classifier (a TF.js folder by hand) --------
/usr/bin/python3 - "$tmp/big" <<'PY'
import json, os, struct, sys
d = sys.argv[1]; os.makedirs(d)
K = 5000
layers = [{"class_name": "Dense", "config": {"name": "d", "units": K, "activation": "softmax",
           "batch_input_shape": [None, 1]}}]
js = {"format": "layers-model", "modelTopology": {"class_name": "Sequential",
      "config": {"name": "big", "layers": layers}},
      "weightsManifest": [{"paths": ["w.bin"], "weights": [
          {"name": "d/kernel", "shape": [1, K], "dtype": "float32"},
          {"name": "d/bias", "shape": [K], "dtype": "float32"}]}]}
json.dump(js, open(d + "/model.json", "w"))
# logits k / 1000 for x = 1: class 4999 first, then 4998, 4997
w = [k / 1000.0 for k in range(K)] + [0.0] * K
open(d + "/w.bin", "wb").write(struct.pack("<%df" % (2 * K), *w))
open(d + "/x.f32", "wb").write(struct.pack("<f", 1.0))
PY
"$C" predict "$tmp/big" "$tmp/big/x.f32" --top 3 > "$tmp/out" 2> "$tmp/err" || die "5000 classes: $(tail -1 "$tmp/err")"
has "$tmp/out" '\[0\]: 4999 \([0-9.]+\) 4998 \([0-9.]+\) 4997 ' "5000-class predict --top 3"

[ $fail = 0 ] && echo "class_names: ok"
exit $fail
