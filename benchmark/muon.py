#!/usr/bin/env python3
"""torch's side of benchmark/muon.ts: a server that reads one JSON command per line on stdin and
answers one JSON line on stdout.

  {"cmd": "hello"}                                   -> torch version, CPU capability, oneDNN
  {"cmd": "step", "rows": R, "cols": C, "grad": P, "out": Q}
      one torch.optim.Muon step (lr 0.02, every other option torch's default) from weights 0 with
      the float32 gradient in file P (row-major); writes the weights to file Q
  {"cmd": "time", "rows": R, "cols": C, "threads": T, "reps": N}
      N timed steps of torch.optim.Muon (lr 0.02) on an R x C weight with T threads, after one
      untimed step; answers each step's milliseconds

Run by benchmark/muon.ts; by hand: echo '{"cmd":"hello"}' | python3 benchmark/muon.py
"""

import json
import sys
import time

import numpy as np
import torch

_cache = {}


def weight(rows, cols):
    """A weight, its gradient and its optimizer, made once per shape (the gradient is fixed)."""
    key = (rows, cols)
    if key not in _cache:
        g = torch.Generator().manual_seed(rows * 7919 + cols)
        p = torch.nn.Parameter(torch.randn(rows, cols, generator=g) * 0.02)
        p.grad = torch.randn(rows, cols, generator=g)
        _cache[key] = (p, torch.optim.Muon([p], lr=0.02))
    return _cache[key]


def handle(cmd):
    if cmd["cmd"] == "hello":
        return {
            "torch": torch.__version__,
            "capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
        }
    if cmd["cmd"] == "step":
        r, c = cmd["rows"], cmd["cols"]
        grad = np.fromfile(cmd["grad"], dtype=np.float32).reshape(r, c)
        p = torch.nn.Parameter(torch.zeros(r, c))
        p.grad = torch.from_numpy(grad.copy())
        torch.optim.Muon([p], lr=0.02).step()
        p.detach().numpy().astype(np.float32).tofile(cmd["out"])
        return {"ok": True}
    if cmd["cmd"] == "time":
        torch.set_num_threads(cmd["threads"])
        p, opt = weight(cmd["rows"], cmd["cols"])
        opt.step()
        ms = []
        for _ in range(cmd["reps"]):
            t0 = time.perf_counter()
            opt.step()
            ms.append((time.perf_counter() - t0) * 1e3)
        return {"ms": ms}
    raise ValueError("unknown command %r" % cmd["cmd"])


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = handle(json.loads(line))
        except Exception as e:  # reported to the caller, which stops
            out = {"error": repr(e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
