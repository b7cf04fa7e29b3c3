// Opens TF.js layers folders in real TF.js (cpu backend), runs each on an
// input and compares with crest's output for it.
// usage: node infer_compare.js LIST [TOL]
//   LIST: one case a line, "MODEL_DIR X.f32 N,D1,D2,... Y.f32 [ORIG_DIR]"
//   (raw little-endian float32). Passes when max|tfjs - crest| <= TOL (default
//   1e-5) times max|crest| (relative to the output's magnitude). When TF.js
//   fails on MODEL_DIR and fails the same way on ORIG_DIR, the folder crest
//   started from (a golden case whose config or reference TF.js 4.22's layers
//   do not implement: see tests/golden/layers/README.md), the case is
//   reported as skipped.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const { loadFolder, readF32 } = require('../../tools/tfjs_files');

// TF.js's output of model on x against want: {ok, diff, rel, msg}.
function compare(model, x, shape, want) {
  const y = model.predict(tf.tensor(x, shape));
  const got = (Array.isArray(y) ? y[0] : y).dataSync();
  if (got.length !== want.length)
    return { ok: false, msg: `TF.js gives ${got.length} values, crest ${want.length}` };
  let diff = 0, mag = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    mag = Math.max(mag, Math.abs(want[i]));
  }
  const rel = diff / Math.max(mag, 1e-30);
  return { ok: rel <= tol, diff, rel,
           msg: `max|diff| ${diff.toExponential(2)} is ${rel.toExponential(2)} of max|y| ${mag.toExponential(2)} (> ${tol})` };
}

let tol = 1e-5;

async function main() {
  const [list, tolStr] = process.argv.slice(2);
  if (tolStr) tol = parseFloat(tolStr);
  await tf.setBackend('cpu');
  let failed = 0, ok = 0, skipped = 0;
  for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const [dir, xf, shapeStr, yf, orig] = line.trim().split(/\s+/);
    const shape = shapeStr.split(',').map(Number);
    let model;
    try {
      model = await loadFolder(tf, dir);
    } catch (e) {
      let origOk = false;
      if (orig) {
        try { await loadFolder(tf, orig); origOk = true; } catch (e2) { /* TF.js cannot read it */ }
      }
      if (orig && !origOk) {
        console.log(`skipped ${dir}: TF.js ${tf.version.tfjs} cannot open the original either (${String(e.message).slice(0, 80)})`);
        skipped++;
        continue;
      }
      console.error(`FAIL ${dir}: TF.js cannot open it: ${e.message}`);
      failed++;
      continue;
    }
    const want = readF32(yf);
    let r;
    try {
      r = compare(model, readF32(xf), shape, want);
    } catch (e) {   // TF.js cannot run it (Softmax on a non-last axis, ...)
      r = { ok: false, msg: `TF.js cannot run it: ${String(e.message).slice(0, 80)}`, threw: true };
    }
    if (!r.ok && orig) {
      let o = null;
      try { o = compare(await loadFolder(tf, orig), readF32(xf), shape, want); } catch (e) {
        if (r.threw) o = { ok: false, msg: `TF.js cannot run the original either: ${String(e.message).slice(0, 80)}` };
      }
      if (o && !o.ok) {
        console.log(`skipped ${dir}: TF.js ${tf.version.tfjs} differs from crest on the original folder too (${o.msg})`);
        skipped++;
        continue;
      }
    }
    const { diff, rel } = r;
    if (!r.ok) {
      console.error(`FAIL ${dir}: ${r.msg}`);
      failed++;
    } else {
      console.log(`ok ${dir}: ${want.length} values, max|diff| ${diff.toExponential(2)}, relative ${rel.toExponential(2)}`);
      ok++;
    }
  }
  console.log(`tfjs ${tf.version.tfjs}: ${ok} ok, ${skipped} skipped, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
