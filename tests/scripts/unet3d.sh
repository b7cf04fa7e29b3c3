#!/usr/bin/env bash
# A real 3-D U-Net no script here wrote: InVesalius' brain-MRI model (Debian
# package invesalius, Keras 2.2.4, plaidml backend; Conv3D, MaxPooling3D,
# Dropout, Conv3DTranspose, Concatenate of 5-D tensors, Dense on the channel
# axis). tools/h5/h5_to_tfjs.py turns the .h5 into a TF.js layers folder,
# real TF.js 4.22 (cpu backend, tests/tfjs/infer_model.js) runs it on a
# fixed random volume, and `crest infer` must match within 1e-4 of the
# output's magnitude:
#   - 16x16x16 (the same layers and weights, input shape edited in the TF.js
#     folder): crest on that folder; then crest saves it back (TF.js folder
#     and .h5) and real TF.js / crest give the same outputs on the copies;
#   - 48x48x48, the model's own size, crest on the .h5 itself (skipped under
#     CREST_SANITIZED: TF.js alone takes ~40 s).
. "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
export NODE_PATH="$ROOT/tools/node_modules"
H5="$CREST_DATA/models/invesalius_brain_mri_t1.h5"
[ -f "$H5" ] || { echo "FAIL: $H5 is missing"; exit 1; }

# random volume in [0, 1) (the model's inputs are normalized intensities)
volume() {
  $PY -c "import numpy as np, sys; np.random.seed(int(sys.argv[2])); \
np.random.rand(int(sys.argv[1]) ** 3).astype('<f4').tofile(sys.argv[3])" "$@"
}
# compare A B WHAT: |a - b| <= 1e-4 max |b|, figures printed
compare() {
  $PY - "$1" "$2" "$3" <<'PY'
import sys, numpy as np
a, b = (np.fromfile(f, '<f4') for f in sys.argv[1:3])
if a.shape != b.shape:
    sys.exit(f'{sys.argv[3]}: {a.size} values against {b.size}')
d, mag = float(np.abs(a - b).max()), float(np.abs(b).max())
print(f'{sys.argv[3]}: max |crest - tfjs| {d:.3g}, output magnitude {mag:.3g}, '
      f'ratio {d / mag:.3g}')
sys.exit(0 if np.isfinite(a).all() and mag > 0 and d <= 1e-4 * mag else 1)
PY
}

# 1. 16x16x16
$PY "$ROOT/tools/h5/h5_to_tfjs.py" "$H5" "$tmp/tfjs16" --input-shape 16,16,16 2> /dev/null ||
  die "h5_to_tfjs.py"
volume 16 7 "$tmp/x16.f32"
node "$ROOT/tests/tfjs/infer_model.js" "$tmp/tfjs16" "$tmp/x16.f32" 1,16,16,16,1 "$tmp/t16.f32" 2> /dev/null ||
  die "TF.js on the 16^3 folder"
"$C" infer "$tmp/tfjs16" --input "$tmp/x16.f32" --shape 1,16,16,16,1 --out "$tmp/c16.f32" 2> /dev/null ||
  die "crest infer on the 16^3 folder"
compare "$tmp/c16.f32" "$tmp/t16.f32" "unet3d 16^3" || die "crest and TF.js differ at 16^3"
# saved back by crest: TF.js opens the folder, crest the .h5, same outputs
"$C" export "$tmp/tfjs16" --format tfjs --out "$tmp/saved" > /dev/null 2>&1 || die "export --format tfjs"
"$C" export "$tmp/tfjs16" --format h5 --out "$tmp/saved.h5" > /dev/null 2>&1 || die "export --format h5"
node "$ROOT/tests/tfjs/infer_model.js" "$tmp/saved" "$tmp/x16.f32" 1,16,16,16,1 "$tmp/s16.f32" 2> /dev/null ||
  die "TF.js on crest's saved folder"
cmp -s "$tmp/t16.f32" "$tmp/s16.f32" || die "TF.js gives other outputs on crest's saved folder"
"$C" infer "$tmp/saved.h5" --input "$tmp/x16.f32" --shape 1,16,16,16,1 --out "$tmp/h16.f32" 2> /dev/null &&
  cmp -s "$tmp/c16.f32" "$tmp/h16.f32" || die "crest's saved .h5 gives other outputs"

# 2. 48x48x48: the .h5 as it is
if [ -n "${CREST_SANITIZED:-}" ]; then
  echo "unet3d 48^3: skipped under CREST_SANITIZED"
else
  $PY "$ROOT/tools/h5/h5_to_tfjs.py" "$H5" "$tmp/tfjs48" || die "h5_to_tfjs.py"
  volume 48 11 "$tmp/x48.f32"
  node "$ROOT/tests/tfjs/infer_model.js" "$tmp/tfjs48" "$tmp/x48.f32" 1,48,48,48,1 "$tmp/t48.f32" 2> /dev/null ||
    die "TF.js on the 48^3 model"
  start=$(date +%s.%N)
  "$C" infer "$H5" --input "$tmp/x48.f32" --shape 1,48,48,48,1 --out "$tmp/c48.f32" 2> /dev/null ||
    die "crest infer on the .h5"
  echo "unet3d 48^3: crest infer took $(echo "$(date +%s.%N) - $start" | bc) s"
  compare "$tmp/c48.f32" "$tmp/t48.f32" "unet3d 48^3" || die "crest and TF.js differ at 48^3"
fi
[ "$fail" = 0 ] && echo "unet3d: ok"
exit "$fail"
