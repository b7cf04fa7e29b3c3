#!/usr/bin/env bash
# Image sources end to end through the CLI: folders walked as Keras does
# (nested files, skipped files named, "Found N images belonging to K
# classes."), one-class and empty-class folders refused, the seeded
# stratified validation split, predict refusing inputs of unknown kind, train
# on a folder without --base, a 16000x16000 PNG in bounded memory, the
# README's first model evaluated on fashion-mnist:test, and memory that does
# not grow with the size of an image folder trained with the feature cache.
. "$(dirname "$0")/common.bash"
# peak-RSS checks: no ASan quarantine holding freed blocks (no-op otherwise)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
# expect CODE PATTERN -- CMD...: exit code and a stderr/stdout line matching PATTERN
expect() {
  local code="$1" pat="$2"; shift 3
  "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
  [ "$rc" = "$code" ] || { die "exit $rc (want $code): $*"; tail -3 "$tmp/err"; return; }
  grep -qE -- "$pat" "$tmp/out" "$tmp/err" || { die "no /$pat/: $*"; tail -3 "$tmp/err"; }
}
# peak RSS in MB of a command (getrusage of the child)
rss_mb() {
  python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024 if r == 0 else -1)' "$@"
}
export NODE_PATH="$ROOT/tools/node_modules"
# folder DIR CLASSES PER_CLASS SIZE: JPEGs DIR/CLASS/i.jpg (class k a shade apart)
folder() {
  node -e '
const fs = require("fs"), jpeg = require("jpeg-js");
const [d, cls, per, size] = [process.argv[1], process.argv[2].split(","), +process.argv[3], +process.argv[4]];
cls.forEach((c, k) => { fs.mkdirSync(`${d}/${c}`, { recursive: true });
  for (let i = 0; i < per; i++) { const b = Buffer.alloc(size * size * 4);
    for (let p = 0; p < size * size; p++) { const v = 40 + 150 * k + ((p * 7 + i * 13) % 50);
      b[4 * p] = v; b[4 * p + 1] = 255 - v; b[4 * p + 2] = v; b[4 * p + 3] = 255; }
    fs.writeFileSync(`${d}/${c}/${i}.jpg`, jpeg.encode({ data: b, width: size, height: size }, 90).data); } });
' "$@" || die "making images in $1"
}
# a tiny backbone: Input(224,224,3) -> GlobalAveragePooling2D 'gap' -> Dense(2)
node -e '
const fs = require("fs"), d = process.argv[1]; fs.mkdirSync(d, { recursive: true });
const topo = { class_name: "Sequential", config: { name: "tiny", layers: [
  { class_name: "GlobalAveragePooling2D", config: { name: "gap", trainable: true,
    batch_input_shape: [null, 224, 224, 3], data_format: "channels_last" } },
  { class_name: "Dense", config: { name: "dense", trainable: true, units: 2, activation: "softmax", use_bias: true } } ] } };
fs.writeFileSync(`${d}/model.json`, JSON.stringify({ format: "layers-model", modelTopology: topo,
  weightsManifest: [{ paths: ["weights.bin"], weights: [{ name: "dense/kernel", shape: [3, 2], dtype: "float32" },
                                                         { name: "dense/bias", shape: [2], dtype: "float32" }] }] }));
fs.writeFileSync(`${d}/weights.bin`, Buffer.from(new Float32Array([0.1, -0.1, 0.2, 0, 0, 0.3, 0, 0]).buffer));
' "$tmp/bb" || die "making the tiny backbone"
tb() { "$C" train --base "$tmp/bb" --cut gap "$@"; }

# --- a folder as Keras reads it -------------------------------------------------
folder "$tmp/f" cat,dog 8 12
mkdir -p "$tmp/f/dog/nested"
cp "$tmp/f/dog/0.jpg" "$tmp/f/dog/nested/x.jpg"
printf 'GIF89a' > "$tmp/f/cat/anim.gif"
printf 'BM' > "$tmp/f/dog/old.bmp"
expect 0 "^Found 17 images belonging to 2 classes\.$" -- tb --data "$tmp/f" --epochs 2 --out "$tmp/m"
grep -q "skipped 2 files that are not JPEG or PNG" "$tmp/err" || die "skipped files not reported"
grep -q "cat/anim.gif" "$tmp/err" && grep -q "dog/old.bmp" "$tmp/err" || die "skipped files not named"
expect 0 "^n: 17$" -- "$C" evaluate "$tmp/m" --data "$tmp/f"
grep -q "^Found 17 images belonging to 2 classes\.$" "$tmp/err" || die "evaluate: no Found line"
# a folder of other classes than the model's: refused, not mislabelled
folder "$tmp/other" cat,zebra 2 12
expect 3 "other: class 1 is 'zebra', the model's class 1 is 'dog'" -- "$C" evaluate "$tmp/m" --data "$tmp/other"
expect 3 "class 1 is 'zebra'" -- "$C" predict "$tmp/m" --data "$tmp/other"
# the validation split of a folder: seeded and stratified, not the last class
expect 0 "validation split \(seed 3, stratified\): 4 samples: 2 cat, 2 dog" -- \
  tb --data "$tmp/f" --val-split 0.25 --seed 3 --epochs 1 --out "$tmp/m2"
grep -q "val_loss" "$tmp/err" || die "--val-split: no validation metrics"
# one class, an empty class folder: refused, naming the folder
folder "$tmp/one" only 4 10
expect 3 "$tmp/one: one class sub-folder \('only'\)" -- tb --data "$tmp/one" --out "$tmp/x"
mkdir "$tmp/f/empty"
expect 3 "$tmp/f/empty: class folder has no JPEG or PNG images" -- tb --data "$tmp/f" --out "$tmp/x"
rmdir "$tmp/f/empty"
# train on a folder without --base: the right message (exit 2: it needs --base)
expect 2 "is a folder of images: .*--base MODEL" -- "$C" train --data "$tmp/f" --out "$tmp/x"
grep -q "tools/setup.sh" "$tmp/err" && die "train on a folder claims a missing data set"
[ -e "$tmp/x" ] && die "a refused run left $tmp/x"
# a model that records no image preprocessing (a plain backbone) given a
# folder: that reason, not a "missing data set"
for cmd in "evaluate $tmp/bb --data" "quantize $tmp/bb --out $tmp/x8 --calibrate"; do
  expect 3 "$tmp/f: the model takes no image files" -- "$C" $cmd "$tmp/f"
  grep -q "tools/setup.sh" "$tmp/err" && die "$cmd a folder claims a missing data set"
done
[ -e "$tmp/x8" ] && die "a refused quantize left $tmp/x8"

# --- predict: images, raw floats, and nothing else ------------------------------
expect 0 '"input":"[^"]*cat/1.jpg"' -- "$C" predict "$tmp/m" "$tmp/f/cat/1.jpg" --json
expect 3 "anim.gif: unknown kind of input" -- "$C" predict "$tmp/m" "$tmp/f/cat/anim.gif"
head -c $((224 * 224 * 3 * 4)) /dev/zero > "$tmp/zero.f32"
expect 0 "zero.f32\[0\]" -- "$C" predict "$tmp/m" "$tmp/zero.f32"
cp "$tmp/zero.f32" "$tmp/zero.bin"
expect 3 "zero.bin: unknown kind of input" -- "$C" predict "$tmp/m" "$tmp/zero.bin"

# --- a 249 KB 16000x16000 PNG: decoded scaled down, in bounded memory -----------
node -e '
const fs = require("fs"), zlib = require("zlib"), [p, n] = [process.argv[1], +process.argv[2]];
const crcT = []; for (let i = 0; i < 256; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1; crcT[i] = c >>> 0; }
const crc = b => { let c = 0xFFFFFFFF; for (const x of b) c = crcT[(c ^ x) & 255] ^ (c >>> 8); return (c ^ 0xFFFFFFFF) >>> 0; };
const chunk = (t, d) => { const l = Buffer.alloc(4), c = Buffer.alloc(4), td = Buffer.concat([Buffer.from(t), d]);
  l.writeUInt32BE(d.length); c.writeUInt32BE(crc(td)); return Buffer.concat([l, td, c]); };
const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(n, 0); ihdr.writeUInt32BE(n, 4); ihdr[8] = 8; ihdr[9] = 0;
const z = zlib.deflateSync(Buffer.alloc((n + 1) * n), { level: 9 });
fs.writeFileSync(p, Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr),
  chunk("IDAT", z), chunk("IEND", Buffer.alloc(0))]));' "$tmp/big.png" 16000 || die "making big.png"
rss=$(rss_mb "$C" predict "$tmp/m" "$tmp/big.png")
echo "predict on a 16000x16000 PNG: peak RSS $rss MB"
[ "$rss" -gt 0 ] && [ "$rss" -lt 1024 ] || die "16000x16000 PNG: peak RSS $rss MB (3.3 GB decoded whole)"

# --- the README's first model: --base on fashion-mnist, evaluated on its test set -
expect 0 "saved" -- "$C" train --data fashion-mnist --base "$ROOT/data/models/mobilenet_v2" \
  --limit 40 --epochs 2 --out "$tmp/fm"
expect 0 "^n: 20$" -- "$C" evaluate "$tmp/fm" --data fashion-mnist:test --limit 20
expect 0 "fashion-mnist:test\[2\]:" -- "$C" predict "$tmp/fm" --data fashion-mnist:test --limit 3

# --- memory does not grow with the folder (feature cache on) ----------------------
folder "$tmp/s" a,b 100 16
folder "$tmp/l" a,b 400 16
small=$(rss_mb "$C" train --base "$tmp/bb" --cut gap --data "$tmp/s" --cache "$tmp/c" --epochs 1 --out "$tmp/ms")
large=$(rss_mb "$C" train --base "$tmp/bb" --cut gap --data "$tmp/l" --cache "$tmp/c" --epochs 1 --out "$tmp/ml")
hit=$(rss_mb "$C" train --base "$tmp/bb" --cut gap --data "$tmp/l" --cache "$tmp/c" --epochs 1 --out "$tmp/ml")
echo "train --base on 200 / 800 images (224x224x3 inputs): peak RSS $small / $large MB, cache hit $hit MB"
[ "$small" -gt 0 ] && [ "$large" -gt 0 ] && [ "$hit" -gt 0 ] || die "folder training failed"
[ $((large - small)) -lt 64 ] || die "peak RSS grows with the folder: $small -> $large MB"
[ "$hit" -le "$large" ] || die "a cache hit costs more than extracting: $hit > $large MB"
exit $fail
