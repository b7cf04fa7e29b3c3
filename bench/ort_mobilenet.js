#!/usr/bin/env node
// ONNX Runtime peer: times the MobileNetV2 exported by bench/torch_mobilenet.py
// with onnxruntime-node (CPU, intra-op threads T, inter-op 1, sequential).
// Prints one JSON line per batch size: median and min ms per image after warm-up.
//
// usage: node bench/ort_mobilenet.js MODEL.onnx [--threads 2] [--batches 1,32] [--iters N]
// onnxruntime-node comes from tools/node_modules (tools/setup.sh --bench) or NODE_PATH.
'use strict';
const path = require('path');
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  ort = require(path.join(__dirname, '..', 'tools', 'node_modules', 'onnxruntime-node'));
}

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

async function main() {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) {
    console.error('usage: node bench/ort_mobilenet.js MODEL.onnx [--threads T] [--batches 1,32] [--iters N]');
    process.exit(2);
  }
  const threads = parseInt(arg('--threads', '2'), 10);
  const batches = arg('--batches', '1,32').split(',').map(Number);
  const iters = parseInt(arg('--iters', '0'), 10);
  const sess = await ort.InferenceSession.create(file, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inName = sess.inputNames[0];
  for (const b of batches) {
    const x = new Float32Array(b * 3 * 224 * 224);
    let seed = 7;
    for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = seed / 4294967296; }
    const feeds = { [inName]: new ort.Tensor('float32', x, [b, 3, 224, 224]) };
    const n = iters || (b === 1 ? 30 : 6);
    for (let i = 0; i < 3; i++) await sess.run(feeds);   // warm-up
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await sess.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6 / b);
    }
    ms.sort((a, c) => a - c);
    const med = ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
    console.log(JSON.stringify({ peer: 'onnxruntime-node', version: ort.env.versions ? ort.env.versions.common : undefined,
      threads, batch: b, iters: n, ms_per_image_median: med, ms_per_image_min: ms[0] }));
  }
}
main().catch((e) => { console.error('ort_mobilenet: ' + e.message); process.exit(1); });
