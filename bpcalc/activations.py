"""The activation functions a layer can use: one registry entry each, the single source of truth.

An entry keeps side by side (as micrograd keeps an operation's forward value and its
backward rule together) everything bpcalc needs of an activation:

* its NumPy ``function`` and ``derivative`` over whole arrays, numerically stable
  (``sigmoid(±1000)`` is exactly 0 or 1 with no overflow warning);
* its symbolic ``formula``, an expression tree in z: for a *primitive* (σ, tanh, ReLU,
  softplus) the call itself, with its derivative ``rule`` and a ``meaning`` for notes
  (σ(z) = 1/(1 + e^(−z))); for any other activation the tree that defines it (ELU,
  GELU, a problem's own ``{f: z*sigma(z)}``), from which :func:`bpcalc.calculus.d`
  derives the derivative;
* how it is written (Unicode, LaTeX), its parameters and the facts explanations use
  (does it saturate, a note on its kink).

From that one entry follow the symbolic f′ (:meth:`Activation.prime_formula`), the
"expressed through a" shortcut (σ′ = a(1 − a), :meth:`Activation.through_output`),
and the function that formulas and derivations call by the activation's name
(:data:`ACTIVATION_FUNCTIONS`, merged into :func:`bpcalc.expr.function_table`). So
adding an activation is one entry here and one row in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .expr import (
    FUNCTIONS, Add, Call, Compare, Div, Expr, Function, Mul, Neg, Num, Piecewise, Pow, Sub, Sym,
    substitute, symbols,
)

Array = np.ndarray
Z = Sym("z")
A = Sym("a")


# ------------------------------------------------------------------ NumPy implementations

def _sigmoid(z: Any) -> Any:
    if np.iscomplexobj(z):
        return 1 / (1 + np.exp(-z))
    array = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(array))          # exp of a non-positive number never overflows
    out = np.where(array >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out if isinstance(z, np.ndarray) else out[()]


def _sigmoid_prime(z: Any) -> Any:
    s = _sigmoid(z)
    return s * (1.0 - s)


def _real(z: Any, name: str) -> np.ndarray:
    if np.iscomplexobj(z):
        from .errors import FormulaError

        raise FormulaError(f"{name} needs a real number, not a complex one")
    return np.asarray(z, dtype=np.float64)


def _scalar_or_array(z: Any, out: np.ndarray) -> Any:
    return out if isinstance(z, np.ndarray) else out[()]


def _numpy(function: Callable[..., np.ndarray], name: str) -> Callable[..., Any]:
    """An array function that also takes and returns plain numbers (for formulas)."""
    def wrapped(z: Any, **params: float) -> Any:
        return _scalar_or_array(z, function(_real(z, name), **params))
    return wrapped


def _erfc(x: np.ndarray) -> np.ndarray:
    # asarray: on a 0-d array (one number) frompyfunc returns a plain float
    return np.asarray(np.frompyfunc(math.erfc, 1, 1)(x), dtype=np.float64)


_SQRT2, _SQRT2PI = math.sqrt(2.0), math.sqrt(2.0 * math.pi)
SELU_LAMBDA = 1.0507009873554804934193349852946   # Klambauer et al. (2017), as torch.nn.SELU
SELU_ALPHA = 1.6732632423543772848170429916717


# ------------------------------------------------------------------ the entry

@dataclass(frozen=True)
class VectorRule:
    """How an activation that couples its neurons (softmax) is explained, as trees in the
    placeholders zⱼ, zₖ, aⱼ, aₖ, gⱼ = ∂C/∂aⱼ, gₖ. Each ``*_sums`` entry (name, term) names a
    sum over the layer's neurons k, written out with the layer's own symbols."""

    forward: Expr                                   # aⱼ in z and the forward sums
    forward_sums: tuple[tuple[str, Expr], ...]      # S = Σₖ e^(zₖ)
    backward: Expr                                  # δⱼ in a, g and the backward sums
    backward_sums: tuple[tuple[str, Expr], ...]     # s = Σₖ aₖ gₖ
    jacobian: Expr                                  # ∂aₖ/∂zⱼ, for the note
    shift: str | None = None                        # m = max over k of zₖ, for large logits
    stable_forward: Expr | None = None              # aⱼ with the shift
    stable_sums: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True)
class Activation:
    """f and f′ of one activation, symbolically and in NumPy, and how the course writes it.

    ``derivative`` is None for activations whose Jacobian is not diagonal (softmax); those
    give ``backprop_rule`` (grad_a ↦ Jᵀ grad_a) and a :class:`VectorRule` instead.
    ``params`` are the layer keys it reads (leaky_relu's ``slope``) with their defaults;
    ``symbols`` name them in formulas (slope → α); ``constants`` are fixed numbers the
    formula names (SELU's λ and α).
    """

    name: str
    function: Callable[..., Array]
    derivative: Callable[..., Array] | None
    unicode: str
    latex: str
    formula: Expr | None = None        # f(z) as a tree; None: the primitive call itself
    rule: Expr | None = None           # f′(z) as a tree, where it is not derived from formula
    meaning: Expr | None = None        # what a primitive f(z) is, for notes
    symbol: str = ""                   # its function name in trees and formulas (default: name)
    params: Mapping[str, float] = field(default_factory=dict)
    symbols: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()      # other names in problem files (linear for identity)
    formula_names: tuple[str, ...] = ()   # other names in formulas (sigmoid for sigma)
    elementwise: bool = True
    backprop_rule: Callable[[Array, Array, Array], Array] | None = None
    prime_from_output: Callable[[Array], Array] | None = None   # f′ from a = f(z), when cheaper
    saturates: bool = False            # f′ → 0 for large |z| (σ, tanh): warn when it happens
    note: str | None = None            # said where f′ is first used (ReLU′(0))
    vector: VectorRule | None = None
    custom: bool = False               # defined in a problem file

    def __post_init__(self) -> None:
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)

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

    # -- symbolic forms -------------------------------------------------------------
    @property
    def primitive(self) -> bool:
        """f is a function of its own (σ, tanh), not written in terms of others."""
        return self.formula is None

    def call(self, z: Expr, derivative: int = 0) -> Expr:
        """f(z) (or f′(z)) as the course writes it: σ(z2), ReLU′(z¹₁)."""
        return Call(self.symbol, (z,), derivative)

    def values(self, params: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Symbol name -> number for this layer's parameters and the fixed constants."""
        given = {**self.params, **(params or {})}
        out = {self.symbols.get(name, name): value for name, value in given.items()}
        out.update(self.constants)
        return out

    def defining(self, z: Expr = Z, params: Mapping[str, float] | None = None,
                 numbers: bool = False) -> Expr:
        """f(z) written out: the formula of a composite, the call of a primitive. With
        ``numbers`` the parameters and constants are put in as numbers."""
        from .calculus import simplify

        tree = self.call(Z) if self.formula is None else self.formula
        if numbers and self.values(params):
            tree = simplify(substitute(tree, {k: Num(v) for k, v in self.values(params).items()}))
        return substitute(tree, {"z": z}) if z != Z else tree

    def prime_formula(self, z: Expr = Z, params: Mapping[str, float] | None = None,
                      numbers: bool = False) -> Expr:
        """f′(z) as a tree: the primitive's rule, or d/dz of the formula."""
        from .calculus import d

        from .calculus import simplify

        tree = self.rule if self.rule is not None else d(self.defining(), "z")
        if numbers and self.values(params):
            tree = simplify(substitute(tree, {k: Num(v) for k, v in self.values(params).items()}))
        return substitute(tree, {"z": z}) if z != Z else tree

    def through_output(self, a: Expr = A, z: Expr = Z) -> Expr | None:
        """f′ written with the activation a = f(z) the forward pass already has (σ′ = a(1 − a),
        tanh′ = 1 − a²), or None when f′ still needs z."""
        from .calculus import replace, simplify

        tree = replace(self.prime_formula(), {self.defining(): A})
        if "z" in symbols(tree):
            return None
        tree = simplify(tree)
        return substitute(tree, {"a": a}) if a != A else tree

    @property
    def unchanged(self) -> bool:
        """a = z: the layer passes its weighted input through (f′ = 1)."""
        return self.formula == Z

    def function_entry(self) -> Function:
        """The formula-language function named after this activation."""
        if self.symbol in FUNCTIONS:
            return FUNCTIONS[self.symbol]
        defaults = self.values()

        def numeric(x: Any) -> Any:
            return self.function(x, **self.params)

        def fdiff(x: Expr) -> Expr:
            return self.prime_formula(x, numbers=True) if defaults else self.prime_formula(x)

        meaning = None
        if self.meaning is not None:
            meaning = lambda x: substitute(self.meaning, {"z": x})  # noqa: E731
        elif self.formula is not None:
            meaning = lambda x: self.defining(x, numbers=bool(defaults))  # noqa: E731
        return Function(self.symbol, numeric, fdiff, self.unicode, self.latex, meaning)


# ------------------------------------------------------------------ the registry

def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _leaky_relu(z: Array, slope: float = 0.01) -> Array:
    return np.where(z > 0, z, slope * z)


def _elu(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def _gelu(z: np.ndarray) -> np.ndarray:
    return z * 0.5 * _erfc(-z / _SQRT2)      # erfc keeps Φ(z) accurate far into z < 0


def _silu(z: np.ndarray) -> np.ndarray:
    return z * _sigmoid(z)


def _softmax(z: Array) -> Array:
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _softmax_backprop(z: Array, a: Array, grad_a: Array) -> Array:
    # The Jacobian is diag(a) − a aᵀ; its product with grad_a, row by row.
    return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


def _positive(z: Expr) -> Expr:
    return Compare(z, ">", Num(0))


ALPHA = Sym("alpha")
_SIGMA_Z = Call("sigma", (Z,))

IDENTITY = Activation(
    "identity", lambda z, **_: np.array(z, dtype=np.float64, copy=True),
    lambda z, **_: np.ones_like(z, dtype=np.float64), "id", r"\mathrm{id}",
    formula=Z, aliases=("linear",), symbol="id",
)
SIGMOID = Activation(
    "sigmoid", lambda z, **_: _sigmoid(z), lambda z, **_: _sigmoid_prime(z), "σ", r"\sigma",
    rule=Mul(_SIGMA_Z, Sub(Num(1), _SIGMA_Z)),
    meaning=Div(Num(1), Add(Num(1), Call("exp", (Neg(Z),)))),
    symbol="sigma", formula_names=("sigmoid",), saturates=True,
    prime_from_output=lambda a: a * (1.0 - a),
)
TANH = Activation(
    "tanh", lambda z, **_: np.tanh(z), lambda z, **_: 1.0 - np.tanh(z) ** 2, "tanh", r"\tanh",
    rule=FUNCTIONS["tanh"].fdiff(Z), meaning=FUNCTIONS["tanh"].definition(Z), saturates=True,
    prime_from_output=lambda a: 1.0 - a * a,
)
RELU = Activation(
    "relu", _numpy(lambda z: _relu(z), "relu"), _numpy(lambda z: (z > 0).astype(np.float64), "relu′"),
    "ReLU", r"\operatorname{ReLU}",
    rule=Piecewise(((Num(1), _positive(Z)), (Num(0), None))),
    meaning=Call("max", (Num(0), Z)),
    note="at z = 0 ReLU has no derivative; bpcalc takes ReLU′(0) = 0, as PyTorch and TensorFlow do",
)
LEAKY_RELU = Activation(
    "leaky_relu", _numpy(_leaky_relu, "leaky_relu"),
    _numpy(lambda z, slope=0.01: np.where(z > 0, 1.0, slope), "leaky_relu′"),
    "LReLU", r"\operatorname{LReLU}",
    formula=Piecewise(((Z, _positive(Z)), (Mul(ALPHA, Z), None))),
    params={"slope": 0.01}, symbols={"slope": "alpha"},
)
SOFTPLUS = Activation(
    "softplus", _numpy(lambda z: np.logaddexp(0.0, z), "softplus"), lambda z, **_: _sigmoid(z),
    "softplus", r"\operatorname{softplus}",
    rule=_SIGMA_Z, meaning=Call("ln", (Add(Num(1), Call("exp", (Z,))),)),
)
ELU = Activation(
    "elu", _numpy(_elu, "elu"),
    _numpy(lambda z, alpha=1.0: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))), "elu′"),
    "ELU", r"\operatorname{ELU}",
    formula=Piecewise(((Z, _positive(Z)), (Mul(ALPHA, Sub(Call("exp", (Z,)), Num(1))), None))),
    params={"alpha": 1.0}, symbols={"alpha": "alpha"},
)
SELU = Activation(
    "selu", _numpy(lambda z: SELU_LAMBDA * _elu(z, SELU_ALPHA), "selu"),
    _numpy(lambda z: SELU_LAMBDA * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0))), "selu′"),
    "SELU", r"\operatorname{SELU}",
    formula=Mul(Sym("lambda"), Piecewise(((Z, _positive(Z)),
                                          (Mul(ALPHA, Sub(Call("exp", (Z,)), Num(1))), None)))),
    constants={"lambda": SELU_LAMBDA, "alpha": SELU_ALPHA},
)
GELU = Activation(
    "gelu", _numpy(_gelu, "gelu"),
    _numpy(lambda z: 0.5 * _erfc(-z / _SQRT2) + z * np.exp(-0.5 * z * z) / _SQRT2PI, "gelu′"),
    "GELU", r"\operatorname{GELU}",
    # exact GELU (PyTorch's approximate='none'): z·Φ(z), Φ(z) = erfc(−z/√2)/2 the standard
    # normal CDF (erfc rather than 1 + erf, which cancels to 0 far into z < 0)
    formula=Div(Mul(Z, Call("erfc", (Neg(Div(Z, Call("sqrt", (Num(2),)))),))), Num(2)),
    rule=Add(Div(Call("erfc", (Neg(Div(Z, Call("sqrt", (Num(2),)))),)), Num(2)),
             Div(Mul(Z, Call("exp", (Neg(Div(Pow(Z, Num(2)), Num(2))),))),
                 Call("sqrt", (Mul(Num(2), Sym("pi")),)))),
)
SILU = Activation(
    "silu", _numpy(_silu, "silu"),
    _numpy(lambda z: _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z))), "silu′"),
    "SiLU", r"\operatorname{SiLU}",
    formula=Mul(Z, _SIGMA_Z),           # also called swish (with β = 1)
)
SOFTSIGN = Activation(
    "softsign", _numpy(lambda z: z / (1.0 + np.abs(z)), "softsign"),
    _numpy(lambda z: 1.0 / (1.0 + np.abs(z)) ** 2, "softsign′"),
    "softsign", r"\operatorname{softsign}",
    formula=Div(Z, Add(Num(1), Call("abs", (Z,)))),
    rule=Div(Num(1), Pow(Add(Num(1), Call("abs", (Z,))), Num(2))), saturates=True,
)
HARDTANH = Activation(
    "hardtanh", _numpy(lambda z: np.clip(z, -1.0, 1.0), "hardtanh"),
    _numpy(lambda z: ((z > -1.0) & (z < 1.0)).astype(np.float64), "hardtanh′"),
    "hardtanh", r"\operatorname{hardtanh}",
    # the kinks belong to the flat parts, so hardtanh′(±1) = 0, as in PyTorch
    formula=Piecewise(((Num(-1), Compare(Z, "≤", Num(-1))), (Num(1), Compare(Z, "≥", Num(1))), (Z, None))),
)

_J, _K = "j", "k"
_zj, _zk, _aj, _ak = Sym("z", _J), Sym("z", _K), Sym("a", _J), Sym("a", _K)
_gj, _gk = Sym("g", _J), Sym("g", _K)
_m = Sym("m")
SOFTMAX = Activation(
    "softmax", _softmax, None, "softmax", r"\operatorname{softmax}",
    elementwise=False, backprop_rule=_softmax_backprop,
    vector=VectorRule(
        forward=Div(Call("exp", (_zj,)), Sym("S")),
        forward_sums=(("S", Call("exp", (_zk,))),),
        backward=Mul(_aj, Sub(_gj, Sym("s"))),
        backward_sums=(("s", Mul(_ak, _gk)),),
        jacobian=Mul(_ak, Sub(Sym("delta", "jk"), _aj)),
        shift="m",
        stable_forward=Div(Call("exp", (Sub(_zj, _m),)), Sym("S")),
        stable_sums=(("S", Call("exp", (Sub(_zk, _m),))),),
    ),
)

REGISTERED = (IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTPLUS, ELU, SELU, GELU, SILU,
              SOFTSIGN, HARDTANH, SOFTMAX)

ACTIVATIONS: dict[str, Activation] = {}
for _activation in REGISTERED:
    for _name in (_activation.name, *_activation.aliases):
        ACTIVATIONS[_name] = _activation

ACTIVATION_FUNCTIONS: dict[str, Function] = {}
"""Formula-language functions of the elementwise activations (sigma, relu, gelu, …)."""
for _activation in REGISTERED:
    if _activation.elementwise and not _activation.unchanged:
        _entry = _activation.function_entry()
        for _name in (_activation.symbol, *_activation.formula_names):
            if _name not in FUNCTIONS:
                ACTIVATION_FUNCTIONS[_name] = _entry


def custom(name: str, formula: Expr, where: str = "") -> Activation:
    """An activation defined in a problem file by a formula in z (``{f: z*sigma(z)}``):
    NumPy evaluation of its tree over whole arrays, f′ derived symbolically. ``where``
    prefixes the one-line error for a value the formula does not have (ln of a negative z)."""
    from .calculus import d
    from .errors import BpcalcError
    from .expr import evaluate, to_text

    prime = d(formula, "z")

    def evaluated(tree: Expr, what: str) -> Callable[..., Array]:
        def function(z: Array, **_: float) -> Array:
            array = np.asarray(z, dtype=np.float64)
            with np.errstate(all="ignore"):
                value = np.asarray(evaluate(tree, {"z": array}))
            bad = np.iscomplexobj(value) and np.any(np.imag(value) != 0)
            value = np.broadcast_to(np.real(value) if np.iscomplexobj(value) else value, array.shape)
            if not bad:
                bad = bool(np.any(~np.isfinite(value) & np.isfinite(array)))
            if bad:
                raise BpcalcError(f"{where or name}: {what} {to_text(tree)} has no real value at one of "
                                  "this problem's z (a log or square root of a negative number, or "
                                  "a division by zero)")
            return np.array(value, dtype=np.float64)
        return function

    return Activation(name, evaluated(formula, "the activation"), evaluated(prime, "its derivative"),
                      name, rf"\operatorname{{{name}}}", formula=formula, custom=True)


__all__ = ["Activation", "VectorRule", "ACTIVATIONS", "ACTIVATION_FUNCTIONS", "REGISTERED",
           "custom", "Z", "A"]
