// tfjs_files.js - TF.js layers folders and raw float32 files on disk, for
// the test oracles (tests/tfjs/*.js) and the golden generators
// (tools/golden/*.js). TF.js without tfjs-node has no file:// handler, so a
// folder (model.json and its weight shards) is read here into the
// ModelArtifacts that tf.io.fromMemory takes. Takes tf from its caller, so
// it needs no modules of its own.
'use strict';
const fs = require('fs');
const path = require('path');

// model.json of dir and its shards, concatenated in manifest order.
function readArtifacts(dir) {
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weightSpecs = [], bufs = [];
  for (const g of mj.weightsManifest) {
    weightSpecs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(bufs);
  return { modelTopology: mj.modelTopology, format: mj.format, weightSpecs,
           weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
}

// The layers model of folder dir, loaded by tf.
function loadFolder(tf, dir) {
  return tf.loadLayersModel(tf.io.fromMemory(readArtifacts(dir)));
}

// A raw little-endian float32 file as a Float32Array (its own copy).
function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

// data (any array of numbers) as a raw little-endian float32 file.
function writeF32(file, data) {
  const f = Float32Array.from(data);
  fs.writeFileSync(file, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
}

module.exports = { readArtifacts, loadFolder, readF32, writeF32 };
