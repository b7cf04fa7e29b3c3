#!/usr/bin/env node
'use strict';
// Turn the bundled models of the npm package nsfwjs@4.3.0 into plain TF.js
// model folders (model.json + *.bin shards).
//
// usage: node tools/nsfwjs_to_tfjs.js <extracted-nsfwjs-package-dir> <out-models-dir> [model ...]
//        default models: mobilenet_v2 mobilenet_v2_mid inception_v3
//
// In the package, dist/models/<model>/model.min.js and group1-shardXofY.min.js
// are browserify UMD bundles. model.min.js exports the model.json object
// ({modelTopology, weightsManifest[, format, ...]}); each shard module exports
// the shard's bytes as ONE base64 string. We evaluate the bundles in an empty
// vm context (no require, no fs, no globals of ours), decode the base64, and
// write <out>/<model>/model.json with weightsManifest paths "<shard>.bin".
//
// Checks: each shard decodes to valid base64 (re-encoding matches); the total
// of the shard sizes equals sum over the manifest of prod(shape) * bytes per
// stored element (quantization.dtype if quantized, else dtype).

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { writeAtomic } = require('./idxlib');

const DEFAULT_MODELS = ['mobilenet_v2', 'mobilenet_v2_mid', 'inception_v3'];
const BYTES = { uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, float16: 2, float32: 4, int32: 4 };

const PREPROCESSING = {
  mobilenet_v2:
    'nsfwjs feeds pixels x/255 in [0,1], RGB, 224x224 (NHWC, batch 1).\n' +
    'Layers model (Keras 2.2.4 topology). Output: 5 softmax probabilities,\n' +
    'classes 0 Drawing, 1 Hentai, 2 Neutral, 3 Porn, 4 Sexy.\n' +
    'nsfwjs itself divides by 255 first, then (if the image is not 224x224)\n' +
    'resizes with tf.image.resizeBilinear(..., alignCorners=true).\n',
  mobilenet_v2_mid:
    'nsfwjs feeds pixels x/255 in [0,1], RGB, 224x224 (NHWC, batch 1).\n' +
    'GRAPH model (format "graph-model", TF.js converter 1.7.4): the graph itself\n' +
    'maps the input to [-1,1] (hub_input/Mul by 2 then Sub 1). Input node "input",\n' +
    'output node "Identity" (5 softmax probabilities, same classes as mobilenet_v2).\n',
  inception_v3:
    'nsfwjs feeds pixels x/255 in [0,1], RGB, 299x299 (NHWC, batch 1).\n' +
    'Layers model (Keras 2.2.4 topology). Output: 5 softmax probabilities,\n' +
    'classes 0 Drawing, 1 Hentai, 2 Neutral, 3 Porn, 4 Sexy.\n',
};

function loadBundle(file) {
  const code = fs.readFileSync(file, 'utf8');
  const mod = { exports: {} };
  const ctx = vm.createContext({ module: mod, exports: mod.exports });
  vm.runInContext(code, ctx, { filename: file, timeout: 60000 });
  return mod.exports;
}

function shardBytes(exp, file) {
  if (typeof exp === 'string') {
    const buf = Buffer.from(exp, 'base64');
    const strip = (s) => s.replace(/=+$/, '');
    if (strip(buf.toString('base64')) !== strip(exp.replace(/\s+/g, '')))
      throw new Error(`${file}: export is a string but not valid base64`);
    return { buf, kind: 'base64 string' };
  }
  if (Buffer.isBuffer(exp)) return { buf: exp, kind: 'Buffer' };
  if (exp instanceof Uint8Array || (exp && exp.constructor && exp.constructor.name === 'Uint8Array'))
    return { buf: Buffer.from(exp.buffer, exp.byteOffset, exp.byteLength), kind: 'Uint8Array' };
  if (exp && typeof exp.byteLength === 'number' && typeof exp.slice === 'function')
    return { buf: Buffer.from(new Uint8Array(exp)), kind: 'ArrayBuffer' };
  if (Array.isArray(exp) && exp.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))
    return { buf: Buffer.from(exp), kind: 'number array' };
  throw new Error(`${file}: unsupported shard export type ${typeof exp}`);
}

function expectedBytes(manifest) {
  let total = 0;
  for (const group of manifest)
    for (const w of group.weights) {
      const dt = w.quantization ? w.quantization.dtype : w.dtype;
      if (!(dt in BYTES)) throw new Error(`weight ${w.name}: unknown stored dtype ${dt}`);
      total += w.shape.reduce((a, b) => a * b, 1) * BYTES[dt];
    }
  return total;
}

function convert(pkg, outRoot, name) {
  const src = path.join(pkg, 'dist', 'models', name);
  const out = path.join(outRoot, name);
  const m = loadBundle(path.join(src, 'model.min.js'));
  if (!m || typeof m !== 'object' || !m.modelTopology || !Array.isArray(m.weightsManifest))
    throw new Error(`${name}: model.min.js did not export {modelTopology, weightsManifest}`);
  const manifest = m.weightsManifest.map((g) => ({
    paths: g.paths.map((p) => `${p}.bin`),
    weights: g.weights,
  }));
  let total = 0;
  const kinds = new Set();
  const shards = [];
  for (const g of m.weightsManifest)
    for (const p of g.paths) {
      const f = path.join(src, `${p}.min.js`);
      const { buf, kind } = shardBytes(loadBundle(f), f);
      kinds.add(kind);
      shards.push([path.join(out, `${p}.bin`), buf]);
      total += buf.length;
    }
  const want = expectedBytes(m.weightsManifest);
  if (total !== want)
    throw new Error(`${name}: shards hold ${total} bytes, manifest needs ${want}`);
  const json = { format: m.format || 'layers-model' };
  for (const k of ['generatedBy', 'convertedBy']) if (m[k] !== undefined) json[k] = m[k];
  json.modelTopology = m.modelTopology;
  json.weightsManifest = manifest;
  if (m.userDefinedMetadata !== undefined) json.userDefinedMetadata = m.userDefinedMetadata;
  for (const [f, buf] of shards) writeAtomic(f, buf);
  writeAtomic(path.join(out, 'PREPROCESSING'), Buffer.from(PREPROCESSING[name] || ''));
  writeAtomic(path.join(out, 'model.json'), Buffer.from(JSON.stringify(json)));
  const nw = m.weightsManifest.reduce((a, g) => a + g.weights.length, 0);
  console.error(`nsfwjs_to_tfjs: ok: ${name}: ${json.format}, ${shards.length} shard(s) ` +
    `(${[...kinds].join(', ')}), ${total} bytes, ${nw} weights -> ${out}`);
}

function main() {
  const [pkg, outRoot, ...models] = process.argv.slice(2);
  if (!pkg || !outRoot) {
    console.error('usage: nsfwjs_to_tfjs.js <extracted-nsfwjs-package-dir> <out-models-dir> [model ...]');
    process.exit(2);
  }
  for (const name of models.length ? models : DEFAULT_MODELS) convert(pkg, outRoot, name);
}

try {
  main();
} catch (e) {
  console.error(`nsfwjs_to_tfjs: error: ${e.message}`);
  process.exit(1);
}
