#!/usr/bin/python3
"""PyTorch peer of bench/bench_mlp.c: the same MLP (Flatten - Dense(128, relu) -
Dense(10, softmax)), Adam 1e-3, batch 32, cross-entropy, Fashion-MNIST train
(60,000, read from crest's IDX files), one warm-up pass over 3,200 samples,
then E timed epochs (shuffled each epoch, as crest's fit). Prints one JSON line.

usage: /usr/bin/python3 bench/torch_mlp.py [--threads T] [--epochs E]
"""
import json
import os
import sys
import time

import numpy as np
import torch


def idx(path):
    raw = open(path, "rb").read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    a = sys.argv[1:]
    threads = int(a[a.index("--threads") + 1]) if "--threads" in a else 1
    epochs = int(a[a.index("--epochs") + 1]) if "--epochs" in a else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    d = os.path.join(os.environ.get("CREST_DATA", "data"), "fashion-mnist")
    x = torch.from_numpy(idx(f"{d}/train-images-idx3-ubyte").astype(np.float32) / 255.0)
    y = torch.from_numpy(idx(f"{d}/train-labels-idx1-ubyte").astype(np.int64))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()   # softmax + sparse CCE, fused as usual in torch

    def epoch(n):
        perm = torch.randperm(n)
        for s in range(0, n, 32):
            i = perm[s:s + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[i]), y[i])
            loss.backward()
            opt.step()

    epoch(3200)
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch(len(x))
    dt = time.perf_counter() - t0
    n = len(x) * epochs
    print(json.dumps({"engine": "pytorch " + torch.__version__, "threads": threads, "batch": 32,
                      "samples": n, "seconds": round(dt, 3), "samples_per_s": round(n / dt)}))


if __name__ == "__main__":
    main()
