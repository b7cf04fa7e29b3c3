#!/usr/bin/python3
"""Writes a TF.js layers model (model.json + shards) as a Keras 2.x HDF5 file,
following the layout Keras' own HDF5 saver uses (tools/KERAS_FORMATS.md).
Test-data generator for crest's .h5 reader: crest must load the .h5 and the
TF.js folder to the same numbers.

usage: tfjs_to_h5.py MODEL_DIR OUT.h5 [--weights-only] [--dtype float32|float16|float64]
                     [--chunk-attrs N] [--vlen] [--keras-version V] [--backend B]
  --weights-only   Keras save_weights layout: layer_names and groups at the root
  --dtype          element type of the weight datasets
  --chunk-attrs N  write layer_names / weight_names in chunks NAME0, NAME1...
                   of N names each, as Keras does above HDF5's 64 KiB
                   object-header limit
  --vlen           variable-length strings (h5py's str) instead of Keras'
                   fixed-length bytes
Needs Debian's python3-h5py and numpy (run with /usr/bin/python3)."""
import argparse
import json
import os
import sys

import h5py
import numpy as np

# Keras' order of a layer's weights, by variable name (trainable first).
ORDER = ['kernel', 'depthwise_kernel', 'pointwise_kernel', 'recurrent_kernel', 'embeddings',
         'gamma', 'beta', 'bias', 'alpha', 'moving_mean', 'moving_variance']


def half_to_float(u16):
    return u16.view(np.float16).astype(np.float32)


def read_weights(model_dir, manifest):
    """{name: float32 array} decoded as crest decodes TF.js shards."""
    out = {}
    for group in manifest:
        data = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for spec in group['weights']:
            shape = spec['shape']
            count = int(np.prod(shape)) if shape else 1
            q = spec.get('quantization')
            if q and q['dtype'] in ('uint8', 'uint16'):
                dt = np.uint8 if q['dtype'] == 'uint8' else np.dtype('<u2')
                raw = np.frombuffer(data, dt, count, off)
                off += count * raw.itemsize
                vals = (q['min'] + q['scale'] * raw.astype(np.float64)).astype(np.float32)
            elif q:   # float16
                raw = np.frombuffer(data, np.dtype('<u2'), count, off)
                off += count * 2
                vals = half_to_float(raw)
            elif spec.get('dtype', 'float32') == 'int32':
                vals = np.frombuffer(data, np.dtype('<i4'), count, off).astype(np.float32)
                off += count * 4
            else:
                vals = np.frombuffer(data, np.dtype('<f4'), count, off).copy()
                off += count * 4
            out[spec['name']] = vals.reshape(shape)
    return out


def layer_names(config):
    cls = config['class_name']
    layers = config['config']['layers'] if isinstance(config['config'], dict) else config['config']
    names = []
    for l in layers:
        name = l.get('name') or l['config']['name']
        if cls == 'Sequential' and l['class_name'] == 'InputLayer':
            continue
        names.append(name)
    return names


MODEL_CLASSES = ('Sequential', 'Model', 'Functional')
NON_TRAINABLE = ('moving_mean', 'moving_variance')


def inner_layers(entry):
    """The layer names inside a nested model entry, depth first (Keras'
    model.layers order, nested models expanded)."""
    cfg = entry['config']
    layers = cfg['layers'] if isinstance(cfg, dict) else cfg
    out = []
    for l in layers:
        if l['class_name'] == 'InputLayer':
            continue
        if l['class_name'] in MODEL_CLASSES:
            out += inner_layers(l)
        else:
            out.append(l.get('name') or l['config']['name'])
    return out


def nested_models(config):
    """{name: entry} of the nested models among a model's layers."""
    layers = config['config']['layers'] if isinstance(config['config'], dict) else config['config']
    return {(l.get('name') or l['config']['name']): l for l in layers
            if l['class_name'] in MODEL_CLASSES}


def put_strings(obj, name, values, chunk, vlen):
    def conv(vs):
        if vlen:
            return np.array(vs, dtype=h5py.string_dtype())
        return np.array([v.encode('utf8') for v in vs], dtype='S%d' % max(1, max((len(v.encode('utf8')) for v in vs), default=1)))
    if chunk and len(values) > chunk:
        for i in range(0, len(values), chunk):
            obj.attrs['%s%d' % (name, i // chunk)] = conv(values[i:i + chunk])
    elif vlen:
        obj.attrs[name] = conv(values) if values else np.array([], dtype=h5py.string_dtype())
    else:
        obj.attrs[name] = conv(values) if values else np.array([], dtype='S1')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model_dir')
    ap.add_argument('out')
    ap.add_argument('--weights-only', action='store_true')
    ap.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'float64'])
    ap.add_argument('--chunk-attrs', type=int, default=0)
    ap.add_argument('--vlen', action='store_true')
    ap.add_argument('--keras-version', default='2.4.0')
    ap.add_argument('--backend', default='tensorflow')
    a = ap.parse_args()
    mj = json.load(open(os.path.join(a.model_dir, 'model.json')))
    topo = mj['modelTopology']
    config = topo.get('model_config', topo)
    config = {'class_name': config['class_name'], 'config': config['config']}
    weights = read_weights(a.model_dir, mj['weightsManifest'])
    by_layer = {}
    for name, v in weights.items():
        layer, var = name.split('/', 1)
        by_layer.setdefault(layer, []).append((var, v))
    names = layer_names(config)
    tmp = a.out + '.tmp'
    with h5py.File(tmp, 'w') as f:
        f.attrs['keras_version'] = a.keras_version.encode('utf8')
        f.attrs['backend'] = a.backend.encode('utf8')
        if a.weights_only:
            g = f
        else:
            f.attrs['model_config'] = json.dumps(config).encode('utf8')
            f.attrs['training_config'] = json.dumps({'loss': 'categorical_crossentropy'}).encode('utf8')
            g = f.create_group('model_weights')
            g.attrs['keras_version'] = a.keras_version.encode('utf8')
            g.attrs['backend'] = a.backend.encode('utf8')
        put_strings(g, 'layer_names', names, a.chunk_attrs, a.vlen)
        nested = nested_models(config)
        for lname in names:
            lg = g.create_group(lname)
            if lname in nested:
                # a nested model: Keras' legacy order, every trainable weight
                # of its layers, then the others, named "<layer>/<var>:0"
                # (datasets in sub-groups per layer)
                ws = []
                for inner in inner_layers(nested[lname]):
                    ws += [(inner, var, v) for var, v in sorted(
                        by_layer.pop(inner, []),
                        key=lambda t: ORDER.index(t[0]) if t[0] in ORDER else len(ORDER))]
                ws = [w for w in ws if w[1] not in NON_TRAINABLE] + \
                     [w for w in ws if w[1] in NON_TRAINABLE]
                wnames = ['%s/%s:0' % (inner, var) for inner, var, _ in ws]
                put_strings(lg, 'weight_names', wnames, a.chunk_attrs, a.vlen)
                for wn, (_, _, v) in zip(wnames, ws):
                    lg.create_dataset(wn, data=v.astype(a.dtype))
                continue
            ws = sorted(by_layer.pop(lname, []),
                        key=lambda t: ORDER.index(t[0]) if t[0] in ORDER else len(ORDER))
            wnames = ['%s/%s:0' % (lname, var) for var, _ in ws]
            put_strings(lg, 'weight_names', wnames, a.chunk_attrs, a.vlen)
            for wn, (_, v) in zip(wnames, ws):
                lg.create_dataset(wn, data=v.astype(a.dtype))
        if not a.weights_only:
            f.create_group('optimizer_weights').attrs['weight_names'] = np.array([b'Adam/iterations'])
            f['optimizer_weights'].create_dataset('Adam/iterations', data=np.int64(7))
    if by_layer:
        os.unlink(tmp)
        sys.exit('tfjs_to_h5: weights of unknown layers: %s' % ', '.join(sorted(by_layer)))
    os.replace(tmp, a.out)


if __name__ == '__main__':
    main()
