#!/usr/bin/env node
'use strict';
// Golden outputs of the nsfwjs InceptionV3 backbone (Keras 2.2.4 functional
// model, uint8-quantized), computed with @tensorflow/tfjs 4.22.0, cpu backend.
//
// usage: NODE_PATH=tools/node_modules node tools/golden/inception_v3.js
// reads: $CREST_DATA/models/inception_v3, tests/golden/mobilenet_v2/<img>.input.f32
// writes tests/golden/inception_v3/<img>.features.f32 (2048: mean over H,W of
// layer mixed10), <img>.probs.f32 (5), meta.json.
//
// Input, kept small by reusing the MobileNetV2 goldens: the 224x224 input of
// tests/golden/mobilenet_v2 zero-padded to 299x299 (37 rows / columns before,
// 38 after), so a test rebuilds it exactly without committing 1 MB.

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { loadFolder, writeF32 } = require('../tfjs_files');

const REPO = path.resolve(__dirname, '..', '..');
const DATA = process.env.CREST_DATA || path.join(REPO, 'data');
const MODEL_DIR = path.join(DATA, 'models', 'inception_v3');
const SRC = path.join(REPO, 'tests', 'golden', 'mobilenet_v2');
const OUT = path.join(REPO, 'tests', 'golden', 'inception_v3');
const IMAGES = ['china', 'flower'];
const PAD = [37, 38];
const FEATURES_LAYER = 'mixed10';

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await loadFolder(tf, MODEL_DIR);
  const probe = tf.model({ inputs: model.inputs,
                           outputs: [model.getLayer(FEATURES_LAYER).output, model.outputs[0]] });
  fs.mkdirSync(OUT, { recursive: true });
  const meta = { model: 'nsfwjs@4.3.0 dist/models/inception_v3 (via tools/nsfwjs_to_tfjs.js)',
                 tfjs: tf.version.tfjs, backend: tf.getBackend(), images: IMAGES,
                 input: `tests/golden/mobilenet_v2/<img>.input.f32 [1,224,224,3] zero-padded by ${PAD[0]} before and ${PAD[1]} after on H and W -> [1,299,299,3]`,
                 features: `mean over axes 1,2 of ${FEATURES_LAYER} output [1,8,8,2048]`, probs: {} };
  for (const name of IMAGES) {
    const buf = fs.readFileSync(path.join(SRC, `${name}.input.f32`));
    const x224 = tf.tensor4d(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), [1, 224, 224, 3]);
    const x = tf.pad(x224, [[0, 0], PAD, PAD, [0, 0]]);
    const [f, p] = probe.predict(x);
    const feats = tf.mean(f, [1, 2]).dataSync(), probs = p.dataSync();
    writeF32(path.join(OUT, `${name}.features.f32`), feats);
    writeF32(path.join(OUT, `${name}.probs.f32`), probs);
    meta.probs[name] = Array.from(probs);
    console.error(`${name}: probs [${Array.from(probs).map((v) => v.toFixed(5)).join(', ')}]`);
  }
  fs.writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
