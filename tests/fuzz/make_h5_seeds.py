#!/usr/bin/python3
"""Seeds of fuzz_h5 (tests/fuzz/corpus/h5/): tiny Keras HDF5 files written by
tools/h5/tfjs_to_h5.py from a small TF.js model made here, Sequential
Dense(3, softmax) on 4 inputs (dense_1), in each layout variant the reader
handles: whole model, weights only, float64 and chunked variable-length
names, float16. usage: make_h5_seeds.py OUT_DIR (run with /usr/bin/python3)"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conv = os.path.join(here, '..', '..', 'tools', 'h5', 'tfjs_to_h5.py')
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as t:
    rng = np.random.default_rng(7)
    k = rng.standard_normal((4, 3)).astype('<f4')
    b = rng.standard_normal(3).astype('<f4')
    open(os.path.join(t, 'w.bin'), 'wb').write(k.tobytes() + b.tobytes())
    topo = {'class_name': 'Sequential', 'config': {'name': 'seq', 'layers': [
        {'class_name': 'Dense', 'config': {'name': 'dense_1', 'units': 3, 'activation': 'softmax',
                                           'use_bias': True, 'batch_input_shape': [None, 4],
                                           'dtype': 'float32', 'trainable': True}}]}}
    json.dump({'format': 'layers-model', 'modelTopology': topo, 'weightsManifest': [
        {'paths': ['w.bin'], 'weights': [
            {'name': 'dense_1/kernel', 'shape': [4, 3], 'dtype': 'float32'},
            {'name': 'dense_1/bias', 'shape': [3], 'dtype': 'float32'}]}]},
              open(os.path.join(t, 'model.json'), 'w'))
    variants = {'model.h5': [], 'weights_only.h5': ['--weights-only'],
                'f64_chunked_vlen.h5': ['--dtype', 'float64', '--chunk-attrs', '1', '--vlen'],
                'f16.h5': ['--dtype', 'float16', '--keras-version', '2.2.4', '--backend', 'theano']}
    for name, opts in variants.items():
        subprocess.run([sys.executable, conv, t, os.path.join(out, name)] + opts, check=True)
