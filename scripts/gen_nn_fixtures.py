"""Generates __test__/fixtures/nn.json: forward outputs and gradients of ferroptim's layers from
the real PyTorch (CPU, float32).

Each case holds the inputs, the parameters, an upstream gradient `r` (the loss is sum(y * r)),
the output and every gradient. The end-to-end cases also hold one Adam step.

    /tmp/torch2/bin/python scripts/gen_nn_fixtures.py   # PyTorch 2.5.1 (see requirements-fixtures.txt)
"""
import json
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = pathlib.Path(__file__).resolve().parent.parent / "__test__" / "fixtures" / "nn.json"


def flat(t):
    # 9 significant digits round-trip every float32 exactly.
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def rand(*shape):
    return torch.rand(*shape) * 2 - 1


def layer_case(name, module, x_shape, params=None):
    x = rand(*x_shape).requires_grad_(True)
    y = module(x)
    r = rand(*y.shape)
    (y * r).sum().backward()
    case = {
        "name": name,
        "x": flat(x), "xShape": list(x.shape),
        "y": flat(y), "yShape": list(y.shape),
        "r": flat(r),
        "dx": flat(x.grad),
        "params": {k: {"data": flat(p), "shape": list(p.shape), "grad": flat(p.grad)} for k, p in module.named_parameters()},
    }
    case.update(params or {})
    return case


def conv_case(name, cin, cout, k, hw, stride=1, padding=0, dilation=1, bias=True, batch=2):
    m = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, bias=bias)
    c = layer_case(name, m, (batch, cin, *hw))
    c["config"] = {"inChannels": cin, "outChannels": cout, "kernelSize": k, "stride": stride, "padding": padding, "dilation": dilation, "bias": bias}
    return c


def pool_case(name, k, hw, stride=None, padding=0, dilation=1, channels=3, batch=2):
    m = nn.MaxPool2d(k, stride=stride, padding=padding, dilation=dilation)
    c = layer_case(name, m, (batch, channels, *hw))
    c["config"] = {"kernelSize": k, "stride": stride if stride is not None else k, "padding": padding, "dilation": dilation}
    return c


def linear_case(name, fin, fout, batch, bias=True):
    m = nn.Linear(fin, fout, bias=bias)
    c = layer_case(name, m, (batch, fin))
    c["config"] = {"inFeatures": fin, "outFeatures": fout, "bias": bias}
    return c


def ce_case(name, n, c, targets, scale=3.0):
    z = (rand(n, c) * scale).requires_grad_(True)
    t = torch.tensor(targets)
    loss = F.cross_entropy(z, t, ignore_index=-100)
    loss.backward()
    return {"name": name, "logits": flat(z), "shape": [n, c], "targets": targets, "loss": float(loss), "dlogits": flat(z.grad)}


def model_case(name, model, x_shape, targets, lr=1e-3):
    """A whole model: forward, cross-entropy, backward, one Adam step."""
    x = torch.rand(*x_shape)
    init = {k: {"data": flat(p), "shape": list(p.shape)} for k, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    logits = model(x)
    loss = F.cross_entropy(logits, torch.tensor(targets))
    opt.zero_grad()
    loss.backward()
    grads = {k: flat(p.grad) for k, p in model.named_parameters()}
    opt.step()
    after = {k: flat(p) for k, p in model.named_parameters()}
    return {"name": name, "x": flat(x), "xShape": list(x_shape), "targets": targets, "init": init, "logits": flat(logits), "loss": float(loss), "grads": grads, "afterAdam": after, "lr": lr}


def main():
    cases = {
        "linear": [
            linear_case("Linear(5, 3)", 5, 3, 4),
            linear_case("Linear(17, 9) without bias", 17, 9, 3, bias=False),
            linear_case("Linear(64, 33) batch 11", 64, 33, 11),
        ],
        "conv2d": [
            conv_case("Conv2d(1, 4, 3, padding=1)", 1, 4, 3, (6, 6), padding=1),
            conv_case("Conv2d(3, 5, 3, stride=2)", 3, 5, 3, (9, 7), stride=2),
            conv_case("Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0))", 2, 3, (3, 2), (7, 6), stride=(2, 1), padding=(1, 0)),
            conv_case("Conv2d(2, 2, 3, dilation=2, padding=2) without bias", 2, 2, 3, (8, 8), dilation=2, padding=2, bias=False),
            conv_case("Conv2d(4, 6, 1)", 4, 6, 1, (5, 5)),
            conv_case("Conv2d(8, 16, 3, padding=1) batch 9", 8, 16, 3, (7, 7), padding=1, batch=9),
        ],
        "maxpool2d": [
            pool_case("MaxPool2d(2)", 2, (8, 8)),
            pool_case("MaxPool2d(2) odd input", 2, (7, 9)),
            pool_case("MaxPool2d(3, stride=2, padding=1)", 3, (9, 8), stride=2, padding=1),
            pool_case("MaxPool2d((3, 2), stride=(2, 1), dilation=(1, 2))", (3, 2), (8, 9), stride=(2, 1), dilation=(1, 2)),
        ],
        "relu": [layer_case("ReLU", nn.ReLU(), (3, 50))],
        "crossEntropy": [
            ce_case("CrossEntropyLoss 6x4", 6, 4, [0, 3, 1, 2, 2, 0]),
            ce_case("CrossEntropyLoss with ignore_index", 5, 10, [9, -100, 0, 4, -100]),
            ce_case("CrossEntropyLoss large logits", 4, 3, [2, 1, 0, 1], scale=60.0),
        ],
        "models": [
            model_case(
                "small CNN (conv, relu, pool, conv, relu, pool, flatten, linear, relu, linear) + Adam",
                nn.Sequential(
                    nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(6 * 2 * 2, 5), nn.ReLU(), nn.Linear(5, 3),
                ),
                (4, 1, 8, 8), [0, 2, 1, 2],
            ),
            model_case(
                "MLP (flatten, linear, relu, linear) + Adam",
                nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4)),
                (5, 1, 4, 4), [3, 0, 1, 2, 3],
            ),
        ],
    }
    out = {"generator": "scripts/gen_nn_fixtures.py", "torch": torch.__version__, "cases": cases}
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
