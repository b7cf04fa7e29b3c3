#!/usr/bin/env node
'use strict';
// A small fully convolutional super-resolution-like model whose input has
// unknown spatial size (batch_input_shape [null, null, null, 3]), with its
// outputs from real TF.js 4.22 (cpu backend) at two input sizes, for
// tests/scripts/dynamic_shape.sh and tests/test_dynamic_shape.c.
//
// usage: NODE_PATH=tools/node_modules node tools/golden/dynamic_shape.js
// writes tests/golden/dynamic/:
//   float/model.json, weights.bin   the model as TF.js saves it (float32)
//   uint8/model.json, weights.bin   the same weights uint8-quantized as the
//                                   TF.js converter writes them (min + scale)
//   x_a.f32 [1,9,13,3], x_b.f32 [2,16,11,3]    inputs
//   y_float_a.f32 ...               model.predict of each model on each input
//   feat_a.f32, feat_b.f32          the float model's 'res' (Add) output,
//                                   global-average-pooled (a cut + pooling)
// The layers: Conv2D 3x3 valid relu (so a 2x2 image is too small), Conv2D
// same relu, Conv2D same, a residual Add, Conv2DTranspose 3x3 stride 2 same
// relu, UpSampling2D 2 bilinear, Conv2D same (3 channels): 4x the input,
// minus the valid conv's border. Deterministic: same bytes on every run.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { writeF32 } = require('../tfjs_files');
const { rng, filler } = require('./seeded');

const OUT = path.resolve(__dirname, '..', '..', 'tests', 'golden', 'dynamic');

const fill = filler(tf);

// uint8 affine quantization per weight, the TF.js converter's scheme:
// q = round((v - min) / scale), scale = (max - min) / 255
function quantizeU8(specs, data) {
  const f = new Float32Array(data), parts = [], out = [];
  let off = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1), v = f.subarray(off, off + n);
    off += n;
    let mn = Infinity, mx = -Infinity;
    for (const x of v) { mn = Math.min(mn, x); mx = Math.max(mx, x); }
    const scale = mx > mn ? (mx - mn) / 255 : 1, q = new Uint8Array(n);
    for (let i = 0; i < n; i++) q[i] = Math.round((v[i] - mn) / scale);
    parts.push(Buffer.from(q.buffer));
    out.push({ ...s, quantization: { dtype: 'uint8', min: mn, scale } });
  }
  const all = Buffer.concat(parts);
  return { specs: out, data: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
}

function saveFolder(dir, topology, specs, data) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/dynamic_shape.js)',
    convertedBy: null, modelTopology: topology, weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  }));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data));
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const L = tf.layers, r = rng(2718);
  const x = tf.input({ batchShape: [null, null, null, 3], name: 'lowres' });
  const c0 = L.conv2d({ name: 'head', filters: 8, kernelSize: 3, activation: 'relu' }).apply(x);
  const c1 = L.conv2d({ name: 'body1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(c0);
  const c2 = L.conv2d({ name: 'body2', filters: 8, kernelSize: 3, padding: 'same' }).apply(c1);
  const res = L.add({ name: 'res' }).apply([c0, c2]);
  const up1 = L.conv2dTranspose({ name: 'up_tconv', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(res);
  const up2 = L.upSampling2d({ name: 'up_bilinear', interpolation: 'bilinear' }).apply(up1);
  const y = L.conv2d({ name: 'tail', filters: 3, kernelSize: 3, padding: 'same' }).apply(up2);
  const model = tf.model({ inputs: x, outputs: y, name: 'tiny_sr' });
  model.setWeights(model.weights.map((w) => fill(w.shape, r, -0.5, 0.5)));
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: {} }; }));
  saveFolder(path.join(OUT, 'float'), art.modelTopology, art.weightSpecs, art.weightData);
  const q = quantizeU8(art.weightSpecs, art.weightData);
  saveFolder(path.join(OUT, 'uint8'), art.modelTopology, q.specs, q.data);
  const mq = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: art.modelTopology, weightSpecs: q.specs, weightData: q.data }));
  const feat = tf.model({ inputs: x, outputs: L.globalAveragePooling2d({ name: 'gap' }).apply(res) });
  for (const [k, shape] of [['a', [1, 9, 13, 3]], ['b', [2, 16, 11, 3]]]) {
    const xin = fill(shape, r, 0, 1);
    writeF32(path.join(OUT, `x_${k}.f32`), xin.dataSync());
    writeF32(path.join(OUT, `y_float_${k}.f32`), model.predict(xin).dataSync());
    writeF32(path.join(OUT, `y_uint8_${k}.f32`), mq.predict(xin).dataSync());
    writeF32(path.join(OUT, `feat_${k}.f32`), feat.predict(xin).dataSync());
    console.log(`${k}: ${JSON.stringify(shape)} -> ${JSON.stringify(model.predict(xin).shape)}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
