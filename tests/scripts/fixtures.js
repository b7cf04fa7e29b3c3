// fixtures.js - small data made at test time for tests/scripts/scenarios.sh
// and bad_input.sh (nothing binary is committed):
//   node fixtures.js images OUT         OUT/train/{china,flower}/*.jpg|png (6 each),
//                                       OUT/val/{china,flower}/* (2 each): crops and
//                                       mirror images of data/images/{china,flower}.jpg
//   node fixtures.js idx DATA OUT NTRAIN NTEST   the first images of DATA/fashion-mnist
//                                       as an IDX folder (train-* and t10k-*)
//   node fixtures.js png OUT W H [bomb]  a W x H grey PNG; "bomb": the header only
//                                       claims W x H, the data is one short row
//   node fixtures.js f32 OUT N VALUE    N float32 values (VALUE or "nan")
//   node fixtures.js mutate DIR CODE    runs CODE on j (DIR/model.json, parsed) and b
//                                       (its first weights shard) and writes both back
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '../..');
const jpeg = require(path.join(root, 'tools/node_modules/jpeg-js'));

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// rgb: Buffer of w*h*3 (or null with rows: a raw scanline buffer already filtered)
function png(w, h, channels, raw) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;                          // bit depth
  ihdr[9] = channels === 3 ? 2 : 0;     // RGB or grey
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
                        chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// A crop of an RGBA image (top, left, h, w), optionally mirrored, as RGB.
function crop(img, top, left, h, w, mirror) {
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sx = left + (mirror ? w - 1 - x : x), s = 4 * ((top + y) * img.width + sx);
      for (let c = 0; c < 3; c++) out[3 * (y * w + x) + c] = img.data[s + c];
    }
  return out;
}

function rgba(rgb, w, h) {
  const b = Buffer.alloc(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    b[4 * p] = rgb[3 * p]; b[4 * p + 1] = rgb[3 * p + 1]; b[4 * p + 2] = rgb[3 * p + 2];
    b[4 * p + 3] = 255;
  }
  return b;
}

function images(out) {
  for (const cls of ['china', 'flower']) {
    const img = jpeg.decode(fs.readFileSync(path.join(root, 'data/images', cls + '.jpg')));
    const w = 96, h = 72;
    for (const [part, n] of [['train', 6], ['val', 2]]) {
      const dir = path.join(out, part, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const k = part === 'train' ? i : 6 + i;
        const top = 40 + 37 * k % (img.height - h - 40), left = 60 + 71 * k % (img.width - w - 60);
        const rgb = crop(img, top, left, h, w, k % 2 === 1);
        if (i === n - 1) {              // one PNG per class folder
          const raw = Buffer.alloc(h * (1 + 3 * w));
          for (let y = 0; y < h; y++) rgb.copy(raw, y * (1 + 3 * w) + 1, 3 * w * y, 3 * w * (y + 1));
          fs.writeFileSync(path.join(dir, `${cls}${k}.png`), png(w, h, 3, raw));
        } else {
          fs.writeFileSync(path.join(dir, `${cls}${k}.jpg`),
                           jpeg.encode({ data: rgba(rgb, w, h), width: w, height: h }, 90).data);
        }
      }
    }
  }
}

function idx(data, out, ntrain, ntest) {
  fs.mkdirSync(out, { recursive: true });
  for (const [pre, n] of [['train', ntrain], ['t10k', ntest]]) {
    const im = fs.readFileSync(path.join(data, 'fashion-mnist', `${pre}-images-idx3-ubyte`));
    const lb = fs.readFileSync(path.join(data, 'fashion-mnist', `${pre}-labels-idx1-ubyte`));
    const hi = Buffer.from(im.subarray(0, 16)), hl = Buffer.from(lb.subarray(0, 8));
    hi.writeUInt32BE(n, 4);
    hl.writeUInt32BE(n, 4);
    fs.writeFileSync(path.join(out, `${pre}-images-idx3-ubyte`),
                     Buffer.concat([hi, im.subarray(16, 16 + n * 784)]));
    fs.writeFileSync(path.join(out, `${pre}-labels-idx1-ubyte`),
                     Buffer.concat([hl, lb.subarray(8, 8 + n)]));
  }
}

const [cmd, ...a] = process.argv.slice(2);
if (cmd === 'images') {
  images(a[0]);
} else if (cmd === 'idx') {
  idx(a[0], a[1], +a[2], +a[3]);
} else if (cmd === 'png') {
  const w = +a[1], h = +a[2];
  const bomb = a[3] === 'bomb', rows = bomb ? 1 : h, row = 1 + (bomb ? Math.min(w, 4096) : w);
  const raw = Buffer.alloc(rows * row, 7);
  for (let y = 0; y < rows; y++) raw[y * row] = 0;   // filter type 0
  fs.writeFileSync(a[0], png(w, h, 1, raw));
} else if (cmd === 'f32') {
  const n = +a[1], v = a[2] === 'nan' ? NaN : +a[2], b = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) b.writeFloatLE(v, 4 * i);
  fs.writeFileSync(a[0], b);
} else if (cmd === 'mutate') {
  const mj = path.join(a[0], 'model.json'), j = JSON.parse(fs.readFileSync(mj));
  const sp = path.join(a[0], j.weightsManifest[0].paths[0]);
  const [j2, b2] = new Function('j', 'b', `${a[1]}; return [j, b];`)(j, fs.readFileSync(sp));
  fs.writeFileSync(sp, b2);
  fs.writeFileSync(mj, typeof j2 === 'string' ? j2 : JSON.stringify(j2));
} else {
  console.error('usage: node fixtures.js images|idx|png|f32|mutate ...');
  process.exit(2);
}
