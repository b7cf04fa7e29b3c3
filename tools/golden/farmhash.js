// farmhash.js - golden buckets of FarmHash Fingerprint64 from TF.js'
// stringToHashBucketFast (tfjs 4.22 cpu): strings of lengths 0..200 (every
// branch of the hash), bucketed mod two large primes. Writes JSON to stdout.
// usage: NODE_PATH=tools/node_modules node tools/golden/farmhash.js > tests/golden/farmhash.json
const tf = require('@tensorflow/tfjs');
const strs = [];
for (let n = 0; n <= 200; n++) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(33 + ((i * 7 + n * 13) % 94));
  strs.push(s);
}
strs.push('A', 'B', 'C', 'D', 'E', 'Adelie', 'Torgersen', 'female');
const out = { strings: strs };
for (const m of [2147483647, 1000003, 3]) {
  out['mod_' + m] = Array.from(tf.string.stringToHashBucketFast(tf.tensor(strs, undefined, 'string'), m).dataSync());
}
process.stdout.write(JSON.stringify(out) + '\n');
