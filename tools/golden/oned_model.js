#!/usr/bin/env node
'use strict';
// A 1-D CNN classifier over [300, 5] sequences, built and run by
// @tensorflow/tfjs 4.22 (cpu backend), for tests/scripts/oned_model.sh.
//
//   node oned_model.js make OUT
//     OUT/model.json, OUT/weights.bin   the model as a TF.js layers folder:
//         Conv1D(16, 7, same) - BatchNormalization - ReLU - MaxPooling1D(2)
//         Conv1D(32, 5, same) - BatchNormalization - ReLU - MaxPooling1D(2)
//         GlobalAveragePooling1D - Dense(4, softmax)
//       weights from a seeded generator (kernels uniform in +-sqrt(3 / fan_in),
//       so activations keep their scale and the softmax does not saturate)
//     OUT/x.f32    4 input sequences [4, 300, 5], uniform in [-2, 2]
//     OUT/y.f32    TF.js's output for them, [4, 4]
//     OUT/gap.f32  TF.js's output of layer 'gap' (the features), [4, 32]
//   node oned_model.js predict DIR X N OUT
//     loads DIR (a layers folder, e.g. one crest exported) into TF.js and
//     writes its output for the N sequences in X to OUT
// Deterministic: re-running make gives identical bytes.

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { loadFolder, writeF32 } = require('../tfjs_files');
const { rng, filler } = require('./seeded');

const fill = filler(tf);

function build() {
  const L = tf.layers;
  const m = tf.sequential({ name: 'seq_cnn' });
  m.add(L.inputLayer({ batchInputShape: [null, 300, 5], name: 'sequence' }));
  m.add(L.conv1d({ name: 'conv1', filters: 16, kernelSize: 7, padding: 'same' }));
  m.add(L.batchNormalization({ name: 'bn1' }));
  m.add(L.activation({ name: 'relu1', activation: 'relu' }));
  m.add(L.maxPooling1d({ name: 'pool1', poolSize: 2 }));
  m.add(L.conv1d({ name: 'conv2', filters: 32, kernelSize: 5, padding: 'same' }));
  m.add(L.batchNormalization({ name: 'bn2' }));
  m.add(L.activation({ name: 'relu2', activation: 'relu' }));
  m.add(L.maxPooling1d({ name: 'pool2', poolSize: 2 }));
  m.add(L.globalAveragePooling1d({ name: 'gap' }));
  m.add(L.dense({ name: 'fc', units: 4, activation: 'softmax' }));
  return m;
}

function weightsFor(m, r) {
  return m.weights.map((w) => {
    const n = w.originalName, shp = w.shape;
    if (/moving_variance|gamma/.test(n)) return fill(shp, r, 0.5, 1.5);
    if (/moving_mean|beta|bias/.test(n)) return fill(shp, r, -0.3, 0.3);
    const fanIn = shp.slice(0, -1).reduce((a, b) => a * b, 1);
    const lim = Math.sqrt(3 / fanIn);
    return fill(shp, r, -lim, lim);
  });
}

async function save(m, dir) {
  let art;
  await m.save(tf.io.withSaveHandler(async (a) => {
    art = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/oned_model.js)',
    convertedBy: null, modelTopology: art.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
  }) + '\n');
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(art.weightData));
}

function readX(file, n) {
  const b = fs.readFileSync(file);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  if (x.length !== n * 300 * 5) throw new Error(`${file}: ${x.length} floats, want ${n * 300 * 5}`);
  return tf.tensor(x, [n, 300, 5]);
}

async function main() {
  await tf.setBackend('cpu');
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'make') {
    const out = a[0], r = rng(300005);
    const m = build();
    m.setWeights(weightsFor(m, r));
    await save(m, out);
    const x = fill([4, 300, 5], r, -2, 2);
    writeF32(path.join(out, 'x.f32'), x.dataSync());
    writeF32(path.join(out, 'y.f32'), m.predict(x).dataSync());
    const feat = tf.model({ inputs: m.inputs, outputs: m.getLayer('gap').output });
    writeF32(path.join(out, 'gap.f32'), feat.predict(x).dataSync());
  } else if (cmd === 'predict') {
    const [dir, xf, n, out] = a;
    const m = await loadFolder(tf, dir);
    writeF32(out, m.predict(readX(xf, parseInt(n, 10))).dataSync());
  } else {
    console.error('usage: oned_model.js make OUT | predict DIR X N OUT');
    process.exit(2);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
