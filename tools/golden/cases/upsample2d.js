'use strict';
// Golden cases for the layers that make images larger: Conv2DTranspose
// (valid / same padding, strides, kernels larger and smaller than the
// stride) and UpSampling2D (nearest and bilinear, square and uneven sizes),
// as TF.js 4.22 computes them (tf.layers.upSampling2d calls
// resizeNearestNeighbor / resizeBilinear without half-pixel centers).
//
// TF.js 4.22's gradients of both resizes are wrong here: ResizeBilinear's
// fails on images that are not square (it swaps height and width), and
// ResizeNearestNeighbor's is wrong for every image of a batch after the
// first (checked against a batch of one). So UpSampling2D cases take their
// gradients from upRef: the same resize as two matrix products, one per
// axis (row r of an axis' matrix weighs source rows floor(r*in/out) and,
// bilinear, ceil(...) by the fraction; nearest, floor alone).
module.exports = (tf) => {
  const L = tf.layers;
  // [out, in] interpolation matrix of one axis, TF.js' source arithmetic
  const axisMatrix = (n, out, bilinear) => {
    const m = new Float32Array(out * n);
    for (let r = 0; r < out; r++) {
      const frac = (n / out) * r;
      if (!bilinear) {
        m[r * n + Math.min(n - 1, Math.floor(frac))] = 1;
        continue;
      }
      const lo = Math.max(0, Math.floor(frac)), hi = Math.min(n - 1, Math.ceil(frac));
      const f = frac - lo;
      m[r * n + lo] += 1 - f;
      m[r * n + hi] += f;
    }
    return tf.tensor2d(m, [out, n]);
  };
  // x [b,h,w,c] -> [b,h*sh,w*sw,c]
  const upRef = (x, sh, sw, bilinear) => {
    const [b, h, w, c] = x.shape, oh = h * sh, ow = w * sw;
    let t = tf.reshape(tf.transpose(x, [0, 2, 3, 1]), [b * w * c, h]);           // rows
    t = tf.matMul(t, axisMatrix(h, oh, bilinear), false, true);                              // [bwc, oh]
    t = tf.transpose(tf.reshape(t, [b, w, c, oh]), [0, 3, 2, 1]);                   // [b,oh,c,w]
    t = tf.matMul(tf.reshape(t, [b * oh * c, w]), axisMatrix(w, ow, bilinear), false, true);  // [b oh c, ow]
    return tf.transpose(tf.reshape(t, [b, oh, c, ow]), [0, 1, 3, 2]);
  };
  let conv;   // layers the gradient references apply (up_bilinear_32, up_tconv_chain)
  const chain = [];
  return [
    { name: 'tconv_same_s2', about: 'Conv2DTranspose 3x3 same, strides 2, relu', input: [3, 4, 3],
      layers: () => [L.conv2dTranspose({ name: 'tconv', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })] },
    { name: 'tconv_same_k4_s2', about: 'Conv2DTranspose 4x4 same, strides 2 (padding 1 each side)', input: [3, 3, 2],
      layers: () => [L.conv2dTranspose({ name: 'tconv', filters: 3, kernelSize: 4, strides: 2, padding: 'same' })] },
    { name: 'tconv_valid_s2', about: 'Conv2DTranspose 3x3 valid, strides 2 (out = 2h + 1), tanh', input: [3, 2, 3],
      layers: () => [L.conv2dTranspose({ name: 'tconv', filters: 2, kernelSize: 3, strides: 2, activation: 'tanh' })] },
    { name: 'tconv_valid_k1_s3', about: 'Conv2DTranspose 1x2 valid, strides (3,2): kernel within the stride (gaps are zero), no bias',
      input: [2, 3, 2], layers: () => [L.conv2dTranspose({ name: 'tconv', filters: 3, kernelSize: [1, 2], strides: [3, 2], useBias: false })] },
    { name: 'tconv_valid_s1', about: 'Conv2DTranspose (2,3) valid, strides 1', input: [4, 3, 3],
      layers: () => [L.conv2dTranspose({ name: 'tconv', filters: 2, kernelSize: [2, 3] })] },
    { name: 'up_nearest', about: 'UpSampling2D size 2, nearest', input: [3, 4, 2],
      layers: () => [L.upSampling2d({ name: 'up' })], gradRef: (x) => upRef(x, 2, 2, false) },
    { name: 'up_nearest_23', about: 'UpSampling2D size (2,3), nearest', input: [3, 5, 2],
      layers: () => [L.upSampling2d({ name: 'up', size: [2, 3] })], gradRef: (x) => upRef(x, 2, 3, false) },
    { name: 'up_bilinear', about: 'UpSampling2D size 2, bilinear (TF.js: no half-pixel centers)', input: [3, 4, 2],
      layers: () => [L.upSampling2d({ name: 'up', interpolation: 'bilinear' })],
      gradRef: (x) => upRef(x, 2, 2, true) },
    { name: 'up_bilinear_32', about: 'UpSampling2D size (3,2), bilinear, after a conv', input: [5, 3, 2],
      layers: () => [conv = L.conv2d({ name: 'conv', filters: 3, kernelSize: 1 }), L.upSampling2d({ name: 'up', size: [3, 2], interpolation: 'bilinear' })],
      gradRef: (x) => upRef(conv.apply(x), 3, 2, true) },
    { name: 'up_tconv_chain', about: 'Conv2D same relu, UpSampling2D 2 nearest, Conv2DTranspose 3x3 same s2', input: [3, 3, 2],
      layers: () => [chain[0] = L.conv2d({ name: 'conv', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
        L.upSampling2d({ name: 'up' }), chain[1] = L.conv2dTranspose({ name: 'tconv', filters: 2, kernelSize: 3, strides: 2, padding: 'same' })],
      gradRef: (x) => chain[1].apply(upRef(chain[0].apply(x), 2, 2, false)) },
  ];
};
