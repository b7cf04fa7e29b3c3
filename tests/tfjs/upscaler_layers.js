// upscaler_layers.js - the custom Keras layer classes of the UpscalerJS
// super-resolution models (npm @upscalerjs/*), registered in real TF.js so
// that it can open them: MultiplyBeta (x * beta) and PixelShuffle{2,3,4,8}x
// (depth_to_space by the layer's scale). Preloaded before the oracle:
//   NODE_PATH=tools/node_modules node -r ./tests/tfjs/upscaler_layers.js \
//       tests/tfjs/infer_model.js MODEL_DIR X.f32 SHAPE OUT.f32
// crest defines the same classes with no C code (--custom-layers).
'use strict';
const tf = require('@tensorflow/tfjs');

const first = (x) => (Array.isArray(x) ? x[0] : x);

class MultiplyBeta extends tf.layers.Layer {
  constructor(config) { super(config); this.beta = config.beta; }
  call(inputs) { return tf.tidy(() => tf.mul(first(inputs), this.beta)); }
  getConfig() { return { ...super.getConfig(), beta: this.beta }; }
  static get className() { return 'MultiplyBeta'; }
}
tf.serialization.registerClass(MultiplyBeta);

for (const n of [2, 3, 4, 8]) {
  const shuffle = class extends tf.layers.Layer {
    constructor(config) { super(config); this.scale = config.scale; }
    computeOutputShape(s) {
      const k = this.scale;
      return [s[0], s[1] === null ? null : s[1] * k, s[2] === null ? null : s[2] * k, s[3] / (k * k)];
    }
    call(inputs) { return tf.tidy(() => tf.depthToSpace(first(inputs), this.scale, 'NHWC')); }
    getConfig() { return { ...super.getConfig(), scale: this.scale }; }
    static get className() { return `PixelShuffle${n}x`; }
  };
  tf.serialization.registerClass(shuffle);
}
