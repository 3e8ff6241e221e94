#!/usr/bin/env python3
"""Generate ferroptim's torch.optim.Adafactor fixtures (__test__/fixtures/adafactor.json).

Runs the REAL torch.optim.Adafactor of torch 2.15 (foreach=False: `_single_tensor_adafactor`,
which is also its default) on CPU float32 tensors of several shapes, and records the final
parameters and the state of every tensor. See scripts/FIXTURES.md.

Usage:
    /work/venv-torch/bin/python scripts/gen_fixtures_adafactor.py

Deterministic: re-running produces byte-identical files.

--- Data (the rules of scripts/gen_fixtures.py, whose helpers are imported) -----------------

  - Tensors of SHAPES below (tensor j has numel(SHAPES[j]) elements, row-major); initial
    element i of tensor j: value(seed, 0, j, i); gradient at step t (1..25):
    float32(value(seed, t, j, i) * gradScale). seed = 1000 + case index.
  - param groups: tensors 0-3 -> group 0 with the case options; tensors 4-7 -> group 1 with
    the same options but lr = case lr / 2.
  - lrSchedule "linear": before step t each group's lr is base * (1 - (t - 1) / 50).
  - skip: tensor 2 (the tall [17, 3] matrix, factored) has grad None at steps 3 and 4, so its
    step count ends at 23.
  - Recorded per case: final[j] = {indices, values} at sample_indices(numel) of every tensor;
    state[j] = {step, rowVar, colVar} (factored: 2 or more dimensions) or {step, variance}
    (0 or 1 dimension), each buffer flattened row-major from torch's shape ([..., R, 1],
    [..., 1, C] and the parameter's shape) and sampled at sample_indices(its length).
    Values are float32 numbers written as their exact f64 value.
  - options use ferroptim's names: lr, beta2Decay, eps ([eps1 or null, eps2]), d,
    weightDecay, maximize.
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
    int_step,
    render_file,
    run_case_steps,
    split_case,
    torch_kwargs,
    two_group_optimizer,
)

GENERATOR = "scripts/gen_fixtures_adafactor.py"

# 0-dim and vector (unfactored); tall, wide, one-row, square, 3-D (batched) and a matrix wider
# than ferroptim's 4096-column stripes (factored).
SHAPES = [[], [7], [17, 3], [3, 33], [1, 9], [32, 32], [4, 50, 200], [3, 4500]]
GROUP0 = 4  # tensors [0, GROUP0) in group 0, the rest in group 1
SKIPPED = 2

CASES = [
    ("defaults (lr 1e-2, below 1/sqrt(t) at every step)", {}),
    ("lr 0.5: rho = 1/sqrt(t) from step 5 (group 1, lr 0.25: from step 17)", {"lr": 0.5}),
    ("weight decay 0.1, lr 0.05", {"lr": 0.05, "weightDecay": 0.1}),
    ("maximize, lr 0.05", {"lr": 0.05, "maximize": True}),
    ("d 1.25 (clipping only above RMS 1.25), lr 0.1", {"lr": 0.1, "d": 1.25}),
    ("eps2 1 (above RMS(theta): alpha = rho)", {"eps": [None, 1.0]}),
    ("eps1 1e-3, grads x 2^-6 (the row-mean clamp and the variance clamp bite)", {"eps": [1e-3, 1e-3], "gradScale": 2.0**-6}),
    ("eps1 1e-10 explicit, lr 0.1", {"lr": 0.1, "eps": [1e-10, 1e-3]}),
    ("beta2Decay -0.5", {"beta2Decay": -0.5}),
    ("beta2Decay 0 (weight 1: the statistics are the last step's)", {"beta2Decay": 0.0, "lr": 0.05}),
    ("linear lr schedule, lr 0.3, weight decay 0.01", {"lr": 0.3, "weightDecay": 0.01, "lrSchedule": "linear"}),
    ("skip: tensor 2 has no grad at steps 3 and 4, lr 0.2", {"lr": 0.2, "skip": True}),
    ("tiny grads x 2^-12 (the default eps1 clamps the row mean)", {"gradScale": 2.0**-12}),
    ("large grads x 2^6, maximize, weight decay 0.05, lr 0.1, d 2", {"gradScale": 2.0**6, "maximize": True, "weightDecay": 0.05, "lr": 0.1, "d": 2.0}),
]

TORCH_NAME = {"lr": "lr", "beta2Decay": "beta2_decay", "eps": "eps", "d": "d", "weightDecay": "weight_decay", "maximize": "maximize"}


def run_case(opt_name, case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    kw = torch_kwargs(options, TORCH_NAME, tuples=("eps",))  # foreach=False: the single-tensor code, also Adafactor's default
    base_lr = kw.setdefault("lr", 1e-2)
    params = initial_params(seed, SHAPES)
    opt, group_base_lrs = two_group_optimizer(getattr(torch.optim, opt_name), params, base_lr, kw, split=GROUP0)

    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs, shapes=SHAPES, skipped=SKIPPED)

    final = final_samples(params)
    state = []
    for j, (p, s) in enumerate(zip(params, SHAPES)):
        st = opt.state[p]
        entry = {"step": int_step(st)}
        assert entry["step"] == (STEPS - 2 if skip and j == SKIPPED else STEPS)
        if len(s) >= 2:
            assert list(st["row_var"].shape) == s[:-1] + [1] and list(st["col_var"].shape) == s[:-2] + [1, s[-1]]
            entry["rowVar"] = flat_samples(st["row_var"])
            entry["colVar"] = flat_samples(st["col_var"])
        else:
            assert list(st["variance"].shape) == s
            entry["variance"] = flat_samples(st["variance"])
        state.append(entry)
    for p in params:
        assert torch.isfinite(p).all()

    return case_record(name, seed, options, lr_schedule, skip, grad_scale, final=final, state=state)


OPTIMIZERS = [("adafactor.json", "Adafactor", CASES)]


def render(opt_name, cases):
    head = {"generator": GENERATOR, "torch": torch.__version__, "optimizer": opt_name, "shapes": SHAPES, "group0": GROUP0, "skipped": SKIPPED, "steps": STEPS}
    return render_file(head, cases)


def main():
    note = "; torch %s (cpu capability %s)" % (torch.__version__, cpu_capability())
    _, size = generate(OPTIMIZERS, run_case, [("adafactor.json", "Adafactor", CASES, ci) for ci in (1, 6)], render, note, expect_torch=((2, 15), "adafactor.json was"))
    assert size < 1024 * 1024, "fixture too large"


if __name__ == "__main__":
    sys.exit(main())
