"""The equations of back-propagation, step by step: forward pass, BP1, BP2, BP3/BP4, the
mean over examples and the SGD update, and the chain of one parameter (``--param``).

Every step is built the same way (:meth:`Builder.add`): a general form in the course's
notation, written once in vector form and turned into scalar entries by
:meth:`~bpcalc.derivation.notation.Names.entry`; the substituted form is the general form
with the quantities already computed put in (:func:`~bpcalc.derivation.arithmetic.put_in`),
its digits chosen so the arithmetic can be redone by hand, and checked against the
solver's value. What an activation or a loss contributes (f, f′, the shortcut through a,
∂C/∂a, a fused δ^L, the forms of an activation that couples its neurons) comes from its
registry entry: this module
knows none of them by name.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ..calculus import simplify
from ..expr import (
    Add, Call, Div, Expr, Hadamard, MatMul, Mul, Neg, Num, Partial, Pow, Sub, Sum, Sym, Transpose, evaluate,
    bottom_up, function_table, nodes, substitute, symbols,
)
from ..numbers import format_number
from ..problem import Problem
from ..solver import Parameter, Solution
from .arithmetic import MAX_SUBSTITUTED, choose_pieces, put_in, shown
from .model import Caution, Derivation, Math, Prose, equation
from .steps import StepBuilder, holds
from .steps import fold as _fold
from .notation import Names, TooManyTerms

SCALAR_WIDTH = 5            # scalars are on by default when no layer is wider than this
MAX_TERMS = 12              # terms of a sum written out (neurons, examples, outputs)

_PLURAL = {"weights": "weights", "bias": "biases"}
ETA = Sym("eta")
LAMBDA = Sym("lambda")


def layer_parameters(problem: Problem, solution: Solution, l: int) -> list[Parameter]:
    """The parameters of layer l (1-based), built only for that layer."""
    layer, result = problem.layers[l - 1], solution.layers[l - 1]
    out: list[Parameter] = []
    fixed_w, fixed_b = "weights" in layer.fixed, "bias" in layer.fixed
    names = layer.weight_names.flat()
    columns = layer.weights.shape[1]
    for flat, (name, value, gradient) in enumerate(zip(names, layer.weights.ravel().tolist(),
                                                       result.dC_dw.ravel().tolist())):
        updated = None if result.w_updated is None else float(result.w_updated.ravel()[flat])
        out.append(Parameter(name, l, "weights", divmod(flat, columns), value, gradient, updated, fixed_w))
    if layer.bias is not None:
        for j, name in enumerate(layer.bias_names.flat()):
            updated = None if result.b_updated is None else float(result.b_updated[j])
            out.append(Parameter(name, l, "bias", (j,), float(layer.bias[j]), float(result.dC_db[j]),
                                 updated, fixed_b))
    return out


class Builder(StepBuilder):
    """Builds the steps of one layered network's derivation, remembering what a student
    already knows."""

    def __init__(self, problem: Problem, solution: Solution, names: Names, digits: int,
                 scalars: bool, vectors: bool = True) -> None:
        super().__init__(digits, scalars)
        self.p, self.s, self.names = problem, solution, names
        self.vectors = vectors
        self.L = len(problem.layers)
        self.n = len(problem.inputs)
        self.multi = self.n > 1
        self.fprime_step: dict[tuple[int, int, int], int] = {}   # (layer, neuron, example)
        self.delta_step: dict[tuple[int, int], int] = {}          # (layer, example)
        self.param_mode = False
        self.functions = function_table()
        self._parameters: dict[int, list[Parameter]] = {}
        self.penalty: tuple[Problem, Solution] | None = None   # regularized: (problem, solution)
        self.penalised_keys: set[str] = set()                 # C₀'s values, not the solution's
        self.coupled_sums: dict[int, dict[str, Sym]] = {}     # layer -> the sums of its coupled activation
        # What a student knows: the parameters and η throughout, and per example its own
        # input, target and everything computed from them so far.
        self.known: dict[Expr, Any] = {}
        self.known_example: dict[Expr, Any] = {}
        for l, layer in enumerate(problem.layers, start=1):
            self.known[names.w(l)] = layer.weights
            if layer.bias is not None:
                self.known[names.b(l)] = layer.bias
        if problem.learning_rate is not None:
            self.known[ETA] = problem.learning_rate

    # -- knowledge ------------------------------------------------------------------------
    def lookup(self, node: Expr) -> Any:
        """The value of a quantity computed so far, or None. An entry symbol is looked up
        in its vector first (with one neuron, x may name both the vector and its entry)."""
        located = self.names.locate(node)
        if located is not None:
            vector, index = located
            for table in (self.known_example, self.known):
                if vector in table and np.ndim(table[vector]) == len(index):
                    return table[vector][index]
        for table in (self.known_example, self.known):
            if node in table:
                return table[node]
        return None

    def start_example(self, x: int) -> None:
        self.known_example = {self.names.x(): self.p.inputs[x], self.names.t(): self.p.targets[x]}

    def learn(self, lhs: Expr, value: Any, everywhere: bool = False) -> None:
        """``lhs`` now has ``value`` (a vector's entries too, when they cannot be located)."""
        if value is None:
            return
        table = self.known if everywhere else self.known_example
        table[lhs] = value
        if np.ndim(value) == 1 and isinstance(lhs, (Partial, Call)):
            for j, entry in enumerate(np.ravel(value)):
                table[self.names.entry(lhs, (j,))] = float(entry)

    # -- plumbing -------------------------------------------------------------------------
    def begin(self, name: str, x: int | None = None) -> None:
        super().begin(f"{name}, example {x + 1}" if x is not None and self.multi else name)

    def layer_forms(self, l: int) -> tuple[bool, bool]:
        """(vector form, scalar entries) for layer l. For --param a small layer is written
        entry by entry and a wide one only as vectors."""
        layer = self.p.layers[l - 1]
        if self.param_mode:
            wide = max(layer.size, layer.weights.shape[1]) > SCALAR_WIDTH and not self.names.chain
            return wide and layer.size > 1, not wide or layer.size == 1
        return layer.size > 1 and self.vectors, layer.size == 1 or self.scalars or not self.vectors

    def key(self, name: str, l: int, x: int, *index: int) -> str:
        key = f"layers[{l}].{name}"
        if not self.p.single:
            key += f"[{x}]"
        return key + "".join(f"[{i}]" for i in index)

    def a_values(self, l: int, x: int) -> np.ndarray:
        return self.p.inputs[x] if l == 0 else self.s.layers[l - 1].a[x]

    def layer_word(self, l: int) -> str:
        return f"layer {l}" + (" (output)" if l == self.L and self.L > 1 else "")

    def neuron_word(self, l: int, j: int) -> str:
        return f", neuron {j + 1}" if self.p.layers[l - 1].size > 1 else ""

    def ex(self, x: int) -> int | None:
        return x if self.multi else None

    def parameters(self, l: int) -> list[Parameter]:
        if l not in self._parameters:
            self._parameters[l] = layer_parameters(self.p, self.s, l)
        return self._parameters[l]

    def entry(self, tree: Expr, index: tuple[int, ...]) -> Expr | None:
        try:
            return self.names.entry(tree, index)
        except TooManyTerms:
            return None

    # -- activations ----------------------------------------------------------------------
    def callable(self, l: int) -> bool:
        """Can f of layer l be written as its own call with numbers (σ(−1.15))? Yes for
        a function the formula language knows, at its usual parameters."""
        layer = self.p.layers[l - 1]
        activation = layer.activation
        return (activation.symbol in self.functions and not activation.custom
                and dict(layer.params) == dict(activation.params))

    def f_forms(self, l: int, z: Expr) -> tuple[Expr | None, Expr]:
        """(the call, when written out after it; the general form) of a = f(z)."""
        layer = self.p.layers[l - 1]
        activation = layer.activation
        if activation.unchanged:
            return None, z
        if self.callable(l):
            return None, activation.call(z)
        general, _ = choose_pieces(activation.defining(z, layer.params, numbers=True), self.lookup)
        return activation.call(z), general

    def prime_forms(self, l: int, z: Expr, a: Expr) -> tuple[Expr | None, list[Any]]:
        """The general form of f′(z) (None: the call f′(z) itself says it all) and the
        conditions that chose a piece of a piecewise f′, for a note."""
        from ..expr import Piecewise

        layer = self.p.layers[l - 1]
        activation = layer.activation
        through = activation.through_output(a, z)
        if through is not None:
            return through, []
        formula = activation.prime_formula(z, layer.params, numbers=True)
        chosen, decided = choose_pieces(formula, self.lookup)
        if any(isinstance(node, Piecewise) for node in nodes(chosen)):
            return None, decided                 # a vector whose entries take different pieces
        if not _symbols(chosen) and self.callable(l):
            return None, decided                 # f′(0.03) = 1 says it better than "1"
        return chosen, decided

    def template(self, l: int, general: Expr | None, call: Expr) -> tuple[Expr | None, bool]:
        """What a step's numbers are put into, and whether there are numbers at all: the
        general form, or the call itself where the formula language can evaluate it."""
        if general is not None:
            return general, True
        return (call, True) if self.callable(l) else (None, False)

    # -- forward --------------------------------------------------------------------------
    def forward(self, x: int, cost: bool = True) -> None:
        names = self.names
        self.start_example(x)
        for l, (layer, result) in enumerate(zip(self.p.layers, self.s.layers), start=1):
            self.begin("Forward pass", x)
            vector, scalar = self.layer_forms(l)
            general: Expr = MatMul(names.w(l), names.a(l - 1))
            if layer.bias is not None:
                general = Add(general, names.b(l))
            if vector:
                self.add(f"weighted inputs, {self.layer_word(l)}", names.z(l), general, result.z[x],
                         "forward", key=self.key("z", l, x))
            if scalar:
                width = layer.weights.shape[1]
                for j in range(layer.size):
                    entry = self.entry(general, (j,))
                    note = None if entry is not None else (
                        f"the sum of the {width} products of a weight and an input of this neuron"
                        + (", plus its bias" if layer.bias is not None else ""),)
                    self.add(f"weighted input, {self.layer_word(l)}{self.neuron_word(l, j)}",
                             names.z(l, j), entry, result.z[x, j], "forward", key=self.key("z", l, x, j),
                             note=note)
            self.learn(names.z(l), result.z[x])
            self.activation(l, x)
        if cost:
            self.cost(x)

    def activation(self, l: int, x: int) -> None:
        layer, result, names = self.p.layers[l - 1], self.s.layers[l - 1], self.names
        activation = layer.activation
        what = "output" if l == self.L else "activation"
        vector, scalar = self.layer_forms(l)
        note = self.once(f"f:{activation.name}", forward_rule(activation, layer.params))
        if activation.vector is not None:
            self.coupled_forward(l, x, vector, scalar, note)
            return
        if vector:
            call, general = self.f_forms(l, names.z(l))
            self.add(f"{what}s, {self.layer_word(l)}", names.a(l), general if call is None else call,
                     result.a[x], "forward", numbers=call is None, key=self.key("a", l, x), note=note,
                     remember=False)
            note = None
        if scalar:
            for j in range(layer.size):
                call, general = self.f_forms(l, names.z(l, j))
                title = ("output y" if names.chain and l == self.L
                         else f"{what}, {self.layer_word(l)}{self.neuron_word(l, j)}")
                self.add(title, names.a(l, j), general, result.a[x, j], "forward", call=call,
                         key=self.key("a", l, x, j), note=note)
                note = None
        self.learn(names.a(l), result.a[x])

    def coupled_forward(self, l: int, x: int, vector: bool, scalar: bool, note: Prose | None) -> None:
        """An activation that couples its neurons: its sums, then each output."""
        layer, result, names = self.p.layers[l - 1], self.s.layers[l - 1], self.names
        rule = layer.activation.vector
        z = result.z[x]
        shift = rule.shift is not None and float(np.max(np.abs(z))) > 30
        forward = rule.stable_forward if shift else rule.forward
        sums = rule.stable_sums if shift else rule.forward_sums
        mapping: dict[str, Any] = {}
        if shift:
            m = Sym(rule.shift, sup=None if names.chain else str(l))
            self.add(f"largest weighted input, {self.layer_word(l)}", m,
                     Call("max", tuple(names.z(l, k) for k in range(layer.size))), float(np.max(z)),
                     "forward", note=("subtracting the largest z from every z changes no output (it "
                                      "cancels in the fraction) and keeps exp from overflowing",))
            mapping["m"] = m
        for name, term in sums:
            symbol = Sym(name, sup=None if names.chain else str(l))
            terms = [self.coupled(term, l, j=None, k=k, mapping=mapping) for k in range(layer.size)]
            value = float(evaluate(put_in(_fold(Add, terms), self.lookup, 10**6) or Num(0)))
            self.add(f"the sum {name} of {layer.activation.name}, {self.layer_word(l)}", symbol,
                     _fold(Add, terms) if layer.size <= MAX_TERMS else None, value, "forward", note=note)
            note = None
            mapping[name] = symbol
        self.coupled_sums[l] = mapping
        if vector:
            self.add(f"outputs, {self.layer_word(l)}", names.a(l), layer.activation.call(names.z(l)),
                     result.a[x], "forward", numbers=False, key=self.key("a", l, x))
        if scalar:
            for j in range(layer.size):
                self.add(f"output, {self.layer_word(l)}{self.neuron_word(l, j)}", names.a(l, j),
                         self.coupled(forward, l, j=j, k=None, mapping=mapping), result.a[x, j], "forward",
                         key=self.key("a", l, x, j))
        self.learn(names.a(l), result.a[x])

    def coupled(self, template: Expr, l: int, j: int | None, k: int | None,
                mapping: dict[str, Any], gradient: Expr | None = None) -> Expr:
        """A coupled activation's template with its placeholders zⱼ, zₖ, aⱼ, aₖ, gⱼ, gₖ made this layer's."""
        names = self.names
        replacements: dict[str, Any] = dict(mapping)
        for index, neuron in (("j", j), ("k", k)):
            if neuron is None:
                continue
            replacements[f"z_{index}"] = names.z(l, neuron)
            replacements[f"a_{index}"] = names.a(l, neuron)
            if gradient is not None:
                replacements[f"g_{index}"] = Partial(gradient, names.a(l, neuron))
        return substitute(template, replacements)

    def cost(self, x: int) -> None:
        loss, names = self.p.loss, self.names
        L = self.L
        size = self.p.layers[-1].size
        general = self.cost_formula(L, size) if size <= MAX_TERMS else None
        pruned = None if general is None else self.vanish(general)
        note = self.once("loss", loss_rule(loss))
        fused = loss.fused.get(self.p.layers[-1].activation.name)
        if pruned is not None and fused is not None and fused.cost_term is not None \
                and not self.shows(pruned, self.s.example_losses[x]):
            pruned = self.vanish(self.fused_cost(L, size, fused.cost_term))
            note = (*(note or ()), *(("; " if note else ""), "with an output this close to 0 or 1, C is "
                                     "written with z, from which it is computed"))
        if pruned is not None and pruned != general:
            note = (*(note or ()), *(("; " if note else ""),
                                     "terms with a factor that the targets make 0 vanish and are left out"))
        title = f"cost of example {x + 1}" if self.multi else "cost"
        self.add(title, names.cost(x), pruned, self.s.example_losses[x], "cost",
                 key=None if self.multi else "loss", note=note, example=self.ex(x), everywhere=True)

    def shows(self, general: Expr, value: Any) -> bool:
        """Would ``general`` with the known numbers put in give ``value``?"""
        substituted = put_in(general, self.lookup, 17, limit=10**6)
        return substituted is not None and holds(substituted, value)

    def fused_cost(self, L: int, size: int, term: Expr) -> Expr:
        """C from z (the fused form), each output's term with this layer's symbols."""
        names = self.names
        sums = self.coupled_sums.get(L, {})
        terms = []
        for j in range(size):
            z: Expr = names.z(L, j)
            if "m" in sums:
                z = Sub(z, sums["m"])
            terms.append(substitute(term, {"t": names.t(j), "z": z, **sums}))
        return _fold(Add, terms)

    def cost_formula(self, L: int, size: int) -> Expr:
        loss, names = self.p.loss, self.names
        if loss.term is None:
            replacements: dict[str, Any] = {"n": Num(size)}
            for j in range(size):
                replacements[f"a_{j + 1}"] = names.a(L, j)
                replacements[f"t_{j + 1}"] = names.t(j)
            return substitute(loss.total, replacements)
        return _fold(Add, [loss.term_formula(names.a(L, j), names.t(j), size, None, numbers=True)
                           for j in range(size)])

    def gradient_formula(self, j: int | None) -> Expr:
        """∂C/∂aᴸⱼ (or the vector ∂C/∂aᴸ for j None) as a tree, from the loss entry."""
        from ..calculus import d

        loss, names, L = self.p.loss, self.names, self.L
        size = self.p.layers[-1].size
        if loss.term is None:
            if j is None:
                raise TooManyTerms(size)
            return substitute(d(loss.total, f"a_{j + 1}"), {
                **{f"a_{k + 1}": names.a(L, k) for k in range(size)},
                **{f"t_{k + 1}": names.t(k) for k in range(size)}, "n": Num(size)})
        a, t = (names.a(L), names.t()) if j is None else (names.a(L, j), names.t(j))
        tree = loss.gradient_formula(a, t, size, None, numbers=True)
        return names.vectorize(tree) if j is None else tree

    def vanish(self, tree: Expr) -> Expr:
        """Terms that the targets make 0 (t·ln a with t = 0) left out of a general form."""
        vector = self.names.t()
        targets = {symbol for symbol in _symbols(tree)
                   if (self.names.locate(symbol) or (None,))[0] == vector}
        if not targets:
            return tree
        return _prune(tree, {symbol.key: float(self.lookup(symbol)) for symbol in targets})

    # -- backward -------------------------------------------------------------------------
    def output_gradient(self, x: int, neurons: Sequence[int], vector: bool) -> np.ndarray:
        """∂C/∂aᴸ (not needed where δᴸ is fused); returns it for the whole layer."""
        L, names, loss = self.L, self.names, self.p.loss
        a, t = self.s.layers[-1].a[x], self.p.targets[x]
        grad = self.p.loss.gradient(a[None, :], t[None, :])[0]
        cost = names.cost(x)
        if vector:
            try:
                general = self.gradient_formula(None)
            except TooManyTerms:
                general = None
            self.add("gradient of the cost with respect to the outputs", Partial(cost, names.a(L)),
                     general, grad, "gradient", example=self.ex(x))
        for j in neurons:
            self.add("gradient of the cost with respect to the output" + self.neuron_word(L, j),
                     Partial(cost, names.a(L, j)), self.vanish(self.gradient_formula(j)), grad[j],
                     "gradient", example=self.ex(x))
        self.learn(Partial(cost, names.a(L)), grad)
        _ = loss
        return grad

    def fprime(self, l: int, x: int, neurons: Sequence[int], vector: bool) -> np.ndarray:
        """f′(zˡ) steps (none where f′ = 1); returns f′ for the whole layer."""
        layer, result, names = self.p.layers[l - 1], self.s.layers[l - 1], self.names
        activation = layer.activation
        z = result.z[x]
        values = activation.prime(z[None, :], **layer.params)[0]
        lhs_vector = activation.call(names.z(l), 1)
        if activation.prime_formula() == Num(1):
            self.learn(lhs_vector, values)
            return values
        note = self.once(f"f':{activation.name}", derivative_rule(activation, layer.params))
        title = f"derivative of the activation, {self.layer_word(l)}"
        if vector:
            general, _ = self.prime_forms(l, names.z(l), names.a(l))
            general = None if general is None else names.vectorize(general)
            template, numbers = self.template(l, general, lhs_vector)
            index = self.add(f"derivatives of the activation, {self.layer_word(l)}", lhs_vector, general, values,
                             "derivative", template=template, numbers=numbers, note=note, example=self.ex(x),
                             remember=False)
            for j in range(layer.size):
                self.fprime_step[(l, j, x)] = index
            note = None
        for j in neurons:
            lhs = activation.call(names.z(l, j), 1)
            general, decided = self.prime_forms(l, names.z(l, j), names.a(l, j))
            local = self.decided_note(decided)
            merged = note if local is None else (local if note is None else (*note, "; ", *local))
            template, numbers = self.template(l, general, lhs)
            index = self.add(title + self.neuron_word(l, j), lhs, general, values[j], "derivative",
                             template=template, numbers=numbers, note=merged, example=self.ex(x),
                             remember=False)
            self.fprime_step[(l, j, x)] = index
            note = None
        self.learn(lhs_vector, values)
        return values

    def decided_note(self, decided: list[Any]) -> Prose | None:
        """"here z1 = 0.03 > 0": which piece of a piecewise f′ holds at these numbers."""
        if not decided:
            return None
        condition = decided[0]
        left = self.lookup(condition.left)
        right = float(evaluate(condition.right)) if not symbols(condition.right) else None
        if left is None or right is None:
            return None
        relation = ">" if left > right else "<" if left < right else "="
        return ("here ", equation(condition.left, Num(float(left), text=shown(left, self.digits)),
                                  condition.right, relations=("=", relation)))

    def output_error(self, x: int, neurons: Sequence[int] | None = None) -> None:
        """BP1: δᴸ, with ∂C/∂a and f′(zᴸ) first (or the fused simplification)."""
        L, names, layer, result = self.L, self.names, self.p.layers[-1], self.s.layers[-1]
        self.begin("Output error (BP1)", x)
        neurons = list(range(layer.size)) if neurons is None else list(neurons)
        vector = layer.size > 1 and self.vectors and not self.param_mode
        scalar = layer.size == 1 or self.scalars or not self.vectors or self.param_mode
        shown_neurons = neurons if scalar else []
        delta = result.delta[x]
        activation = layer.activation
        fused = self.p.loss.fused.get(activation.name)
        cost = names.cost(x)
        if fused is not None:
            total = float(np.sum(self.p.targets[x]))
            rule = simplify(substitute(fused.formula, {"T": Num(total) if abs(total - 1) > 1e-12 else Num(1)}))
            note = self.once("fused", fused_rule(self.p, rule, names))
            general = names.vectorize(substitute(rule, {"a": names.a(L), "t": names.t()}))
            if vector:
                self.delta_step[(L, x)] = self.add(f"error terms, {self.layer_word(L)}", names.delta(L), general,
                                                   delta, "BP1", note=note, key=self.key("delta", L, x))
                note = None
            for j in shown_neurons:
                self.delta_step[(L, x)] = self.add(
                    f"error term, {self.layer_word(L)}{self.neuron_word(L, j)}", names.delta(L, j),
                    self.entry(general, (j,)), delta[j], "BP1", note=note, key=self.key("delta", L, x, j))
                note = None
            self.learn(names.delta(L), delta)
            return
        if activation.vector is not None:
            self.coupled_backward(x, vector, shown_neurons)
            return
        self.output_gradient(x, shown_neurons, vector=vector)
        self.fprime(L, x, shown_neurons, vector)
        unit = activation.prime_formula() == Num(1)
        note = self.once("f'=1", ("f′(z) = 1 for this output, so δ = ∂C/∂a",)) if unit else None
        if vector:
            try:
                general: Expr | None = self.gradient_formula(None)
            except TooManyTerms:
                general = Partial(cost, names.a(L))
            if not unit:
                general = Hadamard(general, activation.call(names.z(L), 1))
            self.delta_step[(L, x)] = self.add(f"error terms, {self.layer_word(L)}", names.delta(L), general,
                                               delta, "BP1", key=self.key("delta", L, x), note=note)
            note = None
        for j in shown_neurons:
            general = self.vanish(self.gradient_formula(j))
            if not unit:
                general = Mul(general, activation.call(names.z(L, j), 1))
            self.delta_step[(L, x)] = self.add(
                f"error term, {self.layer_word(L)}{self.neuron_word(L, j)}", names.delta(L, j), general,
                delta[j], "BP1", key=self.key("delta", L, x, j), note=note)
            note = None
        self.learn(names.delta(L), delta)

    def coupled_backward(self, x: int, vector: bool, neurons: Sequence[int]) -> None:
        """BP1 through an activation that couples its neurons: δⱼ from ∂C/∂a and the sums."""
        L, names, layer, result = self.L, self.names, self.p.layers[-1], self.s.layers[-1]
        rule = layer.activation.vector
        cost = names.cost(x)
        grad = self.output_gradient(x, range(layer.size), vector=False)
        a = result.a[x]
        mapping: dict[str, Any] = {}
        note = self.once(f"f':{layer.activation.name}", coupled_rule(layer.activation))
        for name, term in rule.backward_sums:
            symbol = Sym(name, sup=None if names.chain else str(L))
            terms = [self.coupled(term, L, j=None, k=k, mapping=mapping, gradient=cost) for k in range(layer.size)]
            value = float(np.sum(a * grad))
            self.add(f"the sum {name} over the outputs of ∂C/∂a weighted by a", symbol,
                     _fold(Add, terms) if layer.size <= MAX_TERMS else None, value, "derivative",
                     note=note, example=self.ex(x))
            note = None
            mapping[name] = symbol
        delta = result.delta[x]
        if vector:
            general = Hadamard(names.a(L), Sub(Partial(cost, names.a(L)), mapping[rule.backward_sums[0][0]]))
            self.delta_step[(L, x)] = self.add(f"error terms, {self.layer_word(L)}", names.delta(L), general,
                                               delta, "BP1", key=self.key("delta", L, x))
        for j in neurons:
            self.delta_step[(L, x)] = self.add(
                f"error term, {self.layer_word(L)}{self.neuron_word(L, j)}", names.delta(L, j),
                self.coupled(rule.backward, L, j=j, k=None, mapping=mapping, gradient=cost), delta[j], "BP1",
                key=self.key("delta", L, x, j))
        self.learn(names.delta(L), delta)

    def backpropagate(self, x: int, down_to: int = 1, last_neurons: Sequence[int] | None = None) -> None:
        """BP2: δˡ for l = L−1 … down_to (only ``last_neurons`` of layer down_to)."""
        names = self.names
        for l in range(self.L - 1, down_to - 1, -1):
            self.begin("Back-propagation (BP2)", x)
            layer, following = self.p.layers[l - 1], self.p.layers[l]
            result = self.s.layers[l - 1]
            neurons = list(range(layer.size)) if l != down_to or last_neurons is None else list(last_neurons)
            vector = layer.size > 1 and self.vectors and not self.param_mode
            shown_neurons = neurons if (layer.size == 1 or self.scalars or not self.vectors or self.param_mode) else []
            self.fprime(l, x, shown_neurons, vector)
            unit = layer.activation.prime_formula() == Num(1)
            delta = result.delta[x]
            note = self.once("BP2", bp2_rule())
            if unit:
                note = (*(note or ()), *(("; " if note else ""), "f′(z) = 1 for this layer"))
            general: Expr = MatMul(Transpose(names.w(l + 1)), names.delta(l + 1))
            if not unit:
                general = Hadamard(general, layer.activation.call(names.z(l), 1))
            if vector:
                self.delta_step[(l, x)] = self.add(f"error terms, {self.layer_word(l)}", names.delta(l), general,
                                                   delta, "BP2", key=self.key("delta", l, x), note=note)
                note = None
            for j in shown_neurons:
                entry = self.entry(general, (j,))
                if entry is None:
                    note = (*(note or ()), *(("; " if note else ""), f"the sum runs over the {following.size} "
                                             f"neurons of layer {l + 1}, too many to write out"))
                self.delta_step[(l, x)] = self.add(
                    f"error term, {self.layer_word(l)}{self.neuron_word(l, j)}", names.delta(l, j), entry,
                    delta[j], "BP2", key=self.key("delta", l, x, j), note=note)
                note = None
            self.learn(names.delta(l), delta)

    # -- gradients and the update -----------------------------------------------------------
    def gradients(self, x: int) -> None:
        """BP3 and BP4 for one example (the gradients of C itself when there is one)."""
        self.begin("Gradients (BP3, BP4)", x)
        names = self.names
        cost = names.cost(x)
        for l, (layer, result) in enumerate(zip(self.p.layers, self.s.layers), start=1):
            prev, delta = self.a_values(l - 1, x), result.delta[x]
            note = self.once("BP3", ("each weight's gradient is the error term of the neuron it feeds "
                                     "times the activation it carries (BP4); a bias carries 1 (BP3)",))
            weights_value = np.outer(delta, prev) if self.multi else result.dC_dw
            bp4 = MatMul(names.delta(l), Transpose(names.a(l - 1)))
            if layer.weights.size > 1 and self.vectors:
                self.add(f"gradients of the weights, {self.layer_word(l)}", Partial(cost, names.w(l)), bp4,
                         weights_value, "BP4", key=None if self.multi else f"layers[{l}].dC_dw", note=note,
                         example=self.ex(x), everywhere=True)
                note = None
            else:
                self.learn(Partial(cost, names.w(l)), weights_value, everywhere=True)
            if layer.bias is not None:
                bias_value = delta if self.multi else result.dC_db
                if layer.size > 1 and self.vectors:
                    self.add(f"gradients of the biases, {self.layer_word(l)}", Partial(cost, names.b(l)),
                             names.delta(l), bias_value, "BP3", key=None if self.multi else f"layers[{l}].dC_db",
                             example=self.ex(x), everywhere=True)
                else:
                    self.learn(Partial(cost, names.b(l)), bias_value, everywhere=True)
            if self.entry_by_entry(l):
                for parameter in self.parameters(l):
                    if self.shown_alone(parameter):
                        self.gradient(parameter, x, note=note)
                        note = None

    def entry_by_entry(self, l: int) -> bool:
        layer = self.p.layers[l - 1]
        return self.scalars or not self.vectors or layer.weights.size == 1 or layer.size == 1

    def shown_alone(self, p: Parameter) -> bool:
        """Is this parameter shown on its own (scalars on, or the only entry of its array)?"""
        layer = self.p.layers[p.layer - 1]
        size = layer.weights.size if p.kind == "weights" else layer.size
        return self.scalars or not self.vectors or size == 1

    def gradient(self, p: Parameter, x: int, note: Prose | None = None) -> int:
        names, l = self.names, p.layer
        cost = names.cost(x)
        delta = self.s.layers[l - 1].delta[x]
        j = p.index[0]
        if p.kind == "weights":
            general = self.entry(MatMul(names.delta(l), Transpose(names.a(l - 1))), p.index)
            value, rule = self.a_values(l - 1, x)[p.index[1]] * delta[j], "BP4"
        else:
            general, value, rule = names.delta(l, j), delta[j], "BP3"
        if not self.multi:
            value = p.gradient
        return self.add(self.gradient_title(p, x), Partial(cost, names.parameter(p)), general, value, rule,
                        key=None if self.multi else f"gradients.{p.name}", indexed=names.parameter_indexed(p),
                        example=self.ex(x), note=note, everywhere=True)

    def gradient_title(self, p: Parameter, x: int | None) -> str:
        title = f"gradient of {p.name}"
        if x is not None and self.multi:
            title += f" for example {x + 1}"
        return title

    def combine(self, parameters: Sequence[Parameter] | None = None) -> None:
        """C and its gradients over the examples: the mean (or sum) of the per-example ones."""
        names, n = self.names, self.n
        mean = self.p.reduction == "mean"
        self.begin(f"Gradients of C over the {n} examples ({self.p.reduction})")

        def combined(items: list[Expr]) -> Expr | None:
            if n > MAX_TERMS:
                return None
            total = _fold(Add, items)
            return Div(total, Num(n)) if mean else total

        rule = "mean" if mean else "sum"
        note = self.once("combine", (f"C is the {self.p.reduction} of the per-example costs, so each "
                                     f"gradient is the {self.p.reduction} of the per-example gradients; "
                                     "the error terms δ stay per example",))
        if parameters is None:
            self.add(f"cost over the {n} examples", names.cost(), combined([names.cost(x) for x in range(n)]),
                     self.s.loss, "cost", key="loss", note=note, everywhere=True)
            note = None
        layers = sorted({p.layer for p in parameters}) if parameters is not None else range(1, self.L + 1)
        for l in layers:
            layer, result = self.p.layers[l - 1], self.s.layers[l - 1]
            for kind, symbol, value, size, path in (
                    ("weights", names.w(l), result.dC_dw, layer.weights.size, "dC_dw"),
                    ("biases", names.b(l), result.dC_db, layer.size, "dC_db")):
                if value is None:
                    continue
                if parameters is None and self.vectors and size > 1:
                    self.add(f"gradients of the {kind}, {self.layer_word(l)}", Partial(names.cost(), symbol),
                             combined([Partial(names.cost(x), symbol) for x in range(n)]), value, rule,
                             key=f"layers[{l}].{path}", note=note, everywhere=True)
                    note = None
                else:
                    self.learn(Partial(names.cost(), symbol), value, everywhere=True)
            if parameters is None and not self.entry_by_entry(l):
                continue
            group = [p for p in (parameters or self.parameters(l)) if p.layer == l]
            for p in group:
                if parameters is None and not self.shown_alone(p):
                    continue
                symbol = names.parameter(p)
                self.add(f"gradient of {p.name}", Partial(names.cost(), symbol),
                         combined([Partial(names.cost(x), symbol) for x in range(n)]), p.gradient, rule,
                         key=f"gradients.{p.name}", indexed=names.parameter_indexed(p), note=note,
                         everywhere=True)
                note = None

    def add(self, title: str, lhs: Expr, general: Expr | None, value: Any, rule: str, **extra: Any) -> int:
        if extra.get("key") in self.penalised_keys:
            extra["key"] = None              # C₀'s value: the solution's path holds C's
        return super().add(title, lhs, general, value, rule, **extra)

    def penalise(self, problem: Problem, solution: Solution) -> None:
        """The steps until :meth:`regularize` are C₀'s (this builder was made for the problem
        without its penalty); the paths of the values the penalty changes are kept for later."""
        self.penalty = (problem, solution)
        self.names.penalised = True
        self.penalised_keys = {"loss", *(f"layers[{l}].dC_dw" for l in range(1, self.L + 1))}
        for l, layer in enumerate(problem.layers, start=1):
            self.penalised_keys.update(f"gradients.{name}" for name in layer.weight_names.flat())

    def regularize(self, parameters: Sequence[Parameter] | None = None) -> None:
        """L2: C = C₀ + λ/(2n)·Σw² and ∂C/∂w = ∂C₀/∂w + (λ/n)·w. The steps before were C₀'s
        (built from the problem without the penalty); from here on the builder holds the
        regularized problem and solution, so the update uses ∂C/∂w."""
        if self.penalty is None:
            return
        problem, solution = self.penalty
        names, n, lam = self.names, len(problem.inputs), problem.l2
        self.begin("L2 regularization")
        self.known[LAMBDA] = lam
        c0, cost = names.cost(), Sym("C")
        weights = [p for l in range(1, self.L + 1) for p in self.parameters(l) if p.kind == "weights"]
        total = float(sum(float(np.vdot(layer.weights, layer.weights)) for layer in problem.layers))
        if len(weights) <= MAX_TERMS:
            squares = _fold(Add, [Pow(names.parameter(p), Num(2)) for p in weights])
        else:
            squares = Sum(Pow(Sym("w"), Num(2)), "w")
            self.known[squares] = total
        note = (f"the penalty adds λ/(2n) times the sum of the squared weights (not the biases) to "
                f"the cost, with λ = {format_number(lam, 8)} and n = {n} example{'s' if n > 1 else ''}; "
                "so each weight's gradient gains (λ/n)·w",)
        per_example = LAMBDA if n == 1 else Div(LAMBDA, Num(n))           # λ/n
        if self.lookup(c0) is None:                  # --param: C₀ itself was not a step
            self.learn(c0, self.s.loss, everywhere=True)
        self.penalised_keys = set()                  # from here on, the values are C's
        self.add("cost with the L2 penalty", cost, Add(c0, Mul(Div(LAMBDA, Num(2 * n)), squares)),
                 solution.loss, "L2", key="loss", note=note, everywhere=True)
        base = {p.name: p for l in range(1, self.L + 1) for p in self.parameters(l)}
        self.p, self.s, self._parameters = problem, solution, {}
        layers = sorted({p.layer for p in parameters}) if parameters is not None else range(1, self.L + 1)
        for l in layers:
            layer, result = problem.layers[l - 1], solution.layers[l - 1]
            self.learn(Partial(c0, names.w(l)), result.dC_dw - lam / n * layer.weights, everywhere=True)
            if layer.bias is not None:
                self.learn(Partial(cost, names.b(l)), result.dC_db, everywhere=True)
            if parameters is None and self.vectors and layer.weights.size > 1:
                self.add(f"gradients of the weights with the penalty, {self.layer_word(l)}",
                         Partial(cost, names.w(l)), Add(Partial(c0, names.w(l)), Mul(per_example, names.w(l))),
                         result.dC_dw, "L2", key=f"layers[{l}].dC_dw", everywhere=True)
            else:
                self.learn(Partial(cost, names.w(l)), result.dC_dw, everywhere=True)
            for p in self.parameters(l):
                symbol = names.parameter(p)
                if p.kind != "weights" or (parameters is not None and p.name not in {q.name for q in parameters}):
                    if p.kind != "weights":
                        self.learn(Partial(cost, symbol), p.gradient, everywhere=True)
                    continue
                self.learn(Partial(c0, symbol), base[p.name].gradient, everywhere=True)
                if parameters is None and not self.shown_alone(p):
                    self.learn(Partial(cost, symbol), p.gradient, everywhere=True)
                    continue
                self.add(f"gradient of {p.name} with the penalty", Partial(cost, symbol),
                         Add(Partial(c0, symbol), Mul(per_example, symbol)), p.gradient, "L2",
                         key=f"gradients.{p.name}", indexed=names.parameter_indexed(p), everywhere=True)

    def updates(self, parameters: Sequence[Parameter] | None = None) -> None:
        rate = self.p.learning_rate
        if rate is None:
            return
        names = self.names
        self.begin("SGD update")
        note = self.once("SGD", ("gradient descent moves every parameter against its gradient, ",
                                 equation(Sym("w"), Sub(Sym("w"), Mul(ETA, Partial(Sym("C"), Sym("w")))),
                                          relations=("←",)),
                                 f", with the learning rate η = {format_number(rate, self.digits)}"))
        layers = sorted({p.layer for p in parameters}) if parameters is not None else range(1, self.L + 1)
        for l in layers:
            layer, result = self.p.layers[l - 1], self.s.layers[l - 1]
            if parameters is None and self.vectors:
                for kind, symbol, old, new, size in (
                        ("weights", names.w(l), layer.weights, result.w_updated, layer.weights.size),
                        ("bias", names.b(l), layer.bias, result.b_updated, layer.size)):
                    if old is None or size <= 1:
                        continue
                    path = f"layers[{l}].{'w' if kind == 'weights' else 'b'}_updated"
                    if kind in layer.fixed:
                        self.add(f"the {_PLURAL[kind]} of {self.layer_word(l)} are fixed", symbol, None, new,
                                 "SGD", note=("fixed in the problem: not updated",), key=path, remember=False)
                        continue
                    self.add(f"SGD update of the {_PLURAL[kind]}, {self.layer_word(l)}", symbol,
                             Sub(symbol, Mul(ETA, Partial(Sym("C"), symbol))), new, "SGD", relation="←",
                             key=path, note=note, digits=self.update_digits(old, new), remember=False)
                    note = None
            if parameters is None and not self.entry_by_entry(l):
                continue
            for p in [p for p in (parameters or self.parameters(l)) if p.layer == l]:
                if parameters is None and not self.shown_alone(p):
                    continue
                symbol = names.parameter(p)
                if p.fixed:
                    size = layer.weights.size if p.kind == "weights" else layer.size
                    if parameters is None and self.vectors and size > 1:
                        continue        # the whole array was shown as fixed just above
                    self.add(f"{p.name} is fixed", symbol, None, p.updated, "SGD", key=f"updated.{p.name}",
                             indexed=names.parameter_indexed(p), remember=False,
                             note=(f"the {_PLURAL[p.kind]} of {self.layer_word(l)} are fixed in the "
                                   "problem: not updated",))
                    continue
                self.add(f"SGD update of {p.name}", symbol, Sub(symbol, Mul(ETA, Partial(Sym("C"), symbol))),
                         p.updated, "SGD", relation="←", key=f"updated.{p.name}",
                         indexed=names.parameter_indexed(p), note=note,
                         digits=self.update_digits(p.value, p.updated), remember=False)
                note = None

    # -- the targeted chain (--param) ---------------------------------------------------------
    def chain(self, p: Parameter) -> None:
        names, L, l = self.names, self.L, p.layer
        j = p.index[0]
        output = self.p.layers[-1]
        fused = self.p.loss.fused.get(output.activation.name)
        unique = (all(layer.size == 1 for layer in self.p.layers[l:])
                  and (output.activation.elementwise or fused is not None))
        symbol = names.parameter(p)
        self.param_mode = True
        for x in range(self.n):
            self.forward(x, cost=False)
            self.begin(f"Chain rule for ∂C/∂{p.name}", x)
            cost = names.cost(x)
            path = {m: 0 for m in range(l + 1, L + 1)}
            path[l] = j
            if unique:
                self.unique_chain(p, x, path, fused is not None)
            else:
                if l == L:
                    self.output_error(x, neurons=[j])
                else:
                    self.output_error(x)
                    self.backpropagate(x, down_to=l, last_neurons=[j])
                self.begin(f"Chain rule for ∂C/∂{p.name}", x)
                delta = self.s.layers[l - 1].delta[x]
                z = names.z(l, j)
                if p.kind == "weights":
                    k = p.index[1]
                    general: Expr = Mul(names.delta(l, j), names.a(l - 1, k))
                    value = delta[j] * self.a_values(l - 1, x)[k]
                else:
                    general, value = names.delta(l, j), delta[j]
                self.add(self.gradient_title(p, x), Partial(cost, symbol), general,
                         p.gradient if not self.multi else value, "BP4" if p.kind == "weights" else "BP3",
                         chain=Mul(Partial(cost, z), Partial(z, symbol)),
                         key=None if self.multi else f"gradients.{p.name}", indexed=names.parameter_indexed(p),
                         example=self.ex(x), note=("∂C/∂z is the error term δ of the neuron the parameter feeds",),
                         everywhere=True)
        if self.multi:
            self.combine([p])
        else:
            self.learn(Partial(names.cost(), symbol), p.gradient, everywhere=True)
        if self.penalty is not None:
            self.regularize([p])
            p = next(q for q in self.parameters(p.layer) if q.name == p.name)   # with the penalty
        self.updates([p])

    def unique_chain(self, p: Parameter, x: int, path: dict[int, int], fused: bool) -> None:
        """One neuron per layer above the parameter: C depends on it along a single path, so
        ∂C/∂p is a plain product of one factor per link."""
        names, L, l = self.names, self.L, p.layer
        cost = names.cost(x)
        output = self.p.layers[-1]
        jL = path[L]
        partials: list[Expr] = []
        factors: list[Expr] = []
        note: Prose | None = None
        if fused:
            total = float(np.sum(self.p.targets[x]))
            rule = simplify(substitute(self.p.loss.fused[output.activation.name].formula,
                                       {"T": Num(total) if abs(total - 1) > 1e-12 else Num(1)}))
            partials.append(Partial(cost, names.z(L, jL)))
            factors.append(substitute(rule, {"a": names.a(L, jL), "t": names.t(jL)}))
            note = self.once("fused", fused_rule(self.p, rule, names))
        else:
            self.output_gradient(x, [jL], vector=False)
            partials.append(Partial(cost, names.a(L, jL)))
            factors.append(self.vanish(self.gradient_formula(jL)))
        for m in range(L, l - 1, -1):
            jm = path[m]
            layer = self.p.layers[m - 1]
            if not (fused and m == L):
                self.fprime(m, x, [jm], vector=False)
                partials.append(Partial(names.a(m, jm), names.z(m, jm)))
                factors.append(Num(1) if layer.activation.prime_formula() == Num(1)
                               else layer.activation.call(names.z(m, jm), 1))
            if m > l:
                below = path[m - 1]
                partials.append(Partial(names.z(m, jm), names.a(m - 1, below)))
                factors.append(names.w(m, jm, below))
        z = names.z(l, path[l])
        symbol = names.parameter(p)
        partials.append(Partial(z, symbol))
        if p.kind == "weights":
            k = p.index[1]
            factors.append(names.a(l - 1, k))
            value = self.s.layers[l - 1].delta[x, path[l]] * self.a_values(l - 1, x)[k]
        else:
            factors.append(Num(1))
            value = self.s.layers[l - 1].delta[x, path[l]]
        self.begin(f"Chain rule for ∂C/∂{p.name}", x)
        self.add(self.gradient_title(p, x), Partial(cost, symbol), _fold(Mul, factors),
                 p.gradient if not self.multi else value, "chain", chain=_fold(Mul, partials),
                 key=None if self.multi else f"gradients.{p.name}", indexed=names.parameter_indexed(p),
                 example=self.ex(x), note=note, everywhere=True)

    def finish(self, title: str, intro: tuple[Prose, ...], param: str | None,
               cautions: Iterable[Caution]) -> Derivation:
        return self.derivation(title, intro, param, cautions)


# ------------------------------------------------------------------ what the registries say

def forward_rule(activation: Any, params: dict) -> Prose | None:
    """f spelled out where a layer's activation is first used: σ(z) = 1/(1 + exp(−z))."""
    from ..activations import Z

    if activation.vector is not None:
        rule = activation.vector
        return (f"{activation.name}: each output is e^z of its neuron divided by the sum S of e^z "
                "over the layer, so the outputs are positive and add up to 1: ",
                equation(Sym("a", "j"), substitute(rule.forward, {"S": _sum_of(rule.forward_sums[0][1])})))
    if activation.unchanged:
        return ("this layer passes its weighted input through: a = z",)
    if activation.meaning is not None:
        return (equation(activation.call(Z), activation.meaning),)
    words: list[Any] = [equation(activation.call(Z), activation.defining())]
    if activation.values(params):
        words += [", with "] + _parameter_list(activation, params)
    return tuple(words)


def _parameter_list(activation: Any, params: dict) -> list[Any]:
    out: list[Any] = []
    for index, (name, value) in enumerate(sorted(activation.values(params).items())):
        if index:
            out.append(", ")
        out.append(equation(Sym(name), Num(value, text=format_number(value, 8))))
    return out


def _sum_of(term: Expr) -> Expr:
    from ..expr import Sum

    return Sum(term, "k")


def derivative_rule(activation: Any, params: dict) -> Prose:
    """f′ spelled out where it is first used (and its shortcut through a, and its kink)."""
    from ..activations import Z

    prime = activation.prime_formula()
    words: list[Any] = [equation(activation.call(Z, 1), prime)]
    through = activation.through_output()
    if through is not None and through != prime:
        words += [", and ", equation(activation.call(Z)), " is the activation a already computed, so ",
                  equation(activation.call(Z, 1), through)]
    if symbols(prime) - {"z", "pi", "e"} and not activation.custom:
        words += [", with "] + _parameter_list(activation, params)
    if activation.note:
        words.append("; " + activation.note)
    return tuple(words)


def coupled_rule(activation: Any) -> Prose:
    rule = activation.vector
    a_j, a_k = Sym("a", "j"), Sym("a", "k")
    g = {"g_j": Partial(Sym("C"), a_j), "g_k": Partial(Sym("C"), a_k)}
    s_name, s_term = rule.backward_sums[0]
    return (f"{activation.name} couples its outputs: ",
            equation(Partial(a_k, Sym("z", "j")), rule.jacobian),
            " (δⱼₖ is 1 for j = k, else 0), so ",
            equation(Sym("delta", "j"), substitute(rule.backward, g)),
            " with ", equation(Sym(s_name), _sum_of(substitute(s_term, g))))


def loss_rule(loss: Any) -> Prose:
    words = loss.name.replace("_", " ") if not loss.custom else "the problem's own"
    return (f"the loss is {words}: ", equation(Sym("C"), loss.summed()))


def fused_rule(problem: Problem, rule: Expr, names: Names) -> Prose:
    """Why δᴸ is simply a − t for this output activation and loss, from their entries."""
    L = names.L
    activation = problem.layers[-1].activation
    loss = problem.loss
    a = names.a(L, 0) if names.chain else names.a(L)
    delta = names.delta(L, 0) if names.chain else names.delta(L)
    z = names.z(L, 0) if names.chain else names.z(L)
    result = equation(delta, names.vectorize(substitute(rule, {"a": a, "t": names.t()})) if not names.chain
                      else substitute(rule, {"a": a, "t": names.t()}))
    loss_words = loss.name.replace("_", " ")
    if activation.elementwise:
        gradient = loss.gradient_formula(a, names.t())
        through = activation.through_output(a, z)
        return (f"simplification for a {activation.name} output with {loss_words}: ",
                equation(Partial(Sym("C"), a), gradient), " and ",
                equation(activation.call(z, 1), through if through is not None else activation.prime_formula(z)),
                " cancel, so ", result, " exactly (even where the derivative underflows)")
    a_j, t_j = Sym("a", "j"), Sym("t", "j")
    return (f"simplification for a {activation.name} output with {loss_words}: the Jacobian of "
            f"{activation.name} and ", equation(Partial(Sym("C"), a_j), loss.gradient_formula(a_j, t_j)),
            " combine to ", result,
            *((" (the targets add up to 1)",) if Sym("T").key not in symbols(rule) else
              ("; these targets do not add up to 1, so the factor ",
               equation(Sym("T"), _sum_of(Sym("t", "k"))), " stays",)))


def bp2_rule() -> Prose:
    from ..expr import Sum

    w_kj = Sym("w", "kj", "l+1")
    return ("BP2: δ flows back along the same weights. ", Math((w_kj,)),
            " connects neuron j of layer l to neuron k of layer l + 1, so ",
            equation(Sym("delta", "j", "l"), Mul(Sum(Mul(w_kj, Sym("delta", "k", "l+1")), "k"),
                                                 Call("f", (Sym("z", "j", "l"),), 1))),
            ": a column of w, i.e. the transpose, and the slope f′, not f")


# ------------------------------------------------------------------ helpers

def _symbols(tree: Expr) -> set[Sym]:
    return {node for node in nodes(tree) if isinstance(node, Sym)}


def _prune(tree: Expr, targets: dict[str, float]) -> Expr:
    """Leave out of sums the terms that the targets make 0."""
    numbers = {key: Num(value) for key, value in targets.items()}

    def vanishes(node: Expr) -> bool:
        if not isinstance(node, (Mul, Div, Neg)) or not (symbols(node) & set(targets)):
            return False        # only a term with a target factor: t·ln(a), not t itself
        return simplify(substitute(node, numbers)) == Num(0)

    def prune(node: Expr) -> Expr:
        if isinstance(node, (Add, Sub)):
            if vanishes(node.right):
                return node.left
            if vanishes(node.left):
                return node.right if isinstance(node, Add) else Neg(node.right)
        return node

    pruned = bottom_up(tree, prune)
    return Num(0) if vanishes(pruned) else pruned


__all__ = ["Builder", "SCALAR_WIDTH", "MAX_TERMS", "layer_parameters", "MAX_SUBSTITUTED"]
