"""ops.py M.tflite: the operators of subgraph 0 in order, one per line, as
OPERATOR TYPE (TYPE: the element type of the operator's first input), read
from the flatbuffer directly (tests/scripts/tflite_export.sh checks which
layers an int8 export runs float)."""
import struct
import sys

NAMES = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D",
         4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED",
         17: "MAX_POOL_2D", 19: "RELU", 21: "RELU6", 22: "RESHAPE", 25: "SOFTMAX", 34: "PAD", 39: "TRANSPOSE",
         40: "MEAN", 114: "QUANTIZE"}
TYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}


class Table:
    """A flatbuffer table at byte offset pos of buf."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt, self.vt_len = vt, struct.unpack_from("<H", buf, vt)[0]

    def field(self, i):
        o = 4 + 2 * i
        return struct.unpack_from("<H", self.buf, self.vt + o)[0] if o < self.vt_len else 0

    def scalar(self, i, fmt, default=0):
        f = self.field(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + f)[0] if f else default

    def _vector(self, i):
        f = self.field(i)
        if not f:
            return 0, 0
        at = self.pos + f
        at += struct.unpack_from("<I", self.buf, at)[0]
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]

    def tables(self, i):
        at, n = self._vector(i)
        return [Table(self.buf, at + 4 * k + struct.unpack_from("<I", self.buf, at + 4 * k)[0])
                for k in range(n)]

    def ints(self, i):
        at, n = self._vector(i)
        return list(struct.unpack_from("<%di" % n, self.buf, at)) if n else []


def main(path):
    buf = open(path, "rb").read()
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = []
    for c in model.tables(1):   # OperatorCode: deprecated_builtin_code, ..., builtin_code
        codes.append(max(c.scalar(0, "b"), c.scalar(3, "i")))
    sub = model.tables(2)[0]    # SubGraph: tensors, inputs, outputs, operators
    tensors = sub.tables(0)
    for op in sub.tables(3):    # Operator: opcode_index, inputs, outputs
        code = codes[op.scalar(0, "I")]
        ins = [k for k in op.ints(1) if k >= 0]
        t = TYPES.get(tensors[ins[0]].scalar(1, "b"), "?") if ins else "-"
        print(NAMES.get(code, str(code)), t)


if __name__ == "__main__":
    main(sys.argv[1])
