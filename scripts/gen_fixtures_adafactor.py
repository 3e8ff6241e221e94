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

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import (  # noqa: E402  (shared data rules)
    OUT_DIR,
    ROOT,
    STEPS,
    dump,
    f32list,
    grad_array,
    render_file,
    sample_indices,
    self_check_data,
    split_case,
    values,
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


def numel(shape):
    return math.prod(shape)


def kwargs_of(options):
    kw = {TORCH_NAME[k]: (tuple(v) if k == "eps" else v) for k, v in options.items()}
    # Pin the single-tensor (for-loop) implementation, also Adafactor's default.
    kw["foreach"] = False
    return kw


def buffer_samples(t):
    flat = t.detach().reshape(-1).numpy()
    return f32list(flat, sample_indices(flat.size))


def run_case(case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    kw = kwargs_of(options)
    base_lr = kw.setdefault("lr", 1e-2)
    params = [torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, numel(s)).copy()).reshape(s)) for j, s in enumerate(SHAPES)]
    groups = [{"params": params[:GROUP0]}, {"params": params[GROUP0:], "lr": base_lr / 2}]
    opt = torch.optim.Adafactor(groups, **kw)
    group_base_lrs = [g["lr"] for g in opt.param_groups]
    assert group_base_lrs == [base_lr, base_lr / 2]

    for t in range(1, STEPS + 1):
        if lr_schedule == "linear":
            for g, b in zip(opt.param_groups, group_base_lrs):
                g["lr"] = b * (1 - (t - 1) / 50)
        for j, (p, s) in enumerate(zip(params, SHAPES)):
            if skip and j == SKIPPED and t in (3, 4):
                p.grad = None
            else:
                p.grad = torch.from_numpy(grad_array(seed, t, j, numel(s), grad_scale)).reshape(s)
        opt.step()

    final = []
    for p in params:
        flat = p.detach().reshape(-1).numpy()
        idx = sample_indices(flat.size)
        final.append({"indices": idx, "values": f32list(flat, idx)})
    state = []
    for j, (p, s) in enumerate(zip(params, SHAPES)):
        st = opt.state[p]
        step = float(st["step"])
        assert step == int(step)
        assert int(step) == (STEPS - 2 if skip and j == SKIPPED else STEPS)
        entry = {"step": int(step)}
        if len(s) >= 2:
            assert list(st["row_var"].shape) == s[:-1] + [1] and list(st["col_var"].shape) == s[:-2] + [1, s[-1]]
            entry["rowVar"] = buffer_samples(st["row_var"])
            entry["colVar"] = buffer_samples(st["col_var"])
        else:
            assert list(st["variance"].shape) == s
            entry["variance"] = buffer_samples(st["variance"])
        state.append(entry)
    for p in params:
        assert torch.isfinite(p).all()

    return {
        "name": name,
        "seed": seed,
        "options": options,
        "lrSchedule": lr_schedule,
        "skip": skip,
        "gradScale": grad_scale,
        "final": final,
        "state": state,
    }


def main():
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    if (major, minor) != (2, 15):
        print("warning: torch %s; the committed adafactor.json was made with 2.15" % torch.__version__, file=sys.stderr)
    get_cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    cap = get_cap() if get_cap else "unknown"
    if cap == "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        print("warning: ATen CPU capability is DEFAULT (no SIMD); see scripts/FIXTURES.md", file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    self_check_data()
    os.makedirs(OUT_DIR, exist_ok=True)

    results = [run_case(ci, name, raw) for ci, (name, raw) in enumerate(CASES)]
    for ci in (1, 6):
        again = run_case(ci, *CASES[ci])
        assert dump(again) == dump(results[ci]), "non-deterministic: case %d" % ci

    head = {"generator": GENERATOR, "torch": torch.__version__, "optimizer": "Adafactor", "shapes": SHAPES, "group0": GROUP0, "skipped": SKIPPED, "steps": STEPS}
    text = render_file(head, results)
    path = os.path.join(OUT_DIR, "adafactor.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s (%d bytes, %d cases); torch %s (cpu capability %s)" % (os.path.relpath(path, ROOT), len(text), len(results), torch.__version__, cap))
    assert len(text) < 1024 * 1024, "fixture too large"


if __name__ == "__main__":
    sys.exit(main())
