#!/usr/bin/env python3
"""Generate ferroptim's Schedule-Free fixtures:
__test__/fixtures/{adamwschedulefree,sgdschedulefree}.json.

Runs the REAL AdamWScheduleFree and SGDScheduleFree of PyPI `schedulefree` (1.4) on CPU float32
tensors, with exactly the data, groups, schedule, skip rule, sample indices and JSON layout of
scripts/gen_fixtures.py (its helpers are imported, not copied; see the data section of its
docstring and scripts/FIXTURES.md).

Usage:
    /work/venv-torch/bin/pip install torch schedulefree==1.4
    /work/venv-torch/bin/python scripts/gen_fixtures_schedulefree.py

Deterministic: re-running produces byte-identical files.

Differences from gen_fixtures.py (data rules are identical):
  - Each file records the library versions ("torch", "schedulefree").
  - The optimizer starts in eval mode: every case calls opt.train() before its first step.
  - "evalAfter" (in a case, beside "lrSchedule", "skip", "gradScale"): the 1-based steps after
    which opt.eval() is called; opt.train() is called before the next step. When the last step
    is listed, the recorded parameters are x, the evaluation point; otherwise y.
  - state3 holds "z" (and "expAvgSq" for AdamW) of tensor 3; schedulefree keeps no per-parameter
    step counter.
  - "groups": each param group's scalar state at the end, camelCase: k, trainMode, weightSum,
    lrMax, scheduledLr (floats written as Python's repr, so exact).
  - The optimizers run with their default foreach=True; the script checks that foreach=False
    (the single-tensor loop) gives the same bits.
"""

import os
import sys
from importlib import metadata

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import (  # noqa: E402  (shared data rules)
    STEPS,
    case_record,
    final_samples,
    flat_samples,
    generate,
    initial_params,
    lengths_header,
    render_file,
    run_case_steps,
    split_case,
    torch_kwargs,
    two_group_optimizer,
)

import schedulefree  # noqa: E402

GENERATOR = "scripts/gen_fixtures_schedulefree.py"
TINY = 0.0009765625  # 2^-10

# ---------------------------------------------------------------------------- cases
ADAMW_CASES = [
    ("defaults (lr 0.0025, betas 0.9/0.999, eps 1e-8, no weight decay, no warmup, r 0, weightLrPower 2)", {}),
    ("lr 0.01 with weight decay 0.01 (at y, added to the normalised gradient)", {"lr": 0.01, "weightDecay": 0.01}),
    ("lr 0.01, linear warmup over 10 steps (the averaging weights grow as lrMax^2)", {"lr": 0.01, "warmupSteps": 10}),
    ("lr 0.01, polynomial weighting r 1 without lr weighting (weightLrPower 0)", {"lr": 0.01, "r": 1.0, "weightLrPower": 0.0}),
    (
        "every option: betas 0.95/0.99, eps 1e-6, weight decay 0.1, warmup 5, r 0.5, weightLrPower 1",
        {
            "lr": 0.005,
            "betas": [0.95, 0.99],
            "eps": 1e-6,
            "weightDecay": 0.1,
            "warmupSteps": 5,
            "r": 0.5,
            "weightLrPower": 1.0,
        },
    ),
    (
        "betas 0.3/0.9 (ATen's other lerp form), warmup 3, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "betas": [0.3, 0.9], "warmupSteps": 3, "lrSchedule": "linear", "skip": True},
    ),
    (
        "eval() after steps 8 and 16 (train() before the next), eval() at the end: x recorded; warmup 5, weight decay 0.01",
        {"lr": 0.01, "warmupSteps": 5, "weightDecay": 0.01, "evalAfter": [8, 16, 25]},
    ),
    (
        "betas 0.3/0.9, eval() after step 12 and at the end (x recorded), linear lr schedule",
        {"lr": 0.01, "betas": [0.3, 0.9], "lrSchedule": "linear", "evalAfter": [12, 25]},
    ),
    ("eps 1e-3, tiny grads (scale 2^-10)", {"lr": 0.01, "eps": 1e-3, "gradScale": TINY}),
]

SGD_CASES = [
    ("defaults (lr 1, momentum 0.9, no weight decay, no warmup, r 0, weightLrPower 2)", {}),
    ("lr 0.1 with weight decay 0.01 (at y)", {"lr": 0.1, "weightDecay": 0.01}),
    ("lr 0.1, linear warmup over 10 steps (the averaging weights grow as lrMax^2)", {"lr": 0.1, "warmupSteps": 10}),
    (
        "lr 0.1, momentum 0.5, polynomial weighting r 1 without lr weighting (weightLrPower 0)",
        {"lr": 0.1, "momentum": 0.5, "r": 1.0, "weightLrPower": 0.0},
    ),
    (
        "every option: momentum 0.95, weight decay 0.1, warmup 5, r 0.5, weightLrPower 1",
        {"lr": 0.05, "momentum": 0.95, "weightDecay": 0.1, "warmupSteps": 5, "r": 0.5, "weightLrPower": 1.0},
    ),
    (
        "momentum 0.3 (ATen's other lerp form), warmup 3, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.1, "momentum": 0.3, "warmupSteps": 3, "lrSchedule": "linear", "skip": True},
    ),
    (
        "eval() after steps 8 and 16 (train() before the next), eval() at the end: x recorded; warmup 5, weight decay 0.01",
        {"lr": 0.1, "warmupSteps": 5, "weightDecay": 0.01, "evalAfter": [8, 16, 25]},
    ),
    (
        "momentum 0.3, eval() after step 12 and at the end (x recorded), linear lr schedule",
        {"lr": 0.1, "momentum": 0.3, "lrSchedule": "linear", "evalAfter": [12, 25]},
    ),
    ("lr 0.5, tiny grads (scale 2^-10)", {"lr": 0.5, "gradScale": TINY}),
]

DEFAULT_LR = {"AdamWScheduleFree": 0.0025, "SGDScheduleFree": 1.0}
TORCH_NAME = {
    "lr": "lr",
    "betas": "betas",
    "eps": "eps",
    "momentum": "momentum",
    "weightDecay": "weight_decay",
    "warmupSteps": "warmup_steps",
    "r": "r",
    "weightLrPower": "weight_lr_power",
}
GROUP_STATE = [("k", "k"), ("train_mode", "trainMode"), ("weight_sum", "weightSum"), ("lr_max", "lrMax"), ("scheduled_lr", "scheduledLr")]


def run(opt_name, seed, options, lr_schedule, skip, grad_scale, eval_after, foreach):
    """One case's 25 steps; returns the parameters and the optimizer."""
    kw = torch_kwargs(options, TORCH_NAME, foreach=foreach)
    base_lr = kw.setdefault("lr", DEFAULT_LR[opt_name])
    params = initial_params(seed)
    opt, group_base_lrs = two_group_optimizer(getattr(schedulefree, opt_name), params, base_lr, kw)

    def before(t):
        if t - 1 in eval_after:
            opt.train()

    def after(t):
        if t in eval_after:
            opt.eval()

    opt.train()
    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs, before=before, after=after)
    return params, opt


def run_case(opt_name, case_index, name, raw):
    raw = dict(raw)
    eval_after = raw.pop("evalAfter", [])
    assert all(1 <= s <= STEPS for s in eval_after)
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    params, opt = run(opt_name, seed, options, lr_schedule, skip, grad_scale, eval_after, True)
    final = final_samples(params)

    # The single-tensor loop computes the same bits as the default foreach path.
    loop, loop_opt = run(opt_name, seed, options, lr_schedule, skip, grad_scale, eval_after, False)
    assert all(torch.equal(a, b) for a, b in zip(params, loop)), "foreach and loop differ: %s" % name
    assert all(torch.equal(opt.state[a]["z"], loop_opt.state[b]["z"]) for a, b in zip(params, loop))

    st = opt.state[params[3]]
    state3 = {"z": flat_samples(st["z"])}
    if "exp_avg_sq" in st:
        state3["expAvgSq"] = flat_samples(st["exp_avg_sq"])
    assert "step" not in st
    groups = []
    for g in opt.param_groups:
        entry = {}
        for torch_name, key in GROUP_STATE:
            v = g[torch_name]
            entry[key] = v if isinstance(v, bool) else (int(v) if torch_name == "k" else float(v))
        groups.append(entry)
    assert all(g["k"] == STEPS for g in groups)
    assert all(g["trainMode"] == (STEPS not in eval_after) for g in groups)

    evals = {"evalAfter": eval_after} if eval_after else {}
    return case_record(name, seed, options, lr_schedule, skip, grad_scale, **evals, final=final, state3=state3, groups=groups)


OPTIMIZERS = [
    ("adamwschedulefree.json", "AdamWScheduleFree", ADAMW_CASES),
    ("sgdschedulefree.json", "SGDScheduleFree", SGD_CASES),
]


def render(opt_name, cases):
    return render_file(lengths_header(GENERATOR, opt_name, schedulefree=metadata.version("schedulefree")), cases)


def main():
    reruns = [("adamwschedulefree.json", "AdamWScheduleFree", ADAMW_CASES, 6), ("sgdschedulefree.json", "SGDScheduleFree", SGD_CASES, 5)]
    cap, total = generate(OPTIMIZERS, run_case, reruns, render)
    print("torch %s (cpu capability %s), schedulefree %s, total %d bytes" % (torch.__version__, cap, metadata.version("schedulefree"), total))
    assert total < 2 * 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    sys.exit(main())
