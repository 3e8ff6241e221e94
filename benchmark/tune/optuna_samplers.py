"""Optuna's side of `npm run bench:tune` (benchmark/tune/samplers.ts spawns this script).

Reads one JSON request on stdin and writes one JSON answer on stdout (progress goes to stderr):

  {"mode": "info"}
      -> {"python": ..., "optuna": ..., "numpy": ..., "scipy": ..., "tpeDefault": "multivariate" | "independent"}
  {"mode": "check", "points": {"branin": [{"x0": ..., "x1": ...}, ...], ...}}
      -> {"values": {"branin": [...], ...}}   (the test functions at those points)
  {"mode": "quality", "functions": [...], "seeds": [...], "nTrials": 100,
   "samplers": [{"id": "optuna-tpe", "kind": "tpe", "options": {}}, ...]}
      -> {"results": [{"function", "sampler", "seed", "values": [value of each trial], "seconds"}]}
  {"mode": "overhead", "sizes": [100, 500, 1000], "reps": 20, "warmup": 3, "low": -5, "high": 5,
   "prefill": [[x0..x9], ...], "prefillValues": [...], "samplers": [...]}
      -> {"results": [{"sampler", "size", "total": [ms...], "ask": [...], "suggest": [...], "tell": [...]}]}

The test functions are the ones of benchmark/tune/functions.ts, written identically (same names,
bounds, suggestion order and formulas); samplers.ts checks that both give the same values.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from typing import Any, Callable

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", category=FutureWarning)


# --------------------------------------------------------------------------------------------
# The test functions (see functions.ts for the definitions in words)


def branin(x: list[float]) -> float:
    x1, x2 = x
    b = 5.1 / (4 * math.pi * math.pi)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
H_P = [
    [v * 1e-4 for v in row]
    for row in [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
]


def hartmann6(x: list[float]) -> float:
    s = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            inner += H_A[i][j] * (x[j] - H_P[i][j]) ** 2
        s += H_ALPHA[i] * math.exp(-inner)
    return -s


def rosenbrock(x: list[float]) -> float:
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2
    return s


OPTIMIZERS = ["adam", "sgd", "adamw"]


def mixed_value(p: dict[str, Any]) -> float:
    opt = p["optimizer"]
    u = math.log10(p["lr"])
    if opt == "adam":
        return 0.15 + 0.1 * (u + 3) ** 2
    if opt == "sgd":
        m = (p["momentum"] - 0.8) / 0.19
        return 0.05 + 0.1 * (u + 1.5) ** 2 + 0.3 * (m - 0.8) ** 2
    if opt == "adamw":
        du = u + 2.5
        dw = math.log10(p["weight_decay"]) + 3.5
        return 0.1 * du * du + 0.06 * dw * dw + 0.06 * du * dw
    raise ValueError(f"mixed: unknown optimizer {opt!r}")


def mixed_objective(trial: optuna.Trial) -> float:
    optimizer = trial.suggest_categorical("optimizer", OPTIMIZERS)
    p: dict[str, Any] = {"optimizer": optimizer, "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True)}
    if optimizer == "sgd":
        p["momentum"] = trial.suggest_float("momentum", 0.8, 0.99)
    elif optimizer == "adamw":
        p["weight_decay"] = trial.suggest_float("weight_decay", 1e-5, 1e-2, log=True)
    return mixed_value(p)


def box(f: Callable[[list[float]], float], bounds: list[tuple[float, float]]):
    keys = [f"x{i}" for i in range(len(bounds))]

    def objective(trial: optuna.Trial) -> float:
        return f([trial.suggest_float(k, lo, hi) for k, (lo, hi) in zip(keys, bounds)])

    def evaluate(p: dict[str, Any]) -> float:
        return f([p[k] for k in keys])

    return objective, evaluate


FUNCTIONS: dict[str, tuple[Callable[[optuna.Trial], float], Callable[[dict[str, Any]], float]]] = {
    "branin": box(branin, [(-5, 10), (0, 15)]),
    "hartmann6": box(hartmann6, [(0, 1)] * 6),
    "rosenbrock10": box(rosenbrock, [(-2.048, 2.048)] * 10),
    "mixed": (mixed_objective, mixed_value),
}


# --------------------------------------------------------------------------------------------
# Samplers


def make_sampler(spec: dict[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    kind = spec["kind"]
    options = spec.get("options", {})
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **options)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler kind {kind!r}")


def log(msg: str) -> None:
    print(f"[optuna] {msg}", file=sys.stderr, flush=True)


def run_quality(req: dict[str, Any]) -> dict[str, Any]:
    results = []
    n_trials = int(req["nTrials"])
    for name in req["functions"]:
        objective, _ = FUNCTIONS[name]
        for spec in req["samplers"]:
            t0 = time.perf_counter()
            for seed in req["seeds"]:
                s0 = time.perf_counter()
                study = optuna.create_study(direction="minimize", sampler=make_sampler(spec, seed), pruner=optuna.pruners.NopPruner())
                study.optimize(objective, n_trials=n_trials)
                values = [t.value for t in study.trials]
                results.append(
                    {"function": name, "sampler": spec["id"], "seed": seed, "values": values, "seconds": time.perf_counter() - s0}
                )
            log(f"{name} {spec['id']}: {len(req['seeds'])} seeds in {time.perf_counter() - t0:.1f} s")
    return {"results": results}


def run_overhead(req: dict[str, Any]) -> dict[str, Any]:
    low, high = float(req["low"]), float(req["high"])
    prefill = req["prefill"]
    prefill_values = req["prefillValues"]
    dims = len(prefill[0])
    keys = [f"x{i}" for i in range(dims)]
    dist = optuna.distributions.FloatDistribution(low, high)
    dists = {k: dist for k in keys}
    reps, warmup = int(req["reps"]), int(req["warmup"])
    results = []
    # A warm-up pass of every configuration, untimed (as ferroptim's side does).
    warm_size, warm_reps = req.get("warmupPass", [0, 0])
    runs = [(spec, warm_size, warm_reps, False) for spec in req["samplers"] if warm_reps > 0]
    runs += [(spec, size, reps, True) for spec in req["samplers"] for size in req["sizes"]]
    for spec, size, n_reps, timed in runs:
        # Trial number `size - 1` (the size-th trial) is the first timed one.
        n_pre = size - 1 - warmup
        study = optuna.create_study(direction="minimize", sampler=make_sampler(spec, 0), pruner=optuna.pruners.NopPruner())
        study.add_trials(
            optuna.trial.create_trial(params=dict(zip(keys, prefill[i])), distributions=dists, value=prefill_values[i]) for i in range(n_pre)
        )
        out: dict[str, list[float]] = {"total": [], "ask": [], "suggest": [], "tell": []}
        for r in range(warmup + n_reps):
            t0 = time.perf_counter()
            trial = study.ask()
            t1 = time.perf_counter()
            x = [trial.suggest_float(k, low, high) for k in keys]
            t2 = time.perf_counter()
            study.tell(trial, sum(v * v for v in x))
            t3 = time.perf_counter()
            if r >= warmup:
                out["total"].append((t3 - t0) * 1e3)
                out["ask"].append((t1 - t0) * 1e3)
                out["suggest"].append((t2 - t1) * 1e3)
                out["tell"].append((t3 - t2) * 1e3)
        assert len(study.trials) == size - 1 + n_reps
        if not timed:
            continue
        results.append({"sampler": spec["id"], "size": size, **out})
        total = sorted(out["total"])
        log(f"overhead {spec['id']} at trial {size}: median {total[len(total) // 2]:.2f} ms")
    # This process's CPU time (import included), to tell how much else ran meanwhile.
    return {"results": results, "cpuSeconds": time.process_time()}


def main() -> None:
    req = json.load(sys.stdin)
    mode = req.get("mode")
    if mode == "info":
        import numpy
        import scipy

        # TPESampler's default mode for a single-objective study (multivariate=None resolves per study).
        default_mv = optuna.samplers.TPESampler()._is_multivariate(optuna.create_study(direction="minimize"))
        out: dict[str, Any] = {
            "python": sys.version.split()[0],
            "optuna": optuna.__version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "tpeDefault": "multivariate" if default_mv else "independent",
        }
    elif mode == "check":
        out = {"values": {name: [FUNCTIONS[name][1](p) for p in pts] for name, pts in req["points"].items()}}
    elif mode == "quality":
        out = run_quality(req)
    elif mode == "overhead":
        out = run_overhead(req)
    else:
        raise SystemExit(f"optuna_samplers.py: unknown mode {mode!r} (expected info, check, quality or overhead)")
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
