#!/usr/bin/env python3
"""Generate ferroptim's reference fixtures for torch.optim's Rprop and ASGD, from torch 2.15:
__test__/fixtures/{rprop,asgd}.json.

Runs the REAL torch.optim.Rprop and torch.optim.ASGD (foreach=False: the `_single_tensor_*`
code) on CPU float32 tensors, with exactly the data, groups, schedule, skip rule, sample indices
and JSON layout of scripts/gen_fixtures.py (its helpers are imported, not copied; see the data
section of its docstring and scripts/FIXTURES.md). The other fixture files are not touched.

Usage:
    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch==2.15.0 numpy
    /work/venv-torch/bin/python scripts/gen_fixtures_torch215.py

Deterministic: re-running produces byte-identical files.

Recorded state of tensor 3 (besides the final parameters of every tensor):
  - Rprop: step, prev, stepSize (torch's step_size).
  - ASGD: step, ax, and eta and mu as single numbers (torch's 0-dim float32 tensors).
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import (  # noqa: E402  (shared data rules)
    STEPS,
    case_record,
    final_samples,
    generate,
    initial_params,
    int_step,
    lengths_header,
    named_state,
    render_file,
    run_case_steps,
    split_case,
    torch_kwargs,
    two_group_optimizer,
)

GENERATOR = "scripts/gen_fixtures_torch215.py"
TINY = 2.0**-70  # grads of order 1e-21: products g·prev of order 1e-42 are subnormal or 0

# ---------------------------------------------------------------------------- cases
RPROP_CASES = [
    ("defaults (lr 1e-2, etas 0.5/1.2, stepSizes 1e-6/50)", {}),
    (
        "etas 0.3/2, stepSizes 1e-4/0.02 (both clamps bite)",
        {"etas": [0.3, 2.0], "stepSizes": [1e-4, 0.02]},
    ),
    ("lr 0.1, maximize", {"lr": 0.1, "maximize": True}),
    (
        "etas 0.9/1.01, stepSizes 0/1, lr 1e-3, maximize",
        {"lr": 0.001, "etas": [0.9, 1.01], "stepSizes": [0.0, 1.0], "maximize": True},
    ),
    (
        "stepSizes 0.05/0.01 (min above max: every step size is 0.01), lr 0.1",
        {"lr": 0.1, "stepSizes": [0.05, 0.01]},
    ),
    (
        "linear lr schedule (lr only sets the initial step sizes), tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "lrSchedule": "linear", "skip": True},
    ),
    (
        "tiny grads (scale 2^-70: some products g·prev are subnormal or 0), etas 0.5/1.5",
        {"lr": 0.01, "etas": [0.5, 1.5], "gradScale": TINY},
    ),
]

ASGD_CASES = [
    ("defaults (lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6: no averaging yet)", {}),
    ("lr 0.05, lambd 0.01, t0 5 (averaging from step 7)", {"lr": 0.05, "lambd": 0.01, "t0": 5.0}),
    (
        "t0 0, alpha 1, lambd 0.5, weight decay 0.1",
        {"lr": 0.05, "lambd": 0.5, "alpha": 1.0, "t0": 0.0, "weightDecay": 0.1},
    ),
    (
        "t0 10.5, alpha 0.5, lambd 0.1, weight decay 0.01, maximize",
        {"lr": 0.02, "lambd": 0.1, "alpha": 0.5, "t0": 10.5, "weightDecay": 0.01, "maximize": True},
    ),
    (
        "t0 3, lambd 0.1, linear lr schedule (eta follows it one step late), tensor 1 skipped at steps 3-4",
        {"lr": 0.05, "lambd": 0.1, "t0": 3.0, "lrSchedule": "linear", "skip": True},
    ),
    (
        "t0 -2, alpha 0, lambd 2, tiny grads (scale 2^-10)",
        {"lr": 0.1, "lambd": 2.0, "alpha": 0.0, "t0": -2.0, "gradScale": 0.0009765625},
    ),
]

DEFAULT_LR = {"Rprop": 1e-2, "ASGD": 1e-2}
TORCH_NAME = {
    "lr": "lr",
    "etas": "etas",
    "stepSizes": "step_sizes",
    "maximize": "maximize",
    "lambd": "lambd",
    "alpha": "alpha",
    "t0": "t0",
    "weightDecay": "weight_decay",
}
PAIRS = ("etas", "stepSizes")
# State recorded for tensor 3: (torch name, camelCase name), in order.
STATE_NAMES = {
    "Rprop": [("prev", "prev"), ("step_size", "stepSize")],
    "ASGD": [("ax", "ax"), ("eta", "eta"), ("mu", "mu")],
}


def run_case(opt_name, case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    kw = torch_kwargs(options, TORCH_NAME, tuples=PAIRS)  # foreach=False: the single-tensor code, PyTorch's CPU default
    base_lr = kw.setdefault("lr", DEFAULT_LR[opt_name])
    params = initial_params(seed)
    opt, group_base_lrs = two_group_optimizer(getattr(torch.optim, opt_name), params, base_lr, kw)

    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs)
    final = final_samples(params)

    st = opt.state[params[3]]
    state3 = {"step": int_step(st)}
    state3.update(named_state(st, STATE_NAMES[opt_name], float32_only=True))
    assert len(state3) == 1 + len(STATE_NAMES[opt_name])
    if skip:  # tensor 1's step count lags by 2
        assert int(float(opt.state[params[1]]["step"])) == STEPS - 2

    return case_record(name, seed, options, lr_schedule, skip, grad_scale, final=final, state3=state3)


OPTIMIZERS = [
    ("rprop.json", "Rprop", RPROP_CASES),
    ("asgd.json", "ASGD", ASGD_CASES),
]


def render(opt_name, cases):
    return render_file(lengths_header(GENERATOR, opt_name), cases)


def main():
    reruns = [("rprop.json", "Rprop", RPROP_CASES, 5), ("asgd.json", "ASGD", ASGD_CASES, 4)]
    cap, total = generate(OPTIMIZERS, run_case, reruns, render, expect_torch=((2, 15), "rprop.json and asgd.json were"))
    print("torch %s (cpu capability %s), total %d bytes" % (torch.__version__, cap, total))
    assert total < 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    sys.exit(main())
