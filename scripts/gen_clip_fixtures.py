#!/usr/bin/env python3
"""Generate ferroptim's PyTorch reference fixture for gradient clipping (__test__/fixtures/clip.json).

Runs the REAL torch.nn.utils.clip_grad_norm_ / clip_grad_value_ on CPU float32 gradients and
records the returned total norm and the clipped gradients, so __test__/clip.spec.ts can
compare ferroptim's clipGradNorm / clipGradValue / getTotalNorm against PyTorch without Python.

Usage:  /tmp/torch2/bin/python scripts/gen_clip_fixtures.py   (torch 2.x + numpy; committed
        file made with torch 2.5.1 on x86-64 CPU)

Everything is deterministic; re-running produces a byte-identical file (the script runs every
case twice and requires identical results before writing).

--- Data shared with the TypeScript side (mirrors scripts/gen_fixtures.py EXACTLY) ----------

  value(seed, step, tensor, i)   the mix32 hash of gen_fixtures.py (see its header and
                                 __test__/helpers/data.ts `value`), a float32 in [-1, 1]
  grad of tensor j, element i:   float32(float64(value(seed, 1, j, i)) * gradScale)
  SAMPLE indices of a length n:  as gen_fixtures.py (`sampleIndices` in helpers/data.ts)

  Gradient sets (seed, tensor lengths, gradScale; tensor j of a set uses value(seed, 1, j, i)):
      "five"    seed 3000, [1, 7, 17, 1025, 40001], gradScale 1
      "sparse"  seed 3001, [1, 17, 40001],           gradScale 2**-10
      "single"  seed 3002, [1025],                   gradScale 64   (passed as one tensor)

--- Recorded ---------------------------------------------------------------------------

  normCases:  for every set and normType in [2, 1, 3, 0.5, inf, 1.5, 4, 0.25]: the total norm.
              torch 2.5.1 has no torch.nn.utils.get_total_norm, so this is the value returned
              by clip_grad_norm_(max_norm=1e30), which leaves the gradients unchanged.
              `exact` is the same norm computed in float64 with numpy (not a float32): torch
              accumulates in float32, so its `total` is off by up to ~6e-5 relative here (p = 0.25).
  clipCases:  for every set and normType in [2, 1, 3, 0.5, inf], and maxNorm = c * total
              (total as in normCases) for c in [0.25, 4] (written with 6 significant digits,
              so maxNorm is an exact decimal both sides read alike):
                total    the norm clip_grad_norm_ returned (before clipping)
                exact    the float64 norm, as in normCases
                coef     torch's clamp(maxNorm / (total + 1e-6), max=1), as a float32
                clipped  whether coef < 1
                grads    (only when clipped) the gradients after clipping at the sample
                         indices: [{indices, values}] per tensor. When not clipped the script
                         asserts every gradient is bit-identical to its input.
  valueCases: for the "five" set and clipValue in [0.5, 0.0625]: clip_grad_value_, grads at
              the sample indices.

  torch runs with torch.set_num_threads(1): its float32 reductions depend on its thread count,
  so this pins the recorded values.

  Numbers (except `exact` and maxNorm) are float32 values written as their exact f64 value (Math.fround(v) === v); normType
  Infinity is written as the string "inf".
"""

import json
import os
import platform

import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import sample_indices, value, values  # noqa: E402  (shared data rules)

GENERATOR = "scripts/gen_clip_fixtures.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "__test__", "fixtures", "clip.json")

SETS = [
    ("five", 3000, [1, 7, 17, 1025, 40001], 1.0),
    ("sparse", 3001, [1, 17, 40001], 2.0 ** -10),
    ("single", 3002, [1025], 64.0),
]
NORM_TYPES_TOTAL = [2.0, 1.0, 3.0, 0.5, float("inf"), 1.5, 4.0, 0.25]
NORM_TYPES_CLIP = [2.0, 1.0, 3.0, 0.5, float("inf")]
MAX_NORM_FACTORS = [0.25, 4.0]
CLIP_VALUES = [0.5, 0.0625]


# ---------------------------------------------------------------------------- data
# The data rules are gen_fixtures.py's, imported rather than copied.


def grads_of(seed, lengths, scale):
    return [(values(seed, 1, j, n).astype(np.float64) * scale).astype(np.float32) for j, n in enumerate(lengths)]


def params_of(seed, lengths, scale, single):
    ps = []
    for g in grads_of(seed, lengths, scale):
        p = torch.nn.Parameter(torch.zeros(len(g), dtype=torch.float32))
        p.grad = torch.from_numpy(g.copy())
        ps.append(p)
    return ps[0] if single else ps


def plist(params):
    return [params] if isinstance(params, torch.Tensor) else params


def f32(x):
    return float(np.float32(x))


def norm_key(p):
    return "inf" if p == float("inf") else p


def sampled(params):
    out = []
    for p in plist(params):
        g = p.grad.numpy()
        idx = sample_indices(len(g))
        out.append({"indices": idx, "values": [f32(v) for v in g[idx].tolist()]})
    return out


# ---------------------------------------------------------------------------- cases
def exact_norm(set_def, p):
    name, seed, lengths, scale = set_def
    gs = [g.astype(np.float64) for g in grads_of(seed, lengths, scale)]
    if p == float("inf"):
        return float(max(np.max(np.abs(g)) for g in gs))
    per = np.array([np.sum(np.abs(g) ** p) ** (1.0 / p) for g in gs])
    return float(np.sum(per ** p) ** (1.0 / p))


def total_norm(set_def, p):
    name, seed, lengths, scale = set_def
    params = params_of(seed, lengths, scale, name == "single")
    before = [q.grad.clone() for q in plist(params)]
    t = torch.nn.utils.clip_grad_norm_(params, max_norm=1e30, norm_type=p)
    assert all(torch.equal(a, q.grad) for a, q in zip(before, plist(params)))
    return f32(t.item())


def build():
    norm_cases, clip_cases, value_cases = [], [], []
    for set_def in SETS:
        name, seed, lengths, scale = set_def
        for p in NORM_TYPES_TOTAL:
            norm_cases.append({"set": name, "normType": norm_key(p), "total": total_norm(set_def, p), "exact": exact_norm(set_def, p)})
        for p in NORM_TYPES_CLIP:
            ref_total = total_norm(set_def, p)
            for c in MAX_NORM_FACTORS:
                max_norm = float("%.6g" % (ref_total * c))
                params = params_of(seed, lengths, scale, name == "single")
                before = [q.grad.clone() for q in plist(params)]
                t = torch.nn.utils.clip_grad_norm_(params, max_norm=max_norm, norm_type=p)
                coef = torch.clamp(max_norm / (t + 1e-6), max=1.0)
                case = {
                    "set": name,
                    "normType": norm_key(p),
                    "maxNorm": max_norm,
                    "total": f32(t.item()),
                    "exact": exact_norm(set_def, p),
                    "coef": f32(coef.item()),
                    "clipped": bool(coef.item() < 1.0),
                }
                if case["clipped"]:
                    case["grads"] = sampled(params)
                else:
                    assert all(torch.equal(a, q.grad) for a, q in zip(before, plist(params)))
                clip_cases.append(case)
    name, seed, lengths, scale = SETS[0]
    for cv in CLIP_VALUES:
        params = params_of(seed, lengths, scale, False)
        torch.nn.utils.clip_grad_value_(params, clip_value=cv)
        value_cases.append({"set": name, "clipValue": cv, "grads": sampled(params)})
    return norm_cases, clip_cases, value_cases


def self_check_data():
    for seed, step, tensor, n in [(3000, 1, 4, 300), (3001, 1, 2, 50), (3002, 1, 0, 50)]:
        arr = values(seed, step, tensor, n)
        for i in range(n):
            assert float(arr[i]) == value(seed, step, tensor, i), (seed, step, tensor, i)


def main():
    self_check_data()
    torch.set_num_threads(1)
    norm_cases, clip_cases, value_cases = build()
    assert (norm_cases, clip_cases, value_cases) == build(), "non-deterministic results"
    doc = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "hasGetTotalNorm": hasattr(torch.nn.utils, "get_total_norm"),
        "sets": [{"name": n, "seed": s, "lengths": ls, "gradScale": sc} for n, s, ls, sc in SETS],
        "normCases": norm_cases,
        "clipCases": clip_cases,
        "valueCases": value_cases,
    }
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"
    with open(OUT, "w") as f:
        f.write(text)
    clipped = sum(1 for c in clip_cases if c["clipped"])
    print(
        "torch %s: %d norm cases, %d clip cases (%d clipped), %d value cases, %d bytes -> %s"
        % (torch.__version__, len(norm_cases), len(clip_cases), clipped, len(value_cases), len(text), os.path.relpath(OUT, ROOT))
    )


if __name__ == "__main__":
    main()
