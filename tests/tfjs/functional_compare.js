// A functional (two-input, Concatenate) model saved by crest loads in real
// TF.js and gives the same probabilities crest computed.
// usage: node functional_compare.js DIR   (DIR has model.json, x.f32, probs.f32)
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function main() {
  const dir = process.argv[2];
  await tf.setBackend('cpu');
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [], bufs = [];
  for (const g of mj.weightsManifest) {
    for (const w of g.weights) specs.push(w);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(bufs);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: mj.modelTopology, weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  }));
  const x = f32(path.join(dir, 'x.f32')), want = f32(path.join(dir, 'probs.f32'));
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
