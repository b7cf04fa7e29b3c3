// Runs a TF.js layers model (real TF.js 4.22, cpu backend) on a raw float32
// input and writes its output 0 as raw float32: the oracle that crest infer
// is compared with.
// usage: node infer_model.js MODEL_DIR X.f32 N,D1,...,C OUT.f32
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [dir, xfile, shapeArg, out] = process.argv.slice(2);
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
  const b = fs.readFileSync(xfile);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const shape = shapeArg.split(',').map(Number);
  let y = model.predict(tf.tensor(x, shape));
  if (Array.isArray(y)) y = y[0];
  const v = y.dataSync();
  fs.writeFileSync(out, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  console.error(`tfjs: ${model.name}: [${shape}] -> [${y.shape}]`);
}
main().catch((e) => { console.error(e.message || e); process.exit(1); });
