"""q16_params.py M.tflite DIR16: checks the quantization a TFLite export of a
model quantized with int16 activations (crest quantize --activations int16,
folder DIR16) states, read from the flatbuffer directly: every int16 tensor
has zero point 0 and one of the scales crest's calibration recorded in
DIR16/model.json (crestQuantization.activations, as float32); every
CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on an int16 input has int8
per-channel weights and an int64 bias whose scales are input scale x weight
scale; every ADD on int16 sets pot_scale_int16 false (TFLite's general-scale
int16 ADD, as crest runs it). Prints the counts; exit 1 on the first
mismatch.

q16_params.py M.tflite DIR16 --biases-times F OUT.tflite: a copy of M whose
int64 biases are multiplied by F (the tests' proof that a wrong bias shows)."""
import json
import struct
import sys

import numpy as np

from ops import Table

INT64, INT16, INT8 = 4, 7, 9
WEIGHTED = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED"}


def quant(buf, t):
    """(scales, zero points) of tensor table t, or (None, None)."""
    f = t.field(4)
    if not f:
        return None, None
    at = t.pos + f
    q = Table(buf, at + struct.unpack_from("<I", buf, at)[0])
    def vec(i, fmt, size):
        p, n = q._vector(i)
        return np.frombuffer(buf[p:p + n * size], fmt) if n else np.zeros(0, fmt)
    return vec(2, "<f4", 4), vec(3, "<i8", 8)


def fail(msg):
    print("q16_params: " + msg)
    sys.exit(1)


def check_weighted(buf, ts, op, name):
    x, w, b = op.ints(1)[:3]
    sx, _ = quant(buf, ts[x])
    sw, _ = quant(buf, ts[w])
    sb, zb = quant(buf, ts[b])
    if ts[w].scalar(1, "b") != INT8 or len(sw) < 1:
        fail("%s: weights not int8 with scales" % name)
    if ts[b].scalar(1, "b") != INT64:
        fail("%s: bias not int64" % name)
    want = (np.float64(sx[0]) * sw.astype(np.float64)).astype(np.float32)
    if len(sb) != len(sw) or not np.array_equal(sb, want) or np.any(zb != 0):
        fail("%s: bias scales are not input x weight scales" % name)


def scale_biases(path, factor, out):
    buf = bytearray(open(path, "rb").read())
    model = Table(bytes(buf), struct.unpack_from("<I", buf, 0)[0])
    bufs = model.tables(4)
    for t in model.tables(2)[0].tables(0):
        b = t.scalar(2, "I")
        if t.scalar(1, "b") == INT64 and b:
            at, n = bufs[b]._vector(0)
            v = np.frombuffer(bytes(buf[at:at + n]), "<i8") * int(factor)
            buf[at:at + n] = v.astype("<i8").tobytes()
    open(out, "wb").write(bytes(buf))


def main(path, folder):
    buf = open(path, "rb").read()
    scales = {np.float32(v[0]) for v in
              json.load(open(folder + "/model.json"))["crestQuantization"]["activations"].values()}
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = [max(c.scalar(0, "b"), c.scalar(3, "i")) for c in model.tables(1)]
    sub = model.tables(2)[0]
    ts = sub.tables(0)
    n16 = 0
    for t in ts:
        if t.scalar(1, "b") != INT16:
            continue
        s, z = quant(buf, t)
        if s is None or len(s) != 1 or z[0] != 0 or np.float32(s[0]) not in scales:
            fail("an int16 tensor's scale %r / zero point %r is not one crest calibrated" % (s, z))
        n16 += 1
    n_w = n_add = 0
    for op in sub.tables(3):
        code, ins = codes[op.scalar(0, "I")], op.ints(1)
        if ts[ins[0]].scalar(1, "b") != INT16:
            continue
        if code in WEIGHTED:
            check_weighted(buf, ts, op, WEIGHTED[code])
            n_w += 1
        if code == 0:
            f = op.field(4)
            at = op.pos + f
            opts = Table(buf, at + struct.unpack_from("<I", buf, at)[0])
            if opts.scalar(1, "B", 1) != 0:
                fail("an int16 ADD without pot_scale_int16 false")
            n_add += 1
    if not n16 or not n_w:
        fail("no int16 tensors or int16 weighted ops")
    print("int16 tensors %d, int16 weighted ops %d, int16 ADD %d: ok" % (n16, n_w, n_add))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[3] == "--biases-times":
        scale_biases(sys.argv[1], sys.argv[4], sys.argv[5])
    else:
        main(sys.argv[1], sys.argv[2])
