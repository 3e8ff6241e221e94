"""Writes cli/__test__/fixtures/race.json: the article's SGD-vs-momentum race, run with numpy.

The loop below is the article's code ("Deep Learning: Optimizers Explained", section
"Momentum-Based Optimizers") with only the plotting removed: float64 numpy arrays, its own SGD
and MomentumSGD classes. __test__/demos-race.spec.ts checks that ferroptim's `race()` (float32
parameters through ferroptim's SGD) gives the same printed figures.

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy
    /tmp/np/bin/python scripts/gen_race_fixture.py

Deterministic (no random numbers): running it twice gives byte-identical files.
"""
import io
import json
import os
from contextlib import redirect_stdout

import numpy as np


# --- the article's code -----------------------------------------------------------------------
class SGD:
    def __init__(self, learning_rate=0.01):
        self.lr = learning_rate

    def update(self, params, grads):
        return params - self.lr * grads


class MomentumSGD:
    def __init__(self, learning_rate=0.01, momentum=0.9):
        self.lr = learning_rate
        self.momentum = momentum
        self.velocity = None

    def update(self, params, grads):
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        self.velocity = self.momentum * self.velocity + grads
        return params - self.lr * self.velocity


def rosenbrock(x, y):
    return (1 - x)**2 + 100 * (y - x**2)**2


def rosenbrock_grad(x, y):
    dx = -2 * (1 - x) - 400 * x * (y - x**2)
    dy = 200 * (y - x**2)
    return np.array([dx, dy])
# ----------------------------------------------------------------------------------------------


def himmelblau(x, y):
    return (x**2 + y - 11)**2 + (x + y**2 - 7)**2


def himmelblau_grad(x, y):
    a = x**2 + y - 11
    b = x + y**2 - 7
    return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])


FUNCTIONS = {"rosenbrock": (rosenbrock, rosenbrock_grad), "himmelblau": (himmelblau, himmelblau_grad)}


def run_race(fn, start, steps, lr, momentum):
    """The article's loop, verbatim apart from the parameters; returns paths and printed lines."""
    f, f_grad = FUNCTIONS[fn]
    start = np.array(start, dtype=np.float64)
    sgd_path = [start.copy()]
    mom_path = [start.copy()]
    sgd = SGD(learning_rate=lr)
    momentum = MomentumSGD(learning_rate=lr, momentum=momentum)
    pos_sgd, pos_mom = start.copy(), start.copy()
    for _ in range(steps):
        grad_sgd = f_grad(*pos_sgd)
        grad_mom = f_grad(*pos_mom)
        pos_sgd = sgd.update(pos_sgd, grad_sgd)
        pos_mom = momentum.update(pos_mom, grad_mom)
        sgd_path.append(pos_sgd.copy())
        mom_path.append(pos_mom.copy())
    out = io.StringIO()
    with redirect_stdout(out):
        print(f"SGD final position: {pos_sgd}, Loss: {f(*pos_sgd):.4f}")
        print(f"Momentum final position: {pos_mom}, Loss: {f(*pos_mom):.4f}")
    return {
        "fn": fn,
        "start": start.tolist(),
        "steps": steps,
        "lr": lr,
        "momentum": momentum.momentum,
        "printed": out.getvalue().splitlines(),
        "runs": [
            {"label": "SGD", "final": pos_sgd.tolist(), "loss": float(f(*pos_sgd)), "path": np.array(sgd_path).tolist()},
            {"label": "Momentum", "final": pos_mom.tolist(), "loss": float(f(*pos_mom)), "path": np.array(mom_path).tolist()},
        ],
    }


def main():
    cases = [
        # The article's settings.
        run_race("rosenbrock", [-1.0, 1.0], 1000, 0.001, 0.9),
        # The same loop on the article's landscape (Himmelblau), as a second check.
        run_race("himmelblau", [0.0, 0.0], 200, 0.005, 0.9),
    ]
    for c in cases:
        print("\n".join(c["printed"]))
    doc = {"generator": "scripts/gen_race_fixture.py", "numpy": np.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(__file__), "..", "cli", "__test__", "fixtures", "race.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
