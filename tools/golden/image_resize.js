#!/usr/bin/env node
// Goldens for crest's bilinear resize: tf.image.resizeBilinear (TF.js 4.22,
// cpu backend) on real photo pixels (jpeg-js decode of the sklearn sample
// images), in all align_corners / half_pixel_centers modes.
//
// usage:
//   NODE_PATH=tools/node_modules node tools/golden/image_resize.js
//       writes tests/golden/images/: china_crop.u8 (a 61x47 RGB crop of the
//       jpeg-js decode, raw uint8 HWC) and china_crop.<mode>.<h>x<w>.f32 resizes
//   node tools/golden/image_resize.js --decode IMG.jpg OUT.u8
//       the full jpeg-js decode as raw RGB uint8 (tests use it to compare on
//       the same pixels as tests/golden/mobilenet_v2/*.input.f32)
'use strict';
const fs = require('fs');
const path = require('path');
const jpeg = require('jpeg-js');

function decode(file) {
  const d = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
  return { h: d.height, w: d.width, rgb: Buffer.from(d.data.buffer, d.data.byteOffset, d.data.length) };
}

if (process.argv[2] === '--decode') {
  const d = decode(process.argv[3]);
  fs.writeFileSync(process.argv[4], d.rgb);
  console.log(JSON.stringify({ height: d.h, width: d.w }));
  process.exit(0);
}

const tf = require('@tensorflow/tfjs');
tf.setBackend('cpu').then(() => {
  const root = path.join(__dirname, '..', '..');
  const data = process.env.CREST_DATA || path.join(root, 'data');
  const out = path.join(root, 'tests', 'golden', 'images');
  fs.mkdirSync(out, { recursive: true });
  const d = decode(path.join(data, 'images', 'china.jpg'));
  const ch = 47, cw = 61, top = 150, left = 260;
  const crop = Buffer.alloc(ch * cw * 3);
  for (let y = 0; y < ch; y++) d.rgb.copy(crop, y * cw * 3, ((top + y) * d.w + left) * 3, ((top + y) * d.w + left + cw) * 3);
  fs.writeFileSync(path.join(out, 'china_crop.u8'), crop);
  const x = tf.tensor4d(Float32Array.from(crop), [1, ch, cw, 3]);
  const modes = { default: [false, false], align: [true, false], half: [false, true] };
  const sizes = [[50, 70], [17, 23], [1, 1], [47, 30]];
  const files = [];
  for (const [m, [ac, hp]] of Object.entries(modes)) {
    for (const [h, w] of sizes) {
      const y = tf.image.resizeBilinear(x, [h, w], ac, hp).dataSync();
      const f = `china_crop.${m}.${h}x${w}.f32`;
      fs.writeFileSync(path.join(out, f), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
      files.push(f);
    }
  }
  fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify({
    source: 'data/images/china.jpg (sklearn), jpeg-js 0.4.4 decode (RGB)',
    crop: { top, left, height: ch, width: cw, file: 'china_crop.u8', dtype: 'uint8 HWC' },
    op: 'tf.image.resizeBilinear(float32 crop, [h, w], alignCorners, halfPixelCenters)',
    tfjs: tf.version.tfjs, backend: tf.getBackend(),
    modes: { default: 'alignCorners=false, halfPixelCenters=false', align: 'alignCorners=true', half: 'halfPixelCenters=true' },
    files,
  }, null, 2) + '\n');
  console.log(`wrote ${files.length + 2} files to ${out}`);
});
