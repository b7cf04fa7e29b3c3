// Runs a TF.js layers model (real TF.js 4.22, cpu backend) on a raw float32
// input and writes its output 0 as raw float32: the oracle that crest infer
// is compared with.
// usage: node infer_model.js MODEL_DIR X.f32 N,D1,...,C OUT.f32
'use strict';
const tf = require('@tensorflow/tfjs');
const { loadFolder, readF32, writeF32 } = require('../../tools/tfjs_files');

async function main() {
  const [dir, xfile, shapeArg, out] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const model = await loadFolder(tf, dir);
  const x = readF32(xfile);
  const shape = shapeArg.split(',').map(Number);
  let y = model.predict(tf.tensor(x, shape));
  if (Array.isArray(y)) y = y[0];
  writeF32(out, y.dataSync());
  console.error(`tfjs: ${model.name}: [${shape}] -> [${y.shape}]`);
}
main().catch((e) => { console.error(e.message || e); process.exit(1); });
