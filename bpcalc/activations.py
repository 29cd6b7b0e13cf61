"""The activation functions a layer can use: one registry entry each.

Each entry keeps the function, its derivative and its symbols side by side
(as micrograd keeps an operation's forward value and backward rule together),
so adding an activation is one entry here and one row in the tests.

All functions take and return float64 arrays of shape (examples, neurons) and
are numerically stable: ``sigmoid(±1000)`` is exactly 0 or 1 with no overflow
warning, ``softmax`` of large logits does not overflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Array = np.ndarray


def _sigmoid(z: Array) -> Array:
    # exp of a non-positive number never overflows; both branches agree in value.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_prime(z: Array) -> Array:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _tanh_prime(z: Array) -> Array:
    return 1.0 - np.tanh(z) ** 2


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_prime(z: Array) -> Array:
    return (z > 0).astype(np.float64)  # the convention ReLU'(0) = 0


def _leaky_relu(z: Array, slope: float) -> Array:
    return np.where(z > 0, z, slope * z)


def _leaky_relu_prime(z: Array, slope: float) -> Array:
    return np.where(z > 0, 1.0, slope)


def _softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def _softmax(z: Array) -> Array:
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _softmax_backprop(z: Array, a: Array, grad_a: Array) -> Array:
    # The Jacobian is diag(a) − a aᵀ; its product with grad_a, row by row.
    return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Activation:
    """f and f′ of one activation, with how the course writes them.

    ``derivative`` is None for activations whose Jacobian is not diagonal
    (softmax); those give ``backprop`` instead: grad_a ↦ Jᵀ grad_a.
    ``params`` names the layer keys the activation reads (e.g. leaky_relu's slope)
    with their defaults.
    """

    name: str
    function: Callable[..., Array]
    derivative: Callable[..., Array] | None
    unicode: str
    latex: str
    derivative_rule: str  # f′ spelled out, e.g. "σ′(z) = σ(z)(1 − σ(z))"
    params: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    elementwise: bool = True
    backprop_rule: Callable[[Array, Array, Array], Array] | None = None
    prime_from_output: Callable[[Array], Array] | None = None   # f′ from a = f(z), when cheaper

    def __call__(self, z: Array, **params: float) -> Array:
        return self.function(z, **params)

    def prime(self, z: Array, **params: float) -> Array:
        """f′(z) for elementwise activations."""
        if self.derivative is None:
            raise TypeError(f"{self.name} has no elementwise derivative; use backprop")
        return self.derivative(z, **params)

    def backprop(self, z: Array, a: Array, grad_a: Array, **params: float) -> Array:
        """∂C/∂z from ∂C/∂a: grad_a ⊙ f′(z), or Jᵀ grad_a for softmax."""
        if self.backprop_rule is not None:
            return self.backprop_rule(z, a, grad_a)
        if self.prime_from_output is not None:
            return grad_a * self.prime_from_output(a)
        return grad_a * self.derivative(z, **params)


IDENTITY = Activation(
    "identity", lambda z: z.astype(np.float64, copy=True), lambda z: np.ones_like(z, dtype=np.float64),
    "id", r"\mathrm{id}", "id′(z) = 1", aliases=("linear",),
)
SIGMOID = Activation(
    "sigmoid", _sigmoid, _sigmoid_prime, "σ", r"\sigma", "σ′(z) = σ(z)(1 − σ(z))",
    prime_from_output=lambda a: a * (1.0 - a),
)
TANH = Activation(
    "tanh", np.tanh, _tanh_prime, "tanh", r"\tanh", "tanh′(z) = 1 − tanh²(z)",
    prime_from_output=lambda a: 1.0 - a * a,
)
RELU = Activation(
    "relu", _relu, _relu_prime, "ReLU", r"\operatorname{ReLU}",
    "ReLU′(z) = 1 for z > 0, 0 for z < 0 (and 0 at z = 0 by convention)",
)
LEAKY_RELU = Activation(
    "leaky_relu", _leaky_relu, _leaky_relu_prime, "LReLU", r"\operatorname{LReLU}",
    "LReLU′(z) = 1 for z > 0, slope for z ≤ 0", params={"slope": 0.01},
)
SOFTPLUS = Activation(
    "softplus", _softplus, _sigmoid, "softplus", r"\operatorname{softplus}",
    "softplus′(z) = σ(z)",
)
SOFTMAX = Activation(
    "softmax", _softmax, None, "softmax", r"\operatorname{softmax}",
    "∂a_j/∂z_k = a_j(δ_jk − a_k)", elementwise=False, backprop_rule=_softmax_backprop,
)

ACTIVATIONS: dict[str, Activation] = {}
for _activation in (IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTPLUS, SOFTMAX):
    for _name in (_activation.name, *_activation.aliases):
        ACTIVATIONS[_name] = _activation
