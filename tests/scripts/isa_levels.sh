#!/usr/bin/env bash
# The kernels' instruction-set levels (crest_kernels, CREST_ISA):
#   1. crest --version and crest bench (text and --json) name the levels in
#      force; CREST_ISA=generic (any case) caps both kinds to the portable
#      loops, CREST_ISA=avx2 keeps float32 at or under avx2, and a value
#      that names no level caps nothing and says so;
#   2. an int8 model gives the same bytes at the generic level as at the
#      best one, and a float32 model stays within 1e-5 (the levels may only
#      differ in the last bits for float32).
# tests/emu/run.sh checks the levels this CPU lacks the same way.
. "$(dirname "$0")/common.bash"
[ -f "$CREST_DATA/fashion-mnist/train-images-idx3-ubyte" ] || { echo "FAIL: no fashion-mnist: run tools/setup.sh"; exit 1; }
best=$("$C" --version | sed -n 's/^kernels: //p')
echo "levels here: $best"
[[ "$best" =~ ^float32\ (generic|avx2|avx512),\ int8\ (generic|avx2|avxvnni|avx512vnni),\ int16\ (generic|avx2)$ ]] ||
  die "crest --version: kernels line '$best'"
[ "$(CREST_ISA=GENERIC "$C" --version | sed -n 's/^kernels: //p')" = "float32 generic, int8 generic, int16 generic" ] ||
  die "CREST_ISA=GENERIC does not cap to generic"
CREST_ISA=avx2 "$C" --version | grep -Eq "^kernels: float32 (generic|avx2), int8 (generic|avx2), " ||
  die "CREST_ISA=avx2: $(CREST_ISA=avx2 "$C" --version | tail -1)"
CREST_ISA=sse9 "$C" --version | grep -q "^kernels: $best (CREST_ISA names no level: ignored)$" ||
  die "CREST_ISA=sse9: $(CREST_ISA=sse9 "$C" --version | tail -1)"

"$C" train --data fashion-mnist --limit 1000 --hidden 32 --epochs 1 --seed 1 --out "$tmp/m" > /dev/null 2>&1 ||
  die "train"
"$C" quantize "$tmp/m" --calibrate fashion-mnist:train --samples 200 --out "$tmp/m8" > /dev/null 2>&1 ||
  die "quantize"
"$C" bench "$tmp/m8" --iters 2 --json > "$tmp/b.json" 2> /dev/null || die "bench --json"
python3 -c "
import json, sys
assert json.load(open(sys.argv[1]))['kernels'] == sys.argv[2]" "$tmp/b.json" "$best" ||
  die "bench --json kernels: $(cat "$tmp/b.json")"
CREST_ISA=generic "$C" bench "$tmp/m8" --iters 2 | grep -q "^  kernels: float32 generic, int8 generic" ||
  die "bench under CREST_ISA=generic does not say so"
python3 -c "
import random, struct
random.seed(4)
open('$tmp/x.f32', 'wb').write(struct.pack('<%df' % (50 * 784), *[random.random() for _ in range(50 * 784)]))"
for m in m m8; do
  "$C" infer "$tmp/$m" --input "$tmp/x.f32" --shape 50,28,28 --out "$tmp/$m.best" 2> /dev/null &&
    CREST_ISA=generic "$C" infer "$tmp/$m" --input "$tmp/x.f32" --shape 50,28,28 --out "$tmp/$m.gen" 2> /dev/null ||
    die "infer $m"
done
cmp -s "$tmp/m8.best" "$tmp/m8.gen" || die "int8: the generic level's bytes differ from the best level's"
close "$tmp/m.best" "$tmp/m.gen" || die "float32: generic and best levels further apart than 1e-5"
echo "int8 the same bytes at generic and $best; float32 within 1e-5"
exit $fail
