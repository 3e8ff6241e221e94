"""Fixtures for ferroptim-tune's pruners, from the real Optuna.

Runs scripted studies through Optuna's own pruners (MedianPruner, PercentilePruner,
SuccessiveHalvingPruner) and records every verdict of `trial.should_prune()`. The TypeScript
test (tune/__test__/pruners.spec.ts) replays the same reports through ferroptim-tune's pruners
and must reach the same verdicts at the same steps.

    .venv-optuna/bin/python scripts/gen_pruner_fixtures.py > tune/__test__/fixtures/pruners.json
"""
import json
import math

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)

PRUNERS = {
    "median-default": ("median", {}),
    "median-tuned": ("median", {"nStartupTrials": 2, "nWarmupSteps": 2, "intervalSteps": 3, "nMinTrials": 2}),
    "percentile-25": ("percentile", {"percentile": 25.0, "nStartupTrials": 3}),
    "percentile-80-interval": ("percentile", {"percentile": 80.0, "nStartupTrials": 1, "intervalSteps": 2}),
    "asha-auto": ("asha", {}),
    "asha-r3": ("asha", {"minResource": 1, "reductionFactor": 3}),
    "asha-bootstrap": ("asha", {"minResource": 2, "reductionFactor": 2, "minEarlyStoppingRate": 1, "bootstrapCount": 1}),
}


def make(kind, o):
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=o.get("nStartupTrials", 5), n_warmup_steps=o.get("nWarmupSteps", 0),
            interval_steps=o.get("intervalSteps", 1), n_min_trials=o.get("nMinTrials", 1))
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(
            o["percentile"], n_startup_trials=o.get("nStartupTrials", 5), n_warmup_steps=o.get("nWarmupSteps", 0),
            interval_steps=o.get("intervalSteps", 1), n_min_trials=o.get("nMinTrials", 1))
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=o.get("minResource", "auto"), reduction_factor=o.get("reductionFactor", 4),
        min_early_stopping_rate=o.get("minEarlyStoppingRate", 0), bootstrap_count=o.get("bootstrapCount", 0))


def curves(rng, n_trials, n_steps, direction):
    """Learning curves: each trial has a level and a speed; some have NaN reports."""
    out = []
    for i in range(n_trials):
        level = rng.uniform(0.5, 1.0)
        speed = rng.uniform(0.1, 1.0)
        steps = n_steps if rng.uniform() > 0.2 else int(rng.integers(1, n_steps))
        vals = []
        for s in range(steps):
            v = level * (1 - math.exp(-speed * (s + 1))) + rng.normal(0, 0.01)
            if direction == "minimize":
                v = 1 - v
            if rng.uniform() < 0.03:
                v = float("nan")
            vals.append(v)
        out.append(vals)
    return out


def run(kind, o, direction, seed, interleave):
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction=direction, pruner=make(kind, o))
    plan = curves(rng, 24, 12, direction)
    log = []
    # Sequential, or two trials at a time with their reports interleaved.
    width = 2 if interleave else 1
    for start in range(0, len(plan), width):
        group = plan[start:start + width]
        trials = [study.ask() for _ in group]
        events = [[] for _ in group]
        done = [False] * len(group)
        for s in range(max(len(v) for v in group)):
            for j, vals in enumerate(group):
                if done[j] or s >= len(vals):
                    continue
                trials[j].report(vals[s], s)
                verdict = bool(trials[j].should_prune())
                events[j].append([s, vals[s], verdict])
                if verdict:
                    study.tell(trials[j], state=optuna.trial.TrialState.PRUNED)
                    done[j] = True
        for j, vals in enumerate(group):
            if not done[j]:
                last = vals[-1]
                if math.isnan(last):
                    study.tell(trials[j], state=optuna.trial.TrialState.FAIL)
                    events[j].append(["fail"])
                else:
                    study.tell(trials[j], last)
                    events[j].append(["complete", last])
        log.extend(events)
    return {"pruner": kind, "options": o, "direction": direction, "seed": seed, "interleave": interleave, "trials": log}


def nan_safe(x):
    if isinstance(x, float) and math.isnan(x):
        return "NaN"
    if isinstance(x, list):
        return [nan_safe(v) for v in x]
    if isinstance(x, dict):
        return {k: nan_safe(v) for k, v in x.items()}
    return x


cases = []
for name, (kind, o) in PRUNERS.items():
    for direction in ("maximize", "minimize"):
        for seed, interleave in ((0, False), (1, True)):
            c = run(kind, o, direction, seed, interleave)
            c["name"] = name
            cases.append(c)
print(json.dumps(nan_safe({"optuna": optuna.__version__, "cases": cases})))
