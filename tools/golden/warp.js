#!/usr/bin/env node
'use strict';
// Golden outputs of tf.image.transform (@tensorflow/tfjs 4.22, cpu backend),
// the image warp behind Keras' RandomRotation / RandomZoom /
// RandomTranslation / RandomFlip, for crest's warp op (src/ops/warp.c).
//
// usage: NODE_PATH=tools/node_modules node tools/golden/warp.js
// writes tests/golden/warp/:
//   input.f32     two images [2, 7, 6, 3], uniform in [-1, 1)
//   maps.f32      the maps, 8 floats each ([a0 a1 a2 b0 b1 b2 c0 c1], TF's)
//   out.f32       tf.image.transform(input, map m, interpolation, fill mode,
//                 fill value 0.25), for each map m, fill mode (reflect, wrap,
//                 constant, nearest) and interpolation (nearest, bilinear),
//                 in that nesting order, [2, 7, 6, 3] each
// Deterministic: re-running gives identical bytes.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

const OUT = path.resolve(__dirname, '..', '..', 'tests', 'golden', 'warp');
const H = 7, W = 6, C = 3;

let s = 12345;
function uniform() {   // xorshift32 in [0, 1)
  s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
  return s / 4294967296;
}

// Keras' maps (see warp.c) for fixed draws, and a projective one
function rotation(theta) {
  const c = Math.cos(theta), si = Math.sin(theta);
  return [c, -si, ((W - 1) - (c * (W - 1) - si * (H - 1))) / 2,
          si, c, ((H - 1) - (si * (W - 1) + c * (H - 1))) / 2, 0, 0];
}
function zoom(zy, zx) { return [zx, 0, (W - 1) / 2 * (1 - zx), 0, zy, (H - 1) / 2 * (1 - zy), 0, 0]; }
const maps = [
  rotation(0.3), rotation(-2.0), zoom(1.4, 1.4), zoom(0.7, 0.8),
  [1, 0, -2.3, 0, 1, 1.6, 0, 0],               // translation dx 2.3, dy -1.6
  [-1, 0, W - 1, 0, 1, 0, 0, 0],               // horizontal flip
  [1, 0, 0, 0, -1, H - 1, 0, 0],               // vertical flip
  [0.9, 0.13, 0.4, -0.11, 1.1, -0.3, 0.01, 0.02],   // projective
  // far outside: several periods. Its coordinates avoid exact halves: at a
  // tie TF.js rounds up (Math.round) where TF, whose semantics Keras has and
  // crest follows, rounds away from zero (std::round); they differ at -0.5.
  [3.5, 0, -9.1, 0, 2.45, -8.05, 0, 0],
];
fs.mkdirSync(OUT, { recursive: true });
const x = new Float32Array(2 * H * W * C).map(() => 2 * uniform() - 1);
fs.writeFileSync(path.join(OUT, 'input.f32'), Buffer.from(x.buffer));
fs.writeFileSync(path.join(OUT, 'maps.f32'), Buffer.from(new Float32Array(maps.flat()).buffer));
const img = tf.tensor4d(x, [2, H, W, C]);
let n = 0;
const outs = [];
maps.forEach((m, i) => {
  for (const fill of ['reflect', 'wrap', 'constant', 'nearest'])
    for (const interp of ['nearest', 'bilinear']) {
      // one image at a time: TF.js 4.22's cpu Transform returns after the
      // first image of a batch, leaving the others at the fill value
      for (let b = 0; b < 2; b++) {
        const one = img.slice([b, 0, 0, 0], [1, H, W, C]);
        outs.push(...tf.image.transform(one, tf.tensor2d([m], [1, 8]), interp, fill, 0.25).dataSync());
      }
      n++;
    }
});
fs.writeFileSync(path.join(OUT, 'out.f32'), Buffer.from(new Float32Array(outs).buffer));
console.log(`warp: ${maps.length} maps, ${n} outputs in ${OUT}`);
