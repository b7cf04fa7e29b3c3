// Loads a model that crest saved into real TF.js (cpu backend) and checks
// that TF.js gives the same probabilities as `crest predict --json`.
// usage: node predict_compare.js MODEL_DIR CREST_JSON IDX_IMAGES N [TOL]
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const { loadFolder } = require('../../tools/tfjs_files');

async function main() {
  const [dir, crestJson, idxImages, nStr, tolStr] = process.argv.slice(2);
  const n = parseInt(nStr, 10), tol = tolStr ? parseFloat(tolStr) : 1e-5;
  await tf.setBackend('cpu');
  const model = await loadFolder(tf, dir);
  const raw = fs.readFileSync(idxImages);
  if (raw.readUInt32BE(0) !== 0x803) throw new Error(idxImages + ': not IDX images');
  const h = raw.readUInt32BE(8), w = raw.readUInt32BE(12);
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < n * h * w; i++) x[i] = raw[16 + i] / 255;
  const probs = model.predict(tf.tensor(x, [n, h, w])).dataSync();
  const crest = JSON.parse(fs.readFileSync(crestJson, 'utf8')).predictions;
  if (crest.length !== n) throw new Error(`crest gave ${crest.length} rows, want ${n}`);
  const k = crest[0].probs.length;
  let worst = 0, agree = 0;
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let j = 0; j < k; j++) {
      const d = Math.abs(crest[i].probs[j] - probs[i * k + j]);
      if (d > worst) worst = d;
      if (crest[i].probs[j] > crest[i].probs[a]) a = j;
      if (probs[i * k + j] > probs[i * k + b]) b = j;
    }
    agree += a === b;
  }
  console.log(`tfjs ${tf.version.tfjs}: ${n} images x ${k} classes, max |diff| ${worst.toExponential(2)}, argmax agree ${agree}/${n}`);
  if (!(worst <= tol)) { console.error(`FAIL: max |diff| ${worst} > ${tol}`); process.exit(1); }
}
main().catch((e) => { console.error(e); process.exit(1); });
