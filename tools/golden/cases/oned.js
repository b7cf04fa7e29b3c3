'use strict';
// Golden cases for the 1-D family (issue 10, item 3): Conv1D, SeparableConv1D,
// DepthwiseConv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
// GlobalMaxPooling1D, UpSampling1D, ZeroPadding1D, Cropping1D; Dense,
// Flatten and the merges (Add, Multiply, Average, Concatenate) on inputs of
// rank 3 and 4.
//
// TF.js 4.22 has Conv1D, MaxPooling1D, AveragePooling1D and the global 1-D
// poolings, but no SeparableConv1D, DepthwiseConv1D, UpSampling1D,
// ZeroPadding1D or Cropping1D. Those are written by `keras` below: a TF.js
// layer that saves itself under the Keras class name and config, holds the
// Keras weights (names and shapes), and computes Keras' definition with
// TF.js ops, so TF.js gives the output and all gradients.
//
// TF.js has no gradient for dilated convolutions: those cases use the same
// convolution with a zero-dilated kernel (refW), as layers.js does in 2-D.

module.exports = (tf, { setLayer }) => {
  const L = tf.layers;

  // [k, in, out] -> [(k - 1) * d + 1, in, out], zeros between taps
  function dilate1d(k, d) {
    if (d === 1) return k;
    const z = tf.zerosLike(tf.slice(k, [0, 0, 0], [1, -1, -1]));
    const rows = [];
    for (let i = 0; i < k.shape[0]; i++) {
      if (i) for (let j = 1; j < d; j++) rows.push(z);
      rows.push(tf.slice(k, [i, 0, 0], [1, -1, -1]));
    }
    return tf.concat(rows, 0);
  }
  // causal: pad (k - 1) * d zeros before the first step, then 'valid'
  const causal = (x, k, d) => tf.pad(x, [[0, 0], [(k - 1) * d, 0], [0, 0]]);

  // depthwise over steps: x [b,t,c], k [k,c,dm] -> [b,t',c*dm]
  function depthwise1d(x, k, s, pad, d) {
    let xx = x, p = pad;
    if (pad === 'causal') { xx = causal(x, k.shape[0], d); p = 'valid'; }
    const k4 = tf.expandDims(dilate1d(k, d), 1);
    const y = tf.depthwiseConv2d(tf.expandDims(xx, 2), k4, [s, 1], p);
    return tf.squeeze(y, [2]);
  }

  const ACT = { linear: (t) => t, relu: tf.relu, relu6: tf.relu6, tanh: tf.tanh, sigmoid: tf.sigmoid };

  // A Keras class TF.js lacks: saved as cls with cfg, weights { name: shape },
  // call(x, w) in TF.js ops, out(inputShape) the output shape.
  function keras(cls, name, cfg, weights, call, out) {
    class K extends L.Layer {
      constructor() { super({ name }); this.w = {}; }
      getClassName() { return cls; }
      build(inShape) {
        for (const [n, shp] of Object.entries(weights(inShape)))
          this.w[n] = this.addWeight(n, shp, 'float32', tf.initializers.zeros());
        this.built = true;
      }
      computeOutputShape(s) { return out(s); }
      call(inputs) {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const w = {};
        for (const [n, v] of Object.entries(this.w)) w[n] = v.read();
        return call(x, w);
      }
      getConfig() { return { ...cfg, ...super.getConfig() }; }
    }
    return new K();
  }

  const convOut = (t, k, s, pad, d) => {
    const ek = (k - 1) * d + 1;
    if (t === null) return null;
    return pad === 'valid' ? Math.floor((t - ek) / s) + 1 : Math.ceil(t / s);
  };

  function sepConv1d(name, { filters, k, s = 1, pad = 'valid', d = 1, dm = 1, act = 'linear', bias = true }) {
    const cfg = { filters, kernel_size: [k], strides: [s], padding: pad, data_format: 'channels_last',
      dilation_rate: [d], depth_multiplier: dm, activation: act, use_bias: bias };
    return keras('SeparableConv1D', name, cfg,
      (is) => ({ depthwise_kernel: [k, is[2], dm], pointwise_kernel: [1, is[2] * dm, filters],
        ...(bias ? { bias: [filters] } : {}) }),
      (x, w) => {
        let y = depthwise1d(x, w.depthwise_kernel, s, pad, d);
        y = tf.conv1d(y, w.pointwise_kernel, 1, 'valid');
        if (bias) y = tf.add(y, w.bias);
        return ACT[act](y);
      },
      (is) => [is[0], convOut(is[1], k, s, pad === 'causal' ? 'same' : pad, d), filters]);
  }

  function dwConv1d(name, { k, s = 1, pad = 'valid', d = 1, dm = 1, act = 'linear', bias = true }) {
    const cfg = { kernel_size: [k], strides: [s], padding: pad, data_format: 'channels_last',
      dilation_rate: [d], depth_multiplier: dm, activation: act, use_bias: bias };
    return keras('DepthwiseConv1D', name, cfg,
      (is) => ({ depthwise_kernel: [k, is[2], dm], ...(bias ? { bias: [is[2] * dm] } : {}) }),
      (x, w) => {
        let y = depthwise1d(x, w.depthwise_kernel, s, pad, d);
        if (bias) y = tf.add(y, w.bias);
        return ACT[act](y);
      },
      (is) => [is[0], convOut(is[1], k, s, pad === 'causal' ? 'same' : pad, d), is[2] * dm]);
  }

  const upSampling1d = (name, size) => keras('UpSampling1D', name, { size }, () => ({}),
    (x) => {
      const [b, t, c] = x.shape;
      return tf.reshape(tf.tile(tf.expandDims(x, 2), [1, 1, size, 1]), [b, t * size, c]);
    },
    (is) => [is[0], is[1] === null ? null : is[1] * size, is[2]]);

  // Keras' forms: an int, or [left, right]
  const pair = (p) => (Array.isArray(p) ? p : [p, p]);
  const zeroPadding1d = (name, padding) => keras('ZeroPadding1D', name, { padding }, () => ({}),
    (x) => tf.pad(x, [[0, 0], pair(padding), [0, 0]]),
    (is) => [is[0], is[1] === null ? null : is[1] + pair(padding)[0] + pair(padding)[1], is[2]]);
  const cropping1d = (name, cropping) => keras('Cropping1D', name, { cropping }, () => ({}),
    (x) => {
      const [a, b] = pair(cropping);
      return tf.slice(x, [0, a, 0], [-1, x.shape[1] - a - b, -1]);
    },
    (is) => [is[0], is[1] === null ? null : is[1] - pair(cropping)[0] - pair(cropping)[1], is[2]]);

  // 'same' average pooling over the valid cells only (TF.js 4.22's avgPool
  // gradient divides by the full window; see avgSame in layers.js)
  function avgSame1d(x, k, s) {
    const ones = tf.ones([k, 1, x.shape[2], 1]);
    const x4 = tf.expandDims(x, 2);
    const sum = tf.depthwiseConv2d(x4, ones, [s, 1], 'same');
    const cnt = tf.depthwiseConv2d(tf.onesLike(x4), ones, [s, 1], 'same');
    return tf.squeeze(tf.div(sum, cnt), [2]);
  }

  // ---- data_format channels_first: [batch, channels, steps] ----
  // TF.js's 1-D layers have no data_format: these are `keras` layers whose
  // call swaps the last two axes around the channels_last computation.
  const T = (x) => tf.transpose(x, [0, 2, 1]);
  const cfOut = (f) => (is) => { const o = f([is[0], is[2], is[1]]); return [o[0], o[2], o[1]]; };

  function convCF(name, { filters, k, s = 1, pad = 'valid', d = 1, act = 'linear' }) {
    const cfg = { filters, kernel_size: [k], strides: [s], padding: pad, data_format: 'channels_first',
      dilation_rate: [d], activation: act, use_bias: true };
    return keras('Conv1D', name, cfg, (is) => ({ kernel: [k, is[1], filters], bias: [filters] }),
      (x, w) => {
        let xl = T(x), p = pad;
        if (pad === 'causal') { xl = causal(xl, k, d); p = 'valid'; }
        return T(ACT[act](tf.add(tf.conv1d(xl, dilate1d(w.kernel, d), s, p), w.bias)));
      },
      cfOut((is) => [is[0], convOut(is[1], k, s, pad === 'causal' ? 'same' : pad, d), filters]));
  }

  function sepCF(name, { filters, k, dm }) {
    const cfg = { filters, kernel_size: [k], strides: [1], padding: 'valid', data_format: 'channels_first',
      dilation_rate: [1], depth_multiplier: dm, activation: 'linear', use_bias: true };
    return keras('SeparableConv1D', name, cfg,
      (is) => ({ depthwise_kernel: [k, is[1], dm], pointwise_kernel: [1, is[1] * dm, filters], bias: [filters] }),
      (x, w) => T(tf.add(tf.conv1d(depthwise1d(T(x), w.depthwise_kernel, 1, 'valid', 1), w.pointwise_kernel, 1, 'valid'), w.bias)),
      cfOut((is) => [is[0], convOut(is[1], k, 1, 'valid', 1), filters]));
  }

  function dwCF(name, { k, pad, d, dm }) {
    const cfg = { kernel_size: [k], strides: [1], padding: pad, data_format: 'channels_first',
      dilation_rate: [d], depth_multiplier: dm, activation: 'tanh', use_bias: true };
    return keras('DepthwiseConv1D', name, cfg,
      (is) => ({ depthwise_kernel: [k, is[1], dm], bias: [is[1] * dm] }),
      (x, w) => T(tf.tanh(tf.add(depthwise1d(T(x), w.depthwise_kernel, 1, pad, d), w.bias))),
      cfOut((is) => [is[0], convOut(is[1], k, 1, pad === 'causal' ? 'same' : pad, d), is[2] * dm]));
  }

  function poolCF(cls, name, { k, s, pad }) {
    const max = cls === 'MaxPooling1D';
    return keras(cls, name, { pool_size: [k], strides: [s], padding: pad, data_format: 'channels_first' }, () => ({}),
      (x) => {
        const xl = T(x);
        if (!max && pad === 'same') return T(avgSame1d(xl, k, s));
        const x4 = tf.expandDims(xl, 2);
        const y = max ? tf.maxPool(x4, [k, 1], [s, 1], pad) : tf.avgPool(x4, [k, 1], [s, 1], pad);
        return T(tf.squeeze(y, [2]));
      },
      cfOut((is) => [is[0], convOut(is[1], k, s, pad, 1), is[2]]));
  }

  function gpoolCF(cls, name, keepdims) {
    const max = cls === 'GlobalMaxPooling1D';
    return keras(cls, name, { data_format: 'channels_first', keepdims }, () => ({}),
      (x) => (max ? tf.max(x, 2, keepdims) : tf.mean(x, 2, keepdims)),
      (is) => (keepdims ? [is[0], is[1], 1] : [is[0], is[1]]));
  }

  // a functional model of one input named 'input' (merges)
  const functional = (shape, body) => (name) => {
    const x = tf.input({ shape, name: 'input' });
    return tf.model({ inputs: x, outputs: body(x), name });
  };

  return [
    // ---- Conv1D ----
    { name: 'conv1d_valid', about: 'Conv1D k3 valid, stride 1, bias, linear', input: [9, 3],
      layers: () => [L.conv1d({ name: 'conv', filters: 4, kernelSize: 3 })] },
    { name: 'conv1d_same_s2', about: 'Conv1D k3 same, strides 2 on an odd length, relu', input: [9, 3],
      layers: () => [L.conv1d({ name: 'conv', filters: 5, kernelSize: 3, padding: 'same', strides: 2, activation: 'relu' })] },
    { name: 'conv1d_same_even', about: 'Conv1D k4 same, strides 3, no bias (uneven padding)', input: [10, 2],
      layers: () => [L.conv1d({ name: 'conv', filters: 3, kernelSize: 4, padding: 'same', strides: 3, useBias: false })] },
    // TF.js 4.22 saves padding 'causal' but cannot run it: Keras' definition
    // (left zero padding, then 'valid') in TF.js ops
    { name: 'conv1d_causal', about: 'Conv1D k3 causal, tanh (reference: left zero padding, valid)', input: [8, 2],
      layers: () => [L.conv1d({ name: 'conv', filters: 3, kernelSize: 3, padding: 'causal', activation: 'tanh' })],
      refW: (x, w) => tf.tanh(tf.add(tf.conv1d(causal(x, 3, 1), w['conv/kernel'], 1, 'valid'), w['conv/bias'])) },
    { name: 'conv1d_causal_dil', about: 'Conv1D k2 causal, dilation 3, no bias (gradients: zero-dilated kernel)', input: [10, 3],
      layers: () => [L.conv1d({ name: 'conv', filters: 2, kernelSize: 2, padding: 'causal', dilationRate: 3, useBias: false })],
      refW: (x, w) => tf.conv1d(causal(x, 2, 3), dilate1d(w['conv/kernel'], 3), 1, 'valid') },
    { name: 'conv1d_dil_same', about: 'Conv1D k3 same, dilation 2, relu6 (gradients: zero-dilated kernel)', input: [9, 3],
      layers: () => [L.conv1d({ name: 'conv', filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu6' })],
      refW: (x, w) => tf.relu6(tf.add(tf.conv1d(x, dilate1d(w['conv/kernel'], 2), 1, 'same'), w['conv/bias'])) },
    { name: 'conv1d_dil_valid_s2', about: 'Conv1D k3 valid, strides 2, dilation 1 after dilation 2 (two layers)', input: [13, 2],
      layers: () => [L.conv1d({ name: 'c1', filters: 3, kernelSize: 3, dilationRate: 2 }),
        L.conv1d({ name: 'c2', filters: 2, kernelSize: 3, strides: 2, activation: 'sigmoid' })],
      refW: (x, w) => tf.sigmoid(tf.add(tf.conv1d(tf.add(tf.conv1d(x, dilate1d(w['c1/kernel'], 2), 1, 'valid'), w['c1/bias']),
        w['c2/kernel'], 2, 'valid'), w['c2/bias'])) },
    { name: 'conv1d_pointwise', about: 'Conv1D k1, sigmoid', input: [5, 6],
      layers: () => [L.conv1d({ name: 'conv', filters: 7, kernelSize: 1, activation: 'sigmoid' })] },
    // ---- SeparableConv1D, DepthwiseConv1D (Keras classes; TF.js ops) ----
    { name: 'sepconv1d_same', about: 'SeparableConv1D k3, depth_multiplier 2, same, relu', input: [8, 3],
      layers: () => [sepConv1d('sep', { filters: 5, k: 3, dm: 2, pad: 'same', act: 'relu' })] },
    { name: 'sepconv1d_s2_valid', about: 'SeparableConv1D k3, strides 2, valid, no bias', input: [9, 2],
      layers: () => [sepConv1d('sep', { filters: 3, k: 3, s: 2, bias: false })] },
    { name: 'sepconv1d_causal_dil', about: 'SeparableConv1D k2, causal, dilation 2, tanh', input: [7, 3],
      layers: () => [sepConv1d('sep', { filters: 2, k: 2, pad: 'causal', d: 2, act: 'tanh' })] },
    { name: 'dwconv1d_same_s2', about: 'DepthwiseConv1D k3, depth_multiplier 2, same, strides 2, bias', input: [9, 3],
      layers: () => [dwConv1d('dw', { k: 3, dm: 2, s: 2, pad: 'same' })] },
    { name: 'dwconv1d_causal_dil', about: 'DepthwiseConv1D k3, causal, dilation 2, no bias, relu', input: [10, 2],
      layers: () => [dwConv1d('dw', { k: 3, pad: 'causal', d: 2, act: 'relu', bias: false })] },
    { name: 'dwconv1d_valid', about: 'DepthwiseConv1D k2, valid, dilation 3', input: [8, 4],
      layers: () => [dwConv1d('dw', { k: 2, d: 3 })] },
    // ---- pooling ----
    { name: 'maxpool1d_valid', about: 'MaxPooling1D 2 valid (strides default = pool)', input: [7, 3],
      layers: () => [L.maxPooling1d({ name: 'pool', poolSize: 2 })] },
    { name: 'maxpool1d_same_s2', about: 'MaxPooling1D 3 same, strides 2', input: [8, 3],
      layers: () => [L.maxPooling1d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })] },
    { name: 'avgpool1d_valid_s1', about: 'AveragePooling1D 3 valid, strides 1', input: [7, 2],
      layers: () => [L.averagePooling1d({ name: 'pool', poolSize: 3, strides: 1 })] },
    { name: 'avgpool1d_same_s2', about: 'AveragePooling1D 3 same, strides 2: average over valid cells (gradient: avgSame1d)', input: [7, 3],
      layers: () => [L.averagePooling1d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })],
      gradRef: (x) => avgSame1d(x, 3, 2) },
    { name: 'gap1d', about: 'GlobalAveragePooling1D', input: [6, 5],
      layers: () => [L.globalAveragePooling1d({ name: 'gap' })] },
    { name: 'gmp1d', about: 'GlobalMaxPooling1D', input: [6, 5],
      layers: () => [L.globalMaxPooling1d({ name: 'gmp' })] },
    { name: 'gap1d_keepdims', about: 'GlobalAveragePooling1D keepdims=true (reference: tf.mean over steps)', input: [5, 4],
      layers: () => [L.globalAveragePooling1d({ name: 'gap' })],
      topology: setLayer('GlobalAveragePooling1D', { keepdims: true, data_format: 'channels_last' }),
      ref: (x) => tf.mean(x, 1, true) },
    { name: 'gmp1d_keepdims', about: 'GlobalMaxPooling1D keepdims=true (reference: tf.max over steps)', input: [5, 4],
      layers: () => [L.globalMaxPooling1d({ name: 'gmp' })],
      topology: setLayer('GlobalMaxPooling1D', { keepdims: true }),
      ref: (x) => tf.max(x, 1, true) },
    // ---- reshaping ----
    { name: 'upsampling1d', about: 'UpSampling1D size 3', input: [4, 2], layers: () => [upSampling1d('up', 3)] },
    { name: 'upsampling1d_2', about: 'UpSampling1D size 2 after Conv1D', input: [5, 3],
      layers: () => [L.conv1d({ name: 'conv', filters: 2, kernelSize: 2 }), upSampling1d('up', 2)] },
    { name: 'zeropad1d_int', about: 'ZeroPadding1D 2', input: [4, 3], layers: () => [zeroPadding1d('pad', 2)] },
    { name: 'zeropad1d_pair', about: 'ZeroPadding1D (1, 3)', input: [4, 2], layers: () => [zeroPadding1d('pad', [1, 3])] },
    { name: 'cropping1d_pair', about: 'Cropping1D (1, 2)', input: [7, 3], layers: () => [cropping1d('crop', [1, 2])] },
    { name: 'cropping1d_int', about: 'Cropping1D 1', input: [5, 2], layers: () => [cropping1d('crop', 1)] },
    // ---- data_format channels_first ----
    { name: 'conv1d_cf_same_s2', about: 'Conv1D channels_first k3 same, strides 2, relu', input: [3, 9],
      layers: () => [convCF('conv', { filters: 4, k: 3, s: 2, pad: 'same', act: 'relu' })] },
    { name: 'conv1d_cf_causal_dil', about: 'Conv1D channels_first k2 causal, dilation 2, linear', input: [2, 7],
      layers: () => [convCF('conv', { filters: 3, k: 2, pad: 'causal', d: 2 })] },
    { name: 'sepconv1d_cf', about: 'SeparableConv1D channels_first k3 valid, depth_multiplier 2', input: [2, 8],
      layers: () => [sepCF('sep', { filters: 3, k: 3, dm: 2 })] },
    { name: 'dwconv1d_cf', about: 'DepthwiseConv1D channels_first k3 same, dilation 2, depth_multiplier 2, tanh', input: [3, 7],
      layers: () => [dwCF('dw', { k: 3, pad: 'same', d: 2, dm: 2 })] },
    { name: 'maxpool1d_cf', about: 'MaxPooling1D channels_first 3 same, strides 2', input: [3, 8],
      layers: () => [poolCF('MaxPooling1D', 'pool', { k: 3, s: 2, pad: 'same' })] },
    { name: 'avgpool1d_cf', about: 'AveragePooling1D channels_first 3 same, strides 1 (valid cells only)', input: [2, 6],
      layers: () => [poolCF('AveragePooling1D', 'pool', { k: 3, s: 1, pad: 'same' })] },
    { name: 'avgpool1d_cf_valid', about: 'AveragePooling1D channels_first 2 valid', input: [3, 7],
      layers: () => [poolCF('AveragePooling1D', 'pool', { k: 2, s: 2, pad: 'valid' })] },
    { name: 'gap1d_cf_keepdims', about: 'GlobalAveragePooling1D channels_first keepdims=true: [batch, channels, 1]', input: [4, 5],
      layers: () => [gpoolCF('GlobalAveragePooling1D', 'gap', true)] },
    { name: 'gmp1d_cf', about: 'GlobalMaxPooling1D channels_first', input: [4, 5],
      layers: () => [gpoolCF('GlobalMaxPooling1D', 'gmp', false)] },
    // ---- Dense, Flatten, merges on rank 3 and 4 ----
    { name: 'dense_rank3', about: 'Dense(4, relu) on [batch, steps, channels]: the last axis', input: [5, 3],
      layers: () => [L.dense({ name: 'fc', units: 4, activation: 'relu' })] },
    { name: 'dense_rank4', about: 'Dense(3) on [batch, h, w, c] after Dense(2, tanh)', input: [2, 3, 4],
      layers: () => [L.dense({ name: 'fc1', units: 2, activation: 'tanh' }), L.dense({ name: 'fc2', units: 3 })] },
    { name: 'flatten_rank3', about: 'Conv1D, Flatten of [batch, steps, filters], Dense softmax', input: [6, 2],
      layers: () => [L.conv1d({ name: 'conv', filters: 3, kernelSize: 3 }), L.flatten({ name: 'flat' }),
        L.dense({ name: 'fc', units: 4, activation: 'softmax' })] },
    { name: 'merges_rank3', about: 'Add, Multiply, Average, Concatenate(axis=1) and (axis=-1) on [batch, steps, channels] (functional)',
      input: [6, 4],
      model: functional([6, 4], (x) => {
        const a = L.dense({ name: 'fa', units: 4 }).apply(x);
        const b = L.conv1d({ name: 'cb', filters: 4, kernelSize: 3, padding: 'same' }).apply(x);
        const s = L.add({ name: 'add' }).apply([x, a, b]);
        const p = L.multiply({ name: 'mul' }).apply([s, b]);
        const q = L.average({ name: 'avg' }).apply([p, a]);
        const c1 = L.concatenate({ name: 'cat_t', axis: 1 }).apply([q, x]);
        const c2 = L.concatenate({ name: 'cat_c', axis: -1 }).apply([c1, c1]);
        return c2;
      }) },
    { name: 'merges_rank4', about: 'Add, Multiply, Average, Concatenate(axis=2) on [batch, h, w, c] (functional)',
      input: [3, 2, 3],
      model: functional([3, 2, 3], (x) => {
        const a = L.dense({ name: 'fa', units: 3, activation: 'tanh' }).apply(x);
        const s = L.add({ name: 'add' }).apply([x, a]);
        const p = L.multiply({ name: 'mul' }).apply([s, a, x]);
        const q = L.average({ name: 'avg' }).apply([p, s, a]);
        return L.concatenate({ name: 'cat_w', axis: 2 }).apply([q, x]);
      }) },
    // ---- a small 1-D CNN (inference mode: BatchNormalization on moving stats) ----
    // logits, not softmax: with these weights a softmax saturates to one-hot
    // and its gradients vanish, which would test nothing
    { name: 'cnn1d_block', about: 'Conv1D-BN-ReLU-MaxPool1D x2, GlobalAveragePooling1D, Dense (logits), inference mode', input: [16, 5], gatol: 2e-4,
      layers: () => [
        L.conv1d({ name: 'c1', filters: 6, kernelSize: 5, padding: 'same' }), L.batchNormalization({ name: 'bn1' }),
        L.activation({ name: 'r1', activation: 'relu' }), L.maxPooling1d({ name: 'p1', poolSize: 2 }),
        L.conv1d({ name: 'c2', filters: 4, kernelSize: 3, padding: 'same' }), L.batchNormalization({ name: 'bn2' }),
        L.activation({ name: 'r2', activation: 'relu' }), L.maxPooling1d({ name: 'p2', poolSize: 2 }),
        L.globalAveragePooling1d({ name: 'gap' }), L.dense({ name: 'fc', units: 3 })] },
  ];
};
