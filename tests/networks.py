"""Random network problems for the property tests (``test_solver.py``, ``test_derivation.py``).

:func:`networks` draws problem documents — the dicts ``Problem.from_dict`` reads — with any
activation and loss, targets the loss accepts, one or several examples, both reductions,
optional biases, leaky-ReLU slopes, ``fixed`` parameters and learning rates. It does not
stay off the kinks (:data:`KINKS`, :func:`off_kinks`) or away from overflow: the tests that
need that ``assume`` it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bpcalc.activations import ACTIVATIONS
from bpcalc.losses import LOSSES

ELEMENTWISE = sorted(n for n, a in ACTIVATIONS.items() if a.elementwise)
OUTPUT_ONLY = sorted(n for n, a in ACTIVATIONS.items() if not a.elementwise)
_PROBE = np.array([[-1000.0, -3.0, -1e-9, 0.0, 1e-9, 3.0, 1000.0]])
# outputs always in [0, 1]: the ones that can feed a cross-entropy
PROBABILITY_OUTPUTS = sorted(n for n, a in ACTIVATIONS.items()
                             if np.all((a(_PROBE, **a.params) >= 0) & (a(_PROBE, **a.params) <= 1)))
LOSS_NAMES = sorted(LOSSES)

# Where a derivative jumps (ReLU at 0, hardtanh at ±1, the L1 loss at a = t), a difference
# quotient straddling the jump means nothing; where the second derivative jumps (ELU and
# softsign at 0, Huber at |a − t| = δ) it is off by h·jump/4, too much for a test at 1e-6.
# The tests that take differences stay clear of both. Found by probing the registries at the
# usual places; test_solver checks that no activation has a jump anywhere else.
KINK_CANDIDATES = (-1.0, 0.0, 1.0)


def _jumps(prime, candidates=KINK_CANDIDATES, h=1e-5) -> tuple[float, ...]:
    def kinked(c: float) -> bool:
        left, middle, right = prime(c - h), prime(c), prime(c + h)
        return abs(prime(c + 1e-9) - prime(c - 1e-9)) > 1e-6 or abs((right - middle) - (middle - left)) > 1e-2 * h
    return tuple(c for c in candidates if kinked(c))


KINKS = {n: _jumps(lambda v, a=a: float(a.prime(np.array([[v]]), **a.params)[0, 0]))
         for n, a in ACTIVATIONS.items() if a.elementwise}
KINKED = {n for n, where in KINKS.items() if where}
# loss -> the residuals a − t where ∂C/∂a jumps
LOSS_KINKS = {n: _jumps(lambda r, l=l: float(l.gradient(np.array([[0.5 + r]]), np.array([[0.5]]))[0, 0]))
              for n, l in LOSSES.items()}


def off_kinks(doc: dict, zs: list, outputs: list, margin: float = 1e-3) -> bool:
    """Is every pre-activation z (``zs[x][l]``) and every output residual a − t (``outputs[x]``
    against the targets) at least ``margin`` from a kink of its activation or loss?"""
    for per_example in zs:
        for layer, z in zip(doc["layers"], per_example):
            if any(abs(v - k) < margin for k in KINKS.get(layer["activation"], ()) for v in z):
                return False
    examples = doc.get("examples") or [{"input": doc["input"], "target": doc["target"]}]
    kinks = LOSS_KINKS[doc.get("loss", "half_squared_error")]
    return not any(abs(a - t - k) < margin for k in kinks
                   for example, row in zip(examples, outputs) for a, t in zip(row, example["target"]))


def needs_probabilities(loss: str) -> bool:
    """The loss (a cross-entropy) only takes outputs and targets in [0, 1]."""
    return LOSSES[loss].domain(np.array([[2.0]]), np.array([[0.5]])) is not None


def finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def networks(draw, *, max_layers: int, max_width: int, max_examples: int) -> dict:
    """A problem document: 1–max_layers layers of width 1–max_width, any loss with valid
    targets, 1–max_examples examples."""
    loss = draw(st.sampled_from(LOSS_NAMES))
    n_layers = draw(st.integers(1, max_layers))
    sizes = [draw(st.integers(1, max_width)) for _ in range(n_layers + 1)]
    if loss == "cross_entropy":          # on one output it drops the (1 − t) term: refused
        sizes[-1] = max(sizes[-1], 2)
    if draw(st.booleans()):
        output = draw(st.sampled_from(PROBABILITY_OUTPUTS))
    else:
        output = draw(st.sampled_from(PROBABILITY_OUTPUTS if needs_probabilities(loss)
                                      else ELEMENTWISE + OUTPUT_ONLY))
    layers = []
    for number in range(1, n_layers + 1):
        n_out, n_in = sizes[number], sizes[number - 1]
        activation = output if number == n_layers else draw(st.sampled_from(ELEMENTWISE))
        layer = {"activation": activation,
                 "weights": draw(st.lists(st.lists(finite(-1.5, 1.5), min_size=n_in, max_size=n_in),
                                          min_size=n_out, max_size=n_out))}
        if draw(st.booleans()):
            layer["bias"] = draw(st.lists(finite(-1.0, 1.0), min_size=n_out, max_size=n_out))
        if "slope" in ACTIVATIONS[activation].params and draw(st.booleans()):
            layer["slope"] = draw(finite(0.0, 0.5))
        fixed = draw(st.sampled_from([None, "weights", "bias", ["weights", "bias"]]))
        if fixed is not None:
            layer["fixed"] = fixed
        layers.append(layer)

    n_examples = draw(st.integers(1, max_examples))
    n_outputs = sizes[-1]
    if needs_probabilities(loss):
        if output == "softmax" and draw(st.booleans()):
            target = st.integers(0, n_outputs - 1).map(lambda k: [float(j == k) for j in range(n_outputs)])
        else:
            target = st.lists(st.one_of(st.sampled_from([0.0, 1.0]), finite(0.0, 1.0)),
                              min_size=n_outputs, max_size=n_outputs)
    else:
        target = st.lists(finite(-2.0, 2.0), min_size=n_outputs, max_size=n_outputs)
    inputs = st.lists(finite(-2.0, 2.0), min_size=sizes[0], max_size=sizes[0])
    examples = [{"input": draw(inputs), "target": draw(target)} for _ in range(n_examples)]
    doc = {"loss": loss, "reduction": draw(st.sampled_from(["mean", "sum"])), "layers": layers}
    if draw(st.booleans()):
        doc["learning_rate"] = draw(finite(0.01, 2.0))
    if n_examples == 1 and draw(st.booleans()):
        doc.update(examples[0])
    else:
        doc["examples"] = examples
    return doc
