#!/usr/bin/env python3
"""Generate ferroptim's reference fixture for torch.optim.Muon, from torch 2.15:
__test__/fixtures/muon.json.

Runs the REAL torch.optim.Muon on CPU float32 matrices with the data rules of
scripts/gen_fixtures.py (its helpers are imported, not copied: `values`, the sample indices, the
JSON layout), adapted to 2-D parameters:

  - tensors 0..6 are matrices of SHAPES below (row-major; tensor j holds
    value(seed, 0, j, i) for i < rows*cols, seed = 1000 + case index);
  - the gradient of tensor j at step t (1..25) is float32(value(seed, t, j, i) * gradScale);
  - group 0 holds tensors 0..3 with the case options, group 1 tensors 4..6 with lr / 2;
  - lrSchedule "linear": before step t each group's lr is base * (1 - (t - 1) / 50);
  - skip: tensor 1 has grad None at steps 3 and 4.

Recorded: every tensor's final values at its sample indices (gen_fixtures.sample_indices of its
element count), and `state3`: the momentum buffer of tensor 3 (64 x 64) at its sample indices.
torch keeps no step counter for Muon.

torch runs on one thread (torch.set_num_threads(1)); its bf16 matrix products then go through
oneDNN's bf16 GEMM (brgemm with AVX512-BF16 on the machine that made the committed file) for all
but the smallest matrices, which ATen multiplies itself. The header records the CPU capability
and whether oneDNN is used.

Usage:
    /work/venv-torch/bin/python scripts/gen_fixtures_muon.py

Deterministic: re-running on the same machine produces a byte-identical file.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import (  # noqa: E402  (shared data rules)
    OUT_DIR,
    ROOT,
    STEPS,
    dump,
    f32list,
    render_file,
    sample_indices,
    self_check_data,
    values,
)

GENERATOR = "scripts/gen_fixtures_muon.py"

# (rows, cols): a row vector, small wide and tall matrices (ATen's own product), a square one,
# tall and wide ones large enough for oneDNN, and a tall one whose X·Xᵀ sums 300 terms.
SHAPES = [(1, 5), (8, 20), (20, 8), (64, 64), (96, 40), (33, 130), (300, 12)]
GROUP0 = 4  # tensors 0..3 in group 0, the rest in group 1

TORCH_NAME = {
    "lr": "lr",
    "weightDecay": "weight_decay",
    "momentum": "momentum",
    "nesterov": "nesterov",
    "nsCoefficients": "ns_coefficients",
    "eps": "eps",
    "nsSteps": "ns_steps",
    "adjustLrFn": "adjust_lr_fn",
}
META_KEYS = ("lrSchedule", "skip", "gradScale")
DEFAULT_LR = 1e-3

CASES = [
    ("defaults (lr 1e-3, weight decay 0.1, momentum 0.95, nesterov, 5 steps of (3.4445, -4.775, 2.0315))", {}),
    ("lr 0.02", {"lr": 0.02}),
    ("lr 0.02 without nesterov", {"lr": 0.02, "nesterov": False}),
    ("lr 0.02, momentum 0.3 (both lerps in their other form), weight decay 0", {"lr": 0.02, "momentum": 0.3, "weightDecay": 0.0}),
    ("lr 0.05, momentum 0 (the buffer is the gradient), weight decay 0.5", {"lr": 0.05, "momentum": 0.0, "weightDecay": 0.5}),
    ("adjustLrFn match_rms_adamw, lr 0.003, weight decay 0.01", {"lr": 0.003, "adjustLrFn": "match_rms_adamw", "weightDecay": 0.01}),
    ("adjustLrFn spectral_unclamped, lr 0.02", {"lr": 0.02, "adjustLrFn": "spectral_unclamped"}),
    ("nsSteps 0 (the normalized bf16 momentum itself), lr 0.02", {"lr": 0.02, "nsSteps": 0}),
    ("nsSteps 1, lr 0.02", {"lr": 0.02, "nsSteps": 1}),
    ("nsSteps 10, lr 0.02", {"lr": 0.02, "nsSteps": 10}),
    ("cubic coefficients (1.5, -0.5, 0), nsSteps 8, lr 0.02", {"lr": 0.02, "nsCoefficients": [1.5, -0.5, 0.0], "nsSteps": 8}),
    ("eps 0.1 above the norm of tiny grads (scale 2^-10), lr 0.02", {"lr": 0.02, "eps": 0.1, "gradScale": 0.0009765625}),
    ("zero grads (only the weight decay moves the weights), lr 0.02", {"lr": 0.02, "gradScale": 0.0}),
    ("lr 0.02, linear lr schedule, tensor 1 skipped at steps 3-4", {"lr": 0.02, "lrSchedule": "linear", "skip": True}),
]


def split_case(raw):
    options = {k: v for k, v in raw.items() if k not in META_KEYS}
    lr_schedule = raw.get("lrSchedule", "none")
    assert lr_schedule in ("none", "linear")
    return options, lr_schedule, bool(raw.get("skip", False)), float(raw.get("gradScale", 1.0))


def grad_matrix(seed, step, j, shape, grad_scale):
    n = shape[0] * shape[1]
    v = values(seed, step, j, n).astype(np.float64) * grad_scale
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def run_case(ci, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + ci
    kw = {TORCH_NAME[k]: (tuple(v) if k == "nsCoefficients" else v) for k, v in options.items()}
    base_lr = kw.setdefault("lr", DEFAULT_LR)
    params = [
        torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, r * c).copy().reshape(r, c)))
        for j, (r, c) in enumerate(SHAPES)
    ]
    opt = torch.optim.Muon(
        [{"params": params[:GROUP0]}, {"params": params[GROUP0:], "lr": base_lr / 2}],
        **kw,
    )
    bases = [g["lr"] for g in opt.param_groups]
    for t in range(1, STEPS + 1):
        if lr_schedule == "linear":
            for g, b in zip(opt.param_groups, bases):
                g["lr"] = b * (1 - (t - 1) / 50)
        for j, (p, shape) in enumerate(zip(params, SHAPES)):
            p.grad = None if (skip and j == 1 and t in (3, 4)) else grad_matrix(seed, t, j, shape, grad_scale)
        opt.step()
    final = []
    for p in params:
        flat = p.detach().numpy().reshape(-1)
        idx = sample_indices(flat.size)
        final.append({"indices": idx, "values": f32list(flat, idx)})
    buf = opt.state[params[3]]["momentum_buffer"].detach().numpy().reshape(-1)
    state3 = {"momentumBuffer": f32list(buf, sample_indices(buf.size))}
    return {
        "name": name,
        "seed": seed,
        "options": options,
        "lrSchedule": lr_schedule,
        "skip": skip,
        "gradScale": grad_scale,
        "final": final,
        "state3": state3,
    }


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    self_check_data()
    cases = [run_case(ci, name, raw) for ci, (name, raw) in enumerate(CASES)]
    again = run_case(13, *CASES[13])
    assert dump(again) == dump(cases[13]), "non-deterministic"
    cap = torch.backends.cpu.get_cpu_capability()
    head = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "cpuCapability": cap,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": 1,
        "optimizer": "Muon",
        "shapes": [list(s) for s in SHAPES],
        "steps": STEPS,
    }
    text = render_file(head, cases)
    path = os.path.join(OUT_DIR, "muon.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s (%d bytes, %d cases); torch %s, cpu capability %s" % (os.path.relpath(path, ROOT), len(text), len(cases), torch.__version__, cap))


if __name__ == "__main__":
    sys.exit(main())
