#!/usr/bin/env python3
"""Generate ferroptim-tune's Optuna reference fixture for the samplers (tune/__test__/fixtures/tpe.json).

Runs the REAL Optuna samplers and their private building blocks, and records their results so
tune/__test__/samplers.spec.ts can check the TypeScript port without Python:

  rng        NumPy's legacy RandomState (MT19937), which Optuna's samplers draw from:
             random_sample, standard_normal, randint, shuffle and choice for several seeds.
  special    optuna/samplers/_tpe/_truncnorm.py and math.erf/erfc: erf, erfc, _ndtr, _log_ndtr,
             _log_gauss_mass, _ndtri_exp, ppf, logpdf at points covering every branch
             (both tails, the asymptotic series below -20, the 0.84375 / 1.25 / 1/0.35 / 6 / 28
             breakpoints of erf).
  gamma      default_gamma(n) for n = 0..120; weights: default_weights(n) for several n.
  parzen     _ParzenEstimator built on fixed observations for float (uniform, log, step), int
             (plain, step, log), categorical and mixed multivariate search spaces, with
             prior_weight / consider_magic_clip / consider_endpoints variants and
             predetermined weights: the mixture weights, every kernel's parameters (mu, sigma,
             bounds, step; categorical probability rows), log_pdf at fixed points, and
             sample(RandomState(seed), size).
  split      _split_trials on trial lists mixing COMPLETE, PRUNED (with and without
             intermediate values, NaN ones), RUNNING and infeasible (constraints) trials, for
             both directions and several n_below: the below/above trial numbers.
  sampler    TPESampler / RandomSampler calls on fixed histories (univariate, multivariate,
             group, constant liar with RUNNING trials, start-up): the values returned.
  studies    whole study.optimize runs (TPE variants including Optuna 5.1's defaults, with
             pruning and conditional parameters; RandomSampler; GridSampler): every trial's
             state, value, intermediate values, system attributes and parameters (internal
             representation) in suggestion order. The TS test replays each trial on the
             recorded history and must suggest the recorded values.

Usage:  /work/venv-optuna/bin/python scripts/gen_tpe_fixtures.py   (Optuna 5.1.0, NumPy 2.4.6;
        run from any directory but optuna's own)

Deterministic: running it twice gives a byte-identical file (the script computes everything
twice and requires identical output before writing).

Tie order of np.argsort: _ParzenEstimator's bandwidths come from np.argsort(mus) with NumPy's
default (unstable) sort. On CPUs with AVX-512 NumPy 2 dispatches to x86-simd-sort, whose order of
EQUAL observations differs from the scalar sort's (insertion sort for n <= 16, stable there), so
which of several equal observations gets which bandwidth depends on the CPU. The set of
(mu, sigma) kernels, and so log_pdf, does not; the random draws in sample() do (the drawn
component index picks a kernel). To make the fixture CPU-independent, this script pins that one
argsort to the stable order (kind="stable"), which the TypeScript port uses; it checks that
log_pdf is unchanged by the pin on every parzen case and records how many cases have tied
observations.

Numbers are written with Python's repr (shortest round-trip); non-finite floats as the strings
"inf", "-inf" and "nan".
"""

from __future__ import annotations

import json
import math
import os
import sys
import types

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.distributions import distribution_to_json
from optuna.samplers import GridSampler
from optuna.samplers import RandomSampler
from optuna.samplers import TPESampler
from optuna.samplers._tpe import _truncnorm
import optuna.samplers._tpe.parzen_estimator as parzen_module
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimatorParameters
from optuna.samplers._tpe.probability_distributions import _BatchedCategoricalDistributions
from optuna.samplers._tpe.sampler import _split_trials
from optuna.samplers._tpe.sampler import default_gamma
from optuna.samplers._tpe.sampler import default_weights
from optuna.trial import TrialState
from optuna.trial import create_trial

optuna.logging.set_verbosity(optuna.logging.ERROR)
import warnings  # noqa: E402

warnings.simplefilter("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tune", "__test__", "fixtures", "tpe.json")

_real_np = np


class _StableArgsortNumpy(types.ModuleType):
    """numpy, except that argsort is stable (see the header)."""

    def __getattr__(self, name):
        return getattr(_real_np, name)

    @staticmethod
    def argsort(a, *args, **kwargs):
        kwargs["kind"] = "stable"
        return _real_np.argsort(a, *args, **kwargs)


def pin_argsort(pinned: bool) -> None:
    parzen_module.np = _StableArgsortNumpy("numpy_stable_argsort") if pinned else _real_np


def enc(v):
    """JSON-safe: numpy scalars/arrays to Python, non-finite floats to strings."""
    if isinstance(v, dict):
        return {str(k): enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if isinstance(v, np.ndarray):
        return enc(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    return v


def dist_json(d) -> dict:
    return json.loads(distribution_to_json(d))


# --------------------------------------------------------------------------------------------
# rng
# --------------------------------------------------------------------------------------------


def gen_rng() -> dict:
    out = {"randomSample": [], "normal": [], "randint": [], "shuffle": [], "choice": [], "mixed": []}
    for seed in [0, 1, 42, 12345, 2**31, 2**32 - 1]:
        r = np.random.RandomState(seed)
        out["randomSample"].append({"seed": seed, "values": r.random_sample(1000)[[0, 1, 2, 3, 623, 624, 625, 999]].tolist(), "indices": [0, 1, 2, 3, 623, 624, 625, 999]})
    for seed in [3, 2024]:
        r = np.random.RandomState(seed)
        out["normal"].append({"seed": seed, "values": r.standard_normal(9).tolist()})
    ns = [1, 2, 3, 7, 10, 1000, 2**31 + 5, 2**32, 2**40 + 3, 2**53]
    for seed in [5, 6]:
        r = np.random.RandomState(seed)
        vals = []
        for _ in range(3):
            for n in ns:
                vals.append(int(r.randint(0, n, dtype=np.int64)))
        out["randint"].append({"seed": seed, "ns": ns * 3, "values": vals})
    for seed, n in [(0, 1), (0, 2), (1, 5), (7, 30), (0, 200)]:
        r = np.random.RandomState(seed)
        lst = list(range(n))
        r.shuffle(lst)
        out["shuffle"].append({"seed": seed, "n": n, "values": lst})
    r = np.random.RandomState(11)
    pool = [3, 5, 9, 12]
    out["choice"].append({"seed": 11, "pool": pool, "values": [int(r.choice(pool)) for _ in range(20)]})
    # Interleaved use keeps the streams in step (e.g. a normal's cached second value survives).
    r = np.random.RandomState(99)
    mixed = []
    for _ in range(4):
        mixed.append(["uniform", float(r.random_sample())])
        mixed.append(["normal", float(r.standard_normal())])
        mixed.append(["integer", 17, int(r.randint(0, 17))])
    out["mixed"].append({"seed": 99, "ops": mixed})
    return out


# --------------------------------------------------------------------------------------------
# special functions
# --------------------------------------------------------------------------------------------


def gen_special() -> dict:
    pts = [
        -40.0, -38.5, -30.0, -28.0, -27.9, -20.5, -20.0, -19.9, -14.0, -10.0, -8.3, -6.1, -6.0, -5.9, -4.0, -3.0,
        -2.8571428571428577, -2.857142857142857, -2.0, -1.4142135623730951, -1.25, -1.2, -1.0, -0.84375, -0.8, -0.7071067811865476,
        -0.5, -0.25, -0.1, -1e-5, -1e-9, -1e-17, -1e-300, 0.0, 1e-300, 1e-17, 1e-9, 1e-5, 0.1, 0.2, 0.25, 0.3, 0.5,
        0.7071067811865476, 0.8, 0.84375, 1.0, 1.2, 1.25, 1.4142135623730951, 2.0, 2.857142857142857, 3.0, 4.0, 5.9, 6.0,
        6.1, 8.3, 10.0, 14.0, 20.0, 27.9, 28.0, 30.0, 40.0,
    ]
    r = np.random.RandomState(123)
    pts += (r.standard_normal(40) * 4).tolist()
    pts_arr = np.asarray(pts)
    erf = [math.erf(x) for x in pts]
    erfc = [math.erfc(x) for x in pts]
    ndtr = _truncnorm._ndtr(pts_arr).tolist()
    log_ndtr = _truncnorm._log_ndtr(pts_arr).tolist()
    # Interval pairs in every branch of _log_gauss_mass.
    pairs = []
    edges = [-60.0, -35.0, -21.0, -19.0, -8.0, -5.0, -3.0, -1.0, -0.3, -1e-12, 0.0, 1e-12, 0.3, 1.0, 3.0, 5.0, 8.0, 19.0, 21.0, 35.0, 60.0]
    for i, a in enumerate(edges):
        for b in edges[i + 1 :]:
            pairs.append((a, b))
    for _ in range(60):
        a, b = sorted(r.standard_normal(2) * 6)
        pairs.append((float(a), float(b)))
    pa = np.asarray([p[0] for p in pairs])
    pb = np.asarray([p[1] for p in pairs])
    lgm = _truncnorm._log_gauss_mass(pa, pb).tolist()
    # _ndtri_exp on one batch (its stopping rule is batch-wide).
    ys = np.asarray([-1e4, -800.0, -100.0, -30.0, -5.0, -2.0, -0.7, -0.1, -0.02, -0.01, -0.009, -1e-3, -1e-6, -1e-12] + (-np.abs(r.standard_normal(20)) * 5).tolist())
    ndtri = _truncnorm._ndtri_exp(ys.copy()).tolist()
    # ppf on one batch: quantiles in (0,1) and exact 0 and 1, intervals on both sides of 0.
    q = r.random_sample(80)
    q[0] = 0.0
    q[1] = 1.0
    q[2] = 1e-300
    q[3] = 1 - 2**-53
    aa = r.standard_normal(80) * 3
    bb = aa + np.abs(r.standard_normal(80)) * 3 + 1e-3
    aa[4], bb[4] = -40.0, -35.0
    aa[5], bb[5] = 35.0, 40.0
    aa[6], bb[6] = -1e-3, 1e-3
    aa[7], bb[7] = 2.0, 2.0
    ppf = _truncnorm.ppf(q, aa, bb).tolist()
    # logpdf with locations and scales; x inside and outside.
    x = r.standard_normal(50) * 3
    loc = r.standard_normal(50)
    scale = np.abs(r.standard_normal(50)) + 0.05
    la = (np.full(50, -2.0) - loc) / scale
    lb = (np.full(50, 2.5) - loc) / scale
    lp = _truncnorm.logpdf(x, la, lb, loc, scale).tolist()
    return {
        "points": pts,
        "erf": erf,
        "erfc": erfc,
        "ndtr": ndtr,
        "logNdtr": log_ndtr,
        "gaussMass": {"a": pa.tolist(), "b": pb.tolist(), "logMass": lgm},
        "ndtriExp": {"y": ys.tolist(), "x": ndtri},
        "ppf": {"q": q.tolist(), "a": aa.tolist(), "b": bb.tolist(), "x": ppf},
        "logpdf": {"x": x.tolist(), "a": la.tolist(), "b": lb.tolist(), "loc": loc.tolist(), "scale": scale.tolist(), "logpdf": lp},
    }


# --------------------------------------------------------------------------------------------
# gamma / weights
# --------------------------------------------------------------------------------------------


def gen_gamma_weights() -> tuple[list, list]:
    gamma = [default_gamma(n) for n in range(121)]
    weights = [{"n": n, "weights": default_weights(n).tolist()} for n in [0, 1, 2, 10, 24, 25, 26, 27, 30, 37, 50, 100, 251]]
    return gamma, weights


# --------------------------------------------------------------------------------------------
# Parzen estimators
# --------------------------------------------------------------------------------------------


def obs_for(d, n, r):
    if isinstance(d, CategoricalDistribution):
        return r.randint(0, len(d.choices), size=n).astype(float)
    if isinstance(d, IntDistribution):
        if d.log:
            return np.round(np.exp(r.uniform(math.log(d.low), math.log(d.high), size=n))).clip(d.low, d.high)
        k = (d.high - d.low) // d.step
        return (d.low + r.randint(0, k + 1, size=n) * d.step).astype(float)
    if d.step is not None:
        k = int(round((d.high - d.low) / d.step))
        return np.round(d.low + r.randint(0, k + 1, size=n) * d.step, 10)
    if d.log:
        return np.exp(r.uniform(math.log(d.low), math.log(d.high), size=n))
    return r.uniform(d.low, d.high, size=n)


def points_for(d, r, m=12):
    if isinstance(d, CategoricalDistribution):
        return (np.arange(m) % len(d.choices)).astype(float)
    if isinstance(d, IntDistribution):
        vals = list(range(d.low, d.high + 1, d.step))
        idx = np.linspace(0, len(vals) - 1, num=m).round().astype(int)
        return np.asarray([vals[i] for i in idx], dtype=float)
    if d.step is not None:
        k = int(round((d.high - d.low) / d.step))
        idx = np.linspace(0, k, num=m).round()
        return np.round(d.low + idx * d.step, 10)
    if d.log:
        return np.exp(np.linspace(math.log(d.low), math.log(d.high), num=m))
    return np.linspace(d.low, d.high, num=m)


def parzen_case(name, space, n, *, seed, prior_weight=1.0, magic=True, endpoints=False, predetermined=None, obs=None, extra_points=None):
    r = np.random.RandomState(seed)
    if obs is None:
        obs = {p: obs_for(d, n, r) for p, d in space.items()}
    else:
        obs = {p: np.asarray(v, dtype=float) for p, v in obs.items()}
    params = _ParzenEstimatorParameters(prior_weight=prior_weight, consider_magic_clip=magic, consider_endpoints=endpoints, weights=default_weights, multivariate=True)
    pw = None if predetermined is None else np.asarray(predetermined, dtype=float)

    def build():
        return _ParzenEstimator(obs, space, params, None if pw is None else pw.copy())

    pin_argsort(True)
    mpe = build()
    # Points: for each parameter a column of values, rows combined by index (and shuffled for
    # multivariate spaces so the combinations vary).
    cols = {}
    for j, (p, d) in enumerate(space.items()):
        col = points_for(d, r)
        if len(space) > 1:
            col = col[r.permutation(len(col))]
        cols[p] = col
    if extra_points is not None:
        for p in cols:
            cols[p] = np.concatenate([cols[p], np.asarray(extra_points[p], dtype=float)])
    logpdf = mpe.log_pdf(cols)
    sample_seed = seed + 1000
    samples = mpe.sample(np.random.RandomState(sample_seed), 30)
    sample_logpdf = mpe.log_pdf(samples)
    pin_argsort(False)
    unpinned = build()
    unpinned_differs = not np.allclose(unpinned.log_pdf(cols), logpdf, rtol=1e-12, atol=0, equal_nan=True)
    pin_argsort(True)
    tied = any(len(np.unique(v)) < len(v) for p, v in obs.items() if not isinstance(space[p], CategoricalDistribution))
    # Ties only move bandwidths between equal observations, which matters to log_pdf when those
    # observations have different weights or (multivariate) different other coordinates.
    uniform_weights = (pw is None and n < 25) or (pw is not None and len(set(pw.tolist())) == 1)
    assert not (unpinned_differs and (not tied or (uniform_weights and len(space) == 1))), name
    dists = []
    for d in mpe._mixture_distribution.distributions:
        if isinstance(d, _BatchedCategoricalDistributions):
            dists.append({"kind": "categorical", "weights": d.weights.tolist()})
        else:
            dists.append({"kind": type(d).__name__, "mu": d.mu.tolist(), "sigma": d.sigma.tolist(), "low": d.low, "high": d.high, "step": float(d.step), "isLog": d.is_log, "adaptedLow": d.adapted_low, "adaptedHigh": d.adapted_high})
    return {
        "name": name,
        "space": [[p, dist_json(d)] for p, d in space.items()],
        "observations": {p: v.tolist() for p, v in obs.items()},
        "parameters": {"priorWeight": prior_weight, "considerMagicClip": magic, "considerEndpoints": endpoints},
        "predeterminedWeights": predetermined,
        "tiedObservations": bool(tied),
        "unpinnedLogPdfDiffers": bool(unpinned_differs),
        "weights": mpe._mixture_distribution.weights.tolist(),
        "distributions": dists,
        "points": {p: c.tolist() for p, c in cols.items()},
        "logPdf": logpdf.tolist(),
        "sampleSeed": sample_seed,
        "samples": {p: v.tolist() for p, v in samples.items()},
        "sampleLogPdf": sample_logpdf.tolist(),
    }


def gen_parzen() -> list:
    F = FloatDistribution
    I = IntDistribution
    C = CategoricalDistribution
    cases = []
    fu = {"x": F(-5.0, 5.0)}
    for n in [0, 1, 2, 3, 10, 30]:
        cases.append(parzen_case(f"float n={n}", fu, n, seed=10 + n))
    cases.append(parzen_case("float no magic clip", fu, 8, seed=50, magic=False))
    cases.append(parzen_case("float endpoints", fu, 8, seed=51, endpoints=True))
    cases.append(parzen_case("float endpoints n=1", fu, 1, seed=52, endpoints=True))
    cases.append(parzen_case("float prior 0.5", fu, 8, seed=53, prior_weight=0.5))
    cases.append(parzen_case("float prior 0", fu, 8, seed=54, prior_weight=0.0))
    cases.append(parzen_case("float prior 3", fu, 8, seed=55, prior_weight=3.0))
    cases.append(parzen_case("float predetermined weights", fu, 5, seed=56, predetermined=[1.0, 0.5, 2.0, 0.0, 1.5]))
    cases.append(parzen_case("float clustered, far points, no clip", {"x": F(-1e6, 1e6)}, 6, seed=57, magic=False, obs={"x": [0.0, 1e-7, 2e-7, 3e-7, 5.0, 5.0 + 1e-9]}, extra_points={"x": [1e-7, 1.5e-7, 1.0, -1e6, 1e6, 2.5, 5.0]}))
    cases.append(parzen_case("float tiny range", {"x": F(0.0, 1e-8)}, 5, seed=58))
    cases.append(parzen_case("float obs outside range", {"x": F(0.0, 1.0)}, 4, seed=59, obs={"x": [1.5, -0.2, 0.3, 0.3]}))
    cases.append(parzen_case("float ties", {"x": F(0.0, 10.0)}, 7, seed=60, obs={"x": [1.0, 5.0, 1.0, 9.0, 5.0, 5.0, 2.0]}))
    fl = {"lr": F(1e-5, 1.0, log=True)}
    for n in [0, 1, 5, 40]:
        cases.append(parzen_case(f"float log n={n}", fl, n, seed=70 + n))
    cases.append(parzen_case("float log no clip endpoints", fl, 6, seed=80, magic=False, endpoints=True))
    fs = {"s": F(0.0, 1.0, step=0.1)}
    for n in [0, 1, 6, 27]:
        cases.append(parzen_case(f"float step n={n}", fs, n, seed=90 + n))
    cases.append(parzen_case("float step 0.25 negative", {"s": F(-2.0, 3.0, step=0.25)}, 9, seed=120))
    ii = {"n": I(-10, 10)}
    for n in [0, 1, 4, 15, 33]:
        cases.append(parzen_case(f"int n={n}", ii, n, seed=130 + n))
    cases.append(parzen_case("int ties", ii, 6, seed=170, obs={"n": [3, 3, 3, -10, 10, 4]}))
    cases.append(parzen_case("int step 5", {"n": I(0, 100, step=5)}, 9, seed=171))
    cases.append(parzen_case("int low==high-1", {"n": I(0, 1)}, 5, seed=172))
    il = {"k": I(1, 1024, log=True)}
    for n in [0, 1, 7, 26]:
        cases.append(parzen_case(f"int log n={n}", il, n, seed=180 + n))
    cc = {"c": C(["a", "b", "c", "d"])}
    for n in [0, 1, 5, 30]:
        cases.append(parzen_case(f"categorical n={n}", cc, n, seed=220 + n))
    cases.append(parzen_case("categorical prior 0", cc, 5, seed=260, prior_weight=0.0, obs={"c": [0, 0, 1, 1, 1]}))
    cases.append(parzen_case("categorical prior 2.5", cc, 5, seed=261, prior_weight=2.5))
    cases.append(parzen_case("categorical 1 choice", {"c": C([None])}, 3, seed=262))
    mixed = {
        "c": C([True, False, None]),
        "k": I(1, 64, log=True),
        "lr": F(1e-4, 1e-1, log=True),
        "n": I(2, 20, step=2),
        "s": F(-1.0, 1.0, step=0.5),
        "x": F(-3.0, 3.0),
        "y": F(0.0, 2.0),
    }
    for n in [0, 1, 3, 12, 29]:
        cases.append(parzen_case(f"mixed n={n}", mixed, n, seed=300 + n))
    cases.append(parzen_case("mixed no clip endpoints prior 0.3", mixed, 9, seed=340, magic=False, endpoints=True, prior_weight=0.3))
    cases.append(parzen_case("two floats", {"a": F(0.0, 1.0), "b": F(-1.0, 1.0)}, 12, seed=341))
    return cases


# --------------------------------------------------------------------------------------------
# _split_trials
# --------------------------------------------------------------------------------------------


def mk_trial(number, state, value=None, iv=None, constraints=None, params=None, dists=None, system_attrs=None):
    sa = dict(system_attrs or {})
    if constraints is not None:
        sa.update(constraints)
    t = create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params=params or {},
        distributions=dists or {},
        intermediate_values=iv or {},
        system_attrs=sa,
    )
    t.number = number
    t._trial_id = number
    return t


def trial_record(t) -> dict:
    return {
        "number": t.number,
        "state": int(t.state.value),
        "values": None if t.values is None else list(t.values),
        "intermediateValues": [[int(k), v] for k, v in sorted(t.intermediate_values.items())],
        "systemAttrs": t.system_attrs,
        "params": {p: t.distributions[p].to_internal_repr(v) for p, v in t.params.items()},
        "distributions": {p: dist_json(d) for p, d in t.distributions.items()},
    }


def gen_split() -> list:
    C_, P_, R_ = TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING
    nan = float("nan")
    trial_sets = []
    # 1: completes with ties, pruned of several depths, running, infeasible.
    ts = [
        mk_trial(0, C_, 3.0),
        mk_trial(1, C_, 1.0),
        mk_trial(2, P_, iv={0: 5.0, 1: 4.0}),
        mk_trial(3, C_, 1.0),
        mk_trial(4, R_),
        mk_trial(5, P_, iv={0: 2.0}),
        mk_trial(6, P_),
        mk_trial(7, C_, -2.0, constraints={"constraints": [0.5, -1.0]}),
        mk_trial(8, C_, 7.0, constraints={"constraints:a": 0.0}),
        mk_trial(9, P_, iv={0: 1.0, 3: nan}),
        mk_trial(10, C_, float("inf")),
        mk_trial(11, P_, iv={0: 9.0, 1: 0.5}, constraints={"constraints:a": 2.0, "constraints:b": 0.1}),
        mk_trial(12, C_, 0.5),
        mk_trial(13, R_),
        mk_trial(14, P_, iv={0: 1.0, 1: 3.0}),
        mk_trial(15, C_, 1.0),
        mk_trial(16, C_, -float("inf")),
        mk_trial(17, P_, iv={2: -1.0}),
    ]
    trial_sets.append(ts)
    # 2: random completes and pruned.
    r = np.random.RandomState(5)
    ts2 = []
    for i in range(40):
        u = r.random_sample()
        if u < 0.6:
            ts2.append(mk_trial(i, C_, float(np.round(r.standard_normal(), 1))))
        elif u < 0.85:
            steps = int(r.randint(0, 4))
            ts2.append(mk_trial(i, P_, iv={s: float(np.round(r.standard_normal(), 1)) for s in range(steps)}))
        else:
            ts2.append(mk_trial(i, R_))
    trial_sets.append(ts2)
    out = []
    for k, ts in enumerate(trial_sets):
        for direction in ["minimize", "maximize"]:
            study = optuna.create_study(direction=direction)
            cases = []
            for n_below in [0, 1, 2, 3, 5, 8, 12, 20, 100]:
                below, above = _split_trials(study, list(ts), n_below)
                cases.append({"nBelow": n_below, "below": [t.number for t in below], "above": [t.number for t in above]})
            out.append({"set": k, "direction": direction, "cases": cases})
    return out, [[trial_record(t) for t in ts] for ts in trial_sets]


# --------------------------------------------------------------------------------------------
# Sampler calls on fixed histories
# --------------------------------------------------------------------------------------------

SPACE = {
    "x": FloatDistribution(-10.0, 10.0),
    "lr": FloatDistribution(1e-5, 1.0, log=True),
    "n": IntDistribution(1, 20),
    "k": IntDistribution(1, 128, log=True),
    "s": FloatDistribution(0.0, 1.0, step=0.05),
    "c": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
}


def history(seed, n, *, direction="minimize", with_running=0, with_pruned=True, cond=True):
    """A deterministic history: n finished trials (some pruned), then RUNNING ones."""
    r = np.random.RandomState(seed)
    trials = []
    for i in range(n + with_running):
        params = {}
        dists = {}
        for p, d in SPACE.items():
            if p == "s" and cond and i % 3 == 0:
                continue  # a parameter some trials lack
            v = obs_for(d, 1, r)[0]
            params[p] = d.to_external_repr(v)
            dists[p] = d
        x = params["x"]
        value = float((x - 2.0) ** 2 + math.log(params["lr"]) ** 2 / 10 + params["n"] / 20)
        if i >= n:
            state = TrialState.RUNNING
            t = create_trial(state=state, params=params, distributions=dists)
        elif with_pruned and i % 5 == 4:
            t = create_trial(state=TrialState.PRUNED, params=params, distributions=dists, intermediate_values={0: value + 1, 1: value})
        else:
            t = create_trial(state=TrialState.COMPLETE, value=value if direction == "minimize" else -value, params=params, distributions=dists)
        trials.append(t)
    return trials


def run_sampler_case(name, sampler_factory, trials, calls, direction="minimize"):
    """calls: list of ("independent", param) or ("relative",)."""
    sampler = sampler_factory()
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.add_trials(trials)
    trial = study.ask()
    results = []
    for call in calls:
        study._thread_local.cached_all_trials = None
        frozen = study._storage.get_trial(trial._trial_id)
        if call[0] == "relative":
            space = sampler.infer_relative_search_space(study, frozen)
            rel = sampler.sample_relative(study, frozen, space)
            results.append({"call": "relative", "space": sorted(space.keys()), "values": {p: space[p].to_internal_repr(v) for p, v in rel.items()}})
            # As Trial._suggest does, store the relative params the objective would take.
            for p in sorted(rel):
                study._storage.set_trial_param(trial._trial_id, p, space[p].to_internal_repr(rel[p]), space[p])
        else:
            p = call[1]
            d = SPACE[p]
            v = sampler.sample_independent(study, frozen, p, d)
            iv = d.to_internal_repr(v)
            results.append({"call": "independent", "param": p, "value": iv})
            study._storage.set_trial_param(trial._trial_id, p, iv, d)
    return {
        "name": name,
        "direction": direction,
        "trials": [trial_record(t) for t in study.trials[:-1]],
        "current": trial.number,
        "results": results,
    }


def gen_sampler() -> list:
    ind = [("independent", p) for p in ["x", "lr", "n", "k", "s", "c"]]
    out = []
    for seed in [0, 1, 7]:
        out.append(run_sampler_case(f"tpe univariate seed={seed}", lambda seed=seed: TPESampler(seed=seed, multivariate=False, constant_liar=False), history(seed, 30), ind))
    out.append(run_sampler_case("tpe univariate maximize", lambda: TPESampler(seed=3, multivariate=False, constant_liar=False), history(3, 30, direction="maximize"), ind, direction="maximize"))
    out.append(run_sampler_case("tpe univariate startup", lambda: TPESampler(seed=4, multivariate=False, constant_liar=False), history(4, 8), ind))
    out.append(run_sampler_case("tpe startup 0", lambda: TPESampler(seed=4, n_startup_trials=0, multivariate=False, constant_liar=False), [], ind))
    out.append(run_sampler_case("tpe n_startup 3 ei 5", lambda: TPESampler(seed=5, n_startup_trials=3, n_ei_candidates=5, multivariate=False, constant_liar=False), history(5, 4), ind))
    out.append(run_sampler_case("tpe 60 trials (ramp weights)", lambda: TPESampler(seed=6, multivariate=False, constant_liar=False), history(6, 60), ind))
    out.append(run_sampler_case("tpe options", lambda: TPESampler(seed=8, multivariate=False, constant_liar=False, prior_weight=0.4, consider_magic_clip=False, consider_endpoints=True), history(8, 25), ind))
    for cl in [False, True]:
        out.append(run_sampler_case(f"tpe univariate running constant_liar={cl}", lambda cl=cl: TPESampler(seed=9, multivariate=False, constant_liar=cl), history(9, 15, with_running=4), ind))
    for cl in [False, True]:
        out.append(run_sampler_case(f"tpe multivariate constant_liar={cl}", lambda cl=cl: TPESampler(seed=10, multivariate=True, constant_liar=cl), history(10, 30, with_running=3), [("relative",)] + ind))
    out.append(run_sampler_case("tpe multivariate full space", lambda: TPESampler(seed=11, multivariate=True, constant_liar=False), history(11, 25, cond=False), [("relative",)] + ind))
    out.append(run_sampler_case("tpe group", lambda: TPESampler(seed=12, multivariate=True, group=True, constant_liar=False), history(12, 30), [("relative",)] + ind))
    out.append(run_sampler_case("tpe defaults (multivariate auto, constant liar)", lambda: TPESampler(seed=13), history(13, 30, with_running=2), [("relative",)] + ind))
    out.append(run_sampler_case("random", lambda: RandomSampler(seed=14), history(14, 5), ind + ind))
    return out


# --------------------------------------------------------------------------------------------
# Whole studies
# --------------------------------------------------------------------------------------------


def objective_factory(prune: bool):
    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        n = trial.suggest_int("n", 1, 20)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        k = trial.suggest_int("k", 1, 100, log=True)
        s = trial.suggest_float("s", 0.0, 1.0, step=0.05)
        m = trial.suggest_int("m", 0, 30, step=3)
        fixed = trial.suggest_float("fixed", 2.0, 2.0)  # single-valued: never sampled
        v = (x - 3.0) ** 2 + (math.log10(lr) + 3) ** 2 + abs(n - 7) + 0.01 * k + (s - 0.4) ** 2 + abs(m - 12) / 3 + fixed
        if c == "a":
            z = trial.suggest_float("z", 0.0, 5.0)
            v += (z - 1.0) ** 2
        elif c == "b":
            v += 1.5
            w = trial.suggest_int("w", -5, 5)
            v += abs(w)
        if prune:
            for step in range(3):
                trial.report(v + (3 - step), step)
                if trial.number % 4 == 3 and step == 1:
                    raise optuna.TrialPruned()
        return v

    return objective


def run_study(name, sampler, n_trials, *, direction="minimize", prune=False, objective=None):
    study = optuna.create_study(direction=direction, sampler=sampler)
    obj = objective or objective_factory(prune)
    if direction == "maximize":
        base = obj

        def obj(trial):
            return -base(trial)

    study.optimize(obj, n_trials=n_trials)
    return {"name": name, "direction": direction, "trials": [trial_record(t) for t in study.trials]}


def gen_studies() -> list:
    out = []
    out.append(run_study("tpe univariate", TPESampler(seed=1, multivariate=False, constant_liar=False), 45))
    out.append(run_study("tpe univariate maximize pruned", TPESampler(seed=2, multivariate=False, constant_liar=False), 40, direction="maximize", prune=True))
    out.append(run_study("tpe multivariate", TPESampler(seed=3, multivariate=True, constant_liar=False), 40))
    out.append(run_study("tpe multivariate group", TPESampler(seed=4, multivariate=True, group=True, constant_liar=False), 40, prune=True))
    out.append(run_study("tpe optuna 5.1 defaults", TPESampler(seed=5), 40))
    out.append(run_study("tpe startup 3 ei 8 no clip", TPESampler(seed=6, n_startup_trials=3, n_ei_candidates=8, consider_magic_clip=False, multivariate=False, constant_liar=False), 30))
    out.append(run_study("random study", RandomSampler(seed=7), 25))
    grid_space = {"x": [-5, 0.5, 3], "c": ["a", "b", "c"], "n": [1, 10]}

    def grid_objective(trial):
        x = trial.suggest_float("x", -10, 10)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        n = trial.suggest_int("n", 1, 20)
        return x * x + n + (1 if c == "a" else 0)

    out.append(run_study("grid seed=None", GridSampler(grid_space), 18, objective=grid_objective))
    out.append(run_study("grid seed=3", GridSampler(grid_space, seed=3), 18, objective=grid_objective))
    return out


def gen_grid_orders() -> list:
    out = []
    for space, seed in [({"x": [-5, 0.5, 3], "c": ["a", "b", "c"], "n": [1, 10]}, None), ({"b": [1, 2, 3, 4, 5], "a": [True, False]}, 11), ({"only": list(range(40))}, 2**32 - 1)]:
        g = GridSampler(space, seed=seed)
        out.append({"space": space, "seed": seed, "paramNames": g._param_names, "grids": [list(x) for x in g._all_grids]})
    return out


def build() -> str:
    split, split_sets = gen_split()
    gamma, weights = gen_gamma_weights()
    parzen = gen_parzen()
    data = {
        "optuna": optuna.__version__,
        "numpy": np.__version__,
        "argsortPinnedStable": True,
        "tiedParzenCases": sum(1 for c in parzen if c["tiedObservations"]),
        "rng": gen_rng(),
        "special": gen_special(),
        "gamma": gamma,
        "weights": weights,
        "parzen": parzen,
        "splitTrialSets": split_sets,
        "split": split,
        "sampler": gen_sampler(),
        "studies": gen_studies(),
        "gridOrders": gen_grid_orders(),
    }
    return json.dumps(enc(data), separators=(",", ":"))


def main() -> None:
    if not optuna.__version__.startswith("5.1"):
        print(f"warning: made for Optuna 5.1, running {optuna.__version__}", file=sys.stderr)
    a = build()
    b = build()
    if a != b:
        raise SystemExit("non-deterministic output")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(a)
        f.write("\n")
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    print(f"wrote {os.path.relpath(OUT, root)} ({len(a) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
