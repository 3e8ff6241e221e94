#!/usr/bin/env python3
"""Generate ferroptim's PyTorch reference fixtures (__test__/fixtures/<optimizer>.json).

Runs the REAL torch.optim.SGD / Adam / AdamW / RMSprop / Adagrad / RAdam / NAdam / Adamax /
Adadelta on CPU float32 tensors and records the
final parameters (and some optimizer state) so the TypeScript tests can compare
ferroptim against PyTorch without Python. See scripts/FIXTURES.md.

Usage:  python3 scripts/gen_fixtures.py        (any interpreter that has torch + numpy)

Everything below is deterministic; re-running produces byte-identical files.

--- Data shared with the TypeScript side (mirror EXACTLY) ---------------------------

  mix32(x):                      # 32-bit integer hash, all arithmetic mod 2**32
      x &= 0xFFFFFFFF
      x ^= x >> 16
      x = (x * 0x7feb352d) & 0xFFFFFFFF
      x ^= x >> 15
      x = (x * 0x846ca68b) & 0xFFFFFFFF
      x ^= x >> 16
      return x

  value(seed, step, tensor, i):  # a float32 in [-1, 1]
      h = mix32(seed * 0x9E3779B1 + step * 0x85EBCA77 + tensor * 0xC2B2AE3D + i)
      return float32(((h % 2001) - 1000) / 1000.0)   # f64 division, then round to f32
  (In JS: keep every intermediate as uint32, e.g. Math.imul(...) >>> 0, and reduce the
   seed/step/tensor products mod 2**32 before adding; Math.fround for float32.)

  - lengths = [1, 7, 17, 1025, 40001] (tensors 0..4); seed = 1000 + case index
    (case index is 0-based within each optimizer's file).
  - initial param j, element i:  value(seed, 0, j, i)
  - grad of tensor j at step t (t = 1..25), element i:
        float32(float64(value(seed, t, j, i)) * gradScale)   (gradScale a power of 2)
  - param groups: tensors 0,1,2 -> group 0 with the case options; tensors 3,4 ->
    group 1 with the same options but lr = case lr / 2.
  - lrSchedule "linear": before step t (1-based) each group's lr is set to
        base_lr_of_group * (1 - (t - 1) / 50)          (f64, in this order)
  - skip: tensor 1 has grad None at steps 3 and 4 (its per-param step count lags).
  - 25 steps: assign grads, opt.step().

  SAMPLE indices of a tensor of length n (ascending, unique; all indices if n <= 128):
      i < 64  or  i >= n - 64  or  (i % 8192) in (8190, 8191, 0, 1, 2)  or  i % 97 == 0

  Recorded: final param values at the sample indices of every tensor, and for tensor 3
  (length 1025) the optimizer state at its sample indices (momentumBuffer; or step,
  expAvg, expAvgSq, maxExpAvgSq; for the other optimizers step and every state tensor
  under its camelCase name, with NAdam's scalar muProduct as one number). Values are
  float32 stored as the exact f64 number.
"""

import json
import os
import sys

import numpy as np
import torch

LENGTHS = [1, 7, 17, 1025, 40001]
STEPS = 25
GENERATOR = "scripts/gen_fixtures.py"
M32 = 0xFFFFFFFF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "__test__", "fixtures")


# ---------------------------------------------------------------------------- data
def mix32(x):
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def value(seed, step, tensor, i):
    """Scalar reference (used to cross-check the vectorised version)."""
    h = mix32(seed * 0x9E3779B1 + step * 0x85EBCA77 + tensor * 0xC2B2AE3D + i)
    return float(np.float32(((h % 2001) - 1000) / 1000.0))


def values(seed, step, tensor, n):
    """value(seed, step, tensor, i) for i in range(n), as a float32 numpy array."""
    base = (seed * 0x9E3779B1 + step * 0x85EBCA77 + tensor * 0xC2B2AE3D) & M32
    m = np.uint64(M32)
    x = (np.arange(n, dtype=np.uint64) + np.uint64(base)) & m
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & m
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & m
    x ^= x >> np.uint64(16)
    v = ((x % np.uint64(2001)).astype(np.int64) - 1000).astype(np.float64) / 1000.0
    return v.astype(np.float32)


def sample_indices(n):
    return [
        i
        for i in range(n)
        if i < 64 or i >= n - 64 or (i % 8192) in (8190, 8191, 0, 1, 2) or i % 97 == 0
    ]


def grad_array(seed, step, tensor, n, grad_scale):
    v = values(seed, step, tensor, n).astype(np.float64) * grad_scale
    return v.astype(np.float32)


# ---------------------------------------------------------------------------- cases
SGD_CASES = [
    ("plain SGD, lr 0.1", {"lr": 0.1}),
    ("momentum 0.9", {"lr": 0.1, "momentum": 0.9}),
    (
        "momentum 0.9 with dampening 0.1 and weight decay 0.01",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weightDecay": 0.01},
    ),
    (
        "nesterov momentum 0.9 with weight decay 0.001",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 0.001},
    ),
    (
        "momentum 0.5, maximize, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.1, "momentum": 0.5, "maximize": True, "lrSchedule": "linear", "skip": True},
    ),
    ("no momentum, weight decay 0.1, maximize", {"lr": 0.01, "weightDecay": 0.1, "maximize": True}),
]

ADAM_CASES = [
    ("defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8)", {}),
    ("lr 0.01 with coupled (L2) weight decay 0.1", {"lr": 0.01, "weightDecay": 0.1}),
    ("amsgrad, lr 0.01", {"lr": 0.01, "amsgrad": True}),
    (
        "amsgrad with coupled weight decay 0.01, betas 0.8/0.99, eps 1e-6 and maximize",
        {
            "lr": 0.003,
            "betas": [0.8, 0.99],
            "eps": 1e-6,
            "amsgrad": True,
            "weightDecay": 0.01,
            "maximize": True,
        },
    ),
    (
        "lr 0.01, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "lrSchedule": "linear", "skip": True},
    ),
    (
        "betas 0/0.5, eps 1e-3, tiny grads (scale 2^-10)",
        {"lr": 0.02, "betas": [0.0, 0.5], "eps": 1e-3, "gradScale": 0.0009765625},
    ),
]

ADAMW_CASES = [
    ("defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, decoupled weight decay 1e-2)", {}),
    ("lr 0.01 with decoupled weight decay 0.1", {"lr": 0.01, "weightDecay": 0.1}),
    ("amsgrad with decoupled weight decay 0.5", {"lr": 0.01, "weightDecay": 0.5, "amsgrad": True}),
    (
        "no weight decay, betas 0.8/0.99, eps 1e-6, maximize",
        {"lr": 0.003, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.0, "maximize": True},
    ),
    (
        "amsgrad, lr 0.01, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "lrSchedule": "linear", "skip": True, "amsgrad": True},
    ),
]

def _rmsprop_cases():
    """Every combination of centered x momentum x weightDecay x maximize (alpha and eps vary)."""
    cases = []
    for k in range(16):
        centered, momentum, decay, maximize = bool(k & 8), bool(k & 4), bool(k & 2), bool(k & 1)
        opts = {"lr": 0.01 if k % 3 else 0.003}
        if k % 4 == 1:
            opts["alpha"] = 0.9
        if k % 4 == 2:
            opts["alpha"], opts["eps"] = 0.3, 1e-6
        if momentum:
            opts["momentum"] = 0.9 if k % 2 else 0.5
        if decay:
            opts["weightDecay"] = 0.1 if k % 3 else 0.01
        if centered:
            opts["centered"] = True
        if maximize:
            opts["maximize"] = True
        name = ", ".join(
            [("centered" if centered else "plain")]
            + ["%s %s" % (key, opts[key]) for key in ("lr", "alpha", "eps", "momentum", "weightDecay") if key in opts]
            + (["maximize"] if maximize else [])
        )
        cases.append((name, opts))
    cases.append(
        (
            "centered, momentum 0.9, linear lr schedule, tensor 1 skipped at steps 3-4",
            {"lr": 0.01, "centered": True, "momentum": 0.9, "lrSchedule": "linear", "skip": True},
        )
    )
    return cases


RMSPROP_CASES = _rmsprop_cases()

ADAGRAD_CASES = [
    ("defaults (lr 1e-2, eps 1e-10)", {}),
    ("lr 0.05, lr decay 0.01", {"lr": 0.05, "lrDecay": 0.01}),
    ("lr 0.05, initial accumulator 0.1, maximize", {"lr": 0.05, "initialAccumulatorValue": 0.1, "maximize": True}),
    ("lr 0.05, weight decay 0.01", {"lr": 0.05, "weightDecay": 0.01}),
    (
        "lr 0.05, lr decay 0.1, initial accumulator 0.5, weight decay 0.1",
        {"lr": 0.05, "lrDecay": 0.1, "initialAccumulatorValue": 0.5, "weightDecay": 0.1},
    ),
    (
        "lr decay 0.01, weight decay 0.01, eps 1e-6, maximize",
        {"lr": 0.02, "lrDecay": 0.01, "weightDecay": 0.01, "eps": 1e-6, "maximize": True},
    ),
    (
        "initial accumulator 2, weight decay 0.5, maximize",
        {"lr": 0.1, "initialAccumulatorValue": 2.0, "weightDecay": 0.5, "maximize": True},
    ),
    (
        "lr decay 0.05, initial accumulator 0.1, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.05, "lrDecay": 0.05, "initialAccumulatorValue": 0.1, "lrSchedule": "linear", "skip": True},
    ),
    (
        "tiny grads (scale 2^-10), eps 1e-10",
        {"lr": 0.01, "gradScale": 0.0009765625},
    ),
]

RADAM_CASES = [
    ("defaults (lr 1e-3, betas 0.9/0.999; rectified from step 6)", {}),
    ("lr 0.01 with coupled (L2) weight decay 0.1", {"lr": 0.01, "weightDecay": 0.1}),
    (
        "lr 0.01 with decoupled weight decay 0.1",
        {"lr": 0.01, "weightDecay": 0.1, "decoupledWeightDecay": True},
    ),
    (
        "betas 0.8/0.9 (rectified from step 6), eps 1e-6, coupled weight decay 0.01, maximize",
        {"lr": 0.003, "betas": [0.8, 0.9], "eps": 1e-6, "weightDecay": 0.01, "maximize": True},
    ),
    (
        "betas 0.5/0.99, decoupled weight decay 0.5, maximize",
        {"lr": 0.01, "betas": [0.5, 0.99], "weightDecay": 0.5, "decoupledWeightDecay": True, "maximize": True},
    ),
    (
        "decoupled flag without weight decay, betas 0.9/0.8 (never rectified)",
        {"lr": 0.01, "betas": [0.9, 0.8], "decoupledWeightDecay": True},
    ),
    (
        "betas 0.9/0.95, decoupled weight decay 0.01, linear lr schedule, tensor 1 skipped at steps 3-4",
        {
            "lr": 0.01,
            "betas": [0.9, 0.95],
            "weightDecay": 0.01,
            "decoupledWeightDecay": True,
            "lrSchedule": "linear",
            "skip": True,
        },
    ),
    (
        "betas 0/0.9, eps 1e-3, tiny grads (scale 2^-10)",
        {"lr": 0.02, "betas": [0.0, 0.9], "eps": 1e-3, "gradScale": 0.0009765625},
    ),
]

NADAM_CASES = [
    ("defaults (lr 2e-3, betas 0.9/0.999, momentum decay 4e-3)", {}),
    ("lr 0.01 with coupled (L2) weight decay 0.1", {"lr": 0.01, "weightDecay": 0.1}),
    (
        "lr 0.01 with decoupled weight decay 0.1",
        {"lr": 0.01, "weightDecay": 0.1, "decoupledWeightDecay": True},
    ),
    (
        "momentum decay 0.1, betas 0.8/0.99, eps 1e-6, coupled weight decay 0.01, maximize",
        {"lr": 0.003, "momentumDecay": 0.1, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.01, "maximize": True},
    ),
    (
        "momentum decay 0, betas 0.5/0.9, decoupled weight decay 0.5, maximize",
        {"lr": 0.01, "momentumDecay": 0.0, "betas": [0.5, 0.9], "weightDecay": 0.5, "decoupledWeightDecay": True, "maximize": True},
    ),
    (
        "decoupled weight decay 0.01, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "weightDecay": 0.01, "decoupledWeightDecay": True, "lrSchedule": "linear", "skip": True},
    ),
    (
        "momentum decay 1, betas 0/0.5, eps 1e-3, tiny grads (scale 2^-10)",
        {"lr": 0.02, "momentumDecay": 1.0, "betas": [0.0, 0.5], "eps": 1e-3, "gradScale": 0.0009765625},
    ),
]

ADAMAX_CASES = [
    ("defaults (lr 2e-3, betas 0.9/0.999, eps 1e-8)", {}),
    ("lr 0.01 with weight decay 0.1", {"lr": 0.01, "weightDecay": 0.1}),
    ("lr 0.01, maximize", {"lr": 0.01, "maximize": True}),
    (
        "betas 0.8/0.9, eps 1e-3, weight decay 0.01, maximize",
        {"lr": 0.003, "betas": [0.8, 0.9], "eps": 1e-3, "weightDecay": 0.01, "maximize": True},
    ),
    (
        "lr 0.01, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 0.01, "lrSchedule": "linear", "skip": True},
    ),
    (
        "betas 0/0.5, eps 1e-6, tiny grads (scale 2^-10)",
        {"lr": 0.02, "betas": [0.0, 0.5], "eps": 1e-6, "gradScale": 0.0009765625},
    ),
]

ADADELTA_CASES = [
    ("defaults (lr 1, rho 0.9, eps 1e-6)", {}),
    ("weight decay 0.1", {"weightDecay": 0.1}),
    ("lr 0.5, maximize", {"lr": 0.5, "maximize": True}),
    (
        "lr 2, rho 0.5, eps 1e-3, weight decay 0.01, maximize",
        {"lr": 2.0, "rho": 0.5, "eps": 1e-3, "weightDecay": 0.01, "maximize": True},
    ),
    (
        "rho 0.99, linear lr schedule, tensor 1 skipped at steps 3-4",
        {"lr": 1.0, "rho": 0.99, "lrSchedule": "linear", "skip": True},
    ),
]

OPTIMIZERS = [
    ("sgd.json", "SGD", SGD_CASES),
    ("adam.json", "Adam", ADAM_CASES),
    ("adamw.json", "AdamW", ADAMW_CASES),
    ("rmsprop.json", "RMSprop", RMSPROP_CASES),
    ("adagrad.json", "Adagrad", ADAGRAD_CASES),
    ("radam.json", "RAdam", RADAM_CASES),
    ("nadam.json", "NAdam", NADAM_CASES),
    ("adamax.json", "Adamax", ADAMAX_CASES),
    ("adadelta.json", "Adadelta", ADADELTA_CASES),
]

DEFAULT_LR = {
    "SGD": None,  # SGD always passes lr
    "Adam": 1e-3,
    "AdamW": 1e-3,
    "RMSprop": 1e-2,
    "Adagrad": 1e-2,
    "RAdam": 1e-3,
    "NAdam": 2e-3,
    "Adamax": 2e-3,
    "Adadelta": 1.0,
}

# State recorded for tensor 3 beyond SGD/Adam/AdamW: (torch name, camelCase name), in order.
STATE_NAMES = {
    "RMSprop": [("square_avg", "squareAvg"), ("momentum_buffer", "momentumBuffer"), ("grad_avg", "gradAvg")],
    "Adagrad": [("sum", "sum")],
    "RAdam": [("exp_avg", "expAvg"), ("exp_avg_sq", "expAvgSq")],
    "NAdam": [("mu_product", "muProduct"), ("exp_avg", "expAvg"), ("exp_avg_sq", "expAvgSq")],
    "Adamax": [("exp_avg", "expAvg"), ("exp_inf", "expInf")],
    "Adadelta": [("square_avg", "squareAvg"), ("acc_delta", "accDelta")],
}
TORCH_NAME = {
    "lr": "lr",
    "momentum": "momentum",
    "dampening": "dampening",
    "weightDecay": "weight_decay",
    "nesterov": "nesterov",
    "maximize": "maximize",
    "betas": "betas",
    "eps": "eps",
    "amsgrad": "amsgrad",
    "alpha": "alpha",
    "centered": "centered",
    "lrDecay": "lr_decay",
    "initialAccumulatorValue": "initial_accumulator_value",
    "decoupledWeightDecay": "decoupled_weight_decay",
    "momentumDecay": "momentum_decay",
    "rho": "rho",
}
META_KEYS = ("lrSchedule", "skip", "gradScale")


def split_case(raw):
    options = {k: v for k, v in raw.items() if k not in META_KEYS}
    lr_schedule = raw.get("lrSchedule", "none")
    skip = bool(raw.get("skip", False))
    grad_scale = float(raw.get("gradScale", 1.0))
    assert lr_schedule in ("none", "linear")
    return options, lr_schedule, skip, grad_scale


def torch_kwargs(options):
    kw = {}
    for k, v in options.items():
        kw[TORCH_NAME[k]] = tuple(v) if k == "betas" else v
    # Pin the single-tensor (for-loop) implementation, PyTorch's CPU default.
    kw["foreach"] = False
    return kw


def f32list(arr, idx):
    return [float(np.float32(x)) for x in arr[idx].tolist()]


def run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs):
    """The 25 steps of a case: the linear lr schedule, tensor 1's skipped grads, fresh grads."""
    for t in range(1, STEPS + 1):
        if lr_schedule == "linear":
            for g, b in zip(opt.param_groups, group_base_lrs):
                g["lr"] = b * (1 - (t - 1) / 50)
        for j, (p, n) in enumerate(zip(params, LENGTHS)):
            if skip and j == 1 and t in (3, 4):
                p.grad = None
            else:
                p.grad = torch.from_numpy(grad_array(seed, t, j, n, grad_scale))
        opt.step()


def final_samples(params):
    """Each tensor's values at its sample indices."""
    out = []
    for p, n in zip(params, LENGTHS):
        idx = sample_indices(n)
        out.append({"indices": idx, "values": f32list(p.detach().numpy(), idx)})
    return out


def run_case(opt_name, case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    kw = torch_kwargs(options)
    base_lr = kw.get("lr", DEFAULT_LR[opt_name])
    assert base_lr is not None
    kw["lr"] = base_lr

    params = [
        torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, n).copy()))
        for j, n in enumerate(LENGTHS)
    ]
    groups = [
        {"params": params[0:3]},
        {"params": params[3:5], "lr": base_lr / 2},
    ]
    cls = getattr(torch.optim, opt_name)
    opt = cls(groups, **kw)
    group_base_lrs = [g["lr"] for g in opt.param_groups]
    assert group_base_lrs == [base_lr, base_lr / 2]

    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs)
    final = final_samples(params)

    st = opt.state[params[3]]
    idx3 = sample_indices(LENGTHS[3])
    state3 = {}
    if opt_name == "SGD":
        buf = st.get("momentum_buffer")
        if buf is not None:
            state3["momentumBuffer"] = f32list(buf.detach().numpy(), idx3)
    elif opt_name in STATE_NAMES:
        step = float(st["step"])
        assert step == int(step)
        state3["step"] = int(step)
        for torch_name, key in STATE_NAMES[opt_name]:
            if torch_name not in st:
                continue
            t = st[torch_name].detach()
            if t.dim() == 0:
                state3[key] = float(np.float32(t.item()))
            else:
                state3[key] = f32list(t.numpy(), idx3)
    else:
        step = float(st["step"])
        assert step == int(step)
        state3["step"] = int(step)
        state3["expAvg"] = f32list(st["exp_avg"].detach().numpy(), idx3)
        state3["expAvgSq"] = f32list(st["exp_avg_sq"].detach().numpy(), idx3)
        if options.get("amsgrad"):
            state3["maxExpAvgSq"] = f32list(st["max_exp_avg_sq"].detach().numpy(), idx3)

    if skip:  # sanity: tensor 1's step count lags by 2 (Adam/AdamW)
        if opt_name != "SGD":
            assert int(float(opt.state[params[1]]["step"])) == STEPS - 2

    return {
        "name": name,
        "seed": seed,
        "options": options,
        "lrSchedule": lr_schedule,
        "skip": skip,
        "gradScale": grad_scale,
        "final": final,
        "state3": state3,
    }


def dump(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def render(opt_name, cases):
    return render_file({"generator": GENERATOR, "torch": torch.__version__, "optimizer": opt_name, "lengths": LENGTHS, "steps": STEPS}, cases)


def render_file(head, cases):
    """A fixture file: the header's keys one per line, then one line per case."""
    lines = ["{"]
    for k, v in head.items():
        lines.append("  %s: %s," % (dump(k), dump(v)))
    lines.append('  "cases": [')
    for i, c in enumerate(cases):
        lines.append("    " + dump(c) + ("," if i + 1 < len(cases) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def self_check_data():
    for seed, step, tensor in [(1000, 0, 0), (1004, 3, 1), (1016, 25, 4)]:
        arr = values(seed, step, tensor, 300)
        for i in (0, 1, 2, 97, 299):
            assert float(arr[i]) == value(seed, step, tensor, i), (seed, step, tensor, i)
    assert value(1000, 0, 0, 0) == float(values(1000, 0, 0, 1)[0])
    assert sample_indices(7) == list(range(7))
    assert len(sample_indices(128)) == 128


def main():
    optimizers = OPTIMIZERS
    if int(torch.__version__.split(".")[0]) < 2:
        print(
            "warning: torch %s < 2: Adam/AdamW update exp_avg with mul_+add_ instead of "
            "lerp_, so results differ from the committed 2.x fixtures by float32 rounding "
            "(~1e-7 abs); SGD is bit-identical. RMSprop..Adadelta need torch >= 2 "
            "(maximize, decoupled_weight_decay) and are not written." % torch.__version__,
            file=sys.stderr,
        )
        optimizers = OPTIMIZERS[:3]
    get_cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    cap = get_cap() if get_cap else "unknown"
    if cap == "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        print(
            "warning: ATen CPU capability is DEFAULT (no SIMD): torch's `p.add_(g, alpha=a)` "
            "then rounds twice instead of using FMA, so results differ from the committed "
            "fixtures (made with AVX2/AVX512 kernels).",
            file=sys.stderr,
        )
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    self_check_data()
    os.makedirs(OUT_DIR, exist_ok=True)

    results = {}
    for fname, opt_name, cases in optimizers:
        results[fname] = [
            run_case(opt_name, ci, name, raw) for ci, (name, raw) in enumerate(cases)
        ]

    # Self-check: re-run a couple of cases and require bit-identical results.
    for fname, opt_name, cases, ci in [
        ("adam.json", "Adam", ADAM_CASES, 3),
        ("sgd.json", "SGD", SGD_CASES, 4),
        ("nadam.json", "NAdam", NADAM_CASES, 5),
    ]:
        if fname not in results:
            continue
        again = run_case(opt_name, ci, *cases[ci])
        assert dump(again) == dump(results[fname][ci]), "non-deterministic: %s case %d" % (opt_name, ci)

    total = 0
    for fname, opt_name, _ in optimizers:
        text = render(opt_name, results[fname])
        json.loads(text)  # well-formed
        path = os.path.join(OUT_DIR, fname)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        total += len(text)
        print("wrote %s (%d bytes, %d cases)" % (os.path.relpath(path, ROOT), len(text), len(results[fname])))
    print("torch %s (cpu capability %s), total %d bytes" % (torch.__version__, cap, total))
    assert total < 2 * 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    sys.exit(main())
