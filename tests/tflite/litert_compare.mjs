// LiteRT.js (npm @litertjs/core: Google's TFLite runtime built to
// WebAssembly, its CPU path XNNPACK) runs a TFLite model crest exported on
// raw float32 inputs and compares its output 0 with crest's.
//
// usage: node tests/tflite/litert_compare.mjs MODEL.tflite X.f32 N REF.f32 [TOL [OUT.f32]]
//   X.f32: N samples of the model's input (NHWC, as crest infer takes);
//   REF.f32: crest's outputs for them. LiteRT's compiled models keep the
//   shapes the file states (batch 1), so the samples run one at a time.
//   Passes when max |litert - crest| <= TOL (default 1e-5) * max(1, max |crest|).
//   OUT.f32: LiteRT's outputs are written there too (float32).
// Prints one JSON line: {"max_abs_diff", "scale", "n", "ok"}; exit 1 when
// the outputs disagree or LiteRT refuses the model (its message on stderr).
// The package is found in tools/node_modules, or in CREST_LITERT (its folder).
//
// LiteRT.js is written for browsers: loading its wasm in Node needs what a
// page or worker would have: `self`, `importScripts` (run the loader script
// in this context), and the CommonJS names the Emscripten loader uses when
// it sees Node (`require`, `__dirname`). WebGPU is absent; the 'wasm'
// accelerator is used.
import fs from 'fs';
import path from 'path';
import vm from 'vm';
import { createRequire } from 'module';
import { fileURLToPath, pathToFileURL } from 'url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = process.env.CREST_LITERT ||
  path.join(here, '..', '..', 'tools', 'node_modules', '@litertjs', 'core');
const wasmDir = path.join(pkg, 'wasm');

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function load() {
  globalThis.self = globalThis;
  globalThis.importScripts = (url) => {
    const p = String(url).startsWith('file:') ? fileURLToPath(String(url)) : String(url);
    vm.runInThisContext(fs.readFileSync(p, 'utf8'), { filename: p });
  };
  globalThis.require = createRequire(path.join(wasmDir, 'loader.js'));
  globalThis.__dirname = wasmDir;
  globalThis.__filename = path.join(wasmDir, 'loader.js');
  globalThis.Module = { locateFile: (f) => path.join(wasmDir, f) };
  const quiet = console.warn;
  console.warn = () => {};       // "Failed to create default WebGPU device": expected here
  const lib = await import(pathToFileURL(path.join(pkg, 'dist', 'index.js')).href);
  await lib.loadLiteRt(wasmDir + path.sep);
  console.warn = quiet;
  return lib;
}

async function main() {
  const [model, xf, ns, reff, tols, outf] = process.argv.slice(2);
  if (!reff) {
    console.error('usage: node tests/tflite/litert_compare.mjs MODEL.tflite X.f32 N REF.f32 [TOL [OUT.f32]]');
    process.exit(2);
  }
  const n = parseInt(ns, 10), tol = tols ? parseFloat(tols) : 1e-5;
  const { loadAndCompile, Tensor } = await load();
  const m = await loadAndCompile(new Uint8Array(fs.readFileSync(model)), { accelerator: 'wasm' });
  const ins = m.getInputDetails();
  if (ins.length !== 1) throw new Error(`${ins.length} inputs: one expected`);
  const dims = Array.from(Object.values(ins[0].shape)).slice(1);
  const per = dims.reduce((a, c) => a * c, 1);
  const x = f32(xf), ref = f32(reff);
  if (x.length !== n * per) throw new Error(`X has ${x.length} floats, not ${n} x ${per}`);
  const y = [];
  for (let i = 0; i < n; i++) {
    const t = new Tensor(x.slice(i * per, (i + 1) * per), [1, ...dims]);
    const out = await m.run(t);
    const r = await out[0].moveTo('wasm');
    for (const v of r.toTypedArray()) y.push(v);   // no spread: outputs of 100k+ values
    t.delete();
    r.delete();
    for (const o of out) if (!o.deleted) o.delete();
  }
  if (outf) fs.writeFileSync(outf, Buffer.from(new Float32Array(y).buffer));
  if (y.length !== ref.length) throw new Error(`LiteRT gives ${y.length} values, crest ${ref.length}`);
  let d = 0, scale = 1;
  for (let i = 0; i < y.length; i++) {
    d = Math.max(d, Math.abs(y[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
    if (!Number.isFinite(y[i])) d = Infinity;
  }
  const ok = d <= tol * scale;
  console.log(JSON.stringify({ max_abs_diff: d, scale, n, ok }));
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(`litert_compare: ${e && e.message ? e.message : e}`); process.exit(1); });
