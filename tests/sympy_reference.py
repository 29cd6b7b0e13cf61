"""An independent reference solver for bpcalc problem files (a test oracle).

It reads the raw problem mapping (``yaml.safe_load`` output, never bpcalc's
parser), builds the cost C symbolically as a function of every weight and bias
symbol, differentiates it with ``sympy.diff`` and evaluates at 30 digits.
Input numbers are taken as exact decimals (``0.01`` is 1/100).

Error terms: every pre-activation gets an extra symbol s (value 0),
z = w a + b + s, so that delta = dC_x/ds for that example's own loss C_x.
Every symbol is real, so |x| differentiates to sign(x).

Activations and losses are written with sympy's own functions (exp, tanh, erf, Abs,
Piecewise), as PyTorch defines them (torch.nn.ELU, SELU, GELU with approximate='none',
SiLU, Softsign, Hardtanh; L1Loss; HuberLoss summed over the outputs); where a function
has a kink, the Piecewise branch that holds there gives PyTorch's derivative:
ReLU′(0) = 0, leaky ReLU′(0) = slope, ELU′(0) = α, SELU′(0) = λα, hardtanh′(±1) = 0,
and the L1 gradient at a = t is sign(0) = 0.

    solve(problem) -> {"loss": float,
                       "gradients": {name: float}, "updated": {name: float},
                       "layers": [ {"z", "a", "delta", "dC_dw", "dC_db",
                                    "w_updated", "b_updated"}, ... ]}

``layers`` is a plain list (layer l is ``layers[l - 1]``); with ``examples``,
z, a and delta hold one vector per example. ``lookup(solution, path)`` resolves
the 1-based paths used in ``expected`` (``layers[2].delta[0]``), and
``loss(problem)`` returns only C (for finite-difference checks).
This module must not import bpcalc.
"""

from __future__ import annotations

import re

import sympy as sp

DIGITS = 30


def _num(x):
    return sp.Rational(str(x))  # exact decimal value of what the YAML says


def _vec(x):
    return [_num(v) for v in (x if isinstance(x, list) else [x])]


def _matrix(w, n_in):
    if not isinstance(w, list):
        return [[_num(w)]]
    if all(isinstance(row, list) for row in w):
        return [[_num(v) for v in row] for row in w]
    # a flat list: one row if it matches the inputs, else a column (1 input)
    return [_vec(w)] if len(w) == n_in else [[_num(v)] for v in w]


# torch.nn.SELU's constants, to the 31 digits PyTorch's documentation gives
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 40)
SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 40)


def _elu(v, alpha):
    return sp.Piecewise((v, v > 0), (alpha * (sp.exp(v) - 1), True))


def _act(name, z, slope, alpha=1):
    name = {"linear": "identity"}.get(name, name)
    if name == "identity":
        return list(z)
    if name == "sigmoid":
        return [1 / (1 + sp.exp(-v)) for v in z]
    if name == "tanh":
        return [sp.tanh(v) for v in z]
    if name == "relu":  # derivative at 0 is 0
        return [sp.Piecewise((v, v > 0), (0, True)) for v in z]
    if name == "leaky_relu":
        return [sp.Piecewise((v, v > 0), (slope * v, True)) for v in z]
    if name == "softplus":
        return [sp.log(1 + sp.exp(v)) for v in z]
    if name == "elu":
        return [_elu(v, alpha) for v in z]
    if name == "selu":
        return [SELU_SCALE * _elu(v, SELU_ALPHA) for v in z]
    if name == "gelu":      # z·Φ(z), Φ the standard normal CDF
        return [v * (1 + sp.erf(v / sp.sqrt(2))) / 2 for v in z]
    if name == "silu":
        return [v / (1 + sp.exp(-v)) for v in z]
    if name == "softsign":
        return [v / (1 + sp.Abs(v)) for v in z]
    if name == "hardtanh":  # the kinks belong to the flat parts: derivative 0 at ±1
        return [sp.Piecewise((-1, v <= -1), (1, v >= 1), (v, True)) for v in z]
    if name == "softmax":
        total = sum(sp.exp(v) for v in z)
        return [sp.exp(v) / total for v in z]
    raise ValueError(f"unknown activation {name!r}")


def _loss(name, a, t):
    pairs = list(zip(a, t, strict=True))
    if name == "half_squared_error":
        return sp.Rational(1, 2) * sum((ai - ti) ** 2 for ai, ti in pairs)
    if name == "squared_error":
        return sum((ai - ti) ** 2 for ai, ti in pairs)
    if name == "mean_squared_error":
        return sum((ai - ti) ** 2 for ai, ti in pairs) / len(pairs)
    if name == "cross_entropy":
        return -sum(ti * sp.log(ai) for ai, ti in pairs)
    if name == "binary_cross_entropy":
        return -sum(ti * sp.log(ai) + (1 - ti) * sp.log(1 - ai) for ai, ti in pairs)
    if name == "mean_absolute_error":
        return sum(sp.Abs(ai - ti) for ai, ti in pairs) / len(pairs)
    if name == "huber":     # delta = 1
        return sum(sp.Piecewise((sp.Rational(1, 2) * (ai - ti) ** 2, sp.Abs(ai - ti) < 1),
                                (sp.Abs(ai - ti) - sp.Rational(1, 2), True)) for ai, ti in pairs)
    raise ValueError(f"unknown loss {name!r}")


def _names(spec, default, shape):
    """Names for one parameter block: a scalar, list or matrix of names, or defaults."""
    if spec is None:
        return default
    if not isinstance(spec, list):
        spec = [spec]
    if isinstance(default[0], list) and not isinstance(spec[0], list):
        spec = [spec] if shape[0] == 1 else [[s] for s in spec]
    return spec


def _build(problem: dict):
    """Symbols, their values, the layers and the symbolic per-example and total cost."""
    examples = problem.get("examples") or [
        {"input": problem["input"], "target": problem["target"]}]
    loss_name = problem.get("loss", "half_squared_error")
    reduction = problem.get("reduction", "mean")

    # ---- parameters: symbols, values, names
    values, layers = {}, []
    n_in = len(_vec(examples[0]["input"]))
    for l, spec in enumerate(problem["layers"], start=1):
        w = _matrix(spec["weights"], n_in)
        n_out = len(w)
        sep = "_" if n_out > 9 or n_in > 9 else ""  # w1_10_3, but w2_13
        names = spec.get("names") or {}
        wn = _names(names.get("weights"), [[f"w{l}_{j}{sep}{k}" for k in range(1, n_in + 1)]
                                           for j in range(1, n_out + 1)], (n_out, n_in))
        b = None if spec.get("bias") is None else _vec(spec["bias"])
        bn = None if b is None else _names(names.get("bias"),
                                           [f"b{l}_{j}" for j in range(1, n_out + 1)], (n_out,))
        if any(len(row) != n_in for row in w) or (b is not None and len(b) != n_out):
            raise ValueError(f"layer {l}: shape mismatch")
        ws = [[sp.Symbol(name, real=True) for name in row] for row in wn]
        bs = None if b is None else [sp.Symbol(name, real=True) for name in bn]
        new = [sym for row in ws for sym in row] + (bs or [])
        if len(set(new)) != len(new) or set(new) & set(values):
            raise ValueError(f"layer {l}: duplicate parameter name")
        for sym_row, val_row in zip(ws, w):
            values.update(zip(sym_row, val_row))
        if bs:
            values.update(zip(bs, b))
        fixed = spec.get("fixed") or []
        fixed = [fixed] if isinstance(fixed, str) else fixed
        layers.append(dict(ws=ws, bs=bs, act=spec.get("activation", "identity"),
                           slope=_num(spec.get("slope", 0.01)), alpha=_num(spec.get("alpha", 1)),
                           fixed=set(fixed)))
        n_in = n_out

    # ---- symbolic forward pass and cost, one expression per example
    per_example, shifts = [], []   # shifts[x][l] = the s symbols of layer l
    for x, ex in enumerate(examples):
        a, zs_x, as_x, s_x = _vec(ex["input"]), [], [], []
        for l, L in enumerate(layers, start=1):
            s = [sp.Dummy(f"s{x}_{l}_{j}", real=True) for j in range(len(L["ws"]))]
            z = [sum(wjk * ak for wjk, ak in zip(row, a)) + (L["bs"][j] if L["bs"] else 0) + s[j]
                 for j, row in enumerate(L["ws"])]
            a = _act(L["act"], z, L["slope"], L["alpha"])
            zs_x.append(z)
            as_x.append(a)
            s_x.append(s)
        per_example.append((_loss(loss_name, a, _vec(ex["target"])), zs_x, as_x))
        shifts.append(s_x)
    m = len(examples)
    cost = sum(c for c, _, _ in per_example)
    cost = cost / m if reduction == "mean" else cost
    at = dict(values)
    at.update({s: 0 for s_x in shifts for s_l in s_x for s in s_l})
    return at, values, layers, per_example, shifts, cost


def loss(problem: dict, digits: int = DIGITS) -> float:
    """Only the cost C (cheap; used for finite-difference checks)."""
    at, _, layers, per_example, _, cost = _build(problem)
    cost = cost + _penalty(problem, layers, per_example)
    return float(cost.xreplace(at).evalf(digits))


def _penalty(problem: dict, layers: list, per_example: list):
    """Nielsen's L2 penalty, λ/(2n)·Σw² over the weights (not the biases), n examples."""
    l2 = _num((problem.get("regularization") or {}).get("l2", 0))
    return l2 / (2 * len(per_example)) * sum(s ** 2 for L in layers for row in L["ws"] for s in row)


def solve(problem: dict, digits: int = DIGITS) -> dict:
    """The solution document: loss, gradients, updated values and per-layer values."""
    at, values, layers, per_example, shifts, cost = _build(problem)
    eta = _num(problem.get("learning_rate", 0))
    penalty = _penalty(problem, layers, per_example)
    cost = cost + penalty

    def ev(expr):
        return float(sp.sympify(expr).xreplace(at).evalf(digits))

    def exact(expr):
        return sp.sympify(expr).xreplace(at).evalf(digits)

    # ---- gradients and SGD update
    gradients, updated, out_layers = {}, {}, []
    for l, L in enumerate(layers, start=1):
        def grad_and_update(sym, kind):
            g = exact(sp.diff(cost, sym))
            new = values[sym] if kind in L["fixed"] else values[sym] - eta * g
            gradients[sym.name], updated[sym.name] = float(g), float(new.evalf(digits))
            return gradients[sym.name], updated[sym.name]

        gw = [[grad_and_update(sym, "weights") for sym in row] for row in L["ws"]]
        gb = [grad_and_update(sym, "bias") for sym in L["bs"]] if L["bs"] else None
        per_x = {key: [] for key in ("z", "a", "delta")}
        for x, (c_x, zs_x, as_x) in enumerate(per_example):
            per_x["z"].append([ev(v) for v in zs_x[l - 1]])
            per_x["a"].append([ev(v) for v in as_x[l - 1]])
            per_x["delta"].append([ev(sp.diff(c_x, s)) for s in shifts[x][l - 1]])
        if not problem.get("examples"):
            per_x = {key: v[0] for key, v in per_x.items()}
        out_layers.append(dict(
            per_x,
            dC_dw=[[g for g, _ in row] for row in gw], dC_db=gb and [g for g, _ in gb],
            w_updated=[[u for _, u in row] for row in gw], b_updated=gb and [u for _, u in gb]))
    return {"loss": ev(cost), "penalty": ev(penalty), "gradients": gradients, "updated": updated,
            "layers": out_layers}


_STEP = re.compile(r"([A-Za-z_][\w]*)|\[(\d+)\]")


def lookup(solution: dict, path: str):
    """Resolve an ``expected`` path; ``layers[l]`` is 1-based, other indices 0-based."""
    if path.startswith(("gradients.", "updated.")):
        head, name = path.split(".", 1)
        return solution[head][name]
    node, prev = solution, None
    for part in path.split("."):
        for key, index in _STEP.findall(part):
            if key:
                node, prev = node[key], key
            else:
                i = int(index)
                if prev == "layers" and not 1 <= i <= len(node):
                    raise IndexError(f"{path}: layers are numbered from 1")
                node = node[i - 1] if prev == "layers" else node[i]
                prev = None
    return node
