#!/usr/bin/env python3
"""Generate ferroptim's reference fixture for low-precision optimizer state (`stateDtype`):
__test__/fixtures/lowp.json.

- int8: the REAL torchao.optim.AdamW8bit and Adam8bit (block size 256, CPU, their own
  torch.compile'd `single_param_adam`). torchao quantizes only tensors of at least 4096 elements
  whose length is a multiple of 256 and keeps the others in float32; ferroptim quantizes every
  tensor, with a partial last block having its own absmax. So each ferroptim tensor of n elements
  is run as a torch parameter of max(4096, 256·⌈n/256⌉) elements, padded with zeros (zero
  parameters and gradients keep zero moments and parameters under Adam and AdamW, so they never
  raise a block's absmax), and the first n elements and ⌈n/256⌉ blocks are recorded. torchao
  0.18's amsgrad does not run with 8-bit state (its `torch.maximum` is not implemented for
  OptimState8bit), so int8 amsgrad has no case here (the TS oracle covers it).
- bfloat16: the REAL torch.optim.AdamW / Adam / SGD (foreach=False), with every state buffer
  rounded to bfloat16 (`.bfloat16()`, round to nearest even) after each step: the update of a step
  reads the float32 state it computed, the next step starts from the rounded one.

The fixture also records torchao's two 256-entry quantization maps (float32 bits), which the
TypeScript oracle uses and the native tables (crate/src/kernels/lowp_qmap_*.in) must equal.

Data: tensor j starts at value(seed, 0, j, i) and its gradient at step s is value(seed, s, j, i)
(scripts/gen_fixtures.py's hash, imported). Every case runs 25 steps and records every final
parameter and the whole state.

Usage:
    /work/venv-torch/bin/pip install --no-deps torchao   # 0.18.0 with torch 2.15.0
    /work/venv-torch/bin/python scripts/gen_fixtures_lowp.py
    /work/venv-torch/bin/python scripts/gen_fixtures_lowp.py --rust-table   # prints the .in tables
"""

import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import values  # noqa: E402  (shared data hash)

import torchao  # noqa: E402
from torchao.optim import Adam8bit, AdamW8bit  # noqa: E402
from torchao.optim.subclass_8bit import OptimState8bit, get_qmap_signed, get_qmap_unsigned  # noqa: E402

GENERATOR = "scripts/gen_fixtures_lowp.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "__test__", "fixtures", "lowp.json")
STEPS = 25
BLOCK = 256
LENGTHS = [300, 4096, 1000, 7]

CASES = [
    # (name, optimizer, stateDtype, options, seed)
    ("AdamW int8, lr 1e-2, weightDecay 0.1", "AdamW", "int8", {"lr": 1e-2, "weightDecay": 0.1}, 1),
    ("AdamW int8, lr 3e-3, betas 0.8/0.99, eps 1e-6, weightDecay 0.01", "AdamW", "int8", {"lr": 3e-3, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.01}, 2),
    ("Adam int8, lr 1e-2, coupled weightDecay 0.05", "Adam", "int8", {"lr": 1e-2, "weightDecay": 0.05}, 3),
    ("AdamW bfloat16, lr 1e-2, weightDecay 0.1", "AdamW", "bfloat16", {"lr": 1e-2, "weightDecay": 0.1}, 4),
    ("Adam bfloat16, amsgrad, lr 3e-3, eps 1e-6", "Adam", "bfloat16", {"lr": 3e-3, "eps": 1e-6, "amsgrad": True}, 5),
    ("SGD bfloat16, momentum 0.9, nesterov, weightDecay 0.01", "SGD", "bfloat16", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 0.01}, 6),
]

SLOTS = {"Adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "AdamW": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "SGD": ["momentum_buffer"]}


def bits32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def torch_kwargs(o):
    kw = {"lr": o["lr"], "weight_decay": o.get("weightDecay", 0.0)}
    if "betas" in o:
        kw["betas"] = tuple(o["betas"])
    if "eps" in o:
        kw["eps"] = o["eps"]
    if "amsgrad" in o:
        kw["amsgrad"] = o["amsgrad"]
    if "momentum" in o:
        kw["momentum"] = o["momentum"]
    if "nesterov" in o:
        kw["nesterov"] = o["nesterov"]
    return kw


def f32list(t):
    return [float(x) for x in t.detach().numpy().astype(np.float32)]


def run_int8(opt_name, o, seed):
    sizes = [max(4096, -(-n // BLOCK) * BLOCK) for n in LENGTHS]
    params = []
    for j, (n, size) in enumerate(zip(LENGTHS, sizes)):
        data = np.zeros(size, dtype=np.float32)
        data[:n] = values(seed, 0, j, n)
        params.append(torch.nn.Parameter(torch.from_numpy(data)))
    cls = AdamW8bit if opt_name == "AdamW" else Adam8bit
    kw = torch_kwargs(o)
    opt = cls(params, **kw)
    for s in range(1, STEPS + 1):
        for j, (n, size) in enumerate(zip(LENGTHS, sizes)):
            g = np.zeros(size, dtype=np.float32)
            g[:n] = values(seed, s, j, n)
            params[j].grad = torch.from_numpy(g)
        opt.step()
    out_params, out_state = [], []
    for j, n in enumerate(LENGTHS):
        p = params[j]
        assert np.all(p.detach().numpy()[n:] == 0), "the padding stayed zero"
        out_params.append(f32list(p[:n]))
        st = {}
        for name in SLOTS[opt_name]:
            buf = opt.state[p].get(name)
            if buf is None:
                continue
            assert isinstance(buf, OptimState8bit), "every padded tensor is quantized"
            blocks = -(-n // BLOCK)
            st[camel(name)] = {"dtype": "int8", "codes": [int(c) for c in buf.codes[:n]], "absmax": f32list(buf.scale[:blocks])}
        out_state.append(st)
    return out_params, out_state


def run_bf16(opt_name, o, seed):
    params = [torch.nn.Parameter(torch.from_numpy(values(seed, 0, j, n))) for j, n in enumerate(LENGTHS)]
    cls = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "SGD": torch.optim.SGD}[opt_name]
    opt = cls(params, foreach=False, **torch_kwargs(o))
    for s in range(1, STEPS + 1):
        for j, n in enumerate(LENGTHS):
            params[j].grad = torch.from_numpy(values(seed, s, j, n))
        opt.step()
        # The state is stored rounded: the next step starts from bfloat16.
        for p in params:
            for name in SLOTS[opt_name]:
                buf = opt.state[p].get(name)
                if buf is not None:
                    buf.copy_(buf.bfloat16().float())
    out_params, out_state = [], []
    for p in params:
        out_params.append(f32list(p))
        st = {}
        for name in SLOTS[opt_name]:
            buf = opt.state[p].get(name)
            if buf is not None:
                st[camel(name)] = {"dtype": "bfloat16", "bits": [int(b) for b in buf.bfloat16().view(torch.int16).numpy().astype(np.uint16)]}
        out_state.append(st)
    return out_params, out_state


def rust_table():
    for name, q in [("signed", get_qmap_signed()), ("unsigned", get_qmap_unsigned())]:
        print(f"// crate/src/kernels/lowp_qmap_{name}.in")
        print("// Generated by scripts/gen_fixtures_lowp.py --rust-table (torchao create_dynamic_map, float32 bits).")
        print("[")
        b = [bits32(x) for x in q]
        for i in range(0, 256, 8):
            print("    " + ", ".join(f"0x{v:08x}" for v in b[i : i + 8]) + ",")
        print("]")


def main():
    if "--rust-table" in sys.argv:
        rust_table()
        return
    torch.manual_seed(0)
    cases = []
    for name, opt_name, dtype, o, seed in CASES:
        run = run_int8 if dtype == "int8" else run_bf16
        final, state = run(opt_name, o, seed)
        reference = f"torchao.optim.{'AdamW8bit' if opt_name == 'AdamW' else 'Adam8bit'}" if dtype == "int8" else f"torch.optim.{opt_name} with its state rounded to bfloat16 after each step"
        cases.append({"name": name, "optimizer": opt_name, "stateDtype": dtype, "options": o, "seed": seed, "reference": reference, "params": final, "state": state})
        print(f"{name}: done", file=sys.stderr)
    out = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "torchao": torchao.__version__,
        "steps": STEPS,
        "lengths": LENGTHS,
        "block": BLOCK,
        "qmapSigned": [bits32(x) for x in get_qmap_signed()],
        "qmapUnsigned": [bits32(x) for x in get_qmap_unsigned()],
        "cases": cases,
    }
    with open(OUT, "w") as f:
        f.write(json.dumps(out, separators=(",", ":"), allow_nan=False) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
