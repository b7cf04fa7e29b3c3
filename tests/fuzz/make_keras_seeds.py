#!/usr/bin/python3
"""Seeds of fuzz_keras (tests/fuzz/corpus/keras/): tiny Keras 3 .keras files
written by tools/h5/tfjs_to_keras.py from small TF.js models made here: a
Sequential Dense(3, softmax) on 4 inputs (dense_1; its weights go to
layers/dense) stored and deflated, and a functional Dense + BatchNormalization
+ Add model. usage: make_keras_seeds.py OUT_DIR (run with /usr/bin/python3)"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conv = os.path.join(here, '..', '..', 'tools', 'h5', 'tfjs_to_keras.py')
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def folder(t, topo, weights):
    data = b''.join(v.astype('<f4').tobytes() for _, v in weights)
    open(os.path.join(t, 'w.bin'), 'wb').write(data)
    json.dump({'format': 'layers-model', 'modelTopology': topo, 'weightsManifest': [
        {'paths': ['w.bin'], 'weights': [{'name': n, 'shape': list(v.shape), 'dtype': 'float32'}
                                         for n, v in weights]}]},
              open(os.path.join(t, 'model.json'), 'w'))


with tempfile.TemporaryDirectory() as t:
    dense = {'class_name': 'Dense', 'config': {'name': 'dense_1', 'units': 3,
             'activation': 'softmax', 'use_bias': True, 'batch_input_shape': [None, 4],
             'dtype': 'float32', 'trainable': True}}
    folder(t, {'class_name': 'Sequential', 'config': {'name': 'seq', 'layers': [dense]}},
           [('dense_1/kernel', rng.standard_normal((4, 3))),
            ('dense_1/bias', rng.standard_normal(3))])
    subprocess.run([sys.executable, conv, t, os.path.join(out, 'sequential.keras')], check=True)
    subprocess.run([sys.executable, conv, t, os.path.join(out, 'deflated.keras'), '--deflate',
                    '--legacy-top', '--optimizer'], check=True)
with tempfile.TemporaryDirectory() as t:
    def node(*names):
        return [[[n, 0, 0, {}] for n in names]]
    layers = [
        {'class_name': 'InputLayer', 'name': 'in', 'inbound_nodes': [],
         'config': {'name': 'in', 'batch_input_shape': [None, 4], 'dtype': 'float32'}},
        {'class_name': 'Dense', 'name': 'd', 'inbound_nodes': node('in'),
         'config': {'name': 'd', 'units': 4, 'activation': 'relu', 'use_bias': True}},
        {'class_name': 'BatchNormalization', 'name': 'bn', 'inbound_nodes': node('d'),
         'config': {'name': 'bn', 'axis': -1, 'epsilon': 0.001, 'momentum': 0.99}},
        {'class_name': 'Add', 'name': 'add', 'inbound_nodes': node('bn', 'in'),
         'config': {'name': 'add'}},
    ]
    topo = {'class_name': 'Functional', 'config': {'name': 'fn', 'layers': layers,
            'input_layers': [['in', 0, 0]], 'output_layers': [['add', 0, 0]]}}
    folder(t, topo, [('d/kernel', rng.standard_normal((4, 4))), ('d/bias', rng.standard_normal(4)),
                     ('bn/gamma', rng.random(4) + 0.5), ('bn/beta', rng.standard_normal(4)),
                     ('bn/moving_mean', rng.standard_normal(4)),
                     ('bn/moving_variance', rng.random(4) + 0.5)])
    subprocess.run([sys.executable, conv, t, os.path.join(out, 'functional.keras'),
                    '--no-empty-groups'], check=True)
