#!/usr/bin/env node
// Transfer-learning reference in real TF.js (4.22, cpu backend) for
// examples/way3_pretrained.c: the nsfwjs MobileNetV2 cut after out_relu,
// frozen, GlobalAveragePooling2D, a new Dense(10, softmax) head; Adam 1e-3,
// batch 32, sparse categorical cross-entropy; Fashion-MNIST 28x28 grey ->
// x / 255 -> resizeBilinear to 224x224 (alignCorners=false,
// halfPixelCenters=false) -> grey to RGB.
//
// usage: NODE_PATH=tools/node_modules node tools/golden/tl_reference.js
//          [N_TRAIN=2000] [N_TEST=1000] [EPOCHS=10] [--dump DIR]
// Prints extraction time (ms/image), training time, and `accuracy: 0.xxxx`
// last. --dump DIR writes the features (train.f32 [N_TRAIN,1280], test.f32) to
// compare with crest's.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { loadFolder } = require('../tfjs_files');

const REPO = path.resolve(__dirname, '..', '..');
const DATA = process.env.CREST_DATA || path.join(REPO, 'data');
const args = process.argv.slice(2);
const di = args.indexOf('--dump');
const dump = di >= 0 ? args.splice(di, 2)[1] : null;
const [nTrain, nTest, epochs] = [args[0] || 2000, args[1] || 1000, args[2] || 10].map(Number);

function idx(file, n) {
  const b = fs.readFileSync(path.join(DATA, 'fashion-mnist', file));
  const rank = b[3];
  const head = 4 + 4 * rank;
  const per = rank === 3 ? b.readUInt32BE(8) * b.readUInt32BE(12) : 1;
  return b.subarray(head, head + n * per);
}

async function extract(backbone, pixels, n) {
  const out = new Float32Array(n * 1280);
  for (let s = 0; s < n; s += 32) {
    const b = Math.min(32, n - s);
    const f = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(pixels.subarray(s * 784, (s + b) * 784)), [b, 28, 28, 1]).div(255);
      const big = tf.image.resizeBilinear(x, [224, 224], false, false);
      const rgb = tf.tile(big, [1, 1, 1, 3]);
      return tf.mean(backbone.predict(rgb), [1, 2]);
    });
    out.set(f.dataSync(), s * 1280);
    f.dispose();
    if ((s / 32) % 10 === 9) process.stderr.write(`\rfeatures: ${s + b}/${n}`);
  }
  process.stderr.write('\n');
  return out;
}

async function main() {
  await tf.setBackend('cpu');
  const model = await loadFolder(tf, path.join(DATA, 'models', 'mobilenet_v2'));
  const backbone = tf.model({ inputs: model.inputs, outputs: model.getLayer('out_relu').output });
  backbone.trainable = false;
  const xtr = idx('train-images-idx3-ubyte', nTrain), ytr = idx('train-labels-idx1-ubyte', nTrain);
  const xte = idx('t10k-images-idx3-ubyte', nTest), yte = idx('t10k-labels-idx1-ubyte', nTest);
  let t0 = Date.now();
  const ftr = await extract(backbone, xtr, nTrain);
  const fte = await extract(backbone, xte, nTest);
  const tExtract = (Date.now() - t0) / 1000;
  console.log(`extraction: ${nTrain + nTest} images in ${tExtract.toFixed(1)} s (${(1000 * tExtract / (nTrain + nTest)).toFixed(1)} ms/image)`);
  if (dump) {
    fs.mkdirSync(dump, { recursive: true });
    fs.writeFileSync(path.join(dump, 'train.f32'), Buffer.from(ftr.buffer));
    fs.writeFileSync(path.join(dump, 'test.f32'), Buffer.from(fte.buffer));
  }
  const head = tf.sequential({ layers: [tf.layers.dense({ units: 10, activation: 'softmax', inputShape: [1280] })] });
  head.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  t0 = Date.now();
  await head.fit(tf.tensor2d(ftr, [nTrain, 1280]), tf.tensor1d(Float32Array.from(ytr)), { batchSize: 32, epochs, shuffle: true, verbose: 0 });
  console.log(`head training: ${epochs} epochs in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
  const [, acc] = head.evaluate(tf.tensor2d(fte, [nTest, 1280]), tf.tensor1d(Float32Array.from(yte)));
  console.log(`accuracy: ${acc.dataSync()[0].toFixed(4)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
