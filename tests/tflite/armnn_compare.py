#!/usr/bin/python3
"""Arm NN (Debian python3-pyarmnn: its TfLite parser and reference CPU
backend, CpuRef) runs a TFLite model crest exported on raw float32 inputs
and compares its output 0 with crest's.

usage: armnn_compare.py MODEL.tflite X.f32 N REF.f32 [TOL]
  X.f32: N samples of the model's input (NHWC, as crest infer takes);
  REF.f32: crest's outputs for them. Arm NN takes the shapes the file
  states (batch 1), so the samples run one at a time. Passes when
  max |armnn - crest| <= TOL (default 1e-5) * max(1, max |crest|).
Prints one JSON line: {"max_abs_diff", "scale", "n", "ok"}; exit 1 when
the outputs disagree or Arm NN refuses the file (its message on stderr),
3 when Arm NN 20.08 says it does not support an operator or layer of it,
or the file resizes with half-pixel centers (which Arm NN 20.08 ignores)
or has an operator (other than RESHAPE) on a tensor of rank above 4 (which
it cannot run)."""
import json
import sys

import re

import numpy as np
import pyarmnn as ann

# What Arm NN 20.08 says of an operator or layer it has no implementation of
# (an operator code newer than its schema, BATCH_MATMUL's: "out of range")
UNSUPPORTED = re.compile(r"not supported|unsupported|Operator .* not|is not implemented|"
                         r"Operator code .* is out of range", re.I)


def _table(b, pos):
    """Field reader of the flatbuffer table at pos: field(i) -> its absolute
    position, or None when absent."""
    vt = pos - int.from_bytes(b[pos:pos + 4], "little", signed=True)
    n = (int.from_bytes(b[vt:vt + 2], "little") - 4) // 2

    def field(i):
        if i >= n:
            return None
        off = int.from_bytes(b[vt + 4 + 2 * i:vt + 6 + 2 * i], "little")
        return pos + off if off else None
    return field


def _deref(b, at):
    return at + int.from_bytes(b[at:at + 4], "little")


def _vector(b, at):
    v = _deref(b, at)
    return [_deref(b, v + 4 + 4 * i) for i in range(int.from_bytes(b[v:v + 4], "little"))]


def half_pixel_resize(path):
    """Whether a RESIZE_BILINEAR (23) or RESIZE_NEAREST_NEIGHBOR (97) of the
    file has half_pixel_centers set (TFLite's schema: Model.operator_codes 1,
    .subgraphs 2; OperatorCode.deprecated_builtin_code 0, .builtin_code 3;
    SubGraph.operators 3; Operator.opcode_index 0, .builtin_options 4;
    half_pixel_centers: field 3 of ResizeBilinearOptions, 1 of
    ResizeNearestNeighborOptions). Arm NN 20.08 ignores the flag."""
    b = open(path, "rb").read()
    model = _table(b, _deref(b, 0))
    codes = []
    for c in _vector(b, model(1)):
        f = _table(b, c)
        code = b[f(0)] if f(0) else 0
        if f(3):
            code = max(code, int.from_bytes(b[f(3):f(3) + 4], "little"))
        codes.append(code)
    for sg in _vector(b, model(2)):
        ops = _table(b, sg)(3)
        for op in _vector(b, ops) if ops else []:
            f = _table(b, op)
            code = codes[int.from_bytes(b[f(0):f(0) + 4], "little") if f(0) else 0]
            if code not in (23, 97) or not f(4):
                continue
            hp = _table(b, _deref(b, f(4)))(3 if code == 23 else 1)
            if hp and b[hp]:
                return True
    return False


def _ints(b, at):
    v = _deref(b, at)
    n = int.from_bytes(b[v:v + 4], "little")
    return [int.from_bytes(b[v + 4 + 4 * i:v + 8 + 4 * i], "little", signed=True) for i in range(n)]


def rank5_op(path):
    """Whether an operator other than RESHAPE (22) reads or writes a tensor
    of rank above 4 (SubGraph.tensors 0, .operators 3; Tensor.shape 0;
    Operator.opcode_index 0, .inputs 1, .outputs 2). Arm NN 20.08 takes rank
    4 at most there: its MEAN asserts and its PAD computes garbage."""
    b = open(path, "rb").read()
    model = _table(b, _deref(b, 0))
    codes = []
    for c in _vector(b, model(1)):
        f = _table(b, c)
        code = b[f(0)] if f(0) else 0
        codes.append(max(code, int.from_bytes(b[f(3):f(3) + 4], "little")) if f(3) else code)
    for sg in _vector(b, model(2)):
        g = _table(b, sg)
        ranks = []
        for tensor in _vector(b, g(0)) if g(0) else []:
            sh = _table(b, tensor)(0)
            ranks.append(len(_ints(b, sh)) if sh else 0)
        for op in _vector(b, g(3)) if g(3) else []:
            f = _table(b, op)
            if codes[int.from_bytes(b[f(0):f(0) + 4], "little") if f(0) else 0] == 22:
                continue
            io = (_ints(b, f(1)) if f(1) else []) + (_ints(b, f(2)) if f(2) else [])
            if any(k >= 0 and ranks[k] > 4 for k in io):
                return True
    return False


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    model, xf, n, reff = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-5
    if rank5_op(model):
        raise RuntimeError("operators on tensors of rank above 4 are not supported (Arm NN "
                           "20.08 takes rank 4 at most)")
    if half_pixel_resize(model):
        raise RuntimeError("RESIZE with half_pixel_centers is not supported (Arm NN 20.08 "
                           "ignores the flag)")
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(model)
    if parser.GetSubgraphCount() != 1:
        raise RuntimeError("%d subgraphs: one expected" % parser.GetSubgraphCount())
    ins = parser.GetSubgraphInputTensorNames(0)
    outs = parser.GetSubgraphOutputTensorNames(0)
    if len(ins) != 1:
        raise RuntimeError("%d inputs: one expected" % len(ins))
    in_info = parser.GetNetworkInputBindingInfo(0, ins[0])
    out_info = parser.GetNetworkOutputBindingInfo(0, outs[0])
    runtime = ann.IRuntime(ann.CreationOptions())
    opt, messages = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(),
                                 ann.OptimizerOptions())
    net_id, _ = runtime.LoadNetwork(opt)
    x = np.fromfile(xf, dtype="<f4")
    ref = np.fromfile(reff, dtype="<f4")
    per = in_info[1].GetNumElements()
    if x.size != n * per:
        raise RuntimeError("X has %d floats, not %d x %d" % (x.size, n, per))
    ys = []
    for i in range(n):
        sample = x[i * per:(i + 1) * per].astype(np.float32)
        inputs = ann.make_input_tensors([in_info], [sample])
        outputs = ann.make_output_tensors([out_info])
        runtime.EnqueueWorkload(net_id, inputs, outputs)
        ys.append(ann.workload_tensors_to_ndarray(outputs)[0].reshape(-1))
    y = np.concatenate(ys).astype(np.float64)
    if y.size != ref.size:
        raise RuntimeError("Arm NN gives %d values, crest %d" % (y.size, ref.size))
    d = float(np.max(np.abs(y - ref))) if np.all(np.isfinite(y)) else float("inf")
    scale = max(1.0, float(np.max(np.abs(ref))))
    ok = d <= tol * scale
    print(json.dumps({"max_abs_diff": d, "scale": scale, "n": n, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:   # Arm NN's parser errors: one line
        msg = " ".join(str(e).split())
        print("armnn_compare: %s" % msg, file=sys.stderr)
        sys.exit(3 if UNSUPPORTED.search(msg) else 1)
