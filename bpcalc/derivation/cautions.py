"""Warnings where the numbers teach something: a saturated activation, a dead neuron, a δ
that vanishes or explodes across the layers.

Which activation can saturate is a fact of its registry entry (``saturates``); a neuron is
dead where its f′ is exactly 0. So the warnings name no activation: they read the entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..expr import Num
from ..numbers import format_number
from .equations import Builder
from .model import Caution, equation

SATURATED = 0.02                   # f′ below this: a saturated activation
VANISHING, EXPLODING = 1e-2, 1e2   # ratio of max |δ| between the first layer and the output


def cautions(b: Builder) -> list[Caution]:
    """The warnings of a built derivation, grouped when many neurons of a layer share one."""
    found = list(_neurons(b)) + list(_across_layers(b))
    groups: dict[tuple[str, int | None], list[Caution]] = {}
    for caution in found:
        groups.setdefault((caution.kind, caution.layer), []).append(caution)
    out: list[Caution] = []
    for (kind, layer), group in groups.items():
        if len(group) <= 3 or kind not in ("saturated", "dead"):
            out.extend(group)
            continue
        neurons = ", ".join(str(c.neuron + 1) for c in group[:12]) + (" …" if len(group) > 12 else "")
        size = b.p.layers[layer - 1].size
        what = ("have a saturated activation (f′ < " + format_number(SATURATED) + ")"
                if kind == "saturated" else "are dead (f′(z) = 0, so δ = 0)")
        always = sum(len(c.examples) == b.n for c in group)
        where = "" if not b.multi else (
            " in every example" if always == len(group) else
            f" in at least one example ({always} of them in every example)")
        examples = sorted({x for c in group for x in c.examples})
        out.append(Caution(kind, (
            f"{len(group)} of the {size} neurons of layer {layer} {what}{where}: neurons {neurons}. "
            + ("Gradients through them are scaled down to almost nothing." if kind == "saturated" else
               "The weights into them get no gradient there, and nothing flows back through them."),),
            group[0].step, layer, None, tuple(examples)))
    return out


def _number(b: Builder, value: float) -> Num:
    from .arithmetic import shown

    return Num(float(value), text=shown(value, b.digits))


def _neurons(b: Builder) -> Any:
    names = b.names
    fused = b.p.loss.fused.get(b.p.layers[-1].activation.name) is not None
    for l, (layer, result) in enumerate(zip(b.p.layers, b.s.layers), start=1):
        activation = layer.activation
        if not activation.elementwise:
            continue
        prime = activation.prime(result.z, **layer.params)
        for j in range(layer.size):
            z = result.z[:, j]
            if activation.saturates and not (fused and l == b.L):
                bad = [x for x in range(b.n) if 0 < prime[x, j] < SATURATED]
                if bad:
                    x = min(bad, key=lambda e: prime[e, j])
                    fn = activation.call(names.z(l, j), 1)
                    yield Caution(
                        "saturated",
                        (f"saturated {activation.name}: ", equation(names.z(l, j), _number(b, z[x])), " gives ",
                         equation(fn, _number(b, prime[x, j]), relations=("≈",)),
                         _where(b, x, bad, "f′ < " + format_number(SATURATED)),
                         ". Every gradient through this neuron is multiplied by this tiny slope, "
                         "so it learns slowly: the larger |z|, the flatter the curve."),
                        _anchor(b, l, j, [x]), l, j, tuple(bad))
            dead = [x for x in range(b.n) if prime[x, j] == 0]
            if dead and activation.prime_formula() != Num(0):
                x = dead[0]
                incoming = list(layer.weight_names[j]) + (
                    [layer.bias_names[j]] if layer.bias_names is not None else [])
                if len(incoming) > 6:
                    incoming = [*incoming[:3], "…", incoming[-1], f"({len(incoming)} parameters)"]
                fn = activation.call(names.z(l, j), 1)
                _, decided = b.prime_forms(l, names.z(l, j), names.a(l, j))
                condition: Any = equation(names.z(l, j), _number(b, z[x]))
                if decided:
                    bound = decided[0].right
                    relation = "<" if z[x] < float(getattr(bound, "value", 0.0)) else (
                        ">" if z[x] > float(getattr(bound, "value", 0.0)) else "=")
                    condition = equation(names.z(l, j), _number(b, z[x]), bound, relations=("=", relation))
                yield Caution(
                    "dead",
                    ("dead neuron: ", condition, _where(b, x, dead, "f′ = 0"), ", so ",
                     equation(fn, Num(0)), " and ", equation(names.delta(l, j), Num(0)),
                     f": the gradients of {', '.join(incoming).replace('…,', '…')} get nothing from "
                     + ("this example" if b.multi and len(dead) < b.n else "it")
                     + ", and nothing flows back through this neuron to the layers before it."),
                    _anchor(b, l, j, [x]), l, j, tuple(dead))


def _across_layers(b: Builder) -> Any:
    if b.L < 3:            # with two layers a small ratio is one saturated neuron, warned above
        return
    peaks = [float(np.max(np.abs(r.delta))) for r in b.s.layers]
    top, bottom = peaks[-1], peaks[0]
    if top <= 0 or bottom <= 0:
        return
    ratio = bottom / top
    kind = "vanishing" if ratio < VANISHING else "exploding" if ratio > EXPLODING else None
    if kind is None:
        return
    per_layer = ratio ** (1.0 / (b.L - 1))
    yield Caution(
        kind,
        (f"{kind} gradient: the largest |δ| goes from {format_number(top, b.digits)} "
         f"in the output layer to {format_number(bottom, b.digits)} in layer 1, "
         f"a factor of about {format_number(per_layer, 2)} per layer. "
         + ("The first layers barely learn: each layer multiplies δ by its weights and by f′(z), "
            "which is small where an activation saturates."
            if kind == "vanishing" else
            "The first layers get huge updates: large weights (and f′ near 1) multiply "
            "δ at every layer; a smaller learning rate or smaller weights help.")),
        b.delta_step.get((1, 0)), 1)


def _where(b: Builder, x: int, which: list[int], condition: str) -> str:
    """For a batch: in which example, and whether the others share the condition."""
    if not b.multi:
        return ""
    text = f" in example {x + 1}"
    if len(which) == b.n:
        return text + f" ({condition} in every example)"
    if len(which) > 1:
        return text + f" ({condition} also in example{'s' if len(which) > 2 else ''} " + ", ".join(
            str(e + 1) for e in which if e != x) + ")"
    return text


def _anchor(b: Builder, l: int, j: int, examples: list[int]) -> int | None:
    for x in examples:
        if (l, j, x) in b.fprime_step:
            return b.fprime_step[(l, j, x)]
    for x in examples:
        if (l, x) in b.delta_step:
            return b.delta_step[(l, x)]
    return None
