"""Symbolic derivatives (:func:`bpcalc.calculus.d`) and simplification, held to the numbers.

* ``d`` against five-point finite differences on random trees drawn with hypothesis: every
  differentiable function of :func:`bpcalc.expr.function_table`, composed, with fan-out (a
  variable, or a whole subtree, used several times), kept inside each function's real
  domain by the argument maps of :data:`DOMAIN` (ln(1 + u²), arcsin(0.9·u/√(1 + u²)), …)
  and, for kinked functions (ReLU, |u|, max, a piecewise condition), sampled only where the
  whole stencil lies on one side of every kink.
* The forms a textbook prints (σ′ = σ(z)·(1 − σ(z)), ∂/∂a ½(a − t)² = a − t, …), as strings.
* ``simplify`` never changes a value: random trees full of 0, 1, −1 and constants evaluated
  before and after at random points.
* The numeric derivative a formula writes (``sigma'(z)``) is the symbolic rule's value and
  the activation's own NumPy f′.

The finite difference is trusted only where it is informative: its error is estimated from
two step sizes (Richardson), and a point where that estimate is large is not used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from bpcalc.activations import ACTIVATIONS
from bpcalc.calculus import d, depends_on, replace, simplify
from bpcalc.errors import FormulaError
from bpcalc.expr import (
    HALF, RELATIONS, Add, Call, Compare, Div, Mul, Neg, Num, Parallel, Partial, Piecewise, Pow,
    Sub, Sum, Sym, evaluate, function_table, symbols, to_unicode,
)
from bpcalc.formula import parse

X, Y, Z, A, T = Sym("x"), Sym("y"), Sym("z"), Sym("a"), Sym("t")
ONE, TWO = Num(1), Num(2)

# A few examples per function, scaled with the profile (conftest.py): ci tries ten times more.
PER_FUNCTION = max(8, settings.default.max_examples // 10)


# ------------------------------------------------------------------ domains
def _square_plus(c: float):
    return lambda u: Add(Num(c), Pow(u, TWO))                    # c + u² ≥ c


def _squash(u):
    """u/√(1 + u²): smooth, strictly inside (−1, 1)."""
    return Div(u, Call("sqrt", (Add(ONE, Pow(u, TWO)),)))


def _scaled_squash(scale: float, shift: float = 0.0):
    def argument(u):
        inner = Mul(Num(scale), _squash(u))
        return Add(Num(shift), inner) if shift else inner
    return argument


def _identity(u):
    return u


# function name -> a map from any real tree u to an argument inside its real domain, where
# it is differentiable (kinks excepted: those are sampled around, see KINKS)
DOMAIN = {
    **{name: _identity for name in (
        "sin", "cos", "tanh", "sech", "arctan", "arccot", "arcsinh", "erf", "erfc", "abs",
        "sign", "sigma", "sigmoid", "softplus", "relu", "leaky_relu", "elu", "selu", "gelu",
        "silu", "softsign", "hardtanh")},
    **{name: _scaled_squash(2.0) for name in ("exp", "sinh", "cosh")},   # no overflow games
    "tan": _squash, "sec": _squash,                                      # |u| < 1 < π/2
    "cot": _scaled_squash(1.0, 1.5), "csc": _scaled_squash(1.0, 1.5),    # in (0.5, 2.5) ⊂ (0, π)
    **{name: _square_plus(1.0) for name in ("sqrt", "ln", "log10", "log2", "coth", "csch",
                                             "arccsch")},
    **{name: _scaled_squash(0.9) for name in ("arcsin", "arccos", "arctanh")},
    **{name: _square_plus(1.5) for name in ("arccosh", "arccoth", "arcsec", "arccsc")},
    "arcsech": _scaled_squash(0.4, 0.5),                                 # in (0.1, 0.9)
}
# defined on both sides of a gap: also tried on the negative side
NEGATIVE_SIDE_TOO = {"arcsec", "arccsc", "arccoth", "coth", "csch", "arccsch"}
TWO_ARGUMENTS = {"max", "min"}
NOT_DIFFERENTIABLE = {"fact", "factorial"}      # integers only
# where a function's derivative (or its second, which a difference stencil also feels) jumps
KINKS = {"abs": (0.0,), "sign": (0.0,), "relu": (0.0,), "leaky_relu": (0.0,), "elu": (0.0,),
         "selu": (0.0,), "softsign": (0.0,), "hardtanh": (-1.0, 1.0)}

DIFFERENTIABLE = sorted(n for n, f in function_table().items() if n not in NOT_DIFFERENTIABLE)


def test_every_differentiable_function_has_a_domain_and_a_rule():
    """A function added to the table without a row here would go untested: fail instead."""
    table = function_table()
    for name in DIFFERENTIABLE:
        spec = table[name]
        assert spec.fdiff is not None or spec.partial is not None, f"{name} has no derivative rule"
        assert name in DOMAIN or name in TWO_ARGUMENTS, f"add {name}'s real domain to DOMAIN"
    for name in NOT_DIFFERENTIABLE:
        with pytest.raises(FormulaError):
            d(Call(name, (X,)), "x")


def _call(name: str, u, v, negative: bool):
    if name in TWO_ARGUMENTS:
        return Call(name, (u, v))
    argument = DOMAIN[name](u)
    if negative and name in NEGATIVE_SIDE_TOO:
        argument = Neg(argument)
    return Call(name, (argument,))


# ------------------------------------------------------------------ random trees
LEAVES = st.sampled_from([X, X, Y, Y, Num(2), Num(0.5), Num(-3), Num(1)])


def _grow(children):
    return st.one_of(
        st.builds(Add, children, children),
        st.builds(Sub, children, children),
        st.builds(Mul, children, children),
        st.builds(lambda u, v: Div(u, Add(ONE, Pow(v, TWO))), children, children),
        st.builds(lambda u, v: Div(u, v), children, st.sampled_from([Num(2), Num(-4), Num(0.5)])),
        st.builds(Neg, children),
        st.builds(lambda u, n: Pow(u, Num(n)), children, st.integers(0, 3)),
        st.builds(lambda u, v: Pow(_square_plus(1.0)(u), _squash(v)), children, children),
        st.builds(lambda u, v: Parallel(_square_plus(1.0)(u), _square_plus(0.5)(v)), children, children),
        st.builds(lambda u: Mul(u, Call("sin", (u,))), children),         # one subtree, used twice
        st.builds(lambda c, u, v, rel: Piecewise(((u, Compare(c, rel, Num(0))), (v, None))),
                  children, children, children, st.sampled_from([">", "<", "≥", "≤"])),
        st.builds(_call, st.sampled_from(DIFFERENTIABLE), children, children, st.booleans()),
    )


TREES = st.recursive(LEAVES, _grow, max_leaves=16)
SEEDS = st.integers(0, 2 ** 32 - 1)


# ------------------------------------------------------------------ the numeric check
def _kinked_arguments(tree):
    """(argument tree, kink positions) for every place the tree's smoothness breaks."""
    from bpcalc.expr import _children

    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.name in KINKS:
            found.append((node.args[0], KINKS[node.name]))
        elif isinstance(node, Call) and node.name in TWO_ARGUMENTS:
            found.append((Sub(node.args[0], node.args[1]), (0.0,)))
        elif isinstance(node, Piecewise):
            found.extend((Sub(c.left, c.right), (0.0,)) for _, c in node.pieces if c is not None)
        stack.extend(_children(node))
    return found


STENCIL = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
WEIGHTS = np.array([1.0, -8.0, 0.0, 8.0, -1.0]) / 12.0


def _values(tree, env):
    with np.errstate(all="ignore"):
        return np.asarray(evaluate(tree, env))


def _check_against_differences(tree, variable: str, seed: int, minimum_points: int | None = None) -> int:
    """Assert d(tree)/d(variable) matches the five-point stencil at random points on smooth
    ground; returns how many points were informative. Inside a hypothesis test (no
    ``minimum_points``) an example without one informative point is rejected; outside, fewer
    than ``minimum_points`` fail."""
    rng = np.random.default_rng(seed)
    points = 24
    others = {name: rng.uniform(-2, 2, size=points) for name in ("x", "y") if name != variable}
    at = rng.uniform(-2, 2, size=points)
    derivative = d(tree, variable)
    if minimum_points is None:
        note(f"tree: {to_unicode(tree)}")
        note(f"d/d{variable}: {to_unicode(derivative)}")

    def stencil(h):
        grid = at[None, :] + h * STENCIL[:, None]                       # (5, points)
        env = {variable: grid, **{k: np.broadcast_to(v, grid.shape) for k, v in others.items()}}
        return grid, env

    usable = np.ones(points, dtype=bool)
    estimates = []
    for h in (1e-3, 2e-3):
        grid, env = stencil(h)
        f = np.broadcast_to(_values(tree, env), grid.shape)
        usable &= np.isfinite(f).all(axis=0) & (np.abs(f) < 1e6).all(axis=0) & ~np.iscomplex(f).any(axis=0)
        for argument, kinks in _kinked_arguments(tree):
            side = np.broadcast_to(np.real(_values(argument, env)), grid.shape)
            for kink in kinks:
                signs = np.sign(side - kink)
                usable &= (signs != 0).all(axis=0) & (signs == signs[0]).all(axis=0)
        estimates.append(np.real(WEIGHTS @ np.where(np.isfinite(f), f, 0.0)) / h)
    fd, coarse = estimates
    analytic = np.broadcast_to(_values(derivative, {variable: at, **others}), at.shape)
    usable &= np.isfinite(analytic) & ~np.iscomplex(analytic)
    error = np.abs(coarse - fd) / 15.0                                  # Richardson: fd's own error
    usable &= error <= 1e-4 * (1.0 + np.abs(fd))
    if minimum_points is None:
        assume(usable.any())
    else:
        assert usable.sum() >= minimum_points, f"only {usable.sum()} informative points"
    analytic, fd, error = np.real(analytic[usable]), fd[usable], error[usable]
    bound = 1e-7 * (1.0 + np.abs(fd)) + 20.0 * error
    wrong = np.abs(analytic - fd) > bound
    assert not wrong.any(), (
        f"d/d{variable} of {to_unicode(tree)} = {to_unicode(derivative)}: at {variable} = "
        f"{at[usable][wrong]} it gives {analytic[wrong]}, the differences {fd[wrong]}")
    return int(usable.sum())


@settings(max_examples=PER_FUNCTION)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(u=TREES, v=TREES, negative=st.booleans(), seed=SEEDS)
def test_every_function_composed_matches_finite_differences(name, u, v, negative, seed):
    """f(g(x, y))·h(x, y) + f(g): the chain rule, the product rule and fan-out for every f."""
    call = _call(name, u, v, negative)
    tree = Add(Mul(call, v), call)
    assume("x" in symbols(tree))
    _check_against_differences(tree, "x", seed)


@given(tree=TREES, seed=SEEDS, variable=st.sampled_from(["x", "y"]))
def test_random_trees_match_finite_differences(tree, seed, variable):
    assume(variable in symbols(tree))
    _check_against_differences(tree, variable, seed)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_each_function_alone_matches_finite_differences(name):
    """No hypothesis luck needed: f(x) (and f(x, y) for max/min) on a fixed grid."""
    tree = _call(name, X, Y, negative=False)
    assert _check_against_differences(tree, "x", seed=7, minimum_points=12) >= 12
    if name in NEGATIVE_SIDE_TOO:
        assert _check_against_differences(_call(name, X, Y, negative=True), "x", 8, 12) >= 12


# ------------------------------------------------------------------ textbook forms
TEXTBOOK = [
    (Call("sigma", (Z,)), "z", "σ(z)·(1 − σ(z))"),
    (Call("tanh", (Z,)), "z", "1 − tanh(z)²"),
    (Mul(HALF, Pow(Sub(A, T), TWO)), "a", "a − t"),
    (Div(Pow(Sub(A, T), TWO), TWO), "a", "a − t"),
    (Mul(Num(0.5), Pow(Sub(A, T), TWO)), "a", "a − t"),
    (Pow(Sub(A, T), TWO), "a", "2·(a − t)"),
    (Neg(Mul(T, Call("ln", (A,)))), "a", "−t/a"),
    (Neg(Add(Mul(T, Call("ln", (A,))), Mul(Sub(ONE, T), Call("ln", (Sub(ONE, A),))))), "a",
     "(1 − t)/(1 − a) − t/a"),
    (Mul(Add(X, Y), Z), "x", "z"),
    (Mul(X, Y), "x", "y"),
    (Add(Mul(Num(0), X), Mul(ONE, Y)), "y", "1"),                       # 0 and 1 factors vanish
    (Mul(Mul(TWO, X), Num(3)), "x", "6"),                               # constants fold
    (Div(Div(Pow(X, TWO), TWO), Num(3)), "x", "x/3"),
    (Mul(Num(3), Pow(X, TWO)), "x", "6·x"),
    (Pow(Add(Mul(TWO, X), ONE), Num(3)), "x", "6·(2·x + 1)²"),
    (Call("exp", (Mul(TWO, X),)), "x", "2·exp(2·x)"),
    (Call("ln", (Add(Pow(X, TWO), ONE),)), "x", "2·x/(x² + 1)"),
    (Call("sqrt", (Add(Pow(X, TWO), ONE),)), "x", "x/√(x² + 1)"),
    (Div(ONE, X), "x", "−1/x²"),
    (Div(X, Y), "y", "−x/y²"),
    (Pow(Sym("e"), X), "x", "eˣ"),                                      # e is Euler's number
    (Call("ln", (Call("sigma", (Z,)),)), "z", "1 − σ(z)"),              # log-sigmoid
    (Call("sigma", (Add(Mul(Sym("w"), X), Sym("b")),)), "w", "σ(w·x + b)·(1 − σ(w·x + b))·x"),
    (Mul(Z, Call("sigma", (Z,))), "z", "σ(z) + z·σ(z)·(1 − σ(z))"),
    (Call("relu", (Z,)), "z", "1 for z > 0, 0 otherwise"),
    (Call("abs", (Sub(A, T),)), "a", "sign(a − t)"),
    (Div(Pow(Sub(A, T), Num(4)), Num(4)), "a", "(a − t)³"),
    (Sum(Mul(HALF, Pow(Sub(Sym("a", "j"), Sym("t", "j")), TWO)), "j"), "a_j", "aⱼ − tⱼ"),
    (Sum(Mul(Sym("w", "jk"), Sym("a", "k")), "k"), "w_jk", "aₖ"),
    (Sum(Mul(Sym("w"), Sym("x", "j")), "j"), "w", "Σⱼ xⱼ"),            # w is shared by every term
]


@pytest.mark.parametrize("tree, variable, expected", TEXTBOOK, ids=[e for _, _, e in TEXTBOOK])
def test_textbook_forms(tree, variable, expected):
    assert to_unicode(d(tree, variable)) == expected


def test_textbook_forms_from_formulas():
    """The same, from what a student types (and with the variable of another name)."""
    assert to_unicode(d(parse("sigma(z)"), "z")) == "σ(z)·(1 − σ(z))"
    assert to_unicode(d(parse("tanh(z)"), "z")) == "1 − tanh(z)²"
    assert to_unicode(d(parse("1/2*(a - t)^2"), "a")) == "a − t"
    assert to_unicode(d(parse("-t*ln(a)"), "a")) == "−t/a"
    assert to_unicode(d(parse("-(t*ln(a) + (1 - t)*ln(1 - a))"), "a")) == "(1 − t)/(1 − a) − t/a"
    assert to_unicode(d(parse("(x + y)*z"), "x")) == "z"
    assert to_unicode(d(parse("(x + y)*z"), "y")) == "z"
    assert to_unicode(d(parse("(x + y)*z"), "z")) == "x + y"
    assert to_unicode(d(parse("(x + y)*z"), "w")) == "0"


def test_higher_derivatives_of_a_call():
    """d of σ′(z) is σ″(z): the rule differentiated again, checked by differences."""
    second = d(Call("sigma", (Z,), 1), "z")
    z = np.linspace(-4, 4, 9)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(evaluate(second, {"z": z}), s * (1 - s) * (1 - 2 * s), rtol=1e-12, atol=1e-15)


def test_what_cannot_be_differentiated_says_so():
    with pytest.raises(FormulaError, match="no derivative of fact"):
        d(Call("fact", (X,)), "x")
    with pytest.raises(FormulaError, match="no derivative of mystery"):
        d(Call("mystery", (X,)), "x")
    with pytest.raises(FormulaError, match="Partial"):
        d(Partial(Sym("C"), X), "x")
    with pytest.raises(FormulaError, match="two arguments"):
        d(Call("max", (X, Y, Z)), "x")
    assert d(Call("fact", (Y,)), "x") == Num(0)                           # constant in x: fine


def test_depends_on_and_replace():
    tree = Mul(Call("sigma", (Z,)), Sub(ONE, Call("sigma", (Z,))))
    assert depends_on(tree, "z") and not depends_on(tree, "a")
    assert to_unicode(replace(tree, {Call("sigma", (Z,)): A})) == "a·(1 − a)"
    assert replace(tree, {Sym("q"): A}) is tree                          # nothing to replace: same object


# ------------------------------------------------------------------ simplify keeps values
SIMPLE_LEAVES = st.sampled_from([X, Y, Num(0), Num(1), Num(-1), Num(2), Num(3), Num(0.5), Num(-0.0),
                                 Num(-2.5), Neg(Num(1)), Neg(X)])


def _simplifiable(children):
    constant = st.sampled_from([Num(0), Num(1), Num(2), Num(3), Num(-1), Num(0.5), Num(1.5), Num(-2)])
    return st.one_of(
        st.builds(Add, children, children),
        st.builds(Sub, children, children),
        st.builds(Mul, children, children),
        st.builds(Div, children, children),
        st.builds(Neg, children),
        st.builds(Pow, children, constant),
        st.builds(lambda u, m, n: Pow(Pow(u, m), n), children, constant, constant),
        st.builds(lambda u: Mul(u, u), children),
        st.builds(lambda u: Div(u, u), children),
        st.builds(lambda u: Sub(u, u), children),
        st.builds(lambda u: Add(u, u), children),
        st.builds(lambda u, f: Call(f, (u,)), children,
                  st.sampled_from(["sigma", "exp", "ln", "sin", "tanh", "abs", "sqrt", "relu"])),
        st.builds(lambda u, v, w, c, rel: Piecewise(((u, Compare(w, rel, c)), (v, None))),
                  children, children, children, st.one_of(constant, children), st.sampled_from(RELATIONS)),
    )


SIMPLE_TREES = st.recursive(SIMPLE_LEAVES, _simplifiable, max_leaves=10)


def _subtrees(tree):
    from bpcalc.expr import _children

    stack, out = [tree], []
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(_children(node))
    return out


def _scale(trees, env, shape):
    """(the largest magnitude any subtree reaches, where every subtree is finite): rounding
    errors are relative to the first; the second is where a tree is defined all through."""
    scale, finite = np.ones(shape), np.ones(shape, dtype=bool)
    for tree in trees:
        for node in _subtrees(tree):
            try:
                value = np.broadcast_to(_values(node, env), shape)
            except FormulaError:
                finite[:] = False
                continue
            # Real values only: derivations are of real formulas, and a complex intermediate
            # (x^0.5 at x < 0) makes the branch of a later power depend on a signed zero.
            ok = np.isfinite(value) & (np.imag(value) == 0)
            finite &= ok
            scale = np.fmax(scale, np.where(ok, np.abs(value), 0.0))
    return scale, finite


@given(tree=SIMPLE_TREES, seed=SEEDS)
def test_simplify_never_changes_a_value(tree, seed):
    """Wherever the tree and each of its parts has a finite real value, its simplified form
    has the same one. (It may be defined where the tree was not: x/x is 1 even at 0, as a
    textbook cancels it, and so a condition x/x > 0 holds there too.)"""
    simpler = simplify(tree)
    note(f"{to_unicode(tree)}  ->  {to_unicode(simpler)}")
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.uniform(-3, 3, 12), [0.0, 1.0, -1.0, 2.0]])
    env = {"x": points, "y": rng.permutation(points)}
    scale, defined = _scale([tree], env, points.shape)
    assume(defined.any())
    before = np.broadcast_to(_values(tree, env), points.shape)
    after = np.broadcast_to(_values(simpler, env), points.shape)
    tolerance = 1e-12 * np.fmax(scale, _scale([simpler], env, points.shape)[0])
    with np.errstate(invalid="ignore"):
        wrong = defined & ~(np.abs(after - before) <= tolerance)
    assert not wrong.any(), (f"{to_unicode(tree)} = {before[wrong]} but simplified "
                             f"{to_unicode(simpler)} = {after[wrong]} at x = {points[wrong]}")


@given(tree=SIMPLE_TREES, seed=SEEDS)
def test_derivative_of_the_simplified_tree_has_the_same_values(tree, seed):
    """Differentiating before or after simplifying gives the same function."""
    assume("x" in symbols(tree))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, 16)
    env = {"x": x, "y": rng.uniform(-3, 3, 16)}
    try:
        first = np.broadcast_to(_values(d(tree, "x"), env), x.shape)
        second = np.broadcast_to(_values(d(simplify(tree), "x"), env), x.shape)
    except FormulaError:
        assume(False)
    scale, both = _scale([tree, d(tree, "x"), d(simplify(tree), "x")], env, x.shape)
    with np.errstate(invalid="ignore"):
        assert (np.abs(first - second)[both] <= 1e-9 * scale[both]).all()


def test_simplify_rules_by_example():
    cases = [
        (Mul(ONE, X), "x"), (Mul(X, Num(0)), "0"), (Add(Num(0), X), "x"), (Sub(X, X), "0"),
        (Neg(Neg(X)), "x"), (Neg(Sub(X, Y)), "y − x"), (Add(X, Neg(Y)), "x − y"),
        (Mul(X, Num(2)), "2·x"), (Mul(TWO, Mul(Num(3), X)), "6·x"), (Div(Mul(Num(6), X), Num(3)), "2·x"),
        (Div(Mul(Num(6), X), Mul(Num(4), Y)), "3·x/(2·y)"), (Div(Num(3), Num(4)), "3/4"),
        (Div(Num(6), Num(4)), "3/2"),
        (Div(X, X), "1"), (Div(Div(X, Y), Z), "x/(y·z)"), (Pow(X, Num(0)), "1"), (Pow(X, ONE), "x"),
        (Pow(Pow(X, TWO), Num(3)), "x⁶"), (Pow(Num(2), Num(10)), "1024"),
        (Piecewise(((X, Compare(ONE, ">", Num(0))), (Y, None))), "x"),
        (Piecewise(((X, Compare(Num(-1), ">", Num(0))), (Y, None))), "y"),
        (Piecewise(((X, Compare(Y, ">", Num(0))), (X, None))), "x"),
        (Sum(Neg(X), "j"), "−Σⱼ x"), (Sum(Mul(TWO, Sym("a", "j")), "j"), "2·Σⱼ aⱼ"),
    ]
    for tree, expected in cases:
        assert to_unicode(simplify(tree)) == expected, to_unicode(tree)


def test_a_power_of_a_power_is_merged_only_where_that_is_true():
    """(x²)^½ is |x|, not x: merging exponents holds for an integer outer exponent only."""
    root_of_square = Pow(Pow(X, TWO), Num(0.5))
    assert evaluate(simplify(root_of_square), {"x": -2.0}) == pytest.approx(2.0)
    assert to_unicode(simplify(Pow(Pow(X, Num(0.5)), TWO))) == "x"
    assert to_unicode(simplify(Pow(Pow(X, Num(3)), TWO))) == "x⁶"


# ------------------------------------------------------------------ f′ in formulas
ACTIVATION_FUNCTIONS = sorted(n for n, f in function_table().items() if f.fdiff is not None
                              and any(a.symbol == n or n in a.formula_names for a in ACTIVATIONS.values()))


@pytest.mark.parametrize("name", sorted(n for n, f in function_table().items() if f.fdiff is not None))
def test_numeric_derivative_in_a_formula_is_the_symbolic_rule(name):
    """``name'(z)`` in a formula evaluates the same rule that d writes out."""
    z = np.asarray(_values(DOMAIN[name](Z), {"z": np.linspace(-1.9, 1.9, 9)}), dtype=float)
    numeric = np.broadcast_to(_values(parse(f"{name}'(z)"), {"z": z}), z.shape)
    symbolic = np.broadcast_to(_values(d(Call(name, (Z,)), "z"), {"z": z}), z.shape)
    np.testing.assert_allclose(numeric, symbolic, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", ACTIVATION_FUNCTIONS)
def test_numeric_derivative_of_an_activation_is_its_numpy_derivative(name):
    """sigma'(z), relu'(z), gelu'(z) … in a formula: the activation's own f′ (kinks included:
    relu'(0) = 0, hardtanh'(±1) = 0, as in PyTorch)."""
    activation = next(a for a in ACTIVATIONS.values() if a.symbol == name or name in a.formula_names)
    z = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    in_formula = np.broadcast_to(evaluate(parse(f"{name}'(z)"), {"z": z}), z.shape)
    np.testing.assert_allclose(in_formula, activation.prime(z, **activation.params), rtol=1e-14, atol=1e-300)
    for point in z:                                            # one number at a time, too
        assert evaluate(parse(f"{name}'({float(point)!r})")) == pytest.approx(
            float(activation.prime(np.array(point), **activation.params)), rel=1e-14, abs=1e-300)


def test_the_registry_symbols_are_plain_python_numbers():
    """A rule evaluated at a Python float gives a Python/NumPy scalar, not a 0-d array surprise."""
    value = evaluate(parse("sigma'(0)"))
    assert value == 0.25 and np.ndim(value) == 0
    assert math.isclose(evaluate(parse("gelu'(0)")), 0.5, rel_tol=1e-15)
