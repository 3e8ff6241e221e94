#!/usr/bin/env python3
"""Generate ferroptim's reference fixture for torch.optim.Muon, from torch 2.15:
__test__/fixtures/muon.json.

Runs the REAL torch.optim.Muon on CPU float32 matrices with the data rules of
scripts/gen_fixtures.py (its helpers are imported, not copied: `values`, the step loop, the sample
indices, the JSON layout, the self-check and the writing), adapted to 2-D parameters:

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

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import (  # noqa: E402  (shared data rules)
    STEPS,
    case_record,
    cpu_capability,
    final_samples,
    flat_samples,
    generate,
    initial_params,
    render_file,
    run_case_steps,
    split_case,
    torch_kwargs,
    two_group_optimizer,
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


def run_case(opt_name, ci, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + ci
    kw = torch_kwargs(options, TORCH_NAME, tuples=("nsCoefficients",), foreach=None)
    base_lr = kw.setdefault("lr", DEFAULT_LR)
    params = initial_params(seed, SHAPES)
    opt, bases = two_group_optimizer(getattr(torch.optim, opt_name), params, base_lr, kw, split=GROUP0)
    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, bases, shapes=SHAPES)
    final = final_samples(params)
    state3 = {"momentumBuffer": flat_samples(opt.state[params[3]]["momentum_buffer"])}
    return case_record(name, seed, options, lr_schedule, skip, grad_scale, final=final, state3=state3)


OPTIMIZERS = [("muon.json", "Muon", CASES)]


def render(opt_name, cases):
    head = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "cpuCapability": cpu_capability(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": 1,
        "optimizer": opt_name,
        "shapes": [list(s) for s in SHAPES],
        "steps": STEPS,
    }
    return render_file(head, cases)


def main():
    note = "; torch %s, cpu capability %s" % (torch.__version__, cpu_capability())
    generate(OPTIMIZERS, run_case, [("muon.json", "Muon", CASES, 13)], render, note)


if __name__ == "__main__":
    sys.exit(main())
