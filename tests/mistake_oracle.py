"""An independent model of the classic back-propagation mistakes (a test oracle).

It reads a problem document (the dict ``Problem.from_dict`` takes, e.g. from
``tests/networks.py``), runs the forward pass and back-propagation in plain NumPy
with its own activations and losses, and recomputes every gradient and update the
way a student making one mistake would. It never imports bpcalc: its activations and
losses are the scalar reference formulas of ``tests/references.py``.

    mistaken_answers(doc) -> [(mistake, path, value, right_value), ...]

``mistake`` is the name of the entry of ``bpcalc.mistakes.MISTAKES`` that should
name it. Where a student's formula has indices that do not exist (the untransposed
sum for a non-square w, a^l_k beyond layer l's neurons) the value is NaN.
"""

from __future__ import annotations

import numpy as np

import references


def _elementwise(table: dict, name: str):
    """A scalar reference formula (tests/references.py) over a NumPy array, slope passed on."""
    scalar = table[name]

    def over(z, slope):
        kwargs = {"slope": slope} if name == "leaky_relu" else {}
        return np.vectorize(lambda v: scalar(float(v), **kwargs), otypes=[float])(z)
    return over


ACT = {   # name: (f, f′)
    name: (_elementwise(references.ACTIVATION, name), _elementwise(references.ACTIVATION_PRIME, name))
    for name in references.ACTIVATION
}


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _loss_gradient(name, a, t):
    gradient = references.LOSS_GRADIENT[name]
    return np.array([gradient(list(row_a), list(row_t)) for row_a, row_t in zip(a, t)], dtype=float)


class Network:
    def __init__(self, doc: dict) -> None:
        if "examples" in doc:
            self.x = np.array([np.atleast_1d(e["input"]) for e in doc["examples"]], dtype=float)
            self.t = np.array([np.atleast_1d(e["target"]) for e in doc["examples"]], dtype=float)
        else:
            self.x = np.atleast_2d(np.array(doc["input"], dtype=float))
            self.t = np.atleast_2d(np.array(doc["target"], dtype=float))
        self.loss = doc.get("loss", "half_squared_error")
        self.scale = 1 / len(self.x) if doc.get("reduction", "mean") == "mean" else 1.0
        self.rate = doc.get("learning_rate")
        self.layers = []
        width = self.x.shape[1]
        for spec in doc["layers"]:
            w = np.array(spec["weights"], dtype=float).reshape(-1, width)
            b = None if spec.get("bias") is None else np.array(spec["bias"], dtype=float)
            fixed = spec.get("fixed") or []
            fixed = {fixed} if isinstance(fixed, str) else set(fixed)
            self.layers.append({"act": spec["activation"], "w": w, "b": b, "fixed": fixed,
                                "slope": spec.get("slope", 0.01)})
            width = w.shape[0]
        self.z, self.a = [], []
        a = self.x
        for layer in self.layers:
            z = a @ layer["w"].T + (0 if layer["b"] is None else layer["b"])
            a = _softmax(z) if layer["act"] == "softmax" else ACT[layer["act"]][0](z, layer["slope"])
            self.z.append(z)
            self.a.append(a)

    # -- pieces
    def f(self, i):
        return self.a[i]

    def fprime(self, i):
        layer = self.layers[i]
        return ACT[layer["act"]][1](self.z[i], layer["slope"])

    def jacobian_t(self, i, g):
        """Jᵀ g for layer i's activation (softmax couples its outputs)."""
        if self.layers[i]["act"] == "softmax":
            a = self.a[i]
            return a * (g - np.sum(g * a, axis=-1, keepdims=True))
        return g * self.fprime(i)

    def grad_a(self):
        return _loss_gradient(self.loss, self.a[-1], self.t)

    def right_output_delta(self):
        out = self.layers[-1]["act"]
        if out == "softmax" and self.loss == "cross_entropy":
            return self.a[-1] * self.t.sum(axis=-1, keepdims=True) - self.t
        if out == "sigmoid" and self.loss == "binary_cross_entropy":
            return self.a[-1] - self.t
        return self.jacobian_t(len(self.layers) - 1, self.grad_a())

    def back(self, i, following):
        """Wᵀ δ^{l+1}: what flows into layer i from layer i+1."""
        return following @ self.layers[i + 1]["w"]

    def untransposed(self, i, following):
        w = self.layers[i + 1]["w"]
        m = min(w.shape)
        out = np.full((following.shape[0], self.layers[i]["w"].shape[0]), np.nan)
        out[:, :m] = following[:, :m] @ w[:m, :m].T
        return out

    # -- a backward pass with hooks
    def deltas(self, output=None, step=None):
        L = len(self.layers)
        deltas = [None] * L
        deltas[-1] = self.right_output_delta() if output is None else output
        for i in range(L - 2, -1, -1):
            deltas[i] = (step(i, deltas[i + 1]) if step else None)
            if deltas[i] is None:
                deltas[i] = self.jacobian_t(i, self.back(i, deltas[i + 1]))
        return deltas

    def parameters(self, deltas, source=None):
        """{"gradients.NAME": value, "updated.NAME": value} with the default names."""
        values = {}
        inputs = [self.x, *self.a[:-1]]
        for i, layer in enumerate(self.layers):
            a_prev = inputs[i] if source is None else source(i)
            dw = self.scale * deltas[i].T @ a_prev
            rows, cols = layer["w"].shape
            joiner = "_" if max(rows, cols) > 9 else ""
            for j in range(rows):
                for k in range(cols):
                    name = f"w{i + 1}_{j + 1}{joiner}{k + 1}"
                    values[f"gradients.{name}"] = dw[j, k]
                    if self.rate is not None:
                        values[f"updated.{name}"] = (layer["w"][j, k] if "weights" in layer["fixed"]
                                                     else layer["w"][j, k] - self.rate * dw[j, k])
            if layer["b"] is not None:
                db = self.scale * deltas[i].sum(axis=0)
                for j in range(rows):
                    name = f"b{i + 1}_{j + 1}"
                    values[f"gradients.{name}"] = db[j]
                    if self.rate is not None:
                        values[f"updated.{name}"] = (layer["b"][j] if "bias" in layer["fixed"]
                                                     else layer["b"][j] - self.rate * db[j])
        return values


def _index(suffix: str) -> tuple[int, int]:
    """(j, k), 0-based, from a default weight name's suffix: "12" -> (0, 1), "1_10" -> (0, 9)."""
    j, k = suffix.split("_") if "_" in suffix else suffix
    return int(j) - 1, int(k) - 1


def mistaken_answers(doc: dict) -> list[tuple[str, str, float, float]]:
    """Every (mistake, path, the student's value, the right value) for one network."""
    net = Network(doc)
    L = len(net.layers)
    right = net.parameters(net.deltas())
    out = []

    def add(mistake, values):
        for path, value in values.items():
            out.append((mistake, path, float(value), float(right[path])))

    elementwise = [i for i in range(L) if net.layers[i]["act"] != "softmax"]
    for i in range(L):            # each mistake at one layer
        if i == L - 1:
            add("missing_derivative", net.parameters(net.deltas(output=net.grad_a())))
            add("derivative_twice", net.parameters(net.deltas(output=net.jacobian_t(i, net.right_output_delta()))))
            if i in elementwise:
                add("function_for_derivative", net.parameters(net.deltas(output=net.grad_a() * net.f(i))))
        else:
            add("missing_derivative", net.parameters(net.deltas(
                step=lambda k, d, i=i: net.back(k, d) if k == i else None)))
            add("derivative_twice", net.parameters(net.deltas(
                step=lambda k, d, i=i: net.jacobian_t(k, net.jacobian_t(k, net.back(k, d))) if k == i else None)))
            add("function_for_derivative", net.parameters(net.deltas(
                step=lambda k, d, i=i: net.back(k, d) * net.f(k) if k == i else None)))
            add("not_transposed", net.parameters(net.deltas(
                step=lambda k, d, i=i: net.jacobian_t(k, net.untransposed(k, d)) if k == i else None)))
    if L > 1:                      # the transpose forgotten in every BP2 step
        add("not_transposed", net.parameters(net.deltas(step=lambda k, d: net.jacobian_t(k, net.untransposed(k, d)))))

    def own_activation(i):
        a = net.a[i]
        columns = net.layers[i]["w"].shape[1]
        result = np.full((a.shape[0], columns), np.nan)
        m = min(columns, a.shape[1])
        result[:, :m] = a[:, :m]
        return result

    add("wrong_activation", net.parameters(net.deltas(), source=own_activation))
    add("sign_flipped", net.parameters(net.deltas(output=-net.right_output_delta())))
    if net.loss == "half_squared_error":
        add("half_forgotten", net.parameters(net.deltas(output=2 * net.right_output_delta())))
    if net.rate is not None:
        for i, layer in enumerate(net.layers):
            for kind in ("w", "b"):
                if layer[kind] is None or ("weights" if kind == "w" else "bias") in layer["fixed"]:
                    continue
                for path in [p for p in right if p.startswith(f"updated.{kind}{i + 1}_")]:
                    gradient = right["gradients." + path.split(".", 1)[1]]
                    suffix = path.split("_", 1)[1]
                    old = layer["w"][_index(suffix)] if kind == "w" else layer["b"][int(suffix) - 1]
                    out.append(("old_value", path, old, right[path]))
                    out.append(("update", path, old + net.rate * gradient, right[path]))
                    out.append(("update", path, old - gradient, right[path]))
    for i, layer in enumerate(net.layers):       # ∂C/∂b_j given for ∂C/∂w_jk
        if layer["b"] is None:
            continue
        for path in [p for p in right if p.startswith(f"gradients.w{i + 1}_")]:
            j, _k = _index(path.split("_", 1)[1])
            out.append(("neighbouring_gradient", path, right[f"gradients.b{i + 1}_{j + 1}"], right[path]))
    return [(mistake, path, float(value), float(right_value)) for mistake, path, value, right_value in out
            if np.isfinite(value)]
