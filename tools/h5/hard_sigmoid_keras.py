#!/usr/bin/python3
"""Writes a `.keras` file whose Conv2D, Dense and Activation layers use the
activation "hard_sigmoid", and the outputs numpy computes for it under both
definitions: Keras 3's relu6(x + 3) / 6 (keras.src.activations.activations
.hard_sigmoid) and Keras 2's / TF.js' clip(0.2 x + 0.5, 0, 1)
(tools/h5/KERAS_FORMATS.md cites both). The file's metadata.json says
--keras-version (default 3.5.0); the zip's layout is tfjs_to_keras.py's
(Keras 3's saver). Test-data generator for tests/scripts/hard_sigmoid.sh.

usage: hard_sigmoid_keras.py OUT_DIR [--keras-version V]
writes OUT_DIR/{model.keras, x.f32 [2,5,5,2], y_keras3.f32, y_keras2.f32 [2,3]}
Needs Debian's python3-h5py and numpy (run with /usr/bin/python3)."""
import argparse
import json
import os
import sys
import zipfile

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfjs_to_keras import convert, weights_h5  # noqa: E402  (Keras 3's layout)


def hs_keras3(v):
    return np.minimum(np.maximum(v + 3.0, 0.0), 6.0) / 6.0


def hs_keras2(v):
    return np.clip(0.2 * v + 0.5, 0.0, 1.0)


def conv_same(x, k, b):
    """NHWC 'same' convolution, stride 1, odd kernel."""
    n, h, w, _ = x.shape
    kh, kw, _, co = k.shape
    p = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((n, h, w, co))
    for i in range(h):
        for j in range(w):
            y[:, i, j, :] = np.tensordot(p[:, i:i + kh, j:j + kw, :], k, axes=3)
    return y + b


def forward(x, w, hs):
    y = hs(conv_same(x, w['conv/kernel'], w['conv/bias']))
    y = y.reshape(y.shape[0], -1)
    y = hs(y @ w['hidden/kernel'] + w['hidden/bias'])
    y = y @ w['out/kernel'] + w['out/bias']
    return hs(y)


def layer(cls, name, **cfg):
    return {'class_name': cls, 'config': dict(name=name, trainable=True, dtype='float32', **cfg)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out_dir')
    ap.add_argument('--keras-version', default='3.5.0')
    a = ap.parse_args()
    rng = np.random.default_rng(5)
    w = {'conv/kernel': rng.normal(0, 0.8, (3, 3, 2, 3)), 'conv/bias': rng.normal(0, 0.5, 3),
         'hidden/kernel': rng.normal(0, 0.5, (75, 4)), 'hidden/bias': rng.normal(0, 0.5, 4),
         'out/kernel': rng.normal(0, 3.0, (4, 3)), 'out/bias': rng.normal(0, 1.0, 3)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    topo = {'class_name': 'Sequential', 'config': {'name': 'hard_sigmoid_model', 'layers': [
        layer('Conv2D', 'conv', batch_input_shape=[None, 5, 5, 2], filters=3, kernel_size=[3, 3],
              strides=[1, 1], padding='same', data_format='channels_last',
              dilation_rate=[1, 1], groups=1, activation='hard_sigmoid', use_bias=True),
        layer('Flatten', 'flat', data_format='channels_last'),
        layer('Dense', 'hidden', units=4, activation='hard_sigmoid', use_bias=True),
        layer('Dense', 'out', units=3, activation='linear', use_bias=True),
        layer('Activation', 'act', activation='hard_sigmoid'),
    ]}}
    config, order = convert(topo)
    opts = argparse.Namespace(legacy_top=False, no_empty_groups=False, optimizer=False)
    data = weights_h5(order, dict(w), 'hard_sigmoid_model', opts)
    os.makedirs(a.out_dir, exist_ok=True)
    with zipfile.ZipFile(os.path.join(a.out_dir, 'model.keras'), 'w') as z:
        z.writestr('metadata.json', json.dumps({'keras_version': a.keras_version,
                                                'date_saved': '2026-01-01@00:00:00'}))
        z.writestr('config.json', json.dumps(config))
        z.writestr('model.weights.h5', data)
    x = rng.uniform(-3, 3, (2, 5, 5, 2)).astype(np.float32)
    x.tofile(os.path.join(a.out_dir, 'x.f32'))
    xd = x.astype(np.float64)
    wd = {k: v.astype(np.float64) for k, v in w.items()}
    forward(xd, wd, hs_keras3).astype(np.float32).tofile(os.path.join(a.out_dir, 'y_keras3.f32'))
    forward(xd, wd, hs_keras2).astype(np.float32).tofile(os.path.join(a.out_dir, 'y_keras2.f32'))


if __name__ == '__main__':
    main()
