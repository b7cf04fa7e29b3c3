// custom_layers.js - a model with two custom Keras layer classes, registered
// in real TF.js (4.22) with tf.serialization.registerClass: the oracle of
// tests/scripts/custom_layers.sh, where crest defines the same classes with
// no C code (--custom-layers: {"MultiplyBeta": "x * beta",
// "PixelShuffle2x": "depth_to_space(x, scale)"}).
//
// usage: NODE_PATH=tools/node_modules node tools/golden/custom_layers.js OUT_DIR
// writes OUT_DIR/{model.json, weights.bin, x.f32, y.f32} (x: [2,6,6,3]).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { writeF32 } = require('../tfjs_files');

class MultiplyBeta extends tf.layers.Layer {
  constructor(config) { super(config); this.beta = config.beta; }
  call(inputs) { return tf.tidy(() => tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, this.beta)); }
  getConfig() { return { ...super.getConfig(), beta: this.beta }; }
  static get className() { return 'MultiplyBeta'; }
}
class PixelShuffle2x extends tf.layers.Layer {
  constructor(config) { super(config); this.scale = config.scale; }
  computeOutputShape(s) {
    const b = this.scale;
    return [s[0], s[1] === null ? null : s[1] * b, s[2] === null ? null : s[2] * b, s[3] / (b * b)];
  }
  call(inputs) { return tf.tidy(() => tf.depthToSpace(Array.isArray(inputs) ? inputs[0] : inputs, this.scale, 'NHWC')); }
  getConfig() { return { ...super.getConfig(), scale: this.scale }; }
  static get className() { return 'PixelShuffle2x'; }
}
tf.serialization.registerClass(MultiplyBeta);
tf.serialization.registerClass(PixelShuffle2x);

(async () => {
  const out = process.argv[2];
  if (!out) { console.error('usage: custom_layers.js OUT_DIR'); process.exit(2); }
  let seed = 7;
  const r = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const m = tf.sequential({ name: 'custom', layers: [
    tf.layers.conv2d({ inputShape: [6, 6, 3], filters: 8, kernelSize: 3, padding: 'same', name: 'conv' }),
    new MultiplyBeta({ beta: 0.75, name: 'mul_beta' }),
    new PixelShuffle2x({ scale: 2, name: 'shuffle' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv_out' }),
  ] });
  m.setWeights(m.weights.map((w) => tf.tensor(Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, () => r() - 0.5), w.shape)));
  fs.mkdirSync(out, { recursive: true });
  await m.save(tf.io.withSaveHandler(async (a) => {
    fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/custom_layers.js)',
      convertedBy: null, modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    }));
    fs.writeFileSync(path.join(out, 'weights.bin'), Buffer.from(a.weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const x = tf.tensor(Float32Array.from({ length: 2 * 6 * 6 * 3 }, () => 2 * r() - 1), [2, 6, 6, 3]);
  writeF32(path.join(out, 'x.f32'), x.dataSync());
  writeF32(path.join(out, 'y.f32'), m.predict(x).dataSync());
  // a crest-saved folder (argv[3]) opens in TF.js with the same classes
  if (process.argv[3]) {
    const fileUrl = 'file://' + path.resolve(process.argv[3], 'model.json');
    const io = { load: async () => {
      const j = JSON.parse(fs.readFileSync(path.resolve(process.argv[3], 'model.json')));
      const buf = Buffer.concat(j.weightsManifest[0].paths.map((p) => fs.readFileSync(path.resolve(process.argv[3], p))));
      return { modelTopology: j.modelTopology, weightSpecs: j.weightsManifest[0].weights,
               weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) };
    } };
    void fileUrl;
    const m2 = await tf.loadLayersModel(io);
    writeF32(path.join(out, 'y_reloaded.f32'), m2.predict(x).dataSync());
  }
})().catch((e) => { console.error(e); process.exit(1); });
