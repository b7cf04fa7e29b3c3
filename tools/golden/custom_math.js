// custom_math.js - a model whose custom Keras layer classes use the
// elementwise math of crest's expressions (abs sign sqrt rsqrt square log
// exp reciprocal pow clip maximum minimum, and max / min / mean over an
// axis), each class written with TF.js' own ops and registered in real
// TF.js (4.22) with tf.serialization.registerClass: the oracle of
// tests/scripts/custom_layers.sh, where crest defines the same classes with
// no C code (--custom-layers, the DEFS below, written to OUT_DIR/defs.json).
//
// usage: NODE_PATH=tools/node_modules node tools/golden/custom_math.js OUT_DIR [CREST_DIR]
// writes OUT_DIR/{model.json, weights.bin, defs.json, x.f32, y.f32} (x: [2,6,6,3]);
// with CREST_DIR (a TF.js folder crest saved), also OUT_DIR/y_reloaded.f32:
// that folder's prediction in TF.js.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const DEFS = {
  RmsNorm: 'x * rsqrt(mean(square(x), -1) + eps)',
  SignedRoot: 'sign(x) * pow(abs(x) + offset, k) + power(absolute(x), 2) * 0.1',
  SoftClip: 'clip(x, lo, hi) + minimum(x, 0) * slope + maximum(x, mean(x, -1)) - minimum(x, -lo)',
  LogRatio: 'log(exp(x) + 1) - reciprocal(1 + square(x)) + sqrt(abs(x) + 1)',
  RangeNorm: '(x - min(x, -1)) * reciprocal(max(x, -1) - min(x, -1) + eps) + pow(x - mean(x, -1), 3) * cube',
};

// one class per definition: fields are its config; fn computes it in TF.js
function defineClass(name, fields, fn) {
  const C = class extends tf.layers.Layer {
    constructor(config) { super(config); for (const f of fields) this[f] = config[f]; }
    call(inputs) { return tf.tidy(() => fn(Array.isArray(inputs) ? inputs[0] : inputs, this)); }
    getConfig() {
      const c = super.getConfig();
      for (const f of fields) c[f] = this[f];
      return c;
    }
    static get className() { return name; }
  };
  tf.serialization.registerClass(C);
  return C;
}

const RmsNorm = defineClass('RmsNorm', ['eps'], (x, c) =>
  tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), c.eps))));
const SignedRoot = defineClass('SignedRoot', ['offset', 'k'], (x, c) =>
  tf.add(tf.mul(tf.sign(x), tf.pow(tf.add(tf.abs(x), c.offset), c.k)),
         tf.mul(tf.pow(tf.abs(x), 2), 0.1)));
const SoftClip = defineClass('SoftClip', ['lo', 'hi', 'slope'], (x, c) =>
  tf.sub(tf.add(tf.add(tf.clipByValue(x, c.lo, c.hi), tf.mul(tf.minimum(x, 0), c.slope)),
                tf.maximum(x, tf.mean(x, -1, true))),
         tf.minimum(x, -c.lo)));
const LogRatio = defineClass('LogRatio', [], (x) =>
  tf.add(tf.sub(tf.log(tf.add(tf.exp(x), 1)), tf.reciprocal(tf.add(1, tf.square(x)))),
         tf.sqrt(tf.add(tf.abs(x), 1))));
const RangeNorm = defineClass('RangeNorm', ['eps', 'cube'], (x, c) => {
  const lo = tf.min(x, -1, true);
  const hi = tf.max(x, -1, true);
  return tf.add(tf.mul(tf.sub(x, lo), tf.reciprocal(tf.add(tf.sub(hi, lo), c.eps))),
                tf.mul(tf.pow(tf.sub(x, tf.mean(x, -1, true)), 3), c.cube));
});

function writeF32(file, arr) {
  const f = Float32Array.from(arr);
  fs.writeFileSync(file, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
}

async function loadFolder(dir) {
  const j = JSON.parse(fs.readFileSync(path.resolve(dir, 'model.json')));
  const buf = Buffer.concat(j.weightsManifest[0].paths.map((p) => fs.readFileSync(path.resolve(dir, p))));
  return tf.loadLayersModel({ load: async () => ({
    modelTopology: j.modelTopology, weightSpecs: j.weightsManifest[0].weights,
    weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) }) });
}

(async () => {
  const out = process.argv[2];
  if (!out) { console.error('usage: custom_math.js OUT_DIR [CREST_DIR]'); process.exit(2); }
  let seed = 11;
  const r = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const m = tf.sequential({ name: 'custom_math', layers: [
    tf.layers.conv2d({ inputShape: [6, 6, 3], filters: 8, kernelSize: 3, padding: 'same', name: 'conv' }),
    new RmsNorm({ eps: 1e-3, name: 'rms' }),
    new SignedRoot({ offset: 0.1, k: 0.5, name: 'root' }),
    tf.layers.conv2d({ filters: 6, kernelSize: 3, name: 'conv2' }),
    new SoftClip({ lo: -0.3, hi: 0.4, slope: 0.5, name: 'softclip' }),
    new LogRatio({ name: 'logratio' }),
    new RangeNorm({ eps: 1e-3, cube: 0.2, name: 'range' }),
    tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ units: 5, name: 'dense' }),
  ] });
  m.setWeights(m.weights.map((w) => tf.tensor(Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, () => r() - 0.5), w.shape)));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'defs.json'), JSON.stringify(DEFS, null, 1));
  await m.save(tf.io.withSaveHandler(async (a) => {
    fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/custom_math.js)',
      convertedBy: null, modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    }));
    fs.writeFileSync(path.join(out, 'weights.bin'), Buffer.from(a.weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const x = tf.tensor(Float32Array.from({ length: 2 * 6 * 6 * 3 }, () => 4 * r() - 2), [2, 6, 6, 3]);
  writeF32(path.join(out, 'x.f32'), x.dataSync());
  writeF32(path.join(out, 'y.f32'), m.predict(x).dataSync());
  if (process.argv[3]) {
    const m2 = await loadFolder(process.argv[3]);
    writeF32(path.join(out, 'y_reloaded.f32'), m2.predict(x).dataSync());
  }
  void [RmsNorm, SignedRoot, SoftClip, LogRatio, RangeNorm];
})().catch((e) => { console.error(e); process.exit(1); });
