#!/usr/bin/env python3
"""Generate ferroptim's PyTorch learning-rate scheduler fixtures (__test__/fixtures/schedulers.json).

Runs the REAL torch.optim.lr_scheduler classes and records, for every case, the lr of each
param group (and the momentum or beta1 that cycling schedulers drive) right after the
scheduler is constructed and after each step. __test__/schedulers.spec.ts replays every case
through ferroptim's schedulers and compares, without needing Python.

Usage (the committed file was made with torch 2.5.1):

    python3 -m venv /tmp/torch2 && /tmp/torch2/bin/pip install -r scripts/requirements-fixtures.txt
    /tmp/torch2/bin/python scripts/gen_scheduler_fixtures.py

Needs torch >= 2.2 (CyclicLR and OneCycleLR cycle Adam's beta1 only since 2.2, PR #113548), so
Debian's torch 1.13 does not do. torch.__version__ is recorded in the file. Only the Python
standard library and torch are needed; the run takes about a second and is deterministic
(running it twice gives byte-identical files).

Conventions shared with the TypeScript side (mirror EXACTLY):

  * Each case names its optimizer ("SGD", "Adam", "AdamW") and its param groups as
    camelCase options (lr, momentum, betas, initialLr). Every group holds one parameter of
    length 2 and no gradient, so optimizer.step() changes nothing but is called before each
    scheduler.step(), as PyTorch expects.
  * Scheduler options are camelCase (ferroptim's names); to_torch() maps them to PyTorch's.
    Callables are named (LAMBDAS, SCALE_FNS) and each name is implemented identically in the
    test file.
  * "steps": number of scheduler.step() calls after construction. "metrics" (ReduceLROnPlateau)
    is the value passed to each step; "epochs" (CosineAnnealingWarmRestarts) is the fractional
    epoch passed to each step.
  * "lr" and "momentum" hold steps + 1 rows (construction, then each step), one value per group.
"""
import json
import math
import os
import sys
import warnings

import torch
from torch.optim import SGD, Adam, AdamW
from torch.optim import lr_scheduler as lrs

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "__test__", "fixtures", "schedulers.json")

# Named callables; schedulers.spec.ts implements each name with the same arithmetic.
LAMBDAS = {
    "inverse": lambda e: 1.0 / (1.0 + 0.05 * e),  # LambdaLR
    "power97": lambda e: 0.97 ** e,  # LambdaLR
    "warmup10": lambda e: min(1.0, (e + 1) / 10.0),  # LambdaLR
    "constant95": lambda e: 0.95,  # MultiplicativeLR
    "everyThird": lambda e: 0.9 if e % 3 == 0 else 1.0,  # MultiplicativeLR
}
SCALE_FNS = {
    "halfLife20": lambda x: 0.5 ** (x / 20.0),
    "inverseCycle": lambda x: 1.0 / x,
}

TORCH_NAMES = {"tMax": "T_max", "t0": "T_0", "tMult": "T_mult"}
CLASSES = {
    name: getattr(lrs, name)
    for name in [
        "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
        "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR",
        "ReduceLROnPlateau",
    ]
}
MODES = {"expRange": "exp_range"}


def snake(name):
    if name in TORCH_NAMES:
        return TORCH_NAMES[name]
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def to_torch(options):
    out = {}
    for k, v in options.items():
        if k == "lrLambda":
            v = [LAMBDAS[n] for n in v] if isinstance(v, list) else LAMBDAS[v]
        elif k == "scaleFn":
            v = SCALE_FNS[v]
        elif k == "mode":
            v = MODES.get(v, v)
        out[snake(k)] = v
    return out


def make_optimizer(spec):
    groups = []
    for g in spec["groups"]:
        d = {"params": [torch.zeros(2, requires_grad=True)]}
        for k, v in g.items():
            d[snake(k)] = tuple(v) if k == "betas" else v
        groups.append(d)
    cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[spec["type"]]
    return cls(groups)


def make_scheduler(opt, spec):
    kind, options = spec["type"], spec.get("options", {})
    if kind == "SequentialLR":
        children = [make_scheduler(opt, c) for c in options["schedulers"]]
        return lrs.SequentialLR(opt, schedulers=children, milestones=options["milestones"])
    if kind == "ChainedScheduler":
        children = [make_scheduler(opt, c) for c in spec["schedulers"]]
        return lrs.ChainedScheduler(children)
    return CLASSES[kind](opt, **to_torch(options))


def momentum_of(group):
    if "betas" in group:
        return group["betas"][0]
    return group.get("momentum")


def run(case):
    opt = make_optimizer(case["optimizer"])
    sched = make_scheduler(opt, case["scheduler"])
    record_momentum = case.get("recordMomentum", False)
    lr, mom = [], []

    def record():
        lr.append([float(g["lr"]) for g in opt.param_groups])
        if record_momentum:
            mom.append([float(momentum_of(g)) for g in opt.param_groups])
        last = [float(x) for x in sched.get_last_lr()]
        assert last == lr[-1], (case["name"], last, lr[-1])

    record()
    for i in range(case["steps"]):
        opt.step()
        if "metrics" in case:
            sched.step(case["metrics"][i])
        elif "epochs" in case:
            sched.step(case["epochs"][i])
        else:
            sched.step()
        record()
    out = dict(case)
    out["lr"] = lr
    if record_momentum:
        out["momentum"] = mom
    if case.get("expectStepError"):
        opt.step()
        try:
            sched.step()
        except ValueError as e:
            out["stepError"] = str(e)
        else:
            raise AssertionError(case["name"] + ": expected an error")
    return out


def sgd(*lrs_, momentum=None, initial=None):
    groups = []
    for i, lr in enumerate(lrs_):
        g = {"lr": lr}
        if momentum is not None:
            g["momentum"] = momentum
        if initial is not None:
            g["initialLr"] = initial[i]
        groups.append(g)
    return {"type": "SGD", "groups": groups}


def adam(*lrs_, kind="Adam"):
    return {"type": kind, "groups": [{"lr": lr, "betas": [0.9, 0.999]} for lr in lrs_]}


def metric_sequence(n, rising=False):
    """A loss that improves, plateaus with noise, improves a little, then plateaus again
    (with rising=True, an accuracy 1 - loss, for mode "max")."""
    out = []
    for t in range(n):
        if t < 12:
            v = 1.0 / (1.0 + 0.2 * t)
        elif t < 30:
            v = 0.3 + 0.002 * ((t * 7) % 5)
        elif t < 38:
            v = 0.3 - 0.01 * (t - 29)
        else:
            v = 0.22 + 0.00001 * ((t * 3) % 4)
        out.append(round(1.0 - v if rising else v, 10))
    return out


TWO = (0.1, 0.03)  # the lrs of the two param groups


def cases():
    c = []

    def add(name, optimizer, scheduler, steps=70, **extra):
        c.append({"name": name, "optimizer": optimizer, "scheduler": scheduler, "steps": steps, **extra})

    # LambdaLR / MultiplicativeLR
    add("LambdaLR with one lambda for both groups", sgd(*TWO), {"type": "LambdaLR", "options": {"lrLambda": "inverse"}})
    add("LambdaLR with one lambda per group", sgd(*TWO), {"type": "LambdaLR", "options": {"lrLambda": ["power97", "warmup10"]}})
    add("MultiplicativeLR with a constant factor", sgd(*TWO), {"type": "MultiplicativeLR", "options": {"lrLambda": "constant95"}})
    add("MultiplicativeLR with one lambda per group", sgd(*TWO), {"type": "MultiplicativeLR", "options": {"lrLambda": ["everyThird", "constant95"]}})
    # StepLR / MultiStepLR
    add("StepLR stepSize 7 gamma 0.5", sgd(*TWO), {"type": "StepLR", "options": {"stepSize": 7, "gamma": 0.5}})
    add("StepLR stepSize 10 with the default gamma", sgd(*TWO), {"type": "StepLR", "options": {"stepSize": 10}})
    add("MultiStepLR with a duplicated milestone", sgd(*TWO), {"type": "MultiStepLR", "options": {"milestones": [10, 25, 25, 40], "gamma": 0.3}})
    add("MultiStepLR with the default gamma", sgd(*TWO), {"type": "MultiStepLR", "options": {"milestones": [5, 20, 60]}})
    # ConstantLR / LinearLR / ExponentialLR / PolynomialLR
    add("ConstantLR with the defaults", sgd(*TWO), {"type": "ConstantLR"})
    add("ConstantLR factor 0.5 for 8 iterations", sgd(*TWO), {"type": "ConstantLR", "options": {"factor": 0.5, "totalIters": 8}})
    add("LinearLR with the defaults", sgd(*TWO), {"type": "LinearLR"})
    add("LinearLR warmup from 0.1 over 20 iterations", sgd(*TWO), {"type": "LinearLR", "options": {"startFactor": 0.1, "endFactor": 1.0, "totalIters": 20}})
    add("LinearLR decay from 1 to 0.05 over 40 iterations", sgd(*TWO), {"type": "LinearLR", "options": {"startFactor": 1.0, "endFactor": 0.05, "totalIters": 40}})
    add("ExponentialLR gamma 0.95", sgd(*TWO), {"type": "ExponentialLR", "options": {"gamma": 0.95}})
    add("PolynomialLR with the defaults", sgd(*TWO), {"type": "PolynomialLR"})
    add("PolynomialLR power 2 over 40 iterations", sgd(*TWO), {"type": "PolynomialLR", "options": {"totalIters": 40, "power": 2.0}})
    add("PolynomialLR power 0.5 over 30 iterations", sgd(*TWO), {"type": "PolynomialLR", "options": {"totalIters": 30, "power": 0.5}})
    # CosineAnnealingLR (recursive form, past tMax so the lr rises again)
    add("CosineAnnealingLR tMax 20 over three periods", sgd(*TWO), {"type": "CosineAnnealingLR", "options": {"tMax": 20}}, steps=100)
    add("CosineAnnealingLR tMax 50 etaMin 0.001", sgd(*TWO), {"type": "CosineAnnealingLR", "options": {"tMax": 50, "etaMin": 0.001}})
    add("CosineAnnealingLR on AdamW", adam(*TWO, kind="AdamW"), {"type": "CosineAnnealingLR", "options": {"tMax": 64, "etaMin": 1e-5}})
    # Resuming with lastEpoch (groups already hold initialLr)
    add("CosineAnnealingLR resumed with lastEpoch 10", sgd(0.05, 0.01, initial=[0.1, 0.03]), {"type": "CosineAnnealingLR", "options": {"tMax": 30, "etaMin": 0.001, "lastEpoch": 10}})
    add("StepLR resumed with lastEpoch 4", sgd(0.05, 0.01, initial=[0.1, 0.03]), {"type": "StepLR", "options": {"stepSize": 5, "gamma": 0.5, "lastEpoch": 4}})
    # CosineAnnealingWarmRestarts
    add("CosineAnnealingWarmRestarts t0 10 tMult 1", sgd(*TWO), {"type": "CosineAnnealingWarmRestarts", "options": {"t0": 10}})
    add("CosineAnnealingWarmRestarts t0 5 tMult 2 etaMin 1e-4", sgd(*TWO), {"type": "CosineAnnealingWarmRestarts", "options": {"t0": 5, "tMult": 2, "etaMin": 1e-4}}, steps=80)
    iters = 7
    add("CosineAnnealingWarmRestarts t0 3 tMult 2 stepped with fractional epochs", sgd(*TWO),
        {"type": "CosineAnnealingWarmRestarts", "options": {"t0": 3, "tMult": 2}}, steps=12 * iters,
        epochs=[e + i / iters for e in range(12) for i in range(iters)])
    add("CosineAnnealingWarmRestarts t0 4 tMult 1 stepped with fractional epochs", sgd(*TWO),
        {"type": "CosineAnnealingWarmRestarts", "options": {"t0": 4, "tMult": 1, "etaMin": 0.002}}, steps=10 * iters,
        epochs=[e + i / iters for e in range(10) for i in range(iters)])
    # CyclicLR
    cyc = {"baseLr": [0.01, 0.001], "maxLr": [0.1, 0.02]}
    add("CyclicLR triangular cycling SGD momentum", sgd(*TWO, momentum=0.9),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 5}}, recordMomentum=True)
    add("CyclicLR triangular2 with stepSizeDown 8", sgd(*TWO, momentum=0.9),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 4, "stepSizeDown": 8, "mode": "triangular2"}}, recordMomentum=True, steps=80)
    add("CyclicLR expRange gamma 0.97 with momentum bounds", sgd(*TWO, momentum=0.9),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 6, "mode": "expRange", "gamma": 0.97, "baseMomentum": 0.7, "maxMomentum": [0.95, 0.9]}},
        recordMomentum=True)
    add("CyclicLR triangular cycling Adam beta1", adam(*TWO),
        {"type": "CyclicLR", "options": {"baseLr": 0.001, "maxLr": 0.006, "stepSizeUp": 7}}, recordMomentum=True)
    add("CyclicLR triangular2 cycling AdamW beta1", adam(*TWO, kind="AdamW"),
        {"type": "CyclicLR", "options": {"baseLr": 0.001, "maxLr": 0.006, "stepSizeUp": 3, "stepSizeDown": 5, "mode": "triangular2", "baseMomentum": 0.85, "maxMomentum": 0.95}},
        recordMomentum=True)
    add("CyclicLR expRange on Adam without momentum cycling", adam(*TWO),
        {"type": "CyclicLR", "options": {"baseLr": 0.001, "maxLr": 0.01, "stepSizeUp": 5, "mode": "expRange", "gamma": 0.99, "cycleMomentum": False}},
        recordMomentum=True)
    add("CyclicLR custom scaleFn per cycle", sgd(*TWO, momentum=0.9),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 4, "scaleFn": "inverseCycle"}}, recordMomentum=True)
    add("CyclicLR custom scaleFn per iteration", sgd(*TWO, momentum=0.9),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 4, "scaleFn": "halfLife20", "scaleMode": "iterations"}}, recordMomentum=True)
    add("CyclicLR when the groups already hold initialLr", sgd(*TWO, momentum=0.9, initial=[0.2, 0.05]),
        {"type": "CyclicLR", "options": {**cyc, "stepSizeUp": 5}}, recordMomentum=True)
    # OneCycleLR (stepped exactly totalSteps times, then once more to get the error)
    add("OneCycleLR cos cycling SGD momentum", sgd(*TWO, momentum=0.9),
        {"type": "OneCycleLR", "options": {"maxLr": [0.1, 0.05], "totalSteps": 80}}, steps=80, recordMomentum=True, expectStepError=True)
    add("OneCycleLR linear", sgd(*TWO, momentum=0.9),
        {"type": "OneCycleLR", "options": {"maxLr": 0.2, "totalSteps": 64, "annealStrategy": "linear", "pctStart": 0.25}}, steps=64, recordMomentum=True)
    add("OneCycleLR cos threePhase", sgd(*TWO, momentum=0.9),
        {"type": "OneCycleLR", "options": {"maxLr": [0.1, 0.05], "totalSteps": 70, "threePhase": True}}, steps=70, recordMomentum=True)
    add("OneCycleLR linear threePhase with custom factors", sgd(*TWO, momentum=0.9),
        {"type": "OneCycleLR", "options": {"maxLr": 0.1, "totalSteps": 61, "threePhase": True, "annealStrategy": "linear", "divFactor": 10.0, "finalDivFactor": 100.0, "pctStart": 0.4}},
        steps=61, recordMomentum=True)
    add("OneCycleLR cycling Adam beta1 from epochs and stepsPerEpoch", adam(*TWO),
        {"type": "OneCycleLR", "options": {"maxLr": 0.01, "epochs": 6, "stepsPerEpoch": 11, "baseMomentum": 0.8, "maxMomentum": [0.95, 0.9]}},
        steps=66, recordMomentum=True)
    add("OneCycleLR on AdamW without momentum cycling", adam(*TWO, kind="AdamW"),
        {"type": "OneCycleLR", "options": {"maxLr": 0.01, "totalSteps": 60, "cycleMomentum": False}}, steps=60, recordMomentum=True)
    # SequentialLR / ChainedScheduler
    add("SequentialLR LinearLR warmup then CosineAnnealingLR", sgd(*TWO), {
        "type": "SequentialLR", "options": {"milestones": [10], "schedulers": [
            {"type": "LinearLR", "options": {"startFactor": 0.1, "totalIters": 10}},
            {"type": "CosineAnnealingLR", "options": {"tMax": 50, "etaMin": 1e-4}}]}})
    add("SequentialLR ConstantLR then ExponentialLR", sgd(*TWO), {
        "type": "SequentialLR", "options": {"milestones": [2], "schedulers": [
            {"type": "ConstantLR", "options": {"factor": 0.1, "totalIters": 2}},
            {"type": "ExponentialLR", "options": {"gamma": 0.9}}]}})
    add("SequentialLR LinearLR then StepLR then ExponentialLR", sgd(*TWO), {
        "type": "SequentialLR", "options": {"milestones": [5, 30], "schedulers": [
            {"type": "LinearLR", "options": {"startFactor": 0.2, "totalIters": 5}},
            {"type": "StepLR", "options": {"stepSize": 6, "gamma": 0.5}},
            {"type": "ExponentialLR", "options": {"gamma": 0.95}}]}})
    add("SequentialLR LinearLR warmup then CosineAnnealingWarmRestarts", sgd(*TWO), {
        "type": "SequentialLR", "options": {"milestones": [8], "schedulers": [
            {"type": "LinearLR", "options": {"startFactor": 0.25, "totalIters": 8}},
            {"type": "CosineAnnealingWarmRestarts", "options": {"t0": 10, "tMult": 2}}]}})
    add("ChainedScheduler ConstantLR and ExponentialLR", sgd(*TWO), {
        "type": "ChainedScheduler", "schedulers": [
            {"type": "ConstantLR", "options": {"factor": 0.1, "totalIters": 2}},
            {"type": "ExponentialLR", "options": {"gamma": 0.9}}]})
    add("ChainedScheduler LinearLR warmup and StepLR", sgd(*TWO), {
        "type": "ChainedScheduler", "schedulers": [
            {"type": "LinearLR", "options": {"startFactor": 0.1, "totalIters": 10}},
            {"type": "StepLR", "options": {"stepSize": 15, "gamma": 0.5}}]})
    # ReduceLROnPlateau
    n = 80
    falling, rising = metric_sequence(n), metric_sequence(n, rising=True)
    add("ReduceLROnPlateau min rel with the defaults", sgd(*TWO), {"type": "ReduceLROnPlateau"}, steps=n, metrics=falling)
    add("ReduceLROnPlateau min rel patience 3 cooldown 2", sgd(*TWO),
        {"type": "ReduceLROnPlateau", "options": {"mode": "min", "thresholdMode": "rel", "patience": 3, "cooldown": 2, "factor": 0.5}}, steps=n, metrics=falling)
    add("ReduceLROnPlateau min abs patience 2 cooldown 3 minLr per group", sgd(*TWO),
        {"type": "ReduceLROnPlateau", "options": {"mode": "min", "thresholdMode": "abs", "threshold": 0.005, "patience": 2, "cooldown": 3, "factor": 0.5, "minLr": [0.01, 0.005]}},
        steps=n, metrics=falling)
    add("ReduceLROnPlateau max rel patience 4 cooldown 1 minLr 0.004", sgd(*TWO),
        {"type": "ReduceLROnPlateau", "options": {"mode": "max", "thresholdMode": "rel", "patience": 4, "cooldown": 1, "factor": 0.3, "minLr": 0.004}},
        steps=n, metrics=rising)
    add("ReduceLROnPlateau max abs patience 0 cooldown 2", sgd(*TWO),
        {"type": "ReduceLROnPlateau", "options": {"mode": "max", "thresholdMode": "abs", "threshold": 0.001, "patience": 0, "cooldown": 2, "factor": 0.7}},
        steps=n, metrics=rising)
    add("ReduceLROnPlateau min rel with eps larger than the reduction", sgd(*TWO),
        {"type": "ReduceLROnPlateau", "options": {"patience": 1, "factor": 0.5, "eps": 0.004}}, steps=n, metrics=falling)
    return c


def main():
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    if (major, minor) < (2, 2):
        sys.exit(f"torch >= 2.2 is needed (beta1 cycling in CyclicLR/OneCycleLR); this is {torch.__version__}")
    warnings.simplefilter("ignore")  # SequentialLR's step(0) emits the epoch deprecation warning
    results = [run(case) for case in cases()]
    again = [run(case) for case in cases()[:3]]
    assert again == results[:3], "non-deterministic"
    doc = {
        "generator": "scripts/gen_scheduler_fixtures.py",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "cases": results,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}: {len(results)} cases, {os.path.getsize(OUT)} bytes, torch {torch.__version__}")


if __name__ == "__main__":
    main()
