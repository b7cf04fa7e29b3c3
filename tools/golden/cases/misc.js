'use strict';
// Golden cases for the rest of Keras' layer list (issue 10, item 3):
// activations (hard_silu and the aliases silu / hard_swish), ELU, PReLU,
// ThresholdedReLU, Softmax(axis); Subtract, Maximum, Minimum, Dot; Permute,
// RepeatVector; the noise layers at inference; Resizing, CenterCrop,
// Normalization, LayerNormalization, per-channel Rescaling; and misc_model, a functional model
// using many of them (tests/scripts/misc_model.sh runs crest infer on it and
// on its .h5 export).
//
// Where TF.js 4.22 lacks a class (Subtract, Normalization, SpatialDropout2D/3D, ELU's alpha)
// or departs from Keras (Resizing: align_corners instead of half-pixel
// centers; CenterCrop: a 1-pixel offset when a side differs by one), the
// topology is Keras' and the reference is computed with TF.js ops
// implementing Keras' definition: tf.image.resize* with half-pixel centers
// for the forward pass, and the same interpolation as matrices for
// gradients (TF.js's resize gradients ignore halfPixelCenters).

module.exports = (tf, { setLayer }) => {
  const L = tf.layers;

  // Keras Subtract (absent from TF.js): a two-input layer, saved as Keras does.
  class Subtract extends tf.layers.Layer {
    static get className() { return 'Subtract'; }
    computeOutputShape(s) { return s[0]; }
    call(inputs) { return tf.sub(inputs[0], inputs[1]); }
  }
  // Keras Normalization with adapted statistics (absent from TF.js): weights
  // mean, variance, count; y = (x - mean) / max(sqrt(variance), 1e-7), or
  // x * max(sqrt(variance), 1e-7) + mean with invert.
  class Normalization extends tf.layers.Layer {
    static get className() { return 'Normalization'; }
    constructor(args) { super(args); this.invert = !!args.invert; }
    build(s) {
      const c = s[s.length - 1];
      this.mean = this.addWeight('mean', [c], 'float32', tf.initializers.zeros(), null, false);
      this.variance = this.addWeight('variance', [c], 'float32', tf.initializers.ones(), null, false);
      this.count = this.addWeight('count', [], 'float32', tf.initializers.zeros(), null, false);
      this.built = true;
    }
    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const d = tf.maximum(tf.sqrt(this.variance.read()), 1e-7);
      return this.invert ? tf.add(tf.mul(x, d), this.mean.read())
        : tf.div(tf.sub(x, this.mean.read()), d);
    }
    getConfig() {
      return { ...super.getConfig(), axis: -1, mean: null, variance: null,
        ...(this.invert ? { invert: true } : {}) };
    }
  }
  // Keras ELU(alpha): TF.js 4.22's ELU refuses alpha != 1.
  class KerasELU extends tf.layers.Layer {
    static get className() { return 'ELU'; }
    constructor(args) { super(args); this.alpha = args.alpha == null ? 1 : args.alpha; }
    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      // relu(x) + alpha (e^min(x, 0) - 1), so TF.js can differentiate it
      return tf.add(tf.relu(x), tf.mul(this.alpha, tf.elu(tf.neg(tf.relu(tf.neg(x))))));
    }
    getConfig() { return { ...super.getConfig(), alpha: this.alpha }; }
  }
  // Keras ThresholdedReLU as x step(x - theta): TF.js's own layer has no
  // gradient (Greater); used inside misc_model
  const thr = (x, theta) => tf.mul(x, tf.step(tf.sub(x, theta)));
  class KerasThresholdedReLU extends tf.layers.Layer {
    static get className() { return 'ThresholdedReLU'; }
    constructor(args) { super(args); this.theta = args.theta == null ? 1 : args.theta; }
    call(inputs) { return thr(Array.isArray(inputs) ? inputs[0] : inputs, this.theta); }
    getConfig() { return { ...super.getConfig(), theta: this.theta }; }
  }
  // Softmax over any axis as exp(x - logsumexp(x)): TF.js 4.22's softmax
  // takes the last axis only
  const softmaxAt = (x, axis) => tf.exp(tf.sub(x, tf.logSumExp(x, axis, true)));
  class KerasSoftmax extends tf.layers.Layer {
    static get className() { return 'Softmax'; }
    constructor(args) { super(args); this.axis = args.axis == null ? -1 : args.axis; }
    call(inputs) { return softmaxAt(Array.isArray(inputs) ? inputs[0] : inputs, this.axis); }
    getConfig() { return { ...super.getConfig(), axis: this.axis }; }
  }
  // Keras CenterCrop on a larger input, as a slice from floor(diff / 2):
  // TF.js's layer goes through cropAndResize (no gradient) and is off by
  // one where a side differs by one; used inside misc_model
  const ccrop = (x, h, w) => tf.slice(x, [0, Math.floor((x.shape[1] - h) / 2), Math.floor((x.shape[2] - w) / 2), 0],
    [-1, h, w, -1]);
  class KerasCenterCrop extends tf.layers.Layer {
    static get className() { return 'CenterCrop'; }
    constructor(args) { super(args); this.height = args.height; this.width = args.width; }
    computeOutputShape(s) { return [s[0], this.height, this.width, s[3]]; }
    call(inputs) { return ccrop(Array.isArray(inputs) ? inputs[0] : inputs, this.height, this.width); }
    getConfig() { return { ...super.getConfig(), height: this.height, width: this.width }; }
  }
  // Keras Resizing (half-pixel centers) as interpolation matrices: TF.js's
  // layer aligns corners and gets its output shape wrong in functional
  // models; used inside misc_model (the resize_* cases check the matrices
  // against tf.image.resize* with half-pixel centers)
  class KerasResizing extends tf.layers.Layer {
    static get className() { return 'Resizing'; }
    constructor(args) {
      super(args);
      this.height = args.height; this.width = args.width; this.interpolation = args.interpolation || 'bilinear';
    }
    computeOutputShape(s) { return [s[0], this.height, this.width, s[3]]; }
    call(inputs) {
      return resizeMat(Array.isArray(inputs) ? inputs[0] : inputs, this.height, this.width, this.interpolation === 'nearest');
    }
    getConfig() {
      return { ...super.getConfig(), height: this.height, width: this.width, interpolation: this.interpolation,
        crop_to_aspect_ratio: false };
    }
  }
  tf.serialization.registerClass(Subtract);
  tf.serialization.registerClass(Normalization);

  // Keras' image resize (half-pixel centers) as matrices: y = Ah x Aw^T.
  function interp(inSize, outSize, nearest) {
    const m = new Float32Array(outSize * inSize), scale = inSize / outSize;
    for (let o = 0; o < outSize; o++) {
      if (nearest) {
        const i = Math.max(0, Math.min(Math.floor((o + 0.5) * scale), inSize - 1));
        m[o * inSize + i] = 1;
      } else {
        const s = (o + 0.5) * scale - 0.5, f = Math.floor(s);
        const lo = Math.max(f, 0), hi = Math.min(Math.ceil(s), inSize - 1);
        m[o * inSize + lo] += 1 - (s - f);
        m[o * inSize + hi] += s - f;
      }
    }
    return tf.tensor2d(m, [outSize, inSize]);
  }
  const resizeMat = (x, h, w, nearest) => {
    const [b, H, W, C] = x.shape;
    const t = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [b * C, H, W]);
    const ah = tf.tile(tf.expandDims(interp(H, h, nearest), 0), [b * C, 1, 1]);
    const aw = tf.tile(tf.expandDims(tf.transpose(interp(W, w, nearest)), 0), [b * C, 1, 1]);
    const y = tf.matMul(tf.matMul(ah, t), aw);
    return tf.transpose(tf.reshape(y, [b, C, h, w]), [0, 2, 3, 1]);
  };
  const resizeTf = (x, h, w, nearest) => (nearest ? tf.image.resizeNearestNeighbor(x, [h, w], false, true)
    : tf.image.resizeBilinear(x, [h, w], false, true));
  // Keras' crop_to_aspect_ratio window (smart_resize)
  const aspectCrop = (x, th, tw) => {
    const [, H, W] = x.shape;
    const ch = Math.min(H, Math.trunc((W * th) / tw)), cw = Math.min(W, Math.trunc((H * tw) / th));
    return tf.slice(x, [0, Math.trunc((H - ch) / 2), Math.trunc((W - cw) / 2), 0], [-1, ch, cw, -1]);
  };
  const hardSilu = (x) => tf.div(tf.mul(x, tf.relu6(tf.add(x, 3))), 6);
  // TF.js's CenterCrop.computeOutputShape writes its size into the shape it
  // is given, the InputLayer's: put the input shape back
  const inputShape = (shape) => (t) => {
    t.config.layers[0].config.batch_input_shape = [null, ...shape];
    return t;
  };
  const byName = (edits) => (t) => {
    for (const l of t.config.layers) if (edits[l.config.name]) {
      const e = edits[l.config.name];
      if (e.class_name) l.class_name = e.class_name;
      Object.assign(l.config, e.config || {});
    }
    return t;
  };

  return [
    // ---- activations ----
    { name: 'act_hard_silu', about: 'Activation hard_silu (Keras 3: x relu6(x + 3) / 6) after Rescaling(2), TF.js ops as reference',
      input: [3, 5], layers: () => [L.rescaling({ name: 'twice', scale: 2 }), L.activation({ name: 'a', activation: 'linear' })],
      topology: setLayer('Activation', { activation: 'hard_silu' }), ref: (x) => hardSilu(tf.mul(x, 2)) },
    { name: 'act_aliases', about: "Activation 'silu' (swish) and 'hard_swish' (hard_silu): Keras 3 names, reference in TF.js ops",
      input: [4, 3], layers: () => [L.activation({ name: 'a1', activation: 'linear' }), L.activation({ name: 'a2', activation: 'linear' })],
      topology: byName({ a1: { config: { activation: 'silu' } }, a2: { config: { activation: 'hard_swish' } } }),
      ref: (x) => hardSilu(tf.mul(x, tf.sigmoid(x))) },
    { name: 'elu_alpha', about: 'ELU(alpha=0.5) (TF.js refuses alpha != 1: Keras class in TF.js ops)', input: [3, 4],
      layers: () => [new KerasELU({ name: 'elu', alpha: 0.5 })] },
    { name: 'elu_default', about: 'ELU() (alpha 1)', input: [6], layers: () => [L.elu({ name: 'elu' })] },
    { name: 'thresholded_relu', about: 'ThresholdedReLU(theta=0.4)', input: [3, 4],
      layers: () => [L.thresholdedReLU({ name: 'thr', theta: 0.4 })], gradRef: (x) => thr(x, 0.4) },
    { name: 'softmax_axis1', about: 'Softmax(axis=1) over a non-last axis', input: [3, 4, 2],
      layers: () => [L.softmax({ name: 'sm', axis: 1 })], ref: (x) => softmaxAt(x, 1) },
    { name: 'softmax_axis_neg2', about: 'Softmax(axis=-2) on rank-2 samples', input: [4, 3],
      layers: () => [L.softmax({ name: 'sm', axis: -2 })], ref: (x) => softmaxAt(x, -2) },
    { name: 'softmax_last', about: 'Softmax(axis=-1), Keras\' default (TF.js defaults to 1)', input: [2, 5], layers: () => [L.softmax({ name: 'sm', axis: -1 })] },
    { name: 'prelu_shared', about: 'PReLU shared_axes [1, 2] (alpha per channel)', input: [3, 4, 2],
      layers: () => [L.prelu({ name: 'prelu', sharedAxes: [1, 2] })] },
    { name: 'prelu_full', about: 'PReLU (alpha per element)', input: [3, 5], layers: () => [L.prelu({ name: 'prelu' })] },

    // ---- merges (functional: branches of one input) ----
    { name: 'subtract', about: 'Subtract of two Dense branches (Keras class; TF.js ops)', input: [4],
      graph: (x) => new Subtract({ name: 'sub' }).apply([L.dense({ name: 'd1', units: 3 }).apply(x), L.dense({ name: 'd2', units: 3 }).apply(x)]) },
    { name: 'maximum3', about: 'Maximum of three Dense branches', input: [4],
      graph: (x) => L.maximum({ name: 'max' }).apply([1, 2, 3].map((i) => L.dense({ name: `d${i}`, units: 5 }).apply(x))) },
    { name: 'minimum2', about: 'Minimum of two branches of rank 2 (Dense on the last axis)', input: [3, 4],
      graph: (x) => L.minimum({ name: 'min' }).apply([1, 2].map((i) => L.dense({ name: `d${i}`, units: 2 }).apply(x))) },
    { name: 'dot_vectors', about: 'Dot(axes=1) of two [batch, 6] vectors: [batch, 1]', input: [4],
      graph: (x) => L.dot({ name: 'dot', axes: 1 }).apply([L.dense({ name: 'd1', units: 6 }).apply(x), L.dense({ name: 'd2', units: 6 }).apply(x)]) },
    { name: 'dot_axes2', about: 'Dot(axes=2) of [batch, 3, 5] and [batch, 3, 5]: [batch, 3, 3]', input: [3, 4],
      graph: (x) => L.dot({ name: 'dot', axes: 2 }).apply([L.dense({ name: 'd1', units: 5 }).apply(x), L.dense({ name: 'd2', units: 5 }).apply(x)]) },
    { name: 'dot_axes11_norm', about: 'Dot(axes=[1, 1], normalize=true) of [batch, 3, 5] and [batch, 3, 2]: cosine, [batch, 5, 2]', input: [3, 4],
      graph: (x) => L.dot({ name: 'dot', axes: [1, 1], normalize: true }).apply([L.dense({ name: 'd1', units: 5 }).apply(x), L.dense({ name: 'd2', units: 2 }).apply(x)]) },

    // ---- reshaping ----
    { name: 'permute', about: 'Permute(dims=[2, 3, 1])', input: [2, 3, 4], layers: () => [L.permute({ name: 'perm', dims: [2, 3, 1] })] },
    { name: 'permute_2d', about: 'Permute(dims=[2, 1]) then Dense on the new last axis', input: [3, 5],
      layers: () => [L.permute({ name: 'perm', dims: [2, 1] }), L.dense({ name: 'fc', units: 2 })] },
    { name: 'repeat_vector', about: 'Dense then RepeatVector(n=3)', input: [4],
      layers: () => [L.dense({ name: 'fc', units: 3 }), L.repeatVector({ name: 'rep', n: 3 })] },

    // ---- noise layers: identity at inference ----
    { name: 'noise_inference', about: 'SpatialDropout1D, GaussianNoise, GaussianDropout, AlphaDropout at inference (identity)', input: [5, 3],
      layers: () => [L.spatialDropout1d({ name: 'sd1', rate: 0.3 }), L.gaussianNoise({ name: 'gn', stddev: 0.5 }),
        L.gaussianDropout({ name: 'gd', rate: 0.3 }), L.alphaDropout({ name: 'ad', rate: 0.2 })] },
    { name: 'spatial_dropout_2d', about: 'SpatialDropout2D (Keras class; TF.js lacks it: a Dropout renamed) at inference, then Dense', input: [3, 4, 2],
      layers: () => [L.dropout({ name: 'sd2', rate: 0.3 }), L.dense({ name: 'fc', units: 3 })],
      topology: byName({ sd2: { class_name: 'SpatialDropout2D', config: { data_format: 'channels_last' } } }) },
    { name: 'spatial_dropout_3d', about: 'SpatialDropout3D (Keras class; a Dropout renamed) at inference', input: [2, 2, 3, 2],
      layers: () => [L.dropout({ name: 'sd3', rate: 0.4 })],
      topology: byName({ sd3: { class_name: 'SpatialDropout3D', config: { data_format: 'channels_last' } } }) },

    // ---- preprocessing ----
    { name: 'resize_bilinear_up', about: 'Resizing 3x4 -> 5x7 bilinear (Keras: half-pixel centers)', input: [3, 4, 2],
      layers: () => [L.resizing({ name: 'rs', height: 5, width: 7 })],
      ref: (x) => resizeTf(x, 5, 7, false), gradRef: (x) => resizeMat(x, 5, 7, false) },
    { name: 'resize_bilinear_down', about: 'Resizing 6x8 -> 4x3 bilinear', input: [6, 8, 2],
      layers: () => [L.resizing({ name: 'rs', height: 4, width: 3 })],
      ref: (x) => resizeTf(x, 4, 3, false), gradRef: (x) => resizeMat(x, 4, 3, false) },
    { name: 'resize_nearest', about: 'Resizing 5x5 -> 7x3 nearest', input: [5, 5, 3],
      layers: () => [L.resizing({ name: 'rs', height: 7, width: 3, interpolation: 'nearest' })],
      ref: (x) => resizeTf(x, 7, 3, true), gradRef: (x) => resizeMat(x, 7, 3, true) },
    { name: 'resize_crop_aspect', about: 'Resizing 6x8 -> 4x4 bilinear, crop_to_aspect_ratio (centred 6x6 window)', input: [6, 8, 2],
      layers: () => [L.resizing({ name: 'rs', height: 4, width: 4 })],
      topology: setLayer('Resizing', { crop_to_aspect_ratio: true }),
      ref: (x) => resizeTf(aspectCrop(x, 4, 4), 4, 4, false), gradRef: (x) => resizeMat(aspectCrop(x, 4, 4), 4, 4, false) },
    { name: 'center_crop', about: 'CenterCrop 5x8 -> 3x4 (TF.js crops through cropAndResize off the pixel grid: reference a slice)', input: [5, 8, 2],
      layers: () => [L.centerCrop({ name: 'cc', height: 3, width: 4 })], topology: inputShape([5, 8, 2]), ref: (x) => ccrop(x, 3, 4) },
    { name: 'center_crop_odd', about: 'CenterCrop 4x5 -> 3x4 (Keras starts at floor(diff / 2) = 0; reference: slice)', input: [4, 5, 2],
      layers: () => [L.centerCrop({ name: 'cc', height: 3, width: 4 })], topology: inputShape([4, 5, 2]), ref: (x) => ccrop(x, 3, 4) },
    { name: 'center_crop_upsize', about: 'CenterCrop 3x4 -> 5x5: smaller input, smart-resized (aspect crop 3x3, bilinear)', input: [3, 4, 2],
      layers: () => [L.centerCrop({ name: 'cc', height: 5, width: 5 })], topology: inputShape([3, 4, 2]),
      ref: (x) => resizeTf(aspectCrop(x, 5, 5), 5, 5, false), gradRef: (x) => resizeMat(aspectCrop(x, 5, 5), 5, 5, false) },
    { name: 'rescaling_channels', about: 'Rescaling with one scale per channel and a scalar offset (EfficientNet: 1 / sqrt(stddev)); reference: TF.js ops',
      input: [2, 3, 3], layers: () => [L.rescaling({ name: 'rescale', scale: 1 })],
      topology: setLayer('Rescaling', { scale: [1 / Math.sqrt(0.229), 1 / Math.sqrt(0.224), 1 / Math.sqrt(0.225)], offset: 0.25 }),
      ref: (x) => tf.add(tf.mul(x, tf.tensor1d([1 / Math.sqrt(0.229), 1 / Math.sqrt(0.224), 1 / Math.sqrt(0.225)])), 0.25) },
    { name: 'normalization', about: 'Normalization axis -1 with adapted mean / variance / count weights (EfficientNet; Keras class in TF.js ops)', input: [3, 3, 2],
      layers: () => [new Normalization({ name: 'norm' })] },
    { name: 'normalization_invert', about: 'Normalization invert=true (Keras 2.12+)', input: [4, 3],
      layers: () => [new Normalization({ name: 'norm', invert: true })] },
    { name: 'layer_norm', about: 'LayerNormalization axis -1, center + scale', input: [3, 5],
      layers: () => [L.layerNormalization({ name: 'ln', epsilon: 1e-3 })] },
    { name: 'layer_norm_2axes', about: 'LayerNormalization axis [2, 3] on [h, w, c]', input: [2, 3, 4],
      layers: () => [L.layerNormalization({ name: 'ln', axis: [2, 3], epsilon: 0.01 })] },
    { name: 'layer_norm_plain', about: 'LayerNormalization center=false, scale=false', input: [6],
      layers: () => [L.layerNormalization({ name: 'ln', center: false, scale: false })],
      // TF.js 4.22 cannot differentiate it without gamma and beta: Keras' formula in ops
      gradRef: (x) => { const { mean, variance } = tf.moments(x, -1, true); return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))); } },

    // ---- a model using many of them (tests/scripts/misc_model.sh) ----
    { name: 'misc_model', about: 'functional: Normalization, Resizing, CenterCrop, PReLU, LayerNormalization, Permute, ELU, Softmax(axis 1), ThresholdedReLU, Subtract, Maximum, Minimum, Dot, RepeatVector, GaussianNoise, AlphaDropout',
      input: [6, 6, 2], rtol: 2e-4,
      graph: (x) => {
        let t = new Normalization({ name: 'norm' }).apply(x);
        t = new KerasResizing({ name: 'rs', height: 4, width: 4, interpolation: 'nearest' }).apply(t);
        t = new KerasCenterCrop({ name: 'cc', height: 3, width: 3 }).apply(t);     // [3, 3, 2]
        t = L.prelu({ name: 'prelu', sharedAxes: [1, 2] }).apply(t);
        t = L.layerNormalization({ name: 'ln' }).apply(t);
        t = L.permute({ name: 'perm', dims: [3, 1, 2] }).apply(t);        // [2, 3, 3]
        t = new KerasSoftmax({ name: 'sm', axis: 1 }).apply(t);
        t = L.reshape({ name: 'flat', targetShape: [18] }).apply(t);
        t = L.gaussianNoise({ name: 'gn', stddev: 0.1 }).apply(t);
        const a = new KerasELU({ name: 'elu', alpha: 0.7 }).apply(L.dense({ name: 'da', units: 4 }).apply(t));
        const b = new KerasThresholdedReLU({ name: 'thr', theta: 0.1 }).apply(L.dense({ name: 'db', units: 4 }).apply(t));
        const c = L.dense({ name: 'dc', units: 4 }).apply(t);
        const s = new Subtract({ name: 'sub' }).apply([a, b]);
        const mx = L.maximum({ name: 'max' }).apply([s, c]);
        const mn = L.minimum({ name: 'min' }).apply([a, c]);
        const d = L.dot({ name: 'dot', axes: 1, normalize: true }).apply([mx, mn]);   // [1]
        const r = L.repeatVector({ name: 'rep', n: 3 }).apply(L.dense({ name: 'dd', units: 2 }).apply(d));  // [3, 2]
        const r2 = L.reshape({ name: 'r2', targetShape: [3, 2] }).apply(L.dense({ name: 'de', units: 6 }).apply(t));
        return L.alphaDropout({ name: 'ad', rate: 0.1 }).apply(L.add({ name: 'sum' }).apply([r, r2]));
      } },
  ];
};
