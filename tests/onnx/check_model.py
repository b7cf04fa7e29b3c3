#!/usr/bin/env python3
"""Debian python3-onnx's checker on a model crest exported (full_check: shape
inference too). Prints opset, node count and the op types used.

usage: /usr/bin/python3 tests/onnx/check_model.py MODEL.onnx [--ops] [--input-shape]
  --ops: also the op types used, on one line;
  --input-shape: also the first input's shape without the batch ("224,224,3")."""
import sys

import onnx
import onnx.checker


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    m = onnx.load(sys.argv[1])
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"onnx {onnx.__version__} checker ok: opset {m.opset_import[0].version}, "
          f"{len(m.graph.node)} nodes, {len(m.graph.initializer)} initializers")
    if '--ops' in sys.argv[2:]:
        print(' '.join(ops))
    if '--input-shape' in sys.argv[2:]:
        dims = m.graph.input[0].type.tensor_type.shape.dim[1:]
        print('input_shape: ' + ','.join(str(d.dim_value) for d in dims))
    return 0


if __name__ == '__main__':
    sys.exit(main())
