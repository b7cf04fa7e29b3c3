#!/usr/bin/python3
"""MobileNetV2 (the nsfwjs Keras model) in PyTorch, for the ONNX Runtime peer.

Builds the network by walking the Keras layer graph in model.json (the
architecture is not copied from torchvision: every layer is the Keras one,
with Keras' padding and BatchNorm epsilon), loads the TF.js weights
(uint8-quantized: float32(q * scale + min), computed in double as TF.js does),
checks it reproduces tests/golden/mobilenet_v2/*.probs.f32 from the golden
inputs, and exports ONNX.

usage: /usr/bin/python3 bench/torch_mobilenet.py MODEL_DIR GOLDEN_DIR OUT.onnx
       [--bench-threads T]   also time PyTorch itself (ms/image, batch 1 and 32)
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPE_BYTES = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2}


def load_weights(model_dir, manifest):
    out = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                qdt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(blob, qdt, n, off)
                off += n * DTYPE_BYTES[q["dtype"]]
                if q["dtype"] == "float16":
                    v = raw.astype(np.float32)
                else:
                    v = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                dt = np.float32 if w["dtype"] == "float32" else np.int32
                v = np.frombuffer(blob, dt, n, off).astype(np.float32)
                off += n * 4
            out[w["name"]] = v.reshape(w["shape"])
        if off != len(blob):
            raise SystemExit(f"weights: {off} bytes used of {len(blob)}")
    return out


def same_pad(size, k, s, d=1):
    """TF 'same' padding (before, after) for one spatial axis."""
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


class KerasNet(torch.nn.Module):
    """Runs a Keras functional model's layers in order, NCHW inside."""

    def __init__(self, layers, weights):
        super().__init__()
        self.layers = layers
        self.params = torch.nn.ParameterDict()
        for lay in layers:
            c, cfg, name = lay["class_name"], lay["config"], lay["config"]["name"]
            get = lambda k: torch.tensor(weights[f"{name}/{k}"])
            p = {}
            if c == "Conv2D":
                p["w"] = get("kernel").permute(3, 2, 0, 1)        # HWIO -> OIHW
                if cfg.get("use_bias", True):
                    p["b"] = get("bias")
            elif c == "DepthwiseConv2D":
                k = get("depthwise_kernel")                        # [kh,kw,c,m]
                kh, kw, ch, mult = k.shape
                p["w"] = k.permute(2, 3, 0, 1).reshape(ch * mult, 1, kh, kw)
                if cfg.get("use_bias", True):
                    p["b"] = get("bias")
            elif c == "BatchNormalization":
                for k in ("gamma", "beta", "moving_mean", "moving_variance"):
                    if f"{name}/{k}" in weights:
                        p[k] = get(k)
            elif c == "Dense":
                p["w"] = get("kernel").t()
                if cfg.get("use_bias", True):
                    p["b"] = get("bias")
            for k, v in p.items():
                self.params[f"{name}__{k}"] = torch.nn.Parameter(v.contiguous(), requires_grad=False)

    def p(self, name, k):
        key = f"{name}__{k}"
        return self.params[key] if key in self.params else None

    def conv(self, x, cfg, name, groups):
        kh, kw = cfg["kernel_size"]
        sh, sw = cfg["strides"]
        dh, dw = cfg.get("dilation_rate", [1, 1])
        if cfg["padding"] == "same":
            ph = same_pad(x.shape[2], kh, sh, dh)
            pw = same_pad(x.shape[3], kw, sw, dw)
            if ph[0] == ph[1] and pw[0] == pw[1]:
                return F.conv2d(x, self.p(name, "w"), self.p(name, "b"), (sh, sw),
                                (ph[0], pw[0]), (dh, dw), groups)
            x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return F.conv2d(x, self.p(name, "w"), self.p(name, "b"), (sh, sw), 0, (dh, dw), groups)

    def forward(self, x):
        vals = {}
        out = None
        for lay in self.layers:
            ins = [vals[n[0]] for n in lay["inbound_nodes"][0]] if lay["inbound_nodes"] else []
            out = vals[lay["config"]["name"]] = self.layer(lay, ins, x)
        return out

    def layer(self, lay, ins, x):
        """One Keras layer on its inputs ins (x: the network's input)."""
        c, cfg, name = lay["class_name"], lay["config"], lay["config"]["name"]
        if c == "InputLayer":
            y = x
        elif c == "ZeroPadding2D":
            (t, b), (l, r) = cfg["padding"]
            y = F.pad(ins[0], (l, r, t, b))
        elif c == "Conv2D":
            y = self.conv(ins[0], cfg, name, 1)
        elif c == "DepthwiseConv2D":
            y = self.conv(ins[0], cfg, name, ins[0].shape[1])
        elif c == "BatchNormalization":
            y = F.batch_norm(ins[0], self.p(name, "moving_mean"), self.p(name, "moving_variance"),
                             self.p(name, "gamma"), self.p(name, "beta"), False, 0.0,
                             cfg["epsilon"])
        elif c == "ReLU":
            y = F.relu(ins[0])
            if cfg.get("max_value") is not None:
                y = torch.clamp(y, max=float(cfg["max_value"]))
        elif c == "Add":
            y = ins[0]
            for o in ins[1:]:
                y = y + o
        elif c == "AveragePooling2D":
            y = F.avg_pool2d(ins[0], cfg["pool_size"], cfg["strides"])
        elif c == "GlobalAveragePooling2D":
            y = ins[0].mean(dim=(2, 3))
        elif c == "Flatten":
            y = torch.flatten(ins[0].permute(0, 2, 3, 1), 1) if ins[0].dim() == 4 else ins[0]
        elif c == "Dropout":
            y = ins[0]
        elif c == "Dense":
            y = F.linear(ins[0], self.p(name, "w"), self.p(name, "b"))
            act = cfg.get("activation", "linear")
            if act == "relu":
                y = F.relu(y)
            elif act == "softmax":
                y = F.softmax(y, dim=-1)
            elif act != "linear":
                raise SystemExit(f"{name}: activation {act} not handled")
        else:
            raise SystemExit(f"layer {name}: class {c} not handled by this script")
        return y


def main():
    args = sys.argv[1:]
    bench_threads = 0
    if "--bench-threads" in args:
        i = args.index("--bench-threads")
        bench_threads = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    model_dir, golden_dir, onnx_path = args
    mj = json.load(open(os.path.join(model_dir, "model.json")))
    cfg = mj["modelTopology"].get("model_config", mj["modelTopology"])
    net = KerasNet(cfg["config"]["layers"], load_weights(model_dir, mj["weightsManifest"])).eval()
    torch.set_num_threads(max(bench_threads, 1))

    meta = json.load(open(os.path.join(golden_dir, "meta.json")))
    worst = 0.0
    for img in meta["images"]:
        x = np.fromfile(os.path.join(golden_dir, f"{img}.input.f32"), np.float32)
        x = torch.from_numpy(x.reshape(1, 224, 224, 3)).permute(0, 3, 1, 2).contiguous()
        want = np.fromfile(os.path.join(golden_dir, f"{img}.probs.f32"), np.float32)
        with torch.no_grad():
            got = net(x).numpy()[0]
        d = float(np.abs(got - want).max())
        worst = max(worst, d)
        print(f"torch vs TF.js golden {img}: max |diff| probs = {d:.3g}", file=sys.stderr)
    if worst > 1e-4:
        raise SystemExit(f"torch model does not reproduce the goldens (max |diff| {worst:.3g})")

    x = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(net, x, onnx_path, opset_version=13, input_names=["input"],
                      output_names=["probs"],
                      dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}})
    print(f"wrote {onnx_path}", file=sys.stderr)

    if bench_threads:
        for batch in (1, 32):
            xb = torch.rand(batch, 3, 224, 224)
            times = []
            with torch.no_grad():
                for it in range(3 + (20 if batch == 1 else 5)):
                    t0 = time.perf_counter()
                    net(xb)
                    if it >= 3:
                        times.append((time.perf_counter() - t0) * 1000 / batch)
            print(json.dumps({"peer": "pytorch", "threads": bench_threads, "batch": batch,
                              "ms_per_image_median": statistics.median(times),
                              "ms_per_image_min": min(times)}))


if __name__ == "__main__":
    main()
