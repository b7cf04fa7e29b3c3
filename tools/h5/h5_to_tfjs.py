#!/usr/bin/python3
"""Writes a Keras 2.x HDF5 model (model.save layout: model_config and
model_weights) as a TF.js layers folder (model.json + weights.bin) that
real TF.js 4.22 opens: the test oracle for .h5 files no script here wrote.
crest reads the .h5 itself; TF.js reads this folder, and both must give the
same outputs.

usage: h5_to_tfjs.py MODEL.h5 OUT_DIR [--input-shape D1,D2,...]
  --input-shape   replace the input layer's shape (without batch and
                  channels), e.g. 16,16,16 for a smaller volume: a model
                  whose layers fit any size, run smaller (its weights stay)

modelTopology is the file's model_config as it is: TF.js 4.22 takes Keras
2.2.4's fields (InputLayer "sparse", Dropout "noise_shape": null,
Conv3DTranspose "output_padding": null) without edits. A non-null
output_padding is refused here, as TF.js would silently ignore it. Edits
(--input-shape only) are printed to stderr. Weights are named as TF.js does ("layer/weight", Keras' ":0" dropped),
float32, in the file's layer and weight order.
Needs Debian's python3-h5py and numpy (run with /usr/bin/python3)."""
import argparse
import json
import os
import sys

import h5py
import numpy as np


def text(v):
    return v.decode('utf8') if isinstance(v, bytes) else str(v)


def names(group, key):
    """An attribute list of names, whole or chunked as Keras writes it past
    64 KiB (key0, key1, ...)."""
    if key in group.attrs:
        return [text(n) for n in group.attrs[key]]
    out, i = [], 0
    while f'{key}{i}' in group.attrs:
        out += [text(n) for n in group.attrs[f'{key}{i}']]
        i += 1
    return out


def patch_topology(cfg, input_shape):
    edits = []
    for layer in cfg['config']['layers']:
        c = layer['config']
        cls = layer['class_name']
        if cls in ('Conv2DTranspose', 'Conv3DTranspose') and c.get('output_padding') is not None:
            sys.exit(f"{c['name']}: output_padding {c['output_padding']}: TF.js would ignore it")
        if cls == 'InputLayer' and input_shape:
            old = c['batch_input_shape']
            c['batch_input_shape'] = [old[0]] + input_shape + [old[-1]]
            edits.append(f"{c['name']}: batch_input_shape {old} -> {c['batch_input_shape']}")
    return edits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('h5')
    ap.add_argument('out')
    ap.add_argument('--input-shape')
    a = ap.parse_args()
    shape = [int(v) for v in a.input_shape.split(',')] if a.input_shape else None
    f = h5py.File(a.h5, 'r')
    cfg = json.loads(text(f.attrs['model_config']))
    edits = patch_topology(cfg, shape)
    for e in edits:
        print(f'h5_to_tfjs: {e}', file=sys.stderr)
    mw = f['model_weights'] if 'model_weights' in f else f
    specs, blobs = [], []
    for layer in names(mw, 'layer_names'):
        g = mw[layer]
        for w in names(g, 'weight_names'):
            v = np.asarray(g[w], dtype='<f4')
            name = w[:-2] if w.endswith(':0') else w
            specs.append({'name': name, 'shape': list(v.shape), 'dtype': 'float32'})
            blobs.append(v.tobytes())
    os.makedirs(a.out, exist_ok=True)
    topo = {'class_name': cfg['class_name'], 'config': cfg['config'],
            'keras_version': text(f.attrs.get('keras_version', '')),
            'backend': text(f.attrs.get('backend', ''))}
    with open(os.path.join(a.out, 'model.json'), 'w') as o:
        json.dump({'format': 'layers-model', 'generatedBy': 'tools/h5/h5_to_tfjs.py',
                   'convertedBy': None, 'modelTopology': topo,
                   'weightsManifest': [{'paths': ['weights.bin'], 'weights': specs}]}, o)
    with open(os.path.join(a.out, 'weights.bin'), 'wb') as o:
        o.write(b''.join(blobs))


if __name__ == '__main__':
    main()
