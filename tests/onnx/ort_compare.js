// ONNX Runtime (onnxruntime-node, CPU) runs an ONNX model crest exported on
// raw float32 inputs and compares its output 0 with crest's.
//
// usage: node tests/onnx/ort_compare.js MODEL.onnx X.f32 N REF.f32 [TOL]
//   X.f32: N samples of the model's input (NHWC, as crest infer takes);
//   REF.f32: crest's outputs for them. Passes when
//   max |ort - crest| <= TOL (default 1e-4) * max(1, max |crest|).
// Prints one JSON line: {"max_abs_diff", "scale", "n", "ok"}.
'use strict';
const fs = require('fs');
const path = require('path');
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  ort = require(path.join(__dirname, '..', '..', 'tools', 'node_modules', 'onnxruntime-node'));
}

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function main() {
  const [model, xf, ns, reff, tols] = process.argv.slice(2);
  if (!reff) {
    console.error('usage: node tests/onnx/ort_compare.js MODEL.onnx X.f32 N REF.f32 [TOL]');
    process.exit(2);
  }
  const n = parseInt(ns, 10), tol = tols ? parseFloat(tols) : 1e-4;
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  if (s.inputNames.length !== 1) throw new Error(`${s.inputNames.length} inputs: one expected`);
  const x = f32(xf), ref = f32(reff);
  const meta = s.inputMetadata ? s.inputMetadata[0] : null;
  let dims = meta && meta.shape ? meta.shape.slice(1) : null;
  if (!dims || dims.some((d) => typeof d !== 'number'))
    throw new Error('input shape not known from the model');
  const per = dims.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) throw new Error(`X has ${x.length} floats, not ${n} x ${per}`);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [n, ...dims]) });
  const y = out[s.outputNames[0]].data;
  if (y.length !== ref.length) throw new Error(`ORT gives ${y.length} values, crest ${ref.length}`);
  let d = 0, scale = 1;
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs(y[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
    if (!Number.isFinite(y[i])) d = Infinity;
  }
  const ok = d <= tol * scale;
  console.log(JSON.stringify({ max_abs_diff: d, scale, n, ok }));
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(`ort_compare: ${e.message}`); process.exit(1); });
