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
import math
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


def torch_kwargs(options, names=TORCH_NAME, tuples=("betas",), foreach=False):
    """The options under torch's names (`names`), the lists of `tuples` as tuples, and `foreach`
    unless it is None (False pins the single-tensor (for-loop) implementation, PyTorch's CPU
    default)."""
    kw = {names[k]: (tuple(v) if k in tuples else v) for k, v in options.items()}
    if foreach is not None:
        kw["foreach"] = foreach
    return kw


def two_group_optimizer(cls, params, base_lr, kw, split=3):
    """cls(**kw) over group 0 = params[:split] (the case options) and group 1 = the rest (lr / 2);
    returns it and its groups' base lrs."""
    opt = cls([{"params": params[:split]}, {"params": params[split:], "lr": base_lr / 2}], **kw)
    group_base_lrs = [g["lr"] for g in opt.param_groups]
    assert group_base_lrs == [base_lr, base_lr / 2]
    return opt, group_base_lrs


def f32list(arr, idx):
    return [float(np.float32(x)) for x in arr[idx].tolist()]


def flat_samples(t):
    """A tensor's values at the sample indices of its element count (row-major)."""
    flat = t.detach().reshape(-1).numpy()
    return f32list(flat, sample_indices(flat.size))


def int_step(st):
    """A per-parameter `step` (a float tensor in torch 2) as the whole number it holds."""
    step = float(st["step"])
    assert step == int(step)
    return int(step)


def named_state(st, names, float32_only=False):
    """The state tensors `names` ((torch name, camelCase name), in order) that `st` holds: 0-dim
    ones as one number, the others at their sample indices."""
    out = {}
    for torch_name, key in names:
        if torch_name not in st:
            continue
        t = st[torch_name].detach()
        if float32_only:
            assert t.dtype == torch.float32, (torch_name, t.dtype)
        if t.dim() == 0:
            out[key] = float(np.float32(t.item()))
        else:
            out[key] = flat_samples(t)
    return out


def initial_params(seed, shapes=LENGTHS):
    """Tensor j holds value(seed, 0, j, i) over its elements (row-major); a shape may be a length."""
    return [
        torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, math.prod([s] if isinstance(s, int) else s)).copy()).reshape(s))
        for j, s in enumerate(shapes)
    ]


def grad_tensor(seed, step, tensor, shape, grad_scale):
    """grad_array over the elements of `shape` (a length or a shape), row-major."""
    n = math.prod([shape] if isinstance(shape, int) else shape)
    return torch.from_numpy(grad_array(seed, step, tensor, n, grad_scale)).reshape(shape)


def run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs, shapes=LENGTHS, skipped=1, before=None, after=None):
    """The 25 steps of a case: the linear lr schedule, tensor `skipped`'s grads left out at steps
    3 and 4, fresh grads over `shapes`; `before(t)` and `after(t)` run around step t."""
    for t in range(1, STEPS + 1):
        if before:
            before(t)
        if lr_schedule == "linear":
            for g, b in zip(opt.param_groups, group_base_lrs):
                g["lr"] = b * (1 - (t - 1) / 50)
        for j, (p, s) in enumerate(zip(params, shapes)):
            if skip and j == skipped and t in (3, 4):
                p.grad = None
            else:
                p.grad = grad_tensor(seed, t, j, s, grad_scale)
        opt.step()
        if after:
            after(t)


def final_samples(params):
    """Each tensor's values at the sample indices of its element count."""
    return [{"indices": sample_indices(p.numel()), "values": flat_samples(p)} for p in params]


def case_record(name, seed, options, lr_schedule, skip, grad_scale, **recorded):
    """A case as written: its inputs, then what was recorded, in the order given."""
    case = {
        "name": name,
        "seed": seed,
        "options": options,
        "lrSchedule": lr_schedule,
        "skip": skip,
        "gradScale": grad_scale,
    }
    case.update(recorded)
    return case


def run_case(opt_name, case_index, name, raw):
    options, lr_schedule, skip, grad_scale = split_case(raw)
    seed = 1000 + case_index
    kw = torch_kwargs(options)
    base_lr = kw.get("lr", DEFAULT_LR[opt_name])
    assert base_lr is not None
    kw["lr"] = base_lr

    params = initial_params(seed)
    opt, group_base_lrs = two_group_optimizer(getattr(torch.optim, opt_name), params, base_lr, kw)

    run_case_steps(opt, params, seed, lr_schedule, skip, grad_scale, group_base_lrs)
    final = final_samples(params)

    st = opt.state[params[3]]
    state3 = {}
    if opt_name == "SGD":
        buf = st.get("momentum_buffer")
        if buf is not None:
            state3["momentumBuffer"] = flat_samples(buf)
    elif opt_name in STATE_NAMES:
        state3["step"] = int_step(st)
        state3.update(named_state(st, STATE_NAMES[opt_name]))
    else:
        state3["step"] = int_step(st)
        state3["expAvg"] = flat_samples(st["exp_avg"])
        state3["expAvgSq"] = flat_samples(st["exp_avg_sq"])
        if options.get("amsgrad"):
            state3["maxExpAvgSq"] = flat_samples(st["max_exp_avg_sq"])

    if skip:  # sanity: tensor 1's step count lags by 2 (Adam/AdamW)
        if opt_name != "SGD":
            assert int(float(opt.state[params[1]]["step"])) == STEPS - 2

    return case_record(name, seed, options, lr_schedule, skip, grad_scale, final=final, state3=state3)


def dump(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def lengths_header(generator, optimizer, **versions):
    """The header of a file over LENGTHS: generator, torch's version, `versions`, optimizer,
    lengths, steps."""
    return dict({"generator": generator, "torch": torch.__version__}, **versions, optimizer=optimizer, lengths=LENGTHS, steps=STEPS)


def render(opt_name, cases):
    return render_file(lengths_header(GENERATOR, opt_name), cases)


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


CAP_WARNING = "warning: ATen CPU capability is DEFAULT (no SIMD); see scripts/FIXTURES.md"


def cpu_capability():
    get_cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return get_cap() if get_cap else "unknown"


def start_run(cap_warning=CAP_WARNING, expect_torch=None):
    """What a generator does before its cases: warn on another torch than `expect_torch`
    ((major, minor), "<the files> were") and on ATen's DEFAULT (no-SIMD) kernels, pin one thread
    and deterministic algorithms, check the data rules, make the fixture folder. Returns the CPU
    capability."""
    if expect_torch is not None:
        version, committed = expect_torch
        if tuple(int(x) for x in torch.__version__.split(".")[:2]) != version:
            print("warning: torch %s; the committed %s made with %d.%d" % ((torch.__version__, committed) + version), file=sys.stderr)
    cap = cpu_capability()
    if cap == "DEFAULT" or os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        print(cap_warning, file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    self_check_data()
    os.makedirs(OUT_DIR, exist_ok=True)
    return cap


def run_all(optimizers, run_case):
    """{file name: [run_case(opt_name, case index, name, raw) for each case]} over (file name,
    opt_name, cases)."""
    return {fname: [run_case(opt_name, ci, name, raw) for ci, (name, raw) in enumerate(cases)] for fname, opt_name, cases in optimizers}


def check_reruns(results, run_case, reruns):
    """Re-run the cases (file name, opt_name, cases, case index) and require bit-identical results."""
    for fname, opt_name, cases, ci in reruns:
        if fname not in results:
            continue
        again = run_case(opt_name, ci, *cases[ci])
        assert dump(again) == dump(results[fname][ci]), "non-deterministic: %s case %d" % (opt_name, ci)


def write_text(fname, text):
    """Writes a well-formed fixture to OUT_DIR/fname; returns its path."""
    json.loads(text)
    path = os.path.join(OUT_DIR, fname)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return path


def write_fixture(fname, text, n_cases, note=""):
    """write_text, then a line that says so; returns the file's length."""
    path = write_text(fname, text)
    print("wrote %s (%d bytes, %d cases)%s" % (os.path.relpath(path, ROOT), len(text), n_cases, note))
    return len(text)


def write_all(optimizers, results, render, note=""):
    """Renders and writes every (file name, opt_name, _) of `optimizers`; returns the total length."""
    return sum(write_fixture(fname, render(opt_name, results[fname]), len(results[fname]), note) for fname, opt_name, _ in optimizers)


def generate(optimizers, run_case, reruns, render, note="", **start):
    """A generator's run: start_run(**start), every case of `optimizers` (file name, opt_name,
    cases), the `reruns` compared bit for bit (check_reruns), then the files rendered and written.
    Returns the CPU capability and the files' total length."""
    cap = start_run(**start)
    results = run_all(optimizers, run_case)
    check_reruns(results, run_case, reruns)
    return cap, write_all(optimizers, results, render, note)


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
    # Self-check: re-run a couple of cases and require bit-identical results.
    reruns = [("adam.json", "Adam", ADAM_CASES, 3), ("sgd.json", "SGD", SGD_CASES, 4), ("nadam.json", "NAdam", NADAM_CASES, 5)]
    cap, total = generate(
        optimizers,
        run_case,
        reruns,
        render,
        cap_warning="warning: ATen CPU capability is DEFAULT (no SIMD): torch's `p.add_(g, alpha=a)` "
        "then rounds twice instead of using FMA, so results differ from the committed "
        "fixtures (made with AVX2/AVX512 kernels).",
    )
    print("torch %s (cpu capability %s), total %d bytes" % (torch.__version__, cap, total))
    assert total < 2 * 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    sys.exit(main())
