#!/usr/bin/env python3
"""The PyTorch side of benchmark/peers/peers.ts: torch.optim steps on the same workloads.

Started by peers.ts, which sends one JSON object per line on stdin and reads one JSON line back
per command ({"error": ...} on failure):

  {"cmd": "hello"}
      -> torch version, ATen CPU capability, numpy version
  {"cmd": "verify", "opt": O, "sizes": [n, ...], "steps": S, "threads": T, "data": PATH, "out": PATH}
      PATH holds float32 tensor after tensor: θ₀ then the gradients of steps 1..S. For every impl
      of O, from fresh copies: S steps (or S clip calls), then writes the parameters (optimizers)
      or the gradients (clips), tensor after tensor, impl after impl, to "out"
      -> {"impls": [...], "norms": {impl: [norm of each call]}}
  {"cmd": "build", "opt": O, "sizes": [n, ...], "seed": s}
      fresh parameters (θ uniform in [-1, 1), gradients of magnitude 0.02 to 0.03 with random signs:
      the distributions of fill and fillGrad in benchmark/harness.ts, not their values) and one
      optimizer per impl of O, sharing them
      -> {"params": total}
  {"cmd": "time", "impl": I, "threads": T, "batch": B, "samples": K}
      K samples of B consecutive steps of impl I on T threads -> {"ms": [ms per step of each sample]}
  {"cmd": "free"}   drops the workload
  {"cmd": "quit"}

Optimizers O: adamw, adam, sgd (torch.optim.AdamW / Adam / SGD; impls fused, foreach, forloop =
foreach=False) and clip, clip-active (torch.nn.utils.clip_grad_norm_; impls foreach, forloop).
"""

import json
import sys
import time

import numpy as np
import torch

HYPER = {
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.01, "eps": 1e-8}),
    "adam": (torch.optim.Adam, {"lr": 1e-3, "eps": 1e-8}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
}
# clip: a max norm so large that nothing is clipped. clip-active: 1, 0.999, 0.999², ... (as
# peers.ts), so that every call scales the gradients (with a fixed one, only the first would).
NO_CLIP = 1e9
SHRINK = 0.999
OPT_IMPLS = {"fused": {"fused": True}, "foreach": {"foreach": True}, "forloop": {"foreach": False}}
CLIP_IMPLS = {"foreach": True, "forloop": False}


def impls_of(opt):
    return list(CLIP_IMPLS) if opt.startswith("clip") else list(OPT_IMPLS)


def stepper(opt, impl, params):
    """A function doing one step (or clip call) of `impl`; returns the norm for clips."""
    if opt == "clip":
        return lambda: float(torch.nn.utils.clip_grad_norm_(params, NO_CLIP, foreach=CLIP_IMPLS[impl]))
    if opt == "clip-active":
        max_norm = [1 / SHRINK]

        def clip():
            max_norm[0] *= SHRINK
            return float(torch.nn.utils.clip_grad_norm_(params, max_norm[0], foreach=CLIP_IMPLS[impl]))

        return clip
    cls, hyper = HYPER[opt]
    o = cls(params, **hyper, **OPT_IMPLS[impl])
    return o.step


def verify(cmd):
    opt, sizes, steps = cmd["opt"], cmd["sizes"], cmd["steps"]
    torch.set_num_threads(cmd["threads"])
    raw = np.fromfile(cmd["data"], dtype=np.float32)
    per = [n * (1 + steps) for n in sizes]
    if raw.size != sum(per):
        raise ValueError("data file holds %d floats, expected %d" % (raw.size, sum(per)))
    blocks, off = [], 0
    for n in sizes:
        blocks.append(raw[off : off + n * (1 + steps)].reshape(1 + steps, n))
        off += n * (1 + steps)
    norms = {}
    with open(cmd["out"], "wb") as f:
        for impl in impls_of(opt):
            params = [torch.nn.Parameter(torch.from_numpy(b[0].copy())) for b in blocks]
            step = stepper(opt, impl, params)
            norms[impl] = []
            for t in range(1, steps + 1):
                for p, b in zip(params, blocks):
                    p.grad = torch.from_numpy(b[t].copy())
                r = step()
                if opt.startswith("clip"):
                    norms[impl].append(r)
            for p in params:
                x = p.grad if opt.startswith("clip") else p.detach()
                f.write(x.numpy().astype(np.float32).tobytes())
    return {"impls": impls_of(opt), "norms": norms}


class Workload:
    def __init__(self, cmd):
        rng = np.random.default_rng(cmd["seed"])
        self.params = []
        for n in cmd["sizes"]:
            p = torch.nn.Parameter(torch.from_numpy(rng.uniform(-1, 1, n).astype(np.float32)))
            sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
            p.grad = torch.from_numpy((sign * rng.uniform(0.02, 0.03, n)).astype(np.float32))
            self.params.append(p)
        self.steps = {impl: stepper(cmd["opt"], impl, self.params) for impl in impls_of(cmd["opt"])}

    def time(self, cmd):
        torch.set_num_threads(cmd["threads"])
        step, batch = self.steps[cmd["impl"]], cmd["batch"]
        out = []
        for _ in range(cmd["samples"]):
            t0 = time.perf_counter()
            for _ in range(batch):
                step()
            out.append((time.perf_counter() - t0) * 1e3 / batch)
        return {"ms": out}


def main():
    work = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            c = cmd["cmd"]
            if c == "quit":
                break
            if c == "hello":
                reply = {"torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability(), "numpy": np.__version__}
            elif c == "verify":
                reply = verify(cmd)
            elif c == "build":
                work = None  # frees the previous workload before allocating the next
                work = Workload(cmd)
                reply = {"params": sum(p.numel() for p in work.params)}
            elif c == "time":
                reply = work.time(cmd)
            elif c == "free":
                work = None
                reply = {"ok": True}
            else:
                reply = {"error": "unknown command %r" % c}
        except Exception as e:  # reported to peers.ts, which aborts
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
