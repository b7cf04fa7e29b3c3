// nested.js - nested Keras models built and run by real TF.js (4.22), the
// oracle of tests/scripts/nested.sh: a model used as a layer, at any depth,
// Functional in Functional, Sequential in Functional, a nested model called
// twice, a shared layer called several times, a nested model with two
// outputs (tensor_index 1).
//
// usage: NODE_PATH=tools/node_modules node tools/golden/nested.js OUT_DIR
// writes OUT_DIR/<case>/{model.json, weights.bin, x.f32, y.f32, shape.txt}
// (x: the input, y: TF.js' output, shape: "N,H,W,C" of x; two-input cases
// have x2.f32 too and are noted in inputs.txt). Deterministic (seeded).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { writeF32 } = require('../tfjs_files');

function rng(seed) {   // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function fill(shape, r, lo, hi) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * r();
  return tf.tensor(v, shape);
}
async function save(model, dir) {
  await model.save(tf.io.withSaveHandler(async (a) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/nested.js)',
      convertedBy: null, modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    }));
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(a.weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

const L = tf.layers;

// the transfer-learning file: Sequential([base, GlobalAveragePooling2D, Dense])
function seqInSeq() {
  const base = tf.sequential({ name: 'base', layers: [
    L.conv2d({ inputShape: [16, 16, 3], filters: 6, kernelSize: 3, activation: 'relu', name: 'b_conv1' }),
    L.batchNormalization({ name: 'b_bn1' }),
    L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'b_conv2' }),
    L.reLU({ name: 'b_out' }),
  ] });
  return tf.sequential({ name: 'classifier', layers: [base, L.globalAveragePooling2d({ name: 'gap' }),
    L.dense({ units: 10, activation: 'softmax', name: 'head' })] });
}

// Functional in Functional: a shared Dense called twice, a nested model
// called twice (its node 0 is its own construction: calls are nodes 1, 2)
function fnInFn() {
  const ii = tf.input({ shape: [6], name: 'inner_in' });
  const inner = tf.model({ name: 'inner', inputs: ii,
    outputs: L.dense({ units: 4, activation: 'tanh', name: 'inner_d' }).apply(ii) });
  const x1 = tf.input({ shape: [6], name: 'x1' });
  const shared = L.dense({ units: 6, activation: 'sigmoid', name: 'shared' });
  const a = shared.apply(shared.apply(x1));
  const o = L.add({ name: 'sum' }).apply([inner.apply(a), inner.apply(x1)]);
  return tf.model({ name: 'outer', inputs: x1, outputs: L.dense({ units: 3, name: 'out' }).apply(o) });
}

// Sequential in Functional, and a nested Functional with two outputs
function seqInFn() {
  const seq = tf.sequential({ name: 'feat', layers: [
    L.dense({ inputShape: [5], units: 7, activation: 'relu', name: 'f1' }),
    L.dense({ units: 7, name: 'f2' })] });
  const ti = tf.input({ shape: [7], name: 'two_in' });
  const two = tf.model({ name: 'two', inputs: ti,
    outputs: [L.dense({ units: 3, name: 't_a' }).apply(ti), L.dense({ units: 3, name: 't_b' }).apply(ti)] });
  const x = tf.input({ shape: [5], name: 'x' });
  const [p, q] = two.apply(seq.apply(x));
  return tf.model({ name: 'top', inputs: x, outputs: L.multiply({ name: 'prod' }).apply([p, q]) });
}

// three levels: Sequential(Sequential(Sequential(...)))
function deep() {
  const l3 = tf.sequential({ name: 'level3', layers: [L.dense({ inputShape: [4], units: 5, activation: 'elu', name: 'd3' })] });
  const l2 = tf.sequential({ name: 'level2', layers: [l3, L.dense({ units: 5, name: 'd2' })] });
  const l1 = tf.sequential({ name: 'level1', layers: [l2, L.dense({ units: 4, activation: 'relu', name: 'd1' })] });
  return tf.sequential({ name: 'level0', layers: [l1, L.dense({ units: 2, name: 'd0' })] });
}

const CASES = [['seq_in_seq', seqInSeq, [3, 16, 16, 3]], ['fn_in_fn', fnInFn, [4, 6]],
  ['seq_in_fn', seqInFn, [4, 5]], ['deep', deep, [3, 4]]];

(async () => {
  const out = process.argv[2];
  if (!out) { console.error('usage: nested.js OUT_DIR'); process.exit(2); }
  for (const [name, make, shape] of CASES) {
    const r = rng(1234 + name.length);
    const m = make();
    // non-default weights (batch norm statistics too)
    m.setWeights(m.weights.map((w) => (w.originalName.includes('variance') ? fill(w.shape, r, 0.5, 1.5)
                                       : fill(w.shape, r, -0.6, 0.6))));
    const dir = path.join(out, name);
    await save(m, dir);
    const x = fill(shape, r, -1, 1);
    writeF32(path.join(dir, 'x.f32'), x.dataSync());
    writeF32(path.join(dir, 'y.f32'), m.predict(x).dataSync());
    fs.writeFileSync(path.join(dir, 'shape.txt'), shape.join(',') + '\n');
  }
})().catch((e) => { console.error(e); process.exit(1); });
