"""Independent reference formulas for every activation and loss, one scalar at a time.

Written with :mod:`math` from the definitions (PyTorch's documentation for the conventions:
torch.nn.ELU, SELU, GELU with approximate='none', SiLU, Softsign, Hardtanh, L1Loss,
HuberLoss), derivatives derived by hand. Never imports bpcalc: ``test_activations.py``
holds the registries to these rows, and ``test_solver.py`` and ``mistake_oracle.py`` build
their own forward and backward passes from them. A new registry entry fails
``test_activations.py`` until it has its rows here.

    ACTIVATION[name](z, **params) -> f(z)         ACTIVATION_PRIME[name](z, **params) -> f′(z)
    LOSS[name](a, t, **params) -> C_x             LOSS_GRADIENT[name](a, t, **params) -> ∂C_x/∂a
    softmax(row) -> list                          (a, t: one example's lists of floats)
"""

from __future__ import annotations

import math

# torch.nn.SELU's constants (Klambauer et al. 2017), as PyTorch's documentation gives them
SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
_SQRT2, _SQRT2PI = math.sqrt(2.0), math.sqrt(2.0 * math.pi)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _elu(z: float, alpha: float = 1.0) -> float:
    return z if z > 0 else alpha * math.expm1(z)


def _elu_prime(z: float, alpha: float = 1.0) -> float:
    return 1.0 if z > 0 else alpha * math.exp(z)          # z ≤ 0 branch at 0, as PyTorch


ACTIVATION = {
    "identity": lambda z: z,
    "linear": lambda z: z,
    "sigmoid": sigmoid,
    "tanh": math.tanh,
    "relu": lambda z: z if z > 0 else 0.0,
    "leaky_relu": lambda z, slope=0.01: z if z > 0 else slope * z,
    "softplus": _softplus,
    "elu": _elu,                                            # z for z > 0, α(eᶻ − 1) for z ≤ 0
    "selu": lambda z: SELU_SCALE * _elu(z, SELU_ALPHA),
    "gelu": lambda z: z * 0.5 * math.erfc(-z / _SQRT2),     # z·Φ(z), Φ(z) = erfc(−z/√2)/2
    "silu": lambda z: z * sigmoid(z),                       # z·σ(z)
    "softsign": lambda z: z / (1.0 + abs(z)),
    "hardtanh": lambda z: max(-1.0, min(1.0, z)),           # Hardtanh(−1, 1)
}

ACTIVATION_PRIME = {
    "identity": lambda z: 1.0,
    "linear": lambda z: 1.0,
    "sigmoid": lambda z: sigmoid(z) * (1.0 - sigmoid(z)),
    "tanh": lambda z: 1.0 - math.tanh(z) ** 2,
    "relu": lambda z: 1.0 if z > 0 else 0.0,                # ReLU′(0) = 0
    "leaky_relu": lambda z, slope=0.01: 1.0 if z > 0 else slope,
    "softplus": sigmoid,
    "elu": _elu_prime,
    "selu": lambda z: SELU_SCALE * _elu_prime(z, SELU_ALPHA),
    "gelu": lambda z: 0.5 * math.erfc(-z / _SQRT2) + z * math.exp(-0.5 * z * z) / _SQRT2PI,
    "silu": lambda z: sigmoid(z) * (1.0 + z * (1.0 - sigmoid(z))),
    "softsign": lambda z: 1.0 / (1.0 + abs(z)) ** 2,
    "hardtanh": lambda z: 1.0 if -1.0 < z < 1.0 else 0.0,   # 0 at ±1, as PyTorch
}


def softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


VECTOR_ACTIVATION = {"softmax": softmax}


def _huber(a, t, delta=1.0):
    """HuberLoss(reduction='sum') over one example's outputs."""
    return sum(0.5 * (x - y) ** 2 if abs(x - y) < delta else delta * (abs(x - y) - 0.5 * delta)
               for x, y in zip(a, t))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


LOSS = {
    "half_squared_error": lambda a, t: 0.5 * sum((x - y) ** 2 for x, y in zip(a, t)),
    "squared_error": lambda a, t: sum((x - y) ** 2 for x, y in zip(a, t)),
    "mean_squared_error": lambda a, t: sum((x - y) ** 2 for x, y in zip(a, t)) / len(a),
    "mean_absolute_error": lambda a, t: sum(abs(x - y) for x, y in zip(a, t)) / len(a),   # L1Loss
    "huber": _huber,
    "cross_entropy": lambda a, t: -sum(_xlogy(y, x) for x, y in zip(a, t)),
    "binary_cross_entropy": lambda a, t: -sum(_xlogy(y, x) + _xlogy(1 - y, 1 - x) for x, y in zip(a, t)),
}


def _ratio(t: float, a: float) -> float:
    return 0.0 if t == 0 else t / a


def _sign(x: float) -> float:
    return float(x > 0) - float(x < 0)


LOSS_GRADIENT = {
    "half_squared_error": lambda a, t: [x - y for x, y in zip(a, t)],
    "squared_error": lambda a, t: [2 * (x - y) for x, y in zip(a, t)],
    "mean_squared_error": lambda a, t: [2 * (x - y) / len(a) for x, y in zip(a, t)],
    "mean_absolute_error": lambda a, t: [_sign(x - y) / len(a) for x, y in zip(a, t)],   # 0 at a = t
    "huber": lambda a, t, delta=1.0: [max(-delta, min(delta, x - y)) for x, y in zip(a, t)],
    "cross_entropy": lambda a, t: [-_ratio(y, x) for x, y in zip(a, t)],
    "binary_cross_entropy": lambda a, t: [_ratio(1 - y, 1 - x) - _ratio(y, x) for x, y in zip(a, t)],
}
