'use strict';
// Small helpers shared by the IDX converters (fmnist_to_idx.js, mnist_to_idx.js).
// IDX format (MNIST): big-endian uint32 magic 0x00000800 | (type<<8) | ndim
// (type 0x08 = unsigned byte), then ndim big-endian uint32 dimensions, then
// the raw data in row-major order.

const fs = require('fs');
const path = require('path');

const ROWS = 28, COLS = 28, PIXELS = ROWS * COLS;

function idxHeader(dims) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

// Write `buf` to `file` atomically: temp file in the same folder, fsync, rename.
function writeAtomic(file, buf) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// images: array of Uint8Array(784); labels: array of ints 0..9.
function writeIdxPair(imgFile, lblFile, images, labels) {
  if (images.length !== labels.length) throw new Error('images/labels length mismatch');
  const n = images.length;
  const img = Buffer.alloc(16 + n * PIXELS);
  idxHeader([n, ROWS, COLS]).copy(img, 0);
  images.forEach((im, i) => img.set(im, 16 + i * PIXELS));
  const lbl = Buffer.alloc(8 + n);
  idxHeader([n]).copy(lbl, 0);
  labels.forEach((l, i) => { lbl[8 + i] = l; });
  writeAtomic(imgFile, img);
  writeAtomic(lblFile, lbl);
}

// Re-read an IDX pair and check magic numbers, dimensions, file sizes and labels.
function verifyIdxPair(imgFile, lblFile, n) {
  const img = fs.readFileSync(imgFile);
  const lbl = fs.readFileSync(lblFile);
  const want = [16 + n * PIXELS, 8 + n];
  if (img.length !== want[0]) throw new Error(`${imgFile}: ${img.length} bytes, expected ${want[0]}`);
  if (lbl.length !== want[1]) throw new Error(`${lblFile}: ${lbl.length} bytes, expected ${want[1]}`);
  if (img.readUInt32BE(0) !== 0x00000803 || img.readUInt32BE(4) !== n ||
      img.readUInt32BE(8) !== ROWS || img.readUInt32BE(12) !== COLS)
    throw new Error(`${imgFile}: bad IDX header`);
  if (lbl.readUInt32BE(0) !== 0x00000801 || lbl.readUInt32BE(4) !== n)
    throw new Error(`${lblFile}: bad IDX header`);
  for (let i = 8; i < lbl.length; i++)
    if (lbl[i] > 9) throw new Error(`${lblFile}: label ${lbl[i]} out of range at ${i - 8}`);
  return want;
}

function readJsonData(file) {
  let obj;
  try {
    obj = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read/parse JSON: ${e.message}`);
  }
  if (!obj || !Array.isArray(obj.data)) throw new Error(`${file}: no "data" array`);
  return obj.data;
}

module.exports = { ROWS, COLS, PIXELS, writeAtomic, writeIdxPair, verifyIdxPair, readJsonData };
