#!/usr/bin/python3
"""Fine-tuning step time in PyTorch, the peer of bench/bench_finetune.c.

The same work as `crest train --base MODEL --fine-tune N`: the Keras
backbone of MODEL (a TF.js folder; built layer by layer as in
torch_mobilenet.py) cut at its default include_top=False point (walking back
from the output over Dense, Dropout, Flatten, pooling...: MobileNetV2's
out_relu), global average pooling, Linear(classes) trained with cross-entropy
on its logits (PyTorch's idiom; crest's head ends in softmax); every backbone
parameter frozen but those of the last N layers (BatchNorm in inference
mode, its gamma and beta trained); Adam(lr 1e-4, eps 1e-7: Keras' defaults),
batch B, inputs uniform in [-1, 1], torch.set_num_threads(T). Autograd
records nothing before the first trainable layer, and every intermediate
is released after its last use.

usage: /usr/bin/python3 bench/torch_finetune.py MODEL [--threads T] [--fine-tune N]
       [--batch B] [--steps S] [--warmup W] [--classes K] [--channels-last]
Prints one JSON line (ms per step: median and min of S steps after W), with
the BLAS library torch has loaded (checked to be OpenBLAS unless
--any-blas) and the first trainable layer.
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mobilenet import KerasNet, load_weights  # noqa: E402

TOP = {"Dense", "Dropout", "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
       "AveragePooling2D", "Reshape", "Softmax"}


def cut(layers):
    """Layers up to the default cut (as crest_model_default_cut)."""
    by_name = {lay["config"]["name"]: lay for lay in layers}
    lay = layers[-1]
    while lay["class_name"] in TOP and len(lay["inbound_nodes"][0]) == 1:
        lay = by_name[lay["inbound_nodes"][0][0][0]]
    end = [x["config"]["name"] for x in layers].index(lay["config"]["name"])
    return layers[:end + 1]


class FineTuneNet(KerasNet):
    def __init__(self, layers, weights, n_train, classes):
        super().__init__(layers, weights)
        names = [x["config"]["name"] for x in layers if x["class_name"] != "InputLayer"]
        self.trainable = names[len(names) - n_train:] if n_train > 0 else []
        for key, p in self.params.items():
            layer, kind = key.split("__")
            if layer in self.trainable and not kind.startswith("moving_"):
                p.requires_grad_(True)
        width = [x for x in layers if x["class_name"] == "Conv2D"][-1]["config"]["filters"]
        self.head = torch.nn.Linear(width, classes)
        last, consumers = {}, {}
        for i, lay in enumerate(layers):
            for n in (lay["inbound_nodes"][0] if lay["inbound_nodes"] else []):
                last[n[0]] = i
                consumers[n[0]] = consumers.get(n[0], 0) + 1
        self.last_use, self.consumers = last, consumers

    def layer(self, lay, ins, x):
        """ReLU6 as one op (torchvision's nn.ReLU6(inplace=True)), in place
        when this layer is its input's only consumer; else KerasNet's."""
        cfg = lay["config"]
        if (lay["class_name"] == "ReLU" and not cfg.get("negative_slope")
                and not cfg.get("threshold") and cfg.get("max_value") is not None):
            src = lay["inbound_nodes"][0][0][0]
            return F.hardtanh(ins[0], 0.0, float(cfg["max_value"]),
                              inplace=self.consumers[src] == 1)
        return super().layer(lay, ins, x)

    def forward(self, x):
        vals = {}
        for i, lay in enumerate(self.layers):
            ins = [vals[n[0]] for n in lay["inbound_nodes"][0]] if lay["inbound_nodes"] else []
            vals[lay["config"]["name"]] = self.layer(lay, ins, x)
            for n in (lay["inbound_nodes"][0] if lay["inbound_nodes"] else []):
                if self.last_use[n[0]] == i and n[0] in vals:
                    del vals[n[0]]
        y = vals[self.layers[-1]["config"]["name"]]
        return self.head(y.mean(dim=(2, 3)))


def main():
    args = sys.argv[1:]
    opts = {"--threads": 2, "--fine-tune": 20, "--batch": 32, "--steps": 5, "--warmup": 2,
            "--classes": 10}
    channels_last = "--channels-last" in args
    any_blas = "--any-blas" in args
    args = [a for a in args if a not in ("--channels-last", "--any-blas")]
    if not args:
        raise SystemExit(__doc__)
    model_dir = args.pop(0)
    while args:
        k = args.pop(0)
        if k not in opts or not args:
            raise SystemExit(__doc__)
        opts[k] = int(args.pop(0))
    threads, n_train, batch = opts["--threads"], opts["--fine-tune"], opts["--batch"]
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    mj = json.load(open(os.path.join(model_dir, "model.json")))
    cfg = mj["modelTopology"].get("model_config", mj["modelTopology"])
    layers = cut(cfg["config"]["layers"])
    net = FineTuneNet(layers, load_weights(model_dir, mj["weightsManifest"]), n_train,
                      opts["--classes"])
    net.train()   # no dropout or BatchNorm module here: F.batch_norm is called in eval mode
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4, eps=1e-7)

    blas = sorted({ln.split()[-1] for ln in open("/proc/self/maps")
                   if "blas" in ln.split()[-1].lower()})
    if not any("openblas" in b for b in blas) and not any_blas:
        raise SystemExit(f"torch_finetune: torch has not loaded OpenBLAS ({blas}): install "
                         "libopenblas0-pthread (its libblas.so.3 alternative), or --any-blas")

    steps = opts["--steps"] + opts["--warmup"]
    g = torch.Generator().manual_seed(1)
    xs = torch.rand(steps, batch, 3, 224, 224, generator=g) * 2 - 1
    ys = torch.arange(steps * batch).reshape(steps, batch) * 7 % opts["--classes"]
    times = []
    for s in range(steps):
        x = xs[s]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), ys[s])
        loss.backward()
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    t = times[opts["--warmup"]:]
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "threads": threads,
                      "batch": batch, "fine_tune": n_train,
                      "first_trainable": net.trainable[0] if net.trainable else "",
                      "trainable_tensors": len(params), "channels_last": channels_last,
                      "blas": next((b for b in blas if "openblas" in b),
                                   os.path.basename(blas[0]) if blas else "none"),
                      "steps": len(t), "ms_per_step": round(statistics.median(t), 2),
                      "min_ms": round(min(t), 2)}))


if __name__ == "__main__":
    main()
