#!/usr/bin/python3
"""Writes a nested architecture as a TF.js folder (a Sequential "base" of two
Dense layers inside a Sequential, then a Dense head; zero weights) and a
Keras 3 weights-only file for it, laid out as Keras 3's save_weights writes
one (keras/src/saving/saving_lib.py: each layers list is a container whose
entries are named by class in snake case, _1, _2, ... counted afresh per
list; a nested model's layers under <its path>/layers; variables in
<path>/vars/0, 1, ...; tools/h5/KERAS_FORMATS.md), with numpy's output for
those weights. Test data for tests/test_keras_files.c.

usage: nested_weights.py OUT_DIR
writes OUT_DIR/{arch/model.json, arch/weights.bin, model.weights.h5, x.f32 [3,4], y.f32 [3,2]}
Needs Debian's python3-h5py and numpy (run with /usr/bin/python3)."""
import json
import os
import sys

import h5py
import numpy as np


def dense(name, units, act, shape=None):
    c = {'name': name, 'units': units, 'activation': act, 'use_bias': True, 'trainable': True,
         'dtype': 'float32'}
    if shape:
        c['batch_input_shape'] = shape
    return {'class_name': 'Dense', 'config': c}


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(3)
    w = {'b_d1': (rng.normal(0, 0.7, (4, 5)), rng.normal(0, 0.3, 5)),
         'b_d2': (rng.normal(0, 0.7, (5, 3)), rng.normal(0, 0.3, 3)),
         'head': (rng.normal(0, 0.7, (3, 2)), rng.normal(0, 0.3, 2))}
    topo = {'class_name': 'Sequential', 'config': {'name': 'outer', 'layers': [
        {'class_name': 'Sequential', 'config': {'name': 'base', 'layers': [
            dense('b_d1', 5, 'relu', [None, 4]), dense('b_d2', 3, 'tanh')]}},
        dense('head', 2, 'linear')]}}
    os.makedirs(os.path.join(out, 'arch'), exist_ok=True)
    specs = []
    for name, (k, b) in w.items():
        specs += [{'name': name + '/kernel', 'shape': list(k.shape), 'dtype': 'float32'},
                  {'name': name + '/bias', 'shape': list(b.shape), 'dtype': 'float32'}]
    n = sum(int(np.prod(s['shape'])) for s in specs)
    np.zeros(n, np.float32).tofile(os.path.join(out, 'arch', 'weights.bin'))
    json.dump({'format': 'layers-model', 'generatedBy': 'tools/h5/nested_weights.py',
               'convertedBy': None, 'modelTopology': topo,
               'weightsManifest': [{'paths': ['weights.bin'], 'weights': specs}]},
              open(os.path.join(out, 'arch', 'model.json'), 'w'))
    paths = {'b_d1': 'layers/sequential/layers/dense', 'b_d2': 'layers/sequential/layers/dense_1',
             'head': 'layers/dense'}
    with h5py.File(os.path.join(out, 'model.weights.h5'), 'w') as f:
        f.create_group('vars')
        f.create_group('layers/sequential/vars')
        for name, (k, b) in w.items():
            g = f.create_group(paths[name] + '/vars')
            g.create_dataset('0', data=k.astype(np.float32))
            g.create_dataset('1', data=b.astype(np.float32))
    x = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    x.tofile(os.path.join(out, 'x.f32'))
    f32 = {k: (a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64))
           for k, (a, b) in w.items()}
    h = np.maximum(x @ f32['b_d1'][0] + f32['b_d1'][1], 0)
    h = np.tanh(h @ f32['b_d2'][0] + f32['b_d2'][1])
    (h @ f32['head'][0] + f32['head'][1]).astype(np.float32).tofile(os.path.join(out, 'y.f32'))


if __name__ == '__main__':
    main()
