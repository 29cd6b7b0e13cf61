"""The loss functions a problem can use: one registry entry each, the single source of truth.

An entry holds the per-example cost C_x and its gradient ∂C_x/∂a in NumPy (numerically
stable, summed over the output neurons) and the same cost as an expression tree
(``term``, one output's share in a, t and n, the number of outputs), from which
:func:`bpcalc.calculus.d` derives ∂C/∂aⱼ for explanations; a test holds the two
together. Where an output activation and a loss belong together (sigmoid with binary
cross-entropy, softmax with cross-entropy) the entry also gives the fused forms computed
from z, which stay exact when a saturates to exactly 0 or 1: there δ^L = a − t holds
exactly, while the general chain ∇_a C ⊙ σ′(z) would be ∞ · 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .expr import (
    HALF, Add, Call, Compare, Div, Expr, Mul, Neg, Num, Piecewise, Pow, Sub, Sym, Sum,
    substitute,
)

Array = np.ndarray
A, T, N = Sym("a"), Sym("t"), Sym("n")
TARGET_SUM = Sym("T")       # Σₖ tₖ, in the fused softmax rule


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
    """A loss computed from the output layer's z, for one output activation.
    ``formula`` is δ^L as a tree in a, t and T = Σₖ tₖ."""

    cost: Callable[[Array, Array], Array]            # (z, t) -> C_x per example
    delta: Callable[[Array, Array, Array], Array]    # (z, a, t) -> δ^L
    formula: Expr
    cost_term: Expr | None = None   # one output's cost in z, t (and S, the activation's sum):
                                    # what explanations show where a saturates to 0 or 1

    @property
    def rule(self) -> str:
        """δ^L in words, for tables."""
        from .expr import to_unicode

        return f"δ^L = {to_unicode(substitute(self.formula, {'T': Num(1)}))}"


@dataclass(frozen=True)
class Loss:
    """C and ∂C/∂a of one loss, in NumPy and as a tree.

    ``term`` is one output's share of C_x as a tree in a, t, n (the number of outputs) and
    the loss's parameter symbols; C_x = Σⱼ term(aⱼ, tⱼ). A loss over the whole output
    vector gives ``total`` instead: a tree in a_1, …, a_n, t_1, …, t_n."""

    name: str
    cost: Callable[..., Array]       # (a, t) -> C_x, shape (examples,)
    gradient: Callable[..., Array]   # (a, t) -> ∂C_x/∂a
    term: Expr | None = None
    total: Expr | None = None
    domain: Callable[[Array, Array], str | None] = lambda a, t: None
    fused: Mapping[str, Fused] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    symbols: Mapping[str, str] = field(default_factory=dict)   # param -> symbol key in term
    probabilities: bool = False      # outputs and targets must lie in [0, 1]
    custom: bool = False

    def with_params(self, params: Mapping[str, float]) -> "Loss":
        """This loss with its parameters set (huber's delta): the NumPy functions read them."""
        import dataclasses
        import functools

        return dataclasses.replace(self, params=dict(params),
                                   cost=functools.partial(self.cost, **params),
                                   gradient=functools.partial(self.gradient, **params))

    def values(self, params: Mapping[str, float] | None = None) -> dict[str, float]:
        given = {**self.params, **(params or {})}
        return {self.symbols.get(name, name): value for name, value in given.items()}

    def term_formula(self, a: Expr = A, t: Expr = T, outputs: int | None = None,
                     params: Mapping[str, float] | None = None, numbers: bool = False) -> Expr:
        """One output's share of C as a tree (a − t)² …, with a, t, n put in."""
        if self.term is None:
            raise ValueError(f"{self.name} is not a sum over outputs")
        replacements: dict[str, Any] = {"a": a, "t": t}
        if outputs is not None:
            replacements["n"] = Num(outputs)
        if numbers:
            replacements.update({k: Num(v) for k, v in self.values(params).items()})
        return substitute(self.term, replacements)

    def gradient_formula(self, a: Expr = A, t: Expr = T, outputs: int | None = None,
                         params: Mapping[str, float] | None = None, numbers: bool = False) -> Expr:
        """∂C/∂aⱼ as a tree: d/da of the term."""
        from .calculus import d

        from .calculus import simplify

        tree = d(self.term_formula(params=params, numbers=numbers), "a")
        if outputs is not None:
            tree = simplify(substitute(tree, {"n": Num(outputs)}))
        return substitute(tree, {"a": a, "t": t})

    def summed(self) -> Expr:
        """C = Σⱼ term(aⱼ, tⱼ), as the course writes the loss."""
        from .calculus import simplify

        if self.term is None:
            return self.total
        return simplify(Sum(self.term_formula(Sym("a", "j"), Sym("t", "j")), "j"))


def _probabilities(a: Array, t: Array) -> str | None:
    if np.any((a < 0) | (a > 1)):
        return "needs outputs between 0 and 1 (use a sigmoid or softmax output layer)"
    return None


def _softmax_ce_delta(z: Array, a: Array, t: Array) -> Array:
    return a * t.sum(axis=-1, keepdims=True) - t


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _huber(a: Array, t: Array, delta: float = 1.0) -> Array:
    r = np.abs(a - t)
    return np.sum(np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)), axis=-1)


_R = Sub(A, T)
_ABS_R = Call("abs", (_R,))
_HUBER = Sym("delta", "h")        # PyTorch's delta, written δₕ so it is not an error term δ

HALF_SQUARED_ERROR = Loss(
    "half_squared_error",
    lambda a, t: 0.5 * np.sum((a - t) ** 2, axis=-1), lambda a, t: a - t,
    term=Mul(HALF, Pow(_R, Num(2))),
)
SQUARED_ERROR = Loss(
    "squared_error",
    lambda a, t: np.sum((a - t) ** 2, axis=-1), lambda a, t: 2.0 * (a - t),
    term=Pow(_R, Num(2)),
)
MEAN_SQUARED_ERROR = Loss(
    "mean_squared_error",
    lambda a, t: np.mean((a - t) ** 2, axis=-1), lambda a, t: 2.0 * (a - t) / a.shape[-1],
    term=Div(Pow(_R, Num(2)), N),
)
MEAN_ABSOLUTE_ERROR = Loss(
    "mean_absolute_error",           # PyTorch's L1Loss; its gradient at a = t is 0, as here
    lambda a, t: np.mean(np.abs(a - t), axis=-1), lambda a, t: np.sign(a - t) / a.shape[-1],
    term=Div(_ABS_R, N),
)
HUBER = Loss(
    "huber",                         # PyTorch's HuberLoss (delta), summed over the outputs
    lambda a, t, delta=1.0: _huber(a, t, delta),
    lambda a, t, delta=1.0: np.clip(a - t, -delta, delta),
    term=Piecewise(((Mul(HALF, Pow(_R, Num(2))), Compare(_ABS_R, "≤", _HUBER)),
                    (Mul(_HUBER, Sub(_ABS_R, Mul(HALF, _HUBER))), None))),
    params={"delta": 1.0}, symbols={"delta": "delta_h"},
)
CROSS_ENTROPY = Loss(
    "cross_entropy",
    lambda a, t: -np.sum(_xlogy(t, a), axis=-1), lambda a, t: -_ratio(t, a),
    term=Neg(Mul(T, Call("ln", (A,)))),
    domain=_probabilities, probabilities=True,
    fused={"softmax": Fused(
        lambda z, t: -np.sum(t * _log_softmax(z), axis=-1),
        _softmax_ce_delta,
        Sub(Mul(A, TARGET_SUM), T),
        Mul(T, Sub(Call("ln", (Sym("S"),)), Sym("z"))),
    )},
)
BINARY_CROSS_ENTROPY = Loss(
    "binary_cross_entropy",
    lambda a, t: -np.sum(_xlogy(t, a) + _xlogy(1.0 - t, 1.0 - a), axis=-1),
    lambda a, t: _ratio(1.0 - t, 1.0 - a) - _ratio(t, a),
    term=Neg(Add(Mul(T, Call("ln", (A,))), Mul(Sub(Num(1), T), Call("ln", (Sub(Num(1), A),))))),
    domain=_probabilities, probabilities=True,
    fused={"sigmoid": Fused(
        lambda z, t: np.sum(t * _softplus(-z) + (1.0 - t) * _softplus(z), axis=-1),
        lambda z, a, t: a - t,
        Sub(A, T),
        Add(Mul(T, Call("softplus", (Neg(Sym("z")),))), Mul(Sub(Num(1), T), Call("softplus", (Sym("z"),)))),
    )},
)

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (HALF_SQUARED_ERROR, SQUARED_ERROR, MEAN_SQUARED_ERROR, MEAN_ABSOLUTE_ERROR, HUBER,
                 CROSS_ENTROPY, BINARY_CROSS_ENTROPY)
}


def custom(formula: Expr, *, per_output: bool = True, outputs: int = 1) -> Loss:
    """A loss defined in a problem file (``loss: {cost: (a - t)^4/4}``): per output, a
    formula in a and t (and n) summed over the outputs; or, with ``per_output: false``, a
    formula in the entries a_1 … a_n, t_1 … t_n. NumPy evaluation of the tree over whole
    arrays, its gradient derived symbolically."""
    from .calculus import d
    from .expr import evaluate

    def check(value: Any) -> Array:
        if np.iscomplexobj(value):
            raise ValueError("gives a complex number")
        return np.asarray(value, dtype=np.float64)

    if per_output:
        gradient_tree = d(formula, "a")

        def env(a: Array, t: Array) -> dict[str, Any]:
            return {"a": a, "t": t, "n": float(a.shape[-1])}

        def cost(a: Array, t: Array) -> Array:
            with np.errstate(all="ignore"):
                return np.sum(np.broadcast_to(check(evaluate(formula, env(a, t))), a.shape), axis=-1)

        def gradient(a: Array, t: Array) -> Array:
            with np.errstate(all="ignore"):
                return np.array(np.broadcast_to(check(evaluate(gradient_tree, env(a, t))), a.shape))

        return Loss("custom", cost, gradient, term=formula, custom=True)

    gradient_trees = [d(formula, f"a_{j + 1}") for j in range(outputs)]

    def entries(a: Array, t: Array) -> dict[str, Any]:
        values: dict[str, Any] = {"n": float(a.shape[-1])}
        for j in range(a.shape[-1]):
            values[f"a_{j + 1}"], values[f"t_{j + 1}"] = a[..., j], t[..., j]
        return values

    def total_cost(a: Array, t: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.array(np.broadcast_to(check(evaluate(formula, entries(a, t))), a.shape[:-1]))

    def total_gradient(a: Array, t: Array) -> Array:
        with np.errstate(all="ignore"):
            columns = [np.broadcast_to(check(evaluate(tree, entries(a, t))), a.shape[:-1])
                       for tree in gradient_trees]
        return np.stack(columns, axis=-1)

    return Loss("custom", total_cost, total_gradient, total=formula, custom=True)
