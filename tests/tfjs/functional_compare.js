// A functional (two-input, Concatenate) model saved by crest loads in real
// TF.js and gives the same probabilities crest computed.
// usage: node functional_compare.js DIR   (DIR has model.json, x.f32, probs.f32)
'use strict';
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { loadFolder, readF32 } = require('../../tools/tfjs_files');

async function main() {
  const dir = process.argv[2];
  await tf.setBackend('cpu');
  const model = await loadFolder(tf, dir);
  const x = readF32(path.join(dir, 'x.f32')), want = readF32(path.join(dir, 'probs.f32'));
  const n = x.length / 9;
  const pix = new Float32Array(n * 6), tab = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 6; k++) pix[i * 6 + k] = x[i * 9 + k];
    for (let k = 0; k < 3; k++) tab[i * 3 + k] = x[i * 9 + 6 + k];
  }
  const got = model.predict([tf.tensor(pix, [n, 2, 3]), tf.tensor(tab, [n, 3])]).dataSync();
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  console.log(`tfjs functional model: ${n} samples, inputs ${model.inputs.map((t) => t.name)}, max |diff| ${worst.toExponential(2)}`);
  if (!(worst <= 1e-5) || got.length !== want.length) process.exit(1);
}
main().catch((e) => { console.error(e); process.exit(1); });
