// seeded.js - the golden generators' deterministic numbers: a xorshift
// uniform generator per seed, and tensors filled from one.
'use strict';

// Uniform numbers in [lo, hi) from seed (xorshift32): r(lo, hi).
function rng(seed) {
  let s = seed >>> 0 || 1;
  return (lo, hi) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 4294967296);
  };
}

// fill(shape, r, lo, hi): a tf tensor of shape drawn from r.
function filler(tf) {
  return (shape, r, lo, hi) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = r(lo, hi);
    return tf.tensor(a, shape);
  };
}

module.exports = { rng, filler };
