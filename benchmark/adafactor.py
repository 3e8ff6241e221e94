#!/usr/bin/env python3
"""The PyTorch side of benchmark/adafactor.ts: torch.optim.Adafactor on the same tensors.

Started by benchmark/adafactor.ts, which sends one command per line on stdin and reads one
JSON line back per command:

  setup <seed> <shape>;<shape>;...   parameters values(seed, 0, j, n) and gradients
                                     values(seed, 1, j, n) (the data rule of scripts/gen_fixtures.py)
  verify <path> <steps>              fresh Adafactor(foreach=False), <steps> steps with gradient
                                     values(seed, t, j, n) at step t; writes the parameters as raw
                                     float32 (tensor after tensor) to <path>
  time <impl> <threads> <steps>      <steps> timed steps of a fresh Adafactor on the parameters,
                                     impl = foreach_false | default | foreach_true; replies the
                                     per-step times in ms
  quit
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from gen_fixtures import values  # noqa: E402  (shared data rule)

FOREACH = {"foreach_false": False, "default": None, "foreach_true": True}


def main():
    params, seed, shapes = [], 0, []
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] == "setup":
            seed = int(cmd[1])
            shapes = [[int(x) for x in s.split("x")] for s in cmd[2].split(";")]
            params = []
            for j, s in enumerate(shapes):
                n = math.prod(s)
                p = torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, n)).reshape(s))
                p.grad = torch.from_numpy(values(seed, 1, j, n)).reshape(s)
                params.append(p)
            reply = {"torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}
        elif cmd[0] == "verify":
            path, steps = cmd[1], int(cmd[2])
            fresh = [torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, math.prod(s))).reshape(s)) for j, s in enumerate(shapes)]
            opt = torch.optim.Adafactor(fresh, foreach=False)
            for t in range(1, steps + 1):
                for j, (p, s) in enumerate(zip(fresh, shapes)):
                    p.grad = torch.from_numpy(values(seed, t, j, math.prod(s))).reshape(s)
                opt.step()
            with open(path, "wb") as f:
                for p in fresh:
                    f.write(p.detach().numpy().astype(np.float32).tobytes())
            reply = {"ok": True}
        elif cmd[0] == "time":
            impl, threads, steps = cmd[1], int(cmd[2]), int(cmd[3])
            torch.set_num_threads(threads)
            opt = torch.optim.Adafactor(params, foreach=FOREACH[impl])
            opt.step()  # creates the state, untimed
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                opt.step()
                times.append((time.perf_counter() - t0) * 1e3)
            reply = {"ms": times}
        else:
            reply = {"error": "unknown command %r" % cmd[0]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
