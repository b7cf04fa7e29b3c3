#!/usr/bin/env bash
# tests/emu/run.sh [NATIVE] [EMU] - the SIMD levels this CPU may not have
# (AVX-512 for float32, AVX-512 VNNI and AVX-VNNI for int8), run in EMU
# (`make emu`: their intrinsics in portable C, tests/emu/x86_emu.h, under
# ASan+UBSan) and checked against the levels that run natively in NATIVE:
#   1. EMU's command reports the top levels (crest --version);
#   2. the kernel tests run every level against the plain loops
#      (test_q8_kernels: exact; test_kernels: double references);
#   3. whole models: int8 MobileNetV2 and InceptionV3 and an int8 MLP give
#      NATIVE's bytes, at 1 and 2 threads (MobileNetV2 also at the AVX-VNNI
#      and AVX2 levels, by CREST_ISA); float32 ones (MobileNetV2 head,
#      MLP) within 1e-5, and, capped at avx2 (CREST_ISA) where NATIVE's
#      float32 level is avx2, NATIVE's bytes; an MLP trained in EMU ends at
#      NATIVE's loss.
# Prints "emulated levels: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/../scripts/common.bash"
NATIVE="${1:-build}"
EMU="${2:-build-emu}"
C="$ROOT/$NATIVE/crest"
E="$ROOT/$EMU/crest"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() {   # WHAT CMD...: one check, by CMD's exit status
  local what="$1"; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
for f in "$C" "$E" "$ROOT/$EMU/tests/test_q8_kernels" "$ROOT/$EMU/tests/test_kernels"; do
  [ -x "$f" ] || { echo "FAIL: no $f (make emu)"; echo "emulated levels: 0 passed, 1 failed"; exit 1; }
done
MNV2="$CREST_DATA/models/mobilenet_v2"
INCV3="$CREST_DATA/models/inception_v3"
for d in "$MNV2" "$INCV3" "$CREST_DATA/fashion-mnist"; do
  [ -e "$d" ] || { echo "FAIL: $d missing (bash tools/setup.sh)"; echo "emulated levels: 0 passed, 1 failed"; exit 1; }
done

# 1. the levels
"$E" --version > "$tmp/v.txt"
"$C" --version > "$tmp/nv.txt"
check "the emulated build runs float32 avx512 and int8 avx512vnni ($(sed -n 2p "$tmp/v.txt"))" \
  grep -q "^kernels: float32 avx512, int8 avx512vnni" "$tmp/v.txt"

# 2. the kernel tests, every level
for t in test_q8_kernels test_kernels; do
  start=$(date +%s)
  if "$ROOT/$EMU/tests/$t" > "$tmp/$t.log" 2>&1; then
    ok "$t, every level ($(( $(date +%s) - start ))s)"
  else
    bad "$t"; tail -30 "$tmp/$t.log"
  fi
done
for lv in avxvnni avx512vnni; do
  check "test_q8_kernels ran the $lv level" grep -q "q8 level $lv: tested" "$tmp/test_q8_kernels.log"
done

# 3. whole models, made and quantized by NATIVE, run by both
same() { cmp -s "$1" "$2"; }
near() { close "$1" "$2" > "$tmp/close.txt" 2>&1 || { cat "$tmp/close.txt"; return 1; }; }
infer_both() {   # NAME MODEL INPUT SHAPE(with the batch) [OPTS...]: NATIVE -> $tmp/NAME.n, EMU at 1 and 2 threads
  local name="$1" model="$2" in="$3" shape="$4"; shift 4
  "$C" infer "$model" --input "$in" --shape "$shape" --out "$tmp/$name.n" "$@" 2> "$tmp/err" &&
    "$E" infer "$model" --input "$in" --shape "$shape" --out "$tmp/$name.e1" --threads 1 "$@" 2>> "$tmp/err" &&
    "$E" infer "$model" --input "$in" --shape "$shape" --out "$tmp/$name.e2" --threads 2 "$@" 2>> "$tmp/err" ||
    { bad "$name: infer: $(tail -2 "$tmp/err")"; return 1; }
}
rand_f32() {   # FILE N LO HI SEED
  python3 -c "
import random, struct, sys
f, n, lo, hi, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
random.seed(seed)
open(f, 'wb').write(struct.pack('<%df' % n, *[random.uniform(lo, hi) for _ in range(n)]))" "$@"
}

# a MobileNetV2 224 head on Fashion-MNIST, float and int8 (depthwise, 1x1
# and 3x3 convolutions, add, global pooling, Dense)
"$C" train --base "$MNV2" --data fashion-mnist --limit 200 --epochs 1 --seed 1 \
  --cache "${CREST_FEATURE_CACHE:-$CREST_DATA/.cache/features}" --out "$tmp/h" > /dev/null 2> "$tmp/err" &&
  "$C" quantize "$tmp/h" --calibrate fashion-mnist:train --samples 40 --out "$tmp/h8" > /dev/null 2>> "$tmp/err" ||
  bad "MobileNetV2 head: train and quantize: $(tail -2 "$tmp/err")"
rand_f32 "$tmp/x224.f32" $((3 * 224 * 224 * 3)) 0 1 5
if infer_both mnv2_int8 "$tmp/h8" "$tmp/x224.f32" 3,224,224,3; then
  check "MobileNetV2 head int8: the native bytes (1 thread)" same "$tmp/mnv2_int8.n" "$tmp/mnv2_int8.e1"
  check "MobileNetV2 head int8: the native bytes (2 threads)" same "$tmp/mnv2_int8.n" "$tmp/mnv2_int8.e2"
fi
if infer_both mnv2_int8_gap "$tmp/h8" "$tmp/x224.f32" 3,224,224,3 --layer global_average_pooling2d; then
  check "MobileNetV2 head int8, pooled features: the native bytes" same "$tmp/mnv2_int8_gap.n" "$tmp/mnv2_int8_gap.e2"
fi
# the lower int8 levels, emulated too, chosen by CREST_ISA
for lv in avxvnni avx2; do
  CREST_ISA=$lv "$E" --version | grep -q "int8 $lv," || bad "CREST_ISA=$lv: $(CREST_ISA=$lv "$E" --version | tail -1)"
  if CREST_ISA=$lv "$E" infer "$tmp/h8" --input "$tmp/x224.f32" --shape 3,224,224,3 --out "$tmp/mnv2_$lv" \
       2> "$tmp/err"; then
    check "MobileNetV2 head int8 at the $lv level: the native bytes" same "$tmp/mnv2_int8.n" "$tmp/mnv2_$lv"
  else
    bad "CREST_ISA=$lv infer: $(tail -2 "$tmp/err")"
  fi
done
"$C" predict "$tmp/h8" --data fashion-mnist:test --limit 3 --json > "$tmp/p8n.json" 2> /dev/null &&
  "$E" predict "$tmp/h8" --data fashion-mnist:test --limit 3 --json > "$tmp/p8e.json" 2> /dev/null &&
  check "MobileNetV2 head int8: predict on 3 test images, the native output" same "$tmp/p8n.json" "$tmp/p8e.json" ||
  bad "MobileNetV2 head int8: predict"
rand_f32 "$tmp/x224b.f32" $((1 * 224 * 224 * 3)) 0 1 6
if infer_both mnv2_float "$tmp/h" "$tmp/x224b.f32" 1,224,224,3; then
  check "MobileNetV2 head float32: within 1e-5 of native (1 thread)" near "$tmp/mnv2_float.n" "$tmp/mnv2_float.e1"
  check "MobileNetV2 head float32: 1 and 2 threads the same" same "$tmp/mnv2_float.e1" "$tmp/mnv2_float.e2"
  # an AVX-512 machine capped at avx2 gives an AVX2 machine's float32 bits
  if [ "$(sed -n 's/^kernels: float32 \([a-z0-9]*\),.*/\1/p' "$tmp/nv.txt")" = avx2 ]; then
    CREST_ISA=avx2 "$E" infer "$tmp/h" --input "$tmp/x224b.f32" --shape 1,224,224,3 --out "$tmp/mnv2_avx2" 2> /dev/null &&
      check "MobileNetV2 head float32 at CREST_ISA=avx2: the native AVX2 bytes" same "$tmp/mnv2_float.n" "$tmp/mnv2_avx2" ||
      bad "CREST_ISA=avx2 float32 infer"
  fi
fi

# InceptionV3 int8 (Concatenate, 1x7 / 7x1 / 5x5 convolutions, SAME average
# pooling, max pooling), quantized on two photos
mkdir -p "$tmp/photos/a" "$tmp/photos/b"
cp "$CREST_DATA/images/flower.jpg" "$tmp/photos/a/"; cp "$CREST_DATA/images/china.jpg" "$tmp/photos/b/"
if "$C" quantize "$INCV3" --calibrate "$tmp/photos" --preprocess tf --out "$tmp/inc8" > /dev/null 2> "$tmp/err"; then
  rand_f32 "$tmp/x299.f32" $((299 * 299 * 3)) -1 1 7
  if infer_both inc_int8 "$tmp/inc8" "$tmp/x299.f32" 1,299,299,3; then
    check "InceptionV3 int8: the native bytes" same "$tmp/inc_int8.n" "$tmp/inc_int8.e2"
  fi
else
  bad "InceptionV3: quantize: $(tail -2 "$tmp/err")"
fi

# an MLP: trained by each build (float32 forward and backward), and int8
"$C" train --data fashion-mnist --limit 2000 --hidden 64 --epochs 2 --seed 1 --out "$tmp/mn" 2>&1 |
  grep -o 'loss: [0-9.]*' | tail -1 > "$tmp/ln.txt"
"$E" train --data fashion-mnist --limit 2000 --hidden 64 --epochs 2 --seed 1 --out "$tmp/me" 2>&1 |
  grep -o 'loss: [0-9.]*' | tail -1 > "$tmp/le.txt"
check "MLP trained in the emulated build: final $(cat "$tmp/le.txt"), native $(cat "$tmp/ln.txt")" \
  bash -c '[ -s "$1" ] && cmp -s "$1" "$2"' _ "$tmp/ln.txt" "$tmp/le.txt"
rand_f32 "$tmp/x28.f32" $((64 * 28 * 28)) 0 1 8
if infer_both mlp_float "$tmp/mn" "$tmp/x28.f32" 64,28,28; then
  check "MLP float32: within 1e-5 of native" near "$tmp/mlp_float.n" "$tmp/mlp_float.e2"
fi
if "$C" quantize "$tmp/mn" --calibrate fashion-mnist:train --samples 200 --out "$tmp/mn8" > /dev/null 2> "$tmp/err"; then
  if infer_both mlp_int8 "$tmp/mn8" "$tmp/x28.f32" 64,28,28 --batch 7; then
    check "MLP int8 (batches of 7): the native bytes" same "$tmp/mlp_int8.n" "$tmp/mlp_int8.e1"
  fi
else
  bad "MLP: quantize: $(tail -2 "$tmp/err")"
fi

echo "emulated levels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
