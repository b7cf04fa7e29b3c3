#!/usr/bin/python3
"""Writes a TF.js layers model (model.json + shards) as a Keras 3 `.keras`
file, following the layout of Keras 3's own saver (tools/h5/KERAS_FORMATS.md
says where each fact comes from). Test-data generator for crest's .keras
reader: crest must load the .keras and the TF.js folder to the same numbers.

usage: tfjs_to_keras.py MODEL_DIR OUT.keras [--deflate] [--legacy-top]
                        [--no-empty-groups] [--optimizer] [--keras-version V]
                        [--drop MEMBER]
  --deflate          compress the members (Keras stores them uncompressed)
  --legacy-top       name the top weights group _layer_checkpoint_dependencies
                     as Keras 2.13-2.15 did, instead of layers
  --no-empty-groups  no groups for layers without weights (Keras makes one
                     for every layer; a reader must not need them)
  --optimizer        add optimizer/vars as a compiled model has
  --drop MEMBER      leave a member out of the zip (bad-file tests)
Needs Debian's python3-h5py and numpy (run with /usr/bin/python3)."""
import argparse
import io
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfjs_to_h5 import ORDER, read_weights  # noqa: E402  (same decoding of shards)


def snake(cls):
    """Keras 3 naming.to_snake_case."""
    s = re.sub(r'\W+', '', cls)
    s = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', s)
    return re.sub('([a-z])([A-Z])', r'\1_\2', s).lower()


def policy(name):
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': name},
            'registered_name': None}


def keras3_value(key, v):
    """A Keras 2 config value in Keras 3's form: dtype as a policy, nested
    objects (initializers, regularizers, constraints) with their module."""
    if key == 'dtype' and isinstance(v, str):
        return policy(v)
    if isinstance(v, dict) and 'class_name' in v and 'config' in v:
        mod = ('keras.initializers' if key.endswith('initializer') else
               'keras.regularizers' if key.endswith('regularizer') else
               'keras.constraints' if key.endswith('constraint') else 'keras')
        return {'module': mod, 'class_name': v['class_name'], 'config': v['config'],
                'registered_name': None}
    return v


MODELS = ('Sequential', 'Functional', 'Model')


def keras3_layer(l):
    """A layer entry in Keras 3's form; a nested model's entry is the whole
    model's config, as Keras 3 serializes a model used as a layer."""
    cls = l['class_name']
    if cls in MODELS:
        return convert(l)[0]
    cfg = {k: keras3_value(k, v) for k, v in l['config'].items()
           if k not in ('batch_input_shape', 'input_dtype')}
    cfg.setdefault('trainable', True)
    if 'dtype' not in cfg:
        cfg['dtype'] = policy('float32')
    if cls == 'LeakyReLU' and 'alpha' in cfg:          # Keras 3 renamed it
        cfg['negative_slope'] = cfg.pop('alpha')
    return {'module': 'keras.layers', 'class_name': cls, 'config': cfg, 'registered_name': None}


def input_layer(name, batch_shape):
    return {'module': 'keras.layers', 'class_name': 'InputLayer',
            'config': {'batch_shape': batch_shape, 'dtype': 'float32', 'sparse': False,
                       'name': name}, 'registered_name': None}


def keras_tensor(ref):
    # Keras writes the tensor's shape and dtype too; readers use keras_history
    return {'class_name': '__keras_tensor__',
            'config': {'shape': None, 'dtype': 'float32', 'keras_history': list(ref[:3])}}


def io_refs(refs):
    refs = [list(r[:3]) for r in refs]
    return refs[0] if len(refs) == 1 else refs


def nested_input_shape(l):
    """A nested model's input shape: its first layer's (or InputLayer's)."""
    c = l['config']
    ls = c if isinstance(c, list) else c['layers']
    f = ls[0]
    if f['class_name'] in MODELS:
        return nested_input_shape(f)
    return f['config'].get('batch_input_shape', f['config'].get('batch_shape'))


def order_entry(l, name=None):
    """(name, class, the order of a nested model's layers or None)"""
    nested = convert(l)[1] if l['class_name'] in MODELS else None
    cls = 'Functional' if l['class_name'] == 'Model' else l['class_name']   # Keras 3's class
    return (name or l['config']['name'], cls, nested)


def convert(topo):
    """Keras 2 / TF.js model config -> (Keras 3 config.json dict, model.layers
    as (name, class) in the order Keras 3 saves their weights)."""
    cls, cfg = topo['class_name'], topo['config']
    if cls == 'Sequential':
        layers = cfg if isinstance(cfg, list) else cfg['layers']
        name = 'sequential' if isinstance(cfg, list) else cfg.get('name', 'sequential')
        body = [l for l in layers if l['class_name'] != 'InputLayer']
        first = next(l for l in layers if 'batch_input_shape' in l['config'] or
                     'batch_shape' in l['config'] or l['class_name'] in MODELS)
        shape = (nested_input_shape(first) if first['class_name'] in MODELS else
                 first['config'].get('batch_input_shape', first['config'].get('batch_shape')))
        out = [input_layer('input_layer', shape)] + [keras3_layer(l) for l in body]
        config = {'module': 'keras', 'class_name': 'Sequential',
                  'config': {'name': name, 'trainable': True, 'dtype': policy('float32'),
                             'layers': out, 'build_input_shape': shape},
                  'registered_name': None, 'build_config': {'input_shape': shape}}
        return config, [order_entry(l) for l in body]
    out, order = [], []
    for l in cfg['layers']:
        name = l.get('name') or l['config']['name']
        if l['class_name'] == 'InputLayer':
            c = l['config']
            e = input_layer(name, c.get('batch_input_shape', c.get('batch_shape')))
        else:
            e = keras3_layer(l)
        e['name'] = name
        nodes = []
        for call in l.get('inbound_nodes', []):
            ts = [keras_tensor(r) for r in call]
            nodes.append({'args': [ts[0]] if len(ts) == 1 else [ts], 'kwargs': {}})
        e['inbound_nodes'] = nodes
        out.append(e)
        order.append(order_entry(l, name))
    config = {'module': 'keras.src.models.functional', 'class_name': 'Functional',
              'config': {'name': cfg.get('name', 'functional'), 'trainable': True,
                         'layers': out, 'input_layers': io_refs(cfg['input_layers']),
                         'output_layers': io_refs(cfg['output_layers'])},
              'registered_name': 'Functional', 'build_config': {'input_shape': None}}
    return config, order


def put_layers(group, order, by_layer, a):
    """The groups of one model's layers list under group: <class in snake
    case>[_N]/vars per layer (the count starts again in each list), and a
    nested model's own layers below <its path>/layers (Keras 3 saving_lib,
    _save_container_state)."""
    used = {}
    for lname, cls, nested in order:
        s = snake(cls)
        path = s if s not in used else '%s_%d' % (s, used[s] + 1)
        used[s] = used.get(s, -1) + 1
        ws = sorted(by_layer.pop(lname, []),
                    key=lambda t: ORDER.index(t[0]) if t[0] in ORDER else len(ORDER))
        if nested is not None:
            g = group.create_group(path)
            g.create_group('vars').attrs['name'] = lname
            put_layers(g.create_group('layers'), nested, by_layer, a)
            continue
        if not ws and a.no_empty_groups:
            continue
        g = group.create_group(path).create_group('vars')
        g.attrs['name'] = lname
        for i, (_, v) in enumerate(ws):
            g.create_dataset(str(i), data=v.astype('float32'))


def weights_h5(order, weights, model_name, a):
    by_layer = {}
    for name, v in weights.items():
        layer, var = name.split('/', 1)
        by_layer.setdefault(layer, []).append((var, v))
    buf = io.BytesIO()
    with h5py.File(buf, 'w') as f:
        f.create_group('vars').attrs['name'] = model_name
        top = f.create_group('_layer_checkpoint_dependencies' if a.legacy_top else 'layers')
        put_layers(top, order, by_layer, a)
        if a.optimizer:
            f.create_group('optimizer').create_group('vars').create_dataset(
                '0', data=np.int64(7))
    if by_layer:
        sys.exit('tfjs_to_keras: weights of unknown layers: %s' % ', '.join(sorted(by_layer)))
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model_dir')
    ap.add_argument('out')
    ap.add_argument('--deflate', action='store_true')
    ap.add_argument('--legacy-top', action='store_true')
    ap.add_argument('--no-empty-groups', action='store_true')
    ap.add_argument('--optimizer', action='store_true')
    ap.add_argument('--keras-version', default='3.5.0')
    ap.add_argument('--drop', action='append', default=[])
    a = ap.parse_args()
    mj = json.load(open(os.path.join(a.model_dir, 'model.json')))
    topo = mj['modelTopology']
    topo = topo.get('model_config', topo)
    config, order = convert(topo)
    data = weights_h5(order, read_weights(a.model_dir, mj['weightsManifest']),
                      config['config']['name'], a)
    members = [
        ('metadata.json', json.dumps({'keras_version': a.keras_version,
                                      'date_saved': '2026-01-01@00:00:00'}).encode()),
        ('config.json', json.dumps(config).encode()),
        ('model.weights.h5', data),
    ]
    tmp = a.out + '.tmp'
    comp = zipfile.ZIP_DEFLATED if a.deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp, 'w', compression=comp) as z:
        for name, b in members:
            if name not in a.drop:
                z.writestr(name, b)
    os.replace(tmp, a.out)


if __name__ == '__main__':
    main()
