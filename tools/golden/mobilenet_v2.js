#!/usr/bin/env node
'use strict';
// Golden outputs of the nsfwjs MobileNetV2 backbone, computed with
// @tensorflow/tfjs 4.22.0 on the pure-JS cpu backend.
//
// usage: node tools/golden/mobilenet_v2.js        (after tools/setup.sh)
// env:   CREST_DATA (default <repo>/data)
// reads: $CREST_DATA/models/mobilenet_v2/{model.json,*.bin}, $CREST_DATA/images/{china,flower}.jpg
// writes tests/golden/mobilenet_v2/: <image>.input.f32, <image>.features.f32,
//        <image>.probs.f32 (raw little-endian float32), meta.json, README.md
//
// Input pipeline per image: jpeg-js decode to RGB uint8 [H,W,3] -> float32 ->
// tf.image.resizeBilinear(full image, [224,224], alignCorners=false,
// halfPixelCenters=false) -> divide by 255 -> [1,224,224,3].
// Features: tf.mean over H,W (axes 1,2) of the output of layer 'out_relu'
// ([1,7,7,1280] -> 1280). Probs: the model's output (dense_3 softmax, 5).

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { readArtifacts, writeF32 } = require('../tfjs_files');
const jpeg = require('jpeg-js');

const REPO = path.resolve(__dirname, '..', '..');
const DATA = process.env.CREST_DATA || path.join(REPO, 'data');
const MODEL_DIR = path.join(DATA, 'models', 'mobilenet_v2');
const IMAGES = ['china', 'flower'];
const OUT = path.join(REPO, 'tests', 'golden', 'mobilenet_v2');
const SIZE = 224;
const FEATURES_LAYER = 'out_relu';
const RESIZE = { alignCorners: false, halfPixelCenters: false };

// Layer whose output is pooled: 'out_relu' if present, else the layer feeding
// the first (Global)AveragePooling2D.
function featuresLayerName(topology) {
  const layers = topology.model_config.config.layers;
  if (layers.some((l) => l.name === FEATURES_LAYER)) return FEATURES_LAYER;
  const pool = layers.find((l) => /^(Global)?AveragePooling2D$/.test(l.class_name));
  if (!pool) throw new Error('no out_relu and no AveragePooling2D layer in topology');
  return pool.inbound_nodes[0][0][0];
}

function decodeRGB(file) {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  const n = img.width * img.height;
  if (img.data.length !== n * 3) throw new Error(`${file}: decoded ${img.data.length} bytes, expected ${n * 3}`);
  return img;
}

async function main() {
  if (!(await tf.setBackend('cpu')) || tf.getBackend() !== 'cpu') throw new Error('cannot select the tfjs cpu backend');
  await tf.ready();
  const artifacts = readArtifacts(MODEL_DIR);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const featName = featuresLayerName(artifacts.modelTopology);
  const featLayer = model.getLayer(featName);
  const probe = tf.model({ inputs: model.inputs, outputs: [featLayer.output, model.outputs[0]] });
  fs.mkdirSync(OUT, { recursive: true });

  const meta = {
    images: [],
    input_shape: [1, SIZE, SIZE, 3],
    features_layer: featName,
    n_features: 0,
    n_classes: 0,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    model: 'nsfwjs@4.3.0 dist/models/mobilenet_v2 (via tools/nsfwjs_to_tfjs.js)',
    classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
    decoder: `jpeg-js ${require('jpeg-js/package.json').version} (RGB)`,
    preprocessing: 'float32(rgb uint8) -> tf.image.resizeBilinear(full image, [224,224], ' +
      'alignCorners=false, halfPixelCenters=false) -> /255',
    resize: { method: 'bilinear', align_corners: RESIZE.alignCorners, half_pixel_centers: RESIZE.halfPixelCenters },
    features: `mean over axes 1,2 of ${featName} output`,
    dtype: 'float32 little-endian, row-major (NHWC for input)',
    files: {},
  };
  for (const name of IMAGES) {
    const src = path.join(DATA, 'images', `${name}.jpg`);
    const img = decodeRGB(src);
    const [input, feats, probs] = tf.tidy(() => {
      const rgb = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32').toFloat();
      const x = tf.image.resizeBilinear(rgb, [SIZE, SIZE], RESIZE.alignCorners, RESIZE.halfPixelCenters)
        .div(tf.scalar(255)).reshape([1, SIZE, SIZE, 3]);
      const [f, p] = probe.predict(x);
      return [x, tf.mean(f, [1, 2]), p];
    });
    const xi = input.dataSync(), fi = feats.dataSync(), pi = probs.dataSync();
    writeF32(path.join(OUT, `${name}.input.f32`), xi);
    writeF32(path.join(OUT, `${name}.features.f32`), fi);
    writeF32(path.join(OUT, `${name}.probs.f32`), pi);
    meta.n_features = fi.length;
    meta.n_classes = pi.length;
    meta.images.push(name);
    meta.files[name] = {
      source: `data/images/${name}.jpg (sklearn)`, source_hw: [img.height, img.width],
      input: `${name}.input.f32`, features: `${name}.features.f32`, probs: `${name}.probs.f32`,
      probs_values: Array.from(pi),
    };
    console.error(`golden: ${name}: ${img.width}x${img.height} -> input ${xi.length}, features ${fi.length} ` +
      `(mean ${(fi.reduce((a, b) => a + b, 0) / fi.length).toFixed(4)}), probs [${Array.from(pi).map((v) => v.toFixed(4)).join(', ')}]`);
    tf.dispose([input, feats, probs]);
  }
  if (meta.n_features !== 1280 || meta.n_classes !== 5) throw new Error(`unexpected sizes ${meta.n_features}/${meta.n_classes}`);
  fs.writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  console.error(`golden: wrote ${OUT}`);
}

main().catch((e) => {
  console.error(`golden: error: ${e.stack || e}`);
  process.exit(1);
});
