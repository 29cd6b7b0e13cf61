"""The loss functions a problem can use: one registry entry each.

A loss gives the per-example cost C_x (summed over output neurons) and its
gradient ∂C_x/∂a. Where an output activation and a loss belong together
(sigmoid with binary cross-entropy, softmax with cross-entropy) the entry also
gives the fused forms computed from z, which stay exact when a saturates to
exactly 0 or 1: there δ^L = a − t holds exactly, while the general chain
∇_a C ⊙ σ′(z) would be ∞ · 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Array = np.ndarray


def _xlogy(x: Array, y: Array) -> Array:
    """x·ln(y) with 0·ln(0) = 0, as the limit that cross-entropies need."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def _ratio(t: Array, a: Array) -> Array:
    """t/a with 0/0 = 0: the cross-entropy gradient where the target is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, t / np.where(t == 0, 1.0, a))


@dataclass(frozen=True)
class Fused:
    """A loss computed from the output layer's z, for one output activation."""

    cost: Callable[[Array, Array], Array]            # (z, t) -> C_x per example
    delta: Callable[[Array, Array, Array], Array]    # (z, a, t) -> δ^L
    rule: str                                        # the simplification, in words


@dataclass(frozen=True)
class Loss:
    """C and ∂C/∂a of one loss, with how the course writes it."""

    name: str
    cost: Callable[[Array, Array], Array]       # (a, t) -> C_x, shape (examples,)
    gradient: Callable[[Array, Array], Array]   # (a, t) -> ∂C_x/∂a
    unicode: str
    latex: str
    gradient_rule: str                          # ∂C/∂a spelled out
    domain: Callable[[Array, Array], str | None] = lambda a, t: None
    fused: dict[str, Fused] = field(default_factory=dict)


def _probabilities(a: Array, t: Array) -> str | None:
    if np.any((a < 0) | (a > 1)):
        return "needs outputs between 0 and 1 (use a sigmoid or softmax output layer)"
    return None


def _softmax_ce_delta(z: Array, a: Array, t: Array) -> Array:
    return a * t.sum(axis=-1, keepdims=True) - t


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


HALF_SQUARED_ERROR = Loss(
    "half_squared_error",
    lambda a, t: 0.5 * np.sum((a - t) ** 2, axis=-1),
    lambda a, t: a - t,
    "C = ½ Σⱼ (aⱼ − tⱼ)²", r"C = \tfrac{1}{2}\sum_j (a_j - t_j)^2", "∂C/∂aⱼ = aⱼ − tⱼ",
)
SQUARED_ERROR = Loss(
    "squared_error",
    lambda a, t: np.sum((a - t) ** 2, axis=-1),
    lambda a, t: 2.0 * (a - t),
    "C = Σⱼ (aⱼ − tⱼ)²", r"C = \sum_j (a_j - t_j)^2", "∂C/∂aⱼ = 2(aⱼ − tⱼ)",
)
MEAN_SQUARED_ERROR = Loss(
    "mean_squared_error",
    lambda a, t: np.mean((a - t) ** 2, axis=-1),
    lambda a, t: 2.0 * (a - t) / a.shape[-1],
    "C = (1/n) Σⱼ (aⱼ − tⱼ)²", r"C = \frac{1}{n}\sum_j (a_j - t_j)^2", "∂C/∂aⱼ = (2/n)(aⱼ − tⱼ)",
)
CROSS_ENTROPY = Loss(
    "cross_entropy",
    lambda a, t: -np.sum(_xlogy(t, a), axis=-1),
    lambda a, t: -_ratio(t, a),
    "C = −Σⱼ tⱼ ln aⱼ", r"C = -\sum_j t_j \ln a_j", "∂C/∂aⱼ = −tⱼ/aⱼ",
    domain=_probabilities,
    fused={"softmax": Fused(
        lambda z, t: -np.sum(t * _log_softmax(z), axis=-1),
        _softmax_ce_delta,
        "softmax with cross-entropy: δ^L = a^L − t (when the targets sum to 1)",
    )},
)
BINARY_CROSS_ENTROPY = Loss(
    "binary_cross_entropy",
    lambda a, t: -np.sum(_xlogy(t, a) + _xlogy(1.0 - t, 1.0 - a), axis=-1),
    lambda a, t: _ratio(1.0 - t, 1.0 - a) - _ratio(t, a),
    "C = −Σⱼ [tⱼ ln aⱼ + (1 − tⱼ) ln(1 − aⱼ)]",
    r"C = -\sum_j \left[t_j \ln a_j + (1 - t_j)\ln(1 - a_j)\right]",
    "∂C/∂aⱼ = (aⱼ − tⱼ) / (aⱼ(1 − aⱼ))",
    domain=_probabilities,
    fused={"sigmoid": Fused(
        lambda z, t: np.sum(t * _softplus(-z) + (1.0 - t) * _softplus(z), axis=-1),
        lambda z, a, t: a - t,
        "sigmoid with binary cross-entropy: δ^L = a^L − t",
    )},
)

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (HALF_SQUARED_ERROR, SQUARED_ERROR, MEAN_SQUARED_ERROR, CROSS_ENTROPY, BINARY_CROSS_ENTROPY)
}
