#!/usr/bin/env node
'use strict';
// Golden cases for crest's Keras image layers, computed with
// @tensorflow/tfjs 4.22.0 on the pure-JS cpu backend.
//
// usage: NODE_PATH=tools/node_modules node tools/golden/layers.js
// writes tests/golden/layers/<case>/ for every case below:
//   model.json, weights.bin   the model as TF.js saves it (tf.io.withSaveHandler);
//                             quantized cases re-encode the weights as the TF.js
//                             converter does (uint8 / uint16 min+scale, float16)
//   input.f32                 x, [batch, ...input shape]
//   output.f32                model.apply(x, {training})
//   r.f32                     R, the same shape as the output
//   grad_input.f32            d sum(output * R) / d x
//   grad_<layer>_<w>.f32      d sum(output * R) / d weight (trainable weights)
//   after_<layer>_<w>.f32     training-mode cases: moving statistics after
//                             one forward pass
//   decoded_<layer>_<w>.f32   quantized cases: the weights as TF.js decodes them
//   meta.json                 shapes, training flag, tolerances, file list
// Options TF.js 4.22 lacks (ReLU negative_slope / threshold, global pooling
// keepdims) are written into model.json by hand and their reference is
// computed with TF.js ops implementing Keras' definition.
// All .f32 are raw little-endian float32. Deterministic: re-running gives
// identical bytes.

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { writeF32 } = require('../tfjs_files');
const { rng, filler } = require('./seeded');

const fill = filler(tf);

const OUT = path.resolve(__dirname, '..', '..', 'tests', 'golden', 'layers');

// FNV-1a of a case name: its seed, whatever else is generated.
function nameSeed(name) {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h || 1;
}

// Weight values by Keras name: positive statistics and scales.
function weightRange(name) {
  if (/variance|gamma/.test(name)) return [0.5, 1.5];
  if (/moving_mean|beta|bias/.test(name)) return [-0.5, 0.5];
  return [-1, 1];
}

async function artifactsOf(model) {
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => {
    art = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return art;
}

// ---- quantization, as tfjs-converter writes it ----------------------------
function f32ToF16(v) {
  const f = new Float32Array([v]), u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) return sign;                     // tiny: zero (values here are not tiny)
  if (exp >= 31) return sign | 0x7c00;
  const r = mant & 0x1fff;                       // round to nearest even
  mant >>>= 13;
  let h = sign | (exp << 10) | mant;
  if (r > 0x1000 || (r === 0x1000 && (mant & 1))) h++;
  return h;
}

function quantize(specs, data, dtype) {
  const f = new Float32Array(data);
  const parts = [], out = [];
  let off = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = f.subarray(off, off + n);
    off += n;
    if (dtype === 'float16') {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = f32ToF16(v[i]);
      parts.push(Buffer.from(h.buffer));
      out.push({ ...s, quantization: { dtype: 'float16' } });
      continue;
    }
    const levels = dtype === 'uint8' ? 255 : 65535;
    let mn = Infinity, mx = -Infinity;
    for (const x of v) { mn = Math.min(mn, x); mx = Math.max(mx, x); }
    const scale = mx > mn ? (mx - mn) / levels : 1;
    const q = dtype === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
    for (let i = 0; i < n; i++) q[i] = Math.round((v[i] - mn) / scale);
    parts.push(Buffer.from(q.buffer));
    out.push({ ...s, quantization: { dtype, min: mn, scale } });
  }
  const all = Buffer.concat(parts);
  return { specs: out, data: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
}

// ---- one case ---------------------------------------------------------------
// c: { name, input: [h, w, c], batch, layers: () => [tf layers] (Sequential),
//      or graph: (input) => output (functional, one input), or model:
//      (name) => a functional tf.LayersModel of that input, training,
//      quant, topology: (t) => t (hand edits), ref: (x) => y (own reference),
//      atol, rtol, gatol, grtol }
async function runCase(c, seed) {
  const r = rng(seed);
  const dir = path.join(OUT, c.name);
  fs.mkdirSync(dir, { recursive: true });
  let model;
  if (c.model) {   // a functional model of one input named 'input': c.model(name)
    model = c.model(c.name);
  } else if (c.graph) {   // functional: c.graph(input) gives the output (merges, branches)
    const inp = tf.input({ shape: c.input, name: 'input' });
    model = tf.model({ name: c.name, inputs: inp, outputs: c.graph(inp) });
  } else {
    model = tf.sequential({ name: c.name });
    model.add(tf.layers.inputLayer({ batchInputShape: [null, ...c.input], name: 'input' }));
    for (const l of c.layers()) model.add(l);
  }
  model.setWeights(model.weights.map((w) => fill(w.shape, r, ...weightRange(w.originalName))));
  let art = await artifactsOf(model);
  let topology = art.modelTopology;
  if (c.topology) topology = c.topology(JSON.parse(JSON.stringify(topology)));
  let specs = art.weightSpecs, data = art.weightData;
  const decoded = {};
  if (c.quant) {
    ({ specs, data } = quantize(specs, data, c.quant));
    // the reference runs on the weights TF.js decodes from the quantized file
    const m2 = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: specs, weightData: data }));
    model.setWeights(m2.getWeights());
    for (const w of m2.weights) {   // TF.js's dequantized values, for a bit-exact check
      decoded[w.originalName] = `decoded_${w.originalName.replace('/', '_')}.f32`;
      writeF32(path.join(dir, decoded[w.originalName]), w.read().dataSync());
    }
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0 (tools/golden/layers.js)',
    convertedBy: null, modelTopology: topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  }));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data));

  const training = !!c.training;
  const x = fill([c.batch || 2, ...c.input], r, -2, 2);
  const W = {};
  for (const w of model.trainableWeights) W[w.originalName] = w.read();
  const names = Object.keys(W);
  // refW: an own reference in TF.js ops, taking the weights as arguments
  const ALL = {};
  for (const w of model.weights) ALL[w.originalName] = w.read();
  const applyW = c.refW ? (t, ws) => c.refW(t, { ...ALL, ...Object.fromEntries(names.map((n, i) => [n, ws[i]])) })
    : null;
  const apply = c.ref ? c.ref : applyW ? (t) => applyW(t, names.map((n) => W[n]))
    : (t) => model.apply(t, { training });
  const y = apply(x);
  const files = { input: 'input.f32', output: 'output.f32', r: 'r.f32', grad_input: 'grad_input.f32' };
  const after = {};
  for (const w of model.weights)   // moving statistics after one training pass
    if (training && !w.trainable) after[w.originalName] = w.read().dataSync().slice();
  if (c.after) Object.assign(after, c.after(x, ALL));
  const R = fill(y.shape, r, -1, 1);
  // gradRef: the same function in other TF.js ops, used for gradients where
  // TF.js's own gradient is wrong; it must agree with the forward pass
  if (c.gradRef) {
    const d = tf.max(tf.abs(tf.sub(c.gradRef(x), y))).dataSync()[0];
    if (!(d < 1e-6)) throw new Error(`${c.name}: gradRef differs from the layer by ${d}`);
  }
  const loss = (t) => tf.sum(tf.mul((c.gradRef || apply)(t), R));
  let gx;
  const grads = {};
  if (applyW) {
    const g = tf.grads((t, ...ws) => tf.sum(tf.mul(applyW(t, ws), R)))([x, ...names.map((n) => W[n])]);
    gx = g[0];
    names.forEach((n, i) => { grads[n] = g[i + 1].dataSync(); });
  } else {
    gx = tf.grad(loss)(x);
  }
  if (!c.ref && !applyW && model.trainableWeights.length) {
    const { grads: g } = tf.variableGrads(() => loss(x));
    for (const w of model.trainableWeights) grads[w.originalName] = g[w.name].dataSync();
  }
  writeF32(path.join(dir, 'input.f32'), x.dataSync());
  writeF32(path.join(dir, 'output.f32'), y.dataSync());
  writeF32(path.join(dir, 'r.f32'), R.dataSync());
  writeF32(path.join(dir, 'grad_input.f32'), gx.dataSync());
  const gfiles = {}, afiles = {};
  for (const [n, v] of Object.entries(grads)) {
    gfiles[n] = `grad_${n.replace('/', '_')}.f32`;
    writeF32(path.join(dir, gfiles[n]), v);
  }
  for (const [n, v] of Object.entries(after)) {
    afiles[n] = `after_${n.replace('/', '_')}.f32`;
    writeF32(path.join(dir, afiles[n]), v);
  }
  const meta = {
    case: c.name, about: c.about, training, quantization: c.quant || null,
    input_shape: x.shape, output_shape: y.shape, files, weight_grads: gfiles, after: afiles, decoded,
    atol: c.atol || 1e-5, rtol: c.rtol || 1e-4, grad_atol: c.gatol || 1e-4, grad_rtol: c.grtol || 1e-3,
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
  return meta;
}

// ---- references for what TF.js cannot differentiate ------------------------
// A dilated kernel as the equivalent dense one, zeros between taps: TF.js has
// no gradient for dilated convolutions, but has one for this.
function dilateKernel(k, dh, dw) {
  const [kh, kw] = k.shape;
  const zrow = tf.zerosLike(tf.slice(k, [0, 0, 0, 0], [1, -1, -1, -1]));
  const rows = [];
  for (let i = 0; i < kh; i++) {
    if (i) for (let z = 1; z < dh; z++) rows.push(zrow);
    rows.push(tf.slice(k, [i, 0, 0, 0], [1, -1, -1, -1]));
  }
  const kr = tf.concat(rows, 0);
  const zcol = tf.zerosLike(tf.slice(kr, [0, 0, 0, 0], [-1, 1, -1, -1]));
  const cols = [];
  for (let j = 0; j < kw; j++) {
    if (j) for (let z = 1; z < dw; z++) cols.push(zcol);
    cols.push(tf.slice(kr, [0, j, 0, 0], [-1, 1, -1, -1]));
  }
  return tf.concat(cols, 1);
}

// 'same' average pooling as window sums over valid-cell counts. TF.js 4.22's
// avgPool gradient divides by the full window even where the forward pass
// averaged fewer (padded) cells, so it is not the derivative of its own
// forward; TensorFlow's AvgPoolGrad and this expression are.
function avgSame(x, k, s) {
  const ones = tf.ones([k, k, x.shape[3], 1]);
  const sum = tf.depthwiseConv2d(x, ones, s, 'same');
  const cnt = tf.depthwiseConv2d(tf.onesLike(x), ones, s, 'same');
  return tf.div(sum, cnt);
}

// ---- the cases -------------------------------------------------------------
const L = tf.layers;
const setLayer = (cls, patch) => (t) => {
  const l = t.config.layers.find((e) => e.class_name === cls);
  Object.assign(l.config, patch);
  return t;
};

const cases = [
  { name: 'conv_valid', about: 'Conv2D 3x3 valid, stride 1, bias, linear', input: [7, 6, 3],
    layers: () => [L.conv2d({ name: 'conv', filters: 4, kernelSize: 3 })] },
  { name: 'conv_same_s2', about: 'Conv2D 3x3 same, strides 2 on odd sizes (extra pad bottom/right), relu',
    input: [7, 8, 3], layers: () => [L.conv2d({ name: 'conv', filters: 5, kernelSize: 3, padding: 'same', strides: 2, activation: 'relu' })] },
  { name: 'conv_same_even', about: 'Conv2D (4,2) kernel same, strides (2,1), no bias',
    input: [6, 5, 2], layers: () => [L.conv2d({ name: 'conv', filters: 3, kernelSize: [4, 2], padding: 'same', strides: [2, 1], useBias: false })] },
  { name: 'conv_dilation2', about: 'Conv2D 3x3 dilation 2, same, relu6 (gradients: TF.js on the zero-dilated kernel)',
    input: [8, 7, 3], layers: () => [L.conv2d({ name: 'conv', filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu6' })],
    refW: (x, w) => tf.relu6(tf.add(tf.conv2d(x, dilateKernel(w['conv/kernel'], 2, 2), 1, 'same'), w['conv/bias'])) },
  { name: 'conv_dilation_valid', about: 'Conv2D (2,3) dilation (2,1), valid, tanh (gradients: zero-dilated kernel)',
    input: [7, 7, 2], layers: () => [L.conv2d({ name: 'conv', filters: 3, kernelSize: [2, 3], dilationRate: [2, 1], activation: 'tanh' })],
    refW: (x, w) => tf.tanh(tf.add(tf.conv2d(x, dilateKernel(w['conv/kernel'], 2, 1), 1, 'valid'), w['conv/bias'])) },
  { name: 'conv_pointwise', about: 'Conv2D 1x1 (the gemm path), sigmoid',
    input: [4, 5, 6], layers: () => [L.conv2d({ name: 'conv', filters: 7, kernelSize: 1, activation: 'sigmoid' })] },
  { name: 'dw_dm2_same_s2', about: 'DepthwiseConv2D 3x3 depth_multiplier 2, same, strides 2, bias',
    input: [7, 6, 3], layers: () => [L.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, padding: 'same', strides: 2 })] },
  { name: 'dw_valid_dil', about: 'DepthwiseConv2D 3x3 valid, dilation 2, no bias, relu',
    input: [8, 8, 4], layers: () => [L.depthwiseConv2d({ name: 'dw', kernelSize: 3, dilationRate: 2, useBias: false, activation: 'relu' })],
    refW: (x, w) => tf.relu(tf.depthwiseConv2d(x, dilateKernel(w['dw/depthwise_kernel'], 2, 2), 1, 'valid')) },
  { name: 'sepconv', about: 'SeparableConv2D 3x3, depth_multiplier 2, same, relu',
    input: [6, 6, 3], layers: () => [L.separableConv2d({ name: 'sep', filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' })],
    // tfjs-layers 4.22 leaves depth_multiplier out of SeparableConv2D's saved
    // config (Keras writes it); put it back as Keras would
    topology: setLayer('SeparableConv2D', { depth_multiplier: 2 }) },
  { name: 'sepconv_s2_valid', about: 'SeparableConv2D 3x3 strides 2, valid, no bias',
    input: [7, 7, 2], layers: () => [L.separableConv2d({ name: 'sep', filters: 3, kernelSize: 3, strides: 2, useBias: false })] },
  { name: 'bn_infer', about: 'BatchNormalization center+scale, inference mode (moving stats)',
    input: [4, 3, 5], layers: () => [L.batchNormalization({ name: 'bn', epsilon: 1e-3 })] },
  { name: 'bn_noscale_infer', about: 'BatchNormalization scale=false (no gamma, as inception_v3), inference',
    input: [3, 4, 3], layers: () => [L.batchNormalization({ name: 'bn', scale: false, axis: 3 })],
    // TF.js 4.22 cannot differentiate batchNorm without scale: Keras' formula in ops
    refW: (x, w) => tf.add(tf.div(tf.sub(x, w['bn/moving_mean']), tf.sqrt(tf.add(w['bn/moving_variance'], 1e-3))), w['bn/beta']) },
  { name: 'bn_train', about: 'BatchNormalization training mode: batch statistics, momentum 0.9 update',
    input: [3, 3, 4], batch: 3, training: true, gatol: 2e-4,
    layers: () => [L.batchNormalization({ name: 'bn', momentum: 0.9 })] },
  { name: 'bn_nocenter_train', about: 'BatchNormalization center=false, training mode',
    input: [2, 3, 3], batch: 4, training: true, gatol: 2e-4,
    layers: () => [L.batchNormalization({ name: 'bn', center: false, momentum: 0.5, epsilon: 0.01 })],
    // TF.js 4.22 fails on center=false in training: Keras' formula in ops
    // (biased batch variance, as tf.layers does)
    refW: (x, w) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 0.01))), w['bn/gamma']);
    },
    after: (x, w) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const upd = (m, v) => tf.sub(m, tf.mul(tf.sub(m, v), 0.5)).dataSync().slice();
      return { 'bn/moving_mean': upd(w['bn/moving_mean'], mean),
               'bn/moving_variance': upd(w['bn/moving_variance'], variance) };
    } },
  { name: 'relu_max6', about: 'ReLU(max_value=6)', input: [3, 3, 4],
    layers: () => [L.conv2d({ name: 'conv', filters: 4, kernelSize: 1, kernelInitializer: 'ones' }), L.reLU({ name: 'relu', maxValue: 1.5 })] },
  { name: 'relu_options', about: 'ReLU(max_value=1.2, negative_slope=0.2, threshold=0.3), Keras definition via TF.js ops',
    input: [3, 4, 2], layers: () => [L.reLU({ name: 'relu', maxValue: 1.2 })],
    topology: setLayer('ReLU', { max_value: 1.2, negative_slope: 0.2, threshold: 0.3 }),
    ref: (x) => {   // the branch mask as data (Greater has no gradient in TF.js)
      const m = tf.tensor(Array.from(x.dataSync(), (v) => (v > 0.3 ? 1 : 0)), x.shape);
      return tf.add(tf.mul(m, tf.minimum(x, 1.2)), tf.mul(tf.sub(1, m), tf.mul(0.2, tf.sub(x, 0.3))));
    } },
  { name: 'leaky_relu', about: 'LeakyReLU(alpha=0.2)', input: [3, 3, 2],
    layers: () => [L.leakyReLU({ name: 'leaky', alpha: 0.2 })] },
  { name: 'maxpool_valid', about: 'MaxPooling2D 2x2 valid (strides default = pool)', input: [5, 7, 3],
    layers: () => [L.maxPooling2d({ name: 'pool', poolSize: 2 })] },
  { name: 'maxpool_same_s2', about: 'MaxPooling2D 3x3 same, strides 2', input: [7, 6, 3],
    layers: () => [L.maxPooling2d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })] },
  { name: 'avgpool_same_s2', about: 'AveragePooling2D 3x3 same strides 2: average over valid cells (gradient: see avgSame)', input: [7, 6, 3],
    layers: () => [L.averagePooling2d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })],
    gradRef: (x) => avgSame(x, 3, 2) },
  { name: 'avgpool_same_s1', about: 'AveragePooling2D 3x3 same strides 1 (inception_v3 branch pools; gradient: see avgSame)', input: [5, 5, 2],
    layers: () => [L.averagePooling2d({ name: 'pool', poolSize: 3, strides: 1, padding: 'same' })],
    gradRef: (x) => avgSame(x, 3, 1) },
  { name: 'avgpool_valid', about: 'AveragePooling2D (2,3) valid, strides (1,2)', input: [5, 7, 2],
    layers: () => [L.averagePooling2d({ name: 'pool', poolSize: [2, 3], strides: [1, 2] })] },
  { name: 'gap', about: 'GlobalAveragePooling2D', input: [4, 5, 6],
    layers: () => [L.globalAveragePooling2d({ name: 'gap' })] },
  { name: 'gmp', about: 'GlobalMaxPooling2D', input: [4, 5, 6],
    layers: () => [L.globalMaxPooling2d({ name: 'gmp' })] },
  { name: 'gap_keepdims', about: 'GlobalAveragePooling2D keepdims=true (Keras; reference: tf.mean over H,W)', input: [3, 4, 5],
    layers: () => [L.globalAveragePooling2d({ name: 'gap' })],
    topology: setLayer('GlobalAveragePooling2D', { keepdims: true }),
    ref: (x) => tf.mean(x, [1, 2], true) },
  { name: 'gmp_keepdims', about: 'GlobalMaxPooling2D keepdims=true (reference: tf.max over H,W)', input: [3, 4, 5],
    layers: () => [L.globalMaxPooling2d({ name: 'gmp' })],
    topology: setLayer('GlobalMaxPooling2D', { keepdims: true }),
    ref: (x) => tf.max(x, [1, 2], true) },
  { name: 'zeropad_tblr', about: 'ZeroPadding2D ((1,2),(0,3))', input: [3, 4, 2],
    layers: () => [L.zeroPadding2d({ name: 'pad', padding: [[1, 2], [0, 3]] })] },
  { name: 'zeropad_int', about: 'ZeroPadding2D 2', input: [3, 3, 2],
    layers: () => [L.zeroPadding2d({ name: 'pad', padding: 2 })] },
  { name: 'zeropad_pair', about: 'ZeroPadding2D (1,2) symmetric', input: [3, 3, 2],
    layers: () => [L.zeroPadding2d({ name: 'pad', padding: [1, 2] })] },
  { name: 'crop_tblr', about: 'Cropping2D ((1,0),(2,1))', input: [5, 6, 2],
    layers: () => [L.cropping2D({ name: 'crop', cropping: [[1, 0], [2, 1]] })] },
  { name: 'crop_int', about: 'Cropping2D 1', input: [5, 4, 3],
    layers: () => [L.cropping2D({ name: 'crop', cropping: 1 })] },
  { name: 'rescaling', about: 'Rescaling(scale=1/127.5, offset=-1)', input: [3, 3, 3],
    layers: () => [L.rescaling({ name: 'rescale', scale: 1 / 127.5, offset: -1 })] },
  { name: 'activations', about: 'Activation relu6, swish, hard_sigmoid, linear after a 1x1 conv',
    input: [3, 3, 4], layers: () => [
      L.activation({ name: 'a_relu6', activation: 'relu6' }), L.conv2d({ name: 'conv', filters: 4, kernelSize: 1 }),
      L.activation({ name: 'a_swish', activation: 'swish' }), L.activation({ name: 'a_hsig', activation: 'hardSigmoid' }),
      L.activation({ name: 'a_lin', activation: 'linear' })] },
  { name: 'mobilenet_block', about: 'Conv-BN-ReLU6, DW-BN-ReLU6, 1x1 Conv-BN, GAP, Dense softmax (inference mode)',
    input: [9, 9, 3], batch: 2, gatol: 2e-4, layers: () => [
      L.zeroPadding2d({ name: 'pad', padding: [[0, 1], [0, 1]] }),
      L.conv2d({ name: 'c1', filters: 6, kernelSize: 3, strides: 2, useBias: false }),
      L.batchNormalization({ name: 'bn1' }), L.reLU({ name: 'r1', maxValue: 6 }),
      L.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', useBias: false }),
      L.batchNormalization({ name: 'bn2' }), L.reLU({ name: 'r2', maxValue: 6 }),
      L.conv2d({ name: 'c2', filters: 4, kernelSize: 1, useBias: false }), L.batchNormalization({ name: 'bn3' }),
      L.globalAveragePooling2d({ name: 'gap' }), L.dense({ name: 'fc', units: 3, activation: 'softmax' })] },
  { name: 'quant_uint8', about: 'mobilenet-like block with uint8-quantized weights (converter scheme)',
    quant: 'uint8', input: [6, 6, 3], layers: () => [
      L.conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same' }), L.batchNormalization({ name: 'bn1' }),
      L.reLU({ name: 'r1', maxValue: 6 }), L.globalAveragePooling2d({ name: 'gap' }), L.dense({ name: 'fc', units: 3 })] },
  { name: 'quant_uint16', about: 'conv + dense with uint16-quantized weights', quant: 'uint16', input: [5, 5, 2],
    layers: () => [L.conv2d({ name: 'c1', filters: 3, kernelSize: 3 }), L.flatten({ name: 'flat' }), L.dense({ name: 'fc', units: 2 })] },
  { name: 'quant_float16', about: 'depthwise + BN with float16 weights', quant: 'float16', input: [5, 5, 3],
    layers: () => [L.depthwiseConv2d({ name: 'dw', kernelSize: 3 }), L.batchNormalization({ name: 'bn' })] },
  { name: 'activations_keras', about: 'Activation elu, selu, softplus, softsign, gelu, mish, tanh, sigmoid, logSoftmax, each after a 1x1 conv',
    input: [3, 3, 4], layers: () => ['elu', 'selu', 'softplus', 'softsign', 'gelu', 'mish', 'tanh', 'sigmoid', 'logSoftmax']
      .flatMap((a, i) => [L.conv2d({ name: `c${i}`, filters: 4, kernelSize: 1 }), L.activation({ name: `a_${a}`, activation: a })]) },
];

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  fs.mkdirSync(OUT, { recursive: true });
  for (const e of fs.readdirSync(OUT, { withFileTypes: true }))   // old cases; README.md stays
    if (e.isDirectory()) fs.rmSync(path.join(OUT, e.name), { recursive: true, force: true });
  const index = [];
  let seed = 1;
  // more cases, one file per family: tools/golden/cases/*.js each exports
  // (tf, helpers) => [case, ...]; their seeds come from the case's name, so
  // adding a family never changes another's data
  const more = path.join(__dirname, 'cases');
  const all = cases.map((c) => [c, 7919 * seed++]);
  if (fs.existsSync(more))
    for (const f of fs.readdirSync(more).filter((n) => n.endsWith('.js')).sort())
      for (const c of require(path.join(more, f))(tf, { rng, fill, setLayer }))
        all.push([c, nameSeed(c.name)]);
  for (const [c, s] of all) {
    const m = await runCase(c, s);
    index.push(m.case);
    console.log(`${m.case}: ${JSON.stringify(m.input_shape)} -> ${JSON.stringify(m.output_shape)}`);
  }
  fs.writeFileSync(path.join(OUT, 'cases.txt'), index.join('\n') + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
