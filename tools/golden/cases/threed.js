'use strict';
// Golden cases of the 3-D layers (NDHWC), for tools/golden/layers.js.
//
// TF.js 4.22 has Conv3D, Conv3DTranspose, MaxPooling3D and AveragePooling3D
// as layers. Where it lacks something, the case saves a weightless stand-in
// layer, rewrites it in model.json as the Keras class, and computes the
// reference with TF.js ops implementing Keras' definition:
//   - GlobalAveragePooling3D / GlobalMaxPooling3D: tf.mean / tf.max over
//     depth, height and width;
//   - UpSampling3D: tf.gather repeating indices along each axis (nearest);
//   - ZeroPadding3D: tf.pad; Cropping3D: tf.slice;
//   - dilated Conv3D: tf.conv3d on the zero-dilated kernel (TF.js has no
//     conv3d gradient for dilations > 1);
//   - Conv3DTranspose: TF.js has no gradient for conv3dTranspose, so the
//     reference is the same map as a stride-1 conv3d of the zero-dilated,
//     padded input with the flipped kernel; every call checks it against
//     tf.conv3dTranspose (the op TF.js' layer runs) to 1e-5;
//     output_padding (Keras; TF.js has none) passes Keras' output size to it;
//   - 'same' AveragePooling3D gradients: window sums over valid-cell counts
//     (TF.js' avgPool3d gradient divides by the full window where the
//     forward pass averaged fewer cells).

module.exports = (tf, { setLayer }) => {
  const L = tf.layers;
  const act = { linear: (t) => t, relu: tf.relu, tanh: tf.tanh, sigmoid: tf.sigmoid };

  // The stand-in layer (weightless) becomes Keras class cls with config cfg.
  const asKeras = (cls, cfg) => (t) => {
    const l = t.config.layers.find((e) => e.config.name === cfg.name);
    l.class_name = cls;
    l.config = { trainable: true, dtype: 'float32', data_format: 'channels_last', ...cfg };
    return t;
  };
  const standIn = (name) => () => [L.activation({ name, activation: 'linear' })];

  // Zeros between the entries of x along axis (s - 1 of them).
  function dilateAxis(x, axis, s) {
    if (s === 1) return x;
    const parts = [];
    for (let i = 0; i < x.shape[axis]; i++) {
      const begin = x.shape.map(() => 0), size = x.shape.map(() => -1);
      begin[axis] = i;
      size[axis] = 1;
      if (i) {
        const zs = x.shape.slice();
        zs[axis] = s - 1;
        parts.push(tf.zeros(zs));
      }
      parts.push(tf.slice(x, begin, size));
    }
    return tf.concat(parts, axis);
  }
  const dilateKernel3 = (k, d) => d.reduce((t, s, a) => dilateAxis(t, a, s), k);

  // Keras' deconv_output_length (dilation 1).
  const deconvLen = (n, k, s, same, op) => (op == null
    ? (same ? n * s : n * s + Math.max(k - s, 0))
    : (n - 1) * s + k - 2 * (same ? Math.floor(k / 2) : 0) + op);

  // Conv3DTranspose as a stride-1 convolution (see the top of the file).
  function tconvRef(x, k, s, same, outPad) {
    const out = [0, 1, 2].map((a) => deconvLen(x.shape[a + 1], k.shape[a], s[a], same, outPad && outPad[a]));
    let xd = x;
    for (let a = 0; a < 3; a++) xd = dilateAxis(xd, a + 1, s[a]);
    const pads = [[0, 0]], cut = [];
    for (let a = 0; a < 3; a++) {
      const K = k.shape[a], n = x.shape[a + 1], len = (n - 1) * s[a] + 1;
      const total = same ? Math.max((n - 1) * s[a] + K - out[a], 0) : 0;
      const front = K - 1 - Math.floor(total / 2), back = out[a] + K - 1 - front - len;
      pads.push([front, Math.max(back, 0)]);
      cut.push(out[a]);
    }
    pads.push([0, 0]);
    const kf = tf.transpose(tf.reverse(k, [0, 1, 2]), [0, 1, 2, 4, 3]);
    const y = tf.conv3d(tf.pad(xd, pads), kf, 1, 'valid');
    const yc = tf.slice(y, [0, 0, 0, 0, 0], [-1, ...cut, -1]);
    // the check: TF.js' own transposed convolution gives the same map
    const t = tf.conv3dTranspose(x, k, [x.shape[0], ...out, k.shape[3]], s, same ? 'same' : 'valid');
    const d = tf.max(tf.abs(tf.sub(t, yc))).dataSync()[0];
    if (!(d < 1e-5)) throw new Error(`conv3d transpose reference differs from tf.conv3dTranspose by ${d}`);
    return yc;
  }
  const tconvW = (name, s, same, a, outPad) => (x, w) => {
    let y = tconvRef(x, w[`${name}/kernel`], s, same, outPad);
    if (w[`${name}/bias`]) y = tf.add(y, w[`${name}/bias`]);
    return act[a](y);
  };

  // 'same' average pooling as window sums over valid-cell counts, one
  // channel at a time (channels moved into the batch).
  function avgSame3(x, k, s) {
    const [n, d, h, w, c] = x.shape;
    const ones = tf.ones([...k, 1, 1]);
    const flat = (t) => tf.reshape(tf.transpose(t, [0, 4, 1, 2, 3]), [n * c, d, h, w, 1]);
    const sum = tf.conv3d(flat(x), ones, s, 'same');
    const cnt = tf.conv3d(flat(tf.onesLike(x)), ones, s, 'same');
    const r = tf.div(sum, cnt);
    return tf.transpose(tf.reshape(r, [n, c, ...r.shape.slice(1, 4)]), [0, 2, 3, 4, 1]);
  }

  // nearest upsampling: each index repeated size times, axis by axis
  function upsample(x, size) {
    let y = x;
    size.forEach((f, a) => {
      const idx = [];
      for (let i = 0; i < x.shape[a + 1]; i++) for (let r = 0; r < f; r++) idx.push(i);
      y = tf.gather(y, tf.tensor1d(idx, 'int32'), a + 1);
    });
    return y;
  }

  return [
    { name: 'conv3d_valid', about: 'Conv3D 3x3x3 valid, stride 1, bias, linear', input: [5, 6, 4, 2],
      layers: () => [L.conv3d({ name: 'conv', filters: 3, kernelSize: 3 })] },
    { name: 'conv3d_same_s', about: 'Conv3D (3,2,3) same, strides (2,1,2) on odd sizes, relu', input: [5, 4, 5, 2],
      layers: () => [L.conv3d({ name: 'conv', filters: 4, kernelSize: [3, 2, 3], padding: 'same', strides: [2, 1, 2], activation: 'relu' })] },
    { name: 'conv3d_nobias', about: 'Conv3D 2x2x2 same (uneven padding), no bias, tanh', input: [4, 3, 3, 3],
      layers: () => [L.conv3d({ name: 'conv', filters: 2, kernelSize: 2, padding: 'same', useBias: false, activation: 'tanh' })] },
    { name: 'conv3d_dilation', about: 'Conv3D (2,3,2) dilation (2,1,2), valid, sigmoid (reference: zero-dilated kernel)',
      input: [5, 5, 6, 2], layers: () => [L.conv3d({ name: 'conv', filters: 3, kernelSize: [2, 3, 2], dilationRate: [2, 1, 2], activation: 'sigmoid' })],
      refW: (x, w) => tf.sigmoid(tf.add(tf.conv3d(x, dilateKernel3(w['conv/kernel'], [2, 1, 2]), 1, 'valid'), w['conv/bias'])) },
    { name: 'conv3d_dilation_same', about: 'Conv3D 3x3x3 dilation (1,2,2), same (reference: zero-dilated kernel)',
      input: [4, 6, 5, 2], layers: () => [L.conv3d({ name: 'conv', filters: 2, kernelSize: 3, dilationRate: [1, 2, 2], padding: 'same' })],
      refW: (x, w) => tf.add(tf.conv3d(x, dilateKernel3(w['conv/kernel'], [1, 2, 2]), 1, 'same'), w['conv/bias']) },
    { name: 'conv3dT_same_s2', about: 'Conv3DTranspose 3x3x3 same, strides 2, bias, relu (reference: see tconvRef)',
      input: [3, 2, 3, 2], layers: () => [L.conv3dTranspose({ name: 'tconv', filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })],
      refW: tconvW('tconv', [2, 2, 2], true, 'relu') },
    { name: 'conv3dT_valid', about: 'Conv3DTranspose (2,3,2) valid, strides (1,2,3) (kernel < stride on the last axis), no bias',
      input: [3, 3, 2, 2], layers: () => [L.conv3dTranspose({ name: 'tconv', filters: 2, kernelSize: [2, 3, 2], strides: [1, 2, 3], useBias: false })],
      refW: tconvW('tconv', [1, 2, 3], false, 'linear') },
    { name: 'conv3dT_even_same', about: 'Conv3DTranspose (2,4,3) same, strides (2,2,1), tanh',
      input: [2, 3, 3, 3], layers: () => [L.conv3dTranspose({ name: 'tconv', filters: 2, kernelSize: [2, 4, 3], strides: [2, 2, 1], padding: 'same', activation: 'tanh' })],
      refW: tconvW('tconv', [2, 2, 1], true, 'tanh') },
    { name: 'conv3dT_outpad', about: 'Conv3DTranspose 3x3x3 same strides 2, output_padding (1,0,1) (Keras; TF.js has none: its op with Keras output size)',
      input: [2, 3, 2, 2], layers: () => [L.conv3dTranspose({ name: 'tconv', filters: 2, kernelSize: 3, strides: 2, padding: 'same' })],
      topology: setLayer('Conv3DTranspose', { output_padding: [1, 0, 1] }),
      refW: tconvW('tconv', [2, 2, 2], true, 'linear', [1, 0, 1]) },
    { name: 'maxpool3d_valid', about: 'MaxPooling3D 2x2x2 valid (strides default = pool), odd sizes', input: [5, 4, 7, 2],
      layers: () => [L.maxPooling3d({ name: 'pool', poolSize: 2 })] },
    { name: 'maxpool3d_same_s', about: 'MaxPooling3D (3,2,2) same, strides (2,1,2)', input: [5, 4, 5, 2],
      layers: () => [L.maxPooling3d({ name: 'pool', poolSize: [3, 2, 2], strides: [2, 1, 2], padding: 'same' })] },
    { name: 'avgpool3d_valid', about: 'AveragePooling3D (2,2,3) valid, strides (1,2,1)', input: [4, 5, 6, 2],
      layers: () => [L.averagePooling3d({ name: 'pool', poolSize: [2, 2, 3], strides: [1, 2, 1] })] },
    { name: 'avgpool3d_same_s2', about: 'AveragePooling3D 3x3x3 same strides 2: average over valid cells (gradient: avgSame3)',
      input: [5, 4, 5, 2], layers: () => [L.averagePooling3d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' })],
      gradRef: (x) => avgSame3(x, [3, 3, 3], [2, 2, 2]) },
    { name: 'gap3d', about: 'GlobalAveragePooling3D (reference: tf.mean over D,H,W)', input: [3, 4, 2, 5],
      layers: standIn('gap'), topology: asKeras('GlobalAveragePooling3D', { name: 'gap' }),
      ref: (x) => tf.mean(x, [1, 2, 3]) },
    { name: 'gap3d_keepdims', about: 'GlobalAveragePooling3D keepdims=true', input: [2, 3, 4, 3],
      layers: standIn('gap'), topology: asKeras('GlobalAveragePooling3D', { name: 'gap', keepdims: true }),
      ref: (x) => tf.mean(x, [1, 2, 3], true) },
    { name: 'gmp3d', about: 'GlobalMaxPooling3D (reference: tf.max over D,H,W)', input: [3, 2, 4, 5],
      layers: standIn('gmp'), topology: asKeras('GlobalMaxPooling3D', { name: 'gmp' }),
      ref: (x) => tf.max(x, [1, 2, 3]) },
    { name: 'gmp3d_keepdims', about: 'GlobalMaxPooling3D keepdims=true', input: [2, 3, 2, 4],
      layers: standIn('gmp'), topology: asKeras('GlobalMaxPooling3D', { name: 'gmp', keepdims: true }),
      ref: (x) => tf.max(x, [1, 2, 3], true) },
    { name: 'upsampling3d', about: 'UpSampling3D size (2,1,3) (reference: tf.gather)', input: [2, 3, 2, 2],
      layers: standIn('up'), topology: asKeras('UpSampling3D', { name: 'up', size: [2, 1, 3] }),
      ref: (x) => upsample(x, [2, 1, 3]) },
    { name: 'upsampling3d_int', about: 'UpSampling3D size 2', input: [2, 2, 3, 2],
      layers: standIn('up'), topology: asKeras('UpSampling3D', { name: 'up', size: 2 }),
      ref: (x) => upsample(x, [2, 2, 2]) },
    { name: 'zeropad3d_full', about: 'ZeroPadding3D ((1,0),(0,2),(2,1)) (reference: tf.pad)', input: [2, 3, 2, 2],
      layers: standIn('pad'), topology: asKeras('ZeroPadding3D', { name: 'pad', padding: [[1, 0], [0, 2], [2, 1]] }),
      ref: (x) => tf.pad(x, [[0, 0], [1, 0], [0, 2], [2, 1], [0, 0]]) },
    { name: 'zeropad3d_sym', about: 'ZeroPadding3D (1,0,2) symmetric', input: [2, 2, 3, 2],
      layers: standIn('pad'), topology: asKeras('ZeroPadding3D', { name: 'pad', padding: [1, 0, 2] }),
      ref: (x) => tf.pad(x, [[0, 0], [1, 1], [0, 0], [2, 2], [0, 0]]) },
    { name: 'zeropad3d_int', about: 'ZeroPadding3D 1', input: [2, 2, 2, 3],
      layers: standIn('pad'), topology: asKeras('ZeroPadding3D', { name: 'pad', padding: 1 }),
      ref: (x) => tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]) },
    { name: 'crop3d_full', about: 'Cropping3D ((1,0),(0,2),(1,1)) (reference: tf.slice)', input: [4, 5, 4, 2],
      layers: standIn('crop'), topology: asKeras('Cropping3D', { name: 'crop', cropping: [[1, 0], [0, 2], [1, 1]] }),
      ref: (x) => tf.slice(x, [0, 1, 0, 1, 0], [-1, 3, 3, 2, -1]) },
    { name: 'crop3d_int', about: 'Cropping3D 1', input: [4, 3, 5, 2],
      layers: standIn('crop'), topology: asKeras('Cropping3D', { name: 'crop', cropping: 1 }),
      ref: (x) => tf.slice(x, [0, 1, 1, 1, 0], [-1, 2, 1, 3, -1]) },
    { name: 'block3d', about: 'Conv3D relu, MaxPooling3D, Conv3DTranspose, Dense on the channel axis (5-D), sigmoid',
      input: [4, 4, 4, 1], layers: () => [
        L.conv3d({ name: 'c1', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
        L.maxPooling3d({ name: 'p1', poolSize: 2 }),
        L.conv3dTranspose({ name: 't1', filters: 2, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
        L.dense({ name: 'fc', units: 1, activation: 'sigmoid' })],
      refW: (x, w) => {
        const h = tf.maxPool3d(tf.relu(tf.add(tf.conv3d(x, w['c1/kernel'], 1, 'same'), w['c1/bias'])), 2, 2, 'valid');
        const t = tconvRef(h, w['t1/kernel'], [2, 2, 2], true);
        return tf.sigmoid(tf.add(tf.matMul(tf.reshape(t, [-1, 2]), w['fc/kernel']), w['fc/bias'])).reshape([t.shape[0], 4, 4, 4, 1]);
      } },
  ];
};
