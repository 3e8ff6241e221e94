#!/usr/bin/env python3
"""Generate ferroptim's reference fixtures for the optimizers outside torch.optim:
__test__/fixtures/{adabound,lamb,lion,lookahead}.json.

Runs the REAL torch-optimizer (jettify) AdaBound, Lamb and Lookahead and lion-pytorch's Lion
on CPU float32 tensors, with exactly the data, groups, schedule, skip rule, sample indices and
JSON layout of scripts/gen_fixtures.py (its helpers are imported, not copied; see the data
section of its docstring and scripts/FIXTURES.md).

Usage:
    /tmp/torch2/bin/pip install torch==2.5.1 numpy torch-optimizer==0.3.0 lion-pytorch==0.2.5
    # torch-optimizer 0.3.0 imports pytorch_ranger (0.1.1); if pip's resolver fights the pinned
    # torch, install the two with --no-deps.
    /tmp/torch2/bin/python scripts/gen_fixtures_contrib.py

Deterministic: re-running produces byte-identical files.

Differences from gen_fixtures.py (data rules are identical):
  - Each file records the library versions ("torch", "torch_optimizer", "lion_pytorch").
  - Lookahead cases carry {"inner": "Adam"|"SGD", "innerOptions": {...}, "k", "alpha"} in
    "options"; the schedule and the group-1 lr (= lr / 2) apply to the inner optimizer's groups
    (Lookahead shares them). Its state3 holds the inner state of tensor 3, "slowParam" and the
    final "counter" (jettify keeps it in every param group; all groups hold the same value).
  - Lion (lion-pytorch) keeps no step counter: its state3 holds only expAvg.
  - jettify's Lamb takes clamp_value, adam and debias for the whole optimizer; every case uses
    the same value in both groups, which is what ferroptim's per-group options reproduce.
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
    int_step,
    lengths_header,
    named_state,
    render_file,
    run_case_steps,
    split_case,
    torch_kwargs,
    two_group_optimizer,
)

import torch_optimizer  # noqa: E402
from lion_pytorch import Lion  # noqa: E402

GENERATOR = "scripts/gen_fixtures_contrib.py"

# ---------------------------------------------------------------------------- cases
ADABOUND_CASES = [
    ("defaults (lr 1e-3, betas 0.9/0.999, finalLr 0.1, gamma 1e-3, eps 1e-8)", {}),
    (
        "lr 0.01, coupled weight decay 0.01, gamma 0.1 (both bounds bite)",
        {"lr": 0.01, "weightDecay": 0.01, "gamma": 0.1},
    ),
    ("amsbound, lr 0.01", {"lr": 0.01, "amsbound": True}),
    (
        "amsbound with weight decay 0.1, betas 0.8/0.99, eps 1e-6, finalLr 0.05, gamma 0.5",
        {
            "lr": 0.01,
            "betas": [0.8, 0.99],
            "eps": 1e-6,
            "weightDecay": 0.1,
            "finalLr": 0.05,
            "gamma": 0.5,
            "amsbound": True,
        },
    ),
    (
        "gamma 0.5, linear lr schedule (the bounds follow the current lr), tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "gamma": 0.5, "lrSchedule": "linear", "skip": True},
    ),
    (
        "amsbound, gamma 0.05, linear lr schedule, tiny grads (scale 2^-10)",
        {"lr": 0.003, "gamma": 0.05, "amsbound": True, "lrSchedule": "linear", "gradScale": 0.0009765625},
    ),
]

LAMB_CASES = [
    ("defaults (lr 1e-3, betas 0.9/0.999, eps 1e-6, clampValue 10, no debias)", {}),
    ("lr 0.01 with weight decay 0.01 (inside the trust-ratio direction)", {"lr": 0.01, "weightDecay": 0.01}),
    ("debias, lr 0.01", {"lr": 0.01, "debias": True}),
    (
        "debias with weight decay 0.1, clampValue 0.5, betas 0.8/0.99, eps 1e-8",
        {
            "lr": 0.01,
            "betas": [0.8, 0.99],
            "eps": 1e-8,
            "weightDecay": 0.1,
            "clampValue": 0.5,
            "debias": True,
        },
    ),
    (
        "clampValue 0.5, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "clampValue": 0.5, "lrSchedule": "linear", "skip": True},
    ),
    ("adam (trust ratio 1), weight decay 0.01, lr 0.01", {"lr": 0.01, "adam": True, "weightDecay": 0.01}),
]

LION_CASES = [
    ("defaults (lr 1e-4, betas 0.9/0.99, no weight decay)", {}),
    ("lr 1e-3 with decoupled weight decay 0.1", {"lr": 0.001, "weightDecay": 0.1}),
    ("betas 0.95/0.98, lr 3e-4", {"lr": 0.0003, "betas": [0.95, 0.98]}),
    (
        "weight decay 1, betas 0.8/0.9, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.001, "weightDecay": 1.0, "betas": [0.8, 0.9], "lrSchedule": "linear", "skip": True},
    ),
    ("betas 0.5/0.999, tiny grads (scale 2^-10)", {"lr": 0.001, "betas": [0.5, 0.999], "gradScale": 0.0009765625}),
]

LOOKAHEAD_CASES = [
    ("k 5, alpha 0.5 over Adam (lr 0.01)", {"inner": "Adam", "innerOptions": {"lr": 0.01}, "k": 5, "alpha": 0.5}),
    (
        "k 5, alpha 0.5 over SGD (lr 0.1, momentum 0.9)",
        {"inner": "SGD", "innerOptions": {"lr": 0.1, "momentum": 0.9}, "k": 5, "alpha": 0.5},
    ),
    (
        "k 3, alpha 0.8 over Adam (lr 0.01, weight decay 0.01), tensor 1 skipped at steps 3-4",
        {"inner": "Adam", "innerOptions": {"lr": 0.01, "weightDecay": 0.01}, "k": 3, "alpha": 0.8, "skip": True},
    ),
    (
        "k 5, alpha 0.5 over SGD (lr 0.05, nesterov momentum 0.9), linear lr schedule",
        {
            "inner": "SGD",
            "innerOptions": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
            "k": 5,
            "alpha": 0.5,
            "lrSchedule": "linear",
        },
    ),
]

DEFAULT_LR = {"AdaBound": 1e-3, "Lamb": 1e-3, "Lion": 1e-4}
TORCH_NAME = {
    "lr": "lr",
    "betas": "betas",
    "eps": "eps",
    "weightDecay": "weight_decay",
    "finalLr": "final_lr",
    "gamma": "gamma",
    "amsbound": "amsbound",
    "clampValue": "clamp_value",
    "debias": "debias",
    "adam": "adam",
    "momentum": "momentum",
    "nesterov": "nesterov",
}


def make(opt_name, options, params):
    """The optimizer, the object whose param_groups the schedule writes, and their base lrs."""
    if opt_name == "Lookahead":
        inner_kw = torch_kwargs(options["innerOptions"], TORCH_NAME)  # foreach=False
        inner, group_base_lrs = two_group_optimizer(getattr(torch.optim, options["inner"]), params, inner_kw["lr"], inner_kw)
        opt = torch_optimizer.Lookahead(inner, k=options["k"], alpha=options["alpha"])
        return opt, inner, group_base_lrs
    kw = torch_kwargs(options, TORCH_NAME, foreach=None)
    base_lr = kw.setdefault("lr", DEFAULT_LR[opt_name])
    cls = Lion if opt_name == "Lion" else getattr(torch_optimizer, opt_name)
    opt, group_base_lrs = two_group_optimizer(cls, params, base_lr, kw)
    return opt, opt, group_base_lrs


def run_case(opt_name, case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    params = initial_params(seed)
    opt, inner, group_base_lrs = make(opt_name, options, params)
    if opt_name == "AdaBound":
        assert opt.base_lrs == group_base_lrs

    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs)
    final = final_samples(params)

    fast = (inner.state if opt_name == "Lookahead" else opt.state)[params[3]]
    state3 = {}
    if "step" in fast:
        state3["step"] = int_step(fast)
    state3.update(named_state(fast, [("exp_avg", "expAvg"), ("exp_avg_sq", "expAvgSq"), ("max_exp_avg_sq", "maxExpAvgSq")]))
    if fast.get("momentum_buffer") is not None:
        state3["momentumBuffer"] = flat_samples(fast["momentum_buffer"])
    if opt_name == "Lookahead":
        state3["slowParam"] = flat_samples(opt.state[params[3]]["slow_param"])
        counters = {g["counter"] for g in opt.param_groups}
        assert len(counters) == 1
        state3["counter"] = counters.pop()
        # jettify syncs after inner steps 1, k+1, 2k+1, ...: the slow weights equal the params
        # right after a sync.
    if skip and opt_name in ("AdaBound", "Lamb"):
        assert opt.state[params[1]]["step"] == STEPS - 2

    return case_record(name, seed, options, lr_schedule, skip, grad_scale, final=final, state3=state3)


OPTIMIZERS = [
    ("adabound.json", "AdaBound", ADABOUND_CASES),
    ("lamb.json", "Lamb", LAMB_CASES),
    ("lion.json", "Lion", LION_CASES),
    ("lookahead.json", "Lookahead", LOOKAHEAD_CASES),
]

FERROPTIM_NAME = {"AdaBound": "AdaBound", "Lamb": "LAMB", "Lion": "Lion", "Lookahead": "Lookahead"}


def render(opt_name, cases):
    versions = {"torch_optimizer": metadata.version("torch-optimizer"), "lion_pytorch": metadata.version("lion-pytorch")}
    return render_file(lengths_header(GENERATOR, FERROPTIM_NAME[opt_name], **versions), cases)


def main():
    reruns = [("lamb.json", "Lamb", LAMB_CASES, 3), ("lookahead.json", "Lookahead", LOOKAHEAD_CASES, 2)]
    cap, total = generate(OPTIMIZERS, run_case, reruns, render)
    print(
        "torch %s (cpu capability %s), torch-optimizer %s, lion-pytorch %s, total %d bytes"
        % (torch.__version__, cap, metadata.version("torch-optimizer"), metadata.version("lion-pytorch"), total)
    )
    assert total < 2 * 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    sys.exit(main())
