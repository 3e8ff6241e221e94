#!/usr/bin/env python3
"""Generate ferroptim's torch.optim.LBFGS fixtures (__test__/fixtures/lbfgs.json).

Runs the REAL torch.optim.LBFGS on CPU float32 parameters over deterministic problems whose
closure re-evaluates the loss and the gradient, and records after every step() the parameters,
the loss step() returned, torch's counters (state['func_evals'], state['n_iter']) and the last
step length t, H_diag and history length. See scripts/FIXTURES.md.

Usage:  /work/venv-torch/bin/python scripts/gen_fixtures_lbfgs.py   (any interpreter with torch + numpy)

Everything below is deterministic; re-running produces byte-identical files.

--- What the TypeScript side mirrors EXACTLY (__test__/lbfgs.spec.ts) -----------------------

  Data: value(seed, step, tensor, i) of scripts/gen_fixtures.py (imported from there).

  The closures do not use autograd: they compute the loss and the gradient with scalar float32
  arithmetic in a fixed order, every operation rounded to float32 (f32() below, Math.fround in
  TS), so that the TypeScript closure gives the same bits as this one and the fixture tests
  LBFGS alone. exp and log1p are evaluated in float64 (math.exp / Math.exp) and rounded once.

  rosenbrock (params of lengths `lengths`, flattened in order into x[0..n)):
      loss = 0; g = 0
      for i in 0..n-2:
          a  = f32(x[i+1] - f32(x[i]*x[i]));  b = f32(1 - x[i])
          loss = f32(loss + f32(f32(100*f32(a*a)) + f32(b*b)))
          ga = f32(200*a)
          g[i+1] = f32(g[i+1] + ga)
          g[i]   = f32(g[i] + f32(f32(-2*b) - f32(f32(2*x[i]) * ga)))
      initial x: element i of param j is f32(value(seed, 0, j, i) * 1.5)
      `negate` (for maximize): the closure returns -loss and writes -g.

  leastSquares / logistic (params w of length D = 7 and b of length 1; N = 32 samples):
      X[k][j] = value(seed, 1, 0, k*D + j);  target y[k] = value(seed, 2, 0, k)   (leastSquares)
      label   y[k] = 1 if value(seed, 2, 0, k) >= 0 else -1                      (logistic)
      z[k] = b; for j: z[k] = f32(z[k] + f32(X[k][j]*w[j]))
      leastSquares: r = f32(z - y); loss = Σ_k f32(r*r) (in order, f32 adds), then f32(loss * (1/(2N)))
                    gw[j] = Σ_k f32(r*X[k][j]) in order, then f32(gw[j] * (1/N)); gb likewise with r
      logistic:     m = -y*z (exact); loss = Σ_k f32(log1p(exp(m))) in order, then f32(loss * (1/N))
                    s = f32(1 / (1 + exp(-m))) (f64 inside); dz = -y*s (exact)
                    gw[j] = Σ_k f32(dz*X[k][j]) in order, then f32(gw[j] * (1/N)); gb likewise with dz
                    plus L2 with lambda = 1/16: loss = f32(loss + f32((1/32) * Σ_j f32(w*w)))
                    (the sum in order, f32 adds), gw[j] = f32(gw[j] + f32(w[j] / 16))
      initial w[j] = value(seed, 0, 0, j), b = value(seed, 0, 1, 0)

  lrSchedule "linear10": before step s (1-based) the group's lr is set to
      base * (1 - (s - 1) / 10)          (f64, in this order)

  Each case is run twice:
    - "torch": torch.optim.LBFGS as it is (its dot products go through MKL's sdot, its
      flat_grad.abs().sum() through torch's cascade sum);
    - "exactOps": the same LBFGS with the two kinds of operation whose float32 result torch
      leaves to a library replaced by a defined one: every dot() and every full sum() of its flat
      vectors sums the products (exact in float64) in float64 in index order and rounds once to
      float32 (ferroptim's order), and sqrt() (used by _cubic_interpolate) is the correctly
      rounded float32 square root (torch's goes through MKL's vector math, which is one ulp off
      for about a fifth of float32 inputs, 0-dim tensors included). Everything else is torch's
      code, so ferroptim must reproduce this run bit for bit, and the difference between the two
      runs is those operations alone.
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import ROOT, dump, render_file, value, write_text  # noqa: E402  (the shared data hash, the JSON layout)

GENERATOR = "scripts/gen_fixtures_lbfgs.py"

D = 7
N = 32


def f32(x):
    return float(np.float32(x))


# ---------------------------------------------------------------------------- problems
def rosenbrock(x, negate):
    n = len(x)
    loss = 0.0
    g = [0.0] * n
    for i in range(n - 1):
        xi = x[i]
        a = f32(x[i + 1] - f32(xi * xi))
        b = f32(1.0 - xi)
        loss = f32(loss + f32(f32(100.0 * f32(a * a)) + f32(b * b)))
        ga = f32(200.0 * a)
        g[i + 1] = f32(g[i + 1] + ga)
        g[i] = f32(g[i] + f32(f32(-2.0 * b) - f32(f32(2.0 * xi) * ga)))
    if negate:
        return -loss, [-v for v in g]
    return loss, g


def regression_data(seed, kind):
    X = [[value(seed, 1, 0, k * D + j) for j in range(D)] for k in range(N)]
    if kind == "leastSquares":
        y = [value(seed, 2, 0, k) for k in range(N)]
    else:
        y = [1.0 if value(seed, 2, 0, k) >= 0 else -1.0 for k in range(N)]
    return X, y


def regression(x, data, kind):
    X, y = data
    w, b = x[:D], x[D]
    gw = [0.0] * D
    gb = 0.0
    loss = 0.0
    for k in range(N):
        z = b
        for j in range(D):
            z = f32(z + f32(X[k][j] * w[j]))
        if kind == "leastSquares":
            r = f32(z - y[k])
            loss = f32(loss + f32(r * r))
            dz = r
        else:
            m = -y[k] * z
            loss = f32(loss + f32(math.log1p(math.exp(m))))
            s = f32(1.0 / (1.0 + math.exp(-m)))
            dz = -y[k] * s
        for j in range(D):
            gw[j] = f32(gw[j] + f32(dz * X[k][j]))
        gb = f32(gb + dz)
    if kind == "leastSquares":
        loss = f32(loss * (1.0 / (2 * N)))
    else:
        loss = f32(loss * (1.0 / N))
    gw = [f32(v * (1.0 / N)) for v in gw]
    gb = f32(gb * (1.0 / N))
    if kind == "logistic":
        sq = 0.0
        for j in range(D):
            sq = f32(sq + f32(w[j] * w[j]))
        loss = f32(loss + f32((1.0 / 32) * sq))
        gw = [f32(gw[j] + f32(w[j] / 16)) for j in range(D)]
    return loss, gw + [gb]


# ---------------------------------------------------------------------------- cases
# torchSteps: how many leading steps the test compares with the real torch run (the exactOps run
# is compared bit for bit at every step). The rest are chaotic (Rosenbrock over tens of
# iterations amplifies a one-ulp difference in a dot product) or reach the float32 noise floor,
# where torch's stopping tests (|loss - prev_loss| < toleranceChange, gtd > -toleranceChange)
# decide on rounding noise; there the two summation orders legitimately part (see FIXTURES.md).
def case(name, problem, seed, options, steps, torch_steps, lengths=None, schedule=None, negate=False, domain=None, no_grad=None):
    return {
        "name": name, "problem": problem, "seed": seed, "options": options, "steps": steps,
        "torchSteps": torch_steps, "lengths": lengths or [D, 1], "lrSchedule": schedule or "none",
        "negate": negate, "domain": domain, "noGrad": no_grad,
    }


CASES = [
    case("Rosenbrock in 10 dims over params of 1, 3 and 6 elements, no line search, lr 0.1, maxIter 5, historySize 3",
         "rosenbrock", 1, {"lr": 0.1, "maxIter": 5, "historySize": 3}, 4, 4, lengths=[1, 3, 6]),
    case("Rosenbrock in 10 dims, strong_wolfe, maxIter 3 (so maxEval 3), historySize 4",
         "rosenbrock", 2, {"maxIter": 3, "historySize": 4, "lineSearchFn": "strong_wolfe"}, 4, 4, lengths=[1, 3, 6]),
    case("Rosenbrock in 10 dims, strong_wolfe, maxIter 10, historySize 4, to near the minimum",
         "rosenbrock", 2, {"maxIter": 10, "historySize": 4, "lineSearchFn": "strong_wolfe"}, 6, 1, lengths=[1, 3, 6]),
    case("Rosenbrock negated and maximized, strong_wolfe, maxIter 10, historySize 4",
         "rosenbrock", 2, {"maxIter": 10, "historySize": 4, "lineSearchFn": "strong_wolfe", "maximize": True}, 6, 1,
         lengths=[1, 3, 6], negate=True),
    case("Rosenbrock in 4 dims, strong_wolfe, toleranceGrad 1e-3 and toleranceChange 1e-6 (later steps end at once)",
         "rosenbrock", 3, {"lineSearchFn": "strong_wolfe", "toleranceGrad": 1e-3, "toleranceChange": 1e-6}, 5, 0, lengths=[2, 2]),
    case("Rosenbrock, no line search, lr 10, maxIter 6: the loss overflows to Infinity, then everything is NaN",
         "rosenbrock", 8, {"lr": 10, "maxIter": 6}, 3, 0, lengths=[1, 3, 6]),
    case("Rosenbrock with a NaN loss and gradient outside |x| <= 1.7, strong_wolfe, lr 10, maxIter 6 (the line search lands on NaN)",
         "rosenbrock", 9, {"lr": 10, "maxIter": 6, "lineSearchFn": "strong_wolfe"}, 3, 0, lengths=[1, 3, 6], domain=1.7),
    case("least squares, no line search, maxIter 3, historySize 2, linear lr schedule",
         "leastSquares", 4, {"maxIter": 3, "historySize": 2}, 6, 6, schedule="linear10"),
    case("least squares, strong_wolfe, maxIter 4, maxEval 6, historySize 3, linear lr schedule (ends at t = 0)",
         "leastSquares", 5, {"maxIter": 4, "maxEval": 6, "historySize": 3, "lineSearchFn": "strong_wolfe"}, 5, 3,
         schedule="linear10"),
    case("logistic regression, strong_wolfe, maxIter 5, historySize 3, linear lr schedule",
         "logistic", 6, {"maxIter": 5, "historySize": 3, "lineSearchFn": "strong_wolfe"}, 5, 5, schedule="linear10"),
    case("least squares, defaults, toleranceGrad 1e-4, the bias left without a gradient (None, read as zeros): "
         "steps 2 and 3 return after one evaluation",
         "leastSquares", 12, {"toleranceGrad": 1e-4}, 3, 0, no_grad=1),
    case("logistic regression, strong_wolfe, lr 2, maxIter 6, historySize 3 (the zoom moves a trial point away "
         "from the upper end of its bracket)",
         "logistic", 31, {"lr": 2, "maxIter": 6, "historySize": 3, "lineSearchFn": "strong_wolfe"}, 2, 0),
    case("logistic regression, no line search, lr 0.5, maxIter 4, historySize 2",
         "logistic", 7, {"lr": 0.5, "maxIter": 4, "historySize": 2}, 4, 4),
    case("logistic regression, no line search, lr 0.5, defaults otherwise (maxIter 20, historySize 100)",
         "logistic", 7, {"lr": 0.5}, 3, 0),
]

TORCH_NAMES = {
    "lr": "lr",
    "maxIter": "max_iter",
    "maxEval": "max_eval",
    "toleranceGrad": "tolerance_grad",
    "toleranceChange": "tolerance_change",
    "historySize": "history_size",
    "lineSearchFn": "line_search_fn",
    "maximize": "maximize",
}


class ExactOps(torch.Tensor):
    """A tensor whose dot(), full sum() and sqrt() are ferroptim's (see the module doc)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.dot, torch.dot):
            a = args[0].detach().double().tolist()
            b = args[1].detach().double().tolist()
            acc = 0.0
            for u, v in zip(a, b):
                acc += u * v
            return torch.tensor(acc, dtype=torch.float32).as_subclass(cls)
        if func is torch.Tensor.sum and len(args) == 1 and not kwargs:
            acc = 0.0
            for u in args[0].detach().double().tolist():
                acc += u
            return torch.tensor(acc, dtype=torch.float32).as_subclass(cls)
        if func is torch.Tensor.sqrt and len(args) == 1 and not kwargs and args[0].dim() == 0:
            return torch.tensor(math.sqrt(args[0].item()), dtype=torch.float32).as_subclass(cls)
        return super().__torch_function__(func, types, args, kwargs)


def initial(c):
    if c["problem"] == "rosenbrock":
        return [[f32(value(c["seed"], 0, j, i) * 1.5) for i in range(n)] for j, n in enumerate(c["lengths"])]
    return [[value(c["seed"], 0, 0, j) for j in range(D)], [value(c["seed"], 0, 1, 0)]]


def encode(x):
    """JSON has no NaN or infinities: as ferroptim's state dicts, they are written as strings."""
    return x if math.isfinite(x) else ("NaN" if x != x else ("Infinity" if x > 0 else "-Infinity"))


def run(c, exact_ops):
    problem, options = c["problem"], c["options"]
    params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)) for v in initial(c)]
    opt = torch.optim.LBFGS(params, **{TORCH_NAMES[k]: v for k, v in options.items()})
    if exact_ops:
        gather = opt._gather_flat_grad
        opt._gather_flat_grad = lambda: gather().as_subclass(ExactOps)
    data = regression_data(c["seed"], problem) if problem != "rosenbrock" else None
    calls = [0, 0]

    def closure():
        calls[0] += 1
        x = [v for p in params for v in p.detach().tolist()]
        if c["domain"] is not None and any(abs(v) > c["domain"] for v in x):
            calls[1] += 1
            loss, g = math.nan, [math.nan] * len(x)
        elif problem == "rosenbrock":
            loss, g = rosenbrock(x, c["negate"])
        else:
            loss, g = regression(x, data, problem)
        off = 0
        for j, p in enumerate(params):
            n = p.numel()
            p.grad = None if j == c["noGrad"] else torch.tensor(g[off:off + n], dtype=torch.float32)
            off += n
        return torch.tensor(loss, dtype=torch.float32)

    base = options.get("lr", 1.0)
    out = []
    for s in range(1, c["steps"] + 1):
        if c["lrSchedule"] == "linear10":
            opt.param_groups[0]["lr"] = base * (1 - (s - 1) / 10)
        calls[0] = 0
        loss = opt.step(closure)
        st = opt.state[params[0]]
        t = st.get("t")
        h = st.get("H_diag")
        out.append({
            "loss": encode(float(loss)),
            "closureCalls": calls[0],
            "funcEvals": st["func_evals"],
            "nIter": st["n_iter"],
            "t": None if t is None else encode(float(t)),
            "hDiag": None if h is None else encode(float(h)),
            "history": len(st.get("old_dirs") or []),
            "params": [[encode(v) for v in p.detach().tolist()] for p in params],
        })
    return out, calls[1]


def build():
    cases = []
    for c in CASES:
        torch_run, nan_evals = run(c, False)
        exact_run, _ = run(c, True)
        cases.append(dict(c, initial=initial(c), torch=torch_run, exactOps=exact_run, nanEvals=nan_evals))
    return cases


def decode(x):
    return float(x) if isinstance(x, str) else x


def params_diff(a, b):
    worst = 0.0
    for pa, pb in zip(a["params"], b["params"]):
        for u, v in zip(pa, pb):
            u, v = decode(u), decode(v)
            if u != v and not (u != u and v != v):
                worst = max(worst, abs(u - v) if math.isfinite(u - v) else math.inf)
    return worst


def main():
    np.seterr(all="ignore")  # the diverging cases overflow float32 on purpose
    torch.set_num_threads(1)
    cases = build()
    again = build()
    assert dump(again) == dump(cases), "non-deterministic"
    head = {"generator": GENERATOR, "torch": torch.__version__, "cpuCapability": torch.backends.cpu.get_cpu_capability(), "n": N, "d": D}
    text = render_file(head, cases)
    path = write_text("lbfgs.json", text)
    for c in cases:
        k = c["torchSteps"]
        compared = [params_diff(a, b) for a, b in zip(c["torch"][:k], c["exactOps"][:k])]
        rest = [params_diff(a, b) for a, b in zip(c["torch"][k:], c["exactOps"][k:])]
        print("%s\n    %d steps, %d closure calls (%d NaN), torch vs exactOps: compared steps %s, other steps %s" % (
            c["name"], c["steps"], c["exactOps"][-1]["funcEvals"], c["nanEvals"],
            "max %.3g" % max(compared) if compared else "-", "max %.3g" % max(rest) if rest else "-"))
    print("torch %s (cpu capability %s), wrote %s (%d bytes)" % (
        torch.__version__, head["cpuCapability"], os.path.relpath(path, ROOT), len(text)))


if __name__ == "__main__":
    main()
