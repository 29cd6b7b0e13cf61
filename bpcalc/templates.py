"""Starting problem files for ``bpcalc new``: commented YAML that solves as written.

A newcomer copies the shape of a file far more easily than a description of it, so
:func:`layered` writes a network of any sizes (``2-3-1``) with weights of the right
shapes, and :func:`graph` a staged computation (cs231n's sigmoid neuron). Every key
has a comment above it in Nielsen's notation. The numbers are small and follow a fixed
pattern (0.1, −0.2, 0.3, …), never random, so two runs write the same file and a
student can redo the arithmetic. The target suits the loss: one-hot for a softmax
output or cross-entropy, 0 and 1 for a binary cross-entropy.

Choices come from the registries (activations, losses and their parameters), and
:func:`build` loads and solves the text it made before anyone writes it, so a file
``bpcalc new`` writes always solves.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import BpcalcError
from .schema import MODELINE, SCHEMA_FILE

MAX_LAYERS = 20                 # sizes in --layers, the input included, at most MAX_LAYERS + 1
MAX_WIDTH = 64                  # neurons a layer in a template (a bigger one is no template)
WEIGHT_PATTERN = (1, -2, 3, -4, 5, -6, 7)     # tenths: 0.1, −0.2, 0.3, …; 7 so rows differ
INPUT_PATTERN = ("1", "-0.5", "0.5", "2", "-1", "0.25", "1.5")
DEFAULT_SIZES = "2-2-1"
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LOSS = "half_squared_error"
LAYERED_NEXT = ("bpcalc solve {file}", "bpcalc explain {file}")
GRAPH_NEXT = ("bpcalc solve {file}", "bpcalc explain {file}")
_SIZES = re.compile(r"\s*\d+(?:\s*-\s*\d+)+\s*\Z")


@dataclass(frozen=True)
class Template:
    """A problem file's text and what it is, for the command's one line."""

    text: str
    summary: str                       # "a 2-3-1 network (sigmoid, binary_cross_entropy)"
    commands: tuple[str, ...] = ()     # what to run next, with {file} for the file
    notes: tuple[str, ...] = ()        # choices made for the user (an output activation)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``2-3-1`` -> (2, 3, 1): the input size, the hidden layers', the output layer's."""
    if not isinstance(text, str) or not _SIZES.match(text):
        raise BpcalcError(f"--layers: expected sizes joined by '-', input first and output last, "
                          f"such as 2-3-1, got {_shown(text)}")
    sizes = tuple(int(part) for part in text.split("-"))
    if any(size < 1 for size in sizes):
        raise BpcalcError(f"--layers: every layer needs at least one neuron, got {_shown(text)}")
    if len(sizes) > MAX_LAYERS + 1:
        raise BpcalcError(f"--layers: a template has at most {MAX_LAYERS} layers after the input, "
                          f"got {len(sizes) - 1}")
    if max(sizes) > MAX_WIDTH:
        raise BpcalcError(f"--layers: a template has at most {MAX_WIDTH} neurons a layer, got "
                          f"{max(sizes)}; write a small one and widen it")
    return sizes


def _shown(text: Any) -> str:
    from .usertext import visible

    return repr(visible(str(text)))


def _lookup(name: str, registry: dict[str, Any], option: str, what: str) -> Any:
    """A registry entry by name (any letter case, as in problem files), or a one-line error."""
    from .problem import did_you_mean

    key = name.strip().lower() if isinstance(name, str) else name
    if key in registry:
        return registry[key]
    raise BpcalcError(f"{option}: unknown {what} {_shown(name)}{did_you_mean(str(key), sorted(registry))}; "
                      f"expected one of: {', '.join(sorted(registry))}")


def gives_probabilities(activation: Any) -> bool:
    """Do the activation's outputs stay within [0, 1] (so a cross-entropy can take them)?
    Probed on z from −1000 to 1000, as the tests' network generator probes the registry."""
    import numpy as np

    z = np.array([[-1000.0, -3.0, -0.5, 0.0, 0.5, 3.0, 1000.0]])
    a = activation(z, **activation.params)
    return bool(np.all((a >= 0) & (a <= 1)))


def _tenths(value: int) -> str:
    return f"{value / 10:g}"


def _weights(start: int, rows: int, columns: int) -> list[list[str]]:
    """A layer's weights: the fixed pattern in reading order, going on from the ``start``-th
    weight of the network (so layers differ); where a row is as long as the pattern, each row
    starts one step later, so no two of the first 7 neurons are alike."""
    size = len(WEIGHT_PATTERN)
    shift = 1 if columns % size == 0 else 0
    return [[_tenths(WEIGHT_PATTERN[(start + j * (columns + shift) + k) % size]) for k in range(columns)]
            for j in range(rows)]


def _comments(text: str, indent: str = "") -> list[str]:
    """A comment wrapped at 90 columns, each line starting with ``# ``."""
    import textwrap

    return textwrap.wrap(text, 90, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}#   ",
                         break_long_words=False, break_on_hyphens=False)


def _row(values: Sequence[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _matrix(rows: list[list[str]], indent: int) -> str:
    pad = " " * (indent + 1)
    return "[" + f",\n{pad}".join(_row(row) for row in rows) + "]"


def _comment_path(path: str) -> str:
    """A file name as it may appear in a comment: control characters escaped (a newline in a
    name must not end the comment), quoted for a shell when it needs to be."""
    from .usertext import visible

    shown = visible(path).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")   # YAML line breaks
    return shlex.quote(shown)


def _next_steps(path: str, commands: Sequence[str]) -> list[str]:
    shown = _comment_path(path)
    folder = os.path.dirname(path)
    schema = os.path.join(folder, SCHEMA_FILE) if folder else SCHEMA_FILE
    lines = ["# Next:"]
    lines += [f"#   {command.format(file=shown)}" for command in commands]
    lines.append(f"#   bpcalc schema --output {_comment_path(schema)}   "
                 "(your editor then checks this file: see its first line)")
    return lines


def layered(sizes: Sequence[int], activation: str = DEFAULT_ACTIVATION, loss: str = DEFAULT_LOSS,
            output_activation: str | None = None, *, path: str = "problem.yaml") -> Template:
    """A commented layered network of these sizes (input first), ready to solve."""
    from .activations import ACTIVATIONS, REGISTERED
    from .expr import to_unicode
    from .losses import LOSSES
    from .numbers import counted

    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise BpcalcError("--layers: expected at least an input size and an output size, such as 2-1")
    hidden_activation = _lookup(activation, ACTIVATIONS, "--activation", "activation")
    cost = _lookup(loss, LOSSES, "--loss", "loss")
    outputs = sizes[-1]
    hidden = len(sizes) - 2
    if hidden and not hidden_activation.elementwise:
        raise BpcalcError(f"--activation: {hidden_activation.name} couples the neurons of a layer and is "
                          f"only supported on the output layer; choose another for the hidden layers, "
                          f"e.g. --activation sigmoid --output-activation {hidden_activation.name}")
    if cost.name == "cross_entropy" and outputs == 1:        # the loader's rule (bpcalc.problem)
        raise BpcalcError("--loss: cross_entropy −Σ t ln a needs two or more output neurons (on one it "
                          "drops the (1 − t) ln(1 − a) term): use --loss binary_cross_entropy, or end "
                          "--layers with 2 or more, e.g. " + "-".join(map(str, (*sizes[:-1], 3))))
    notes: list[str] = []
    probability_outputs = [a.name for a in REGISTERED if gives_probabilities(a)]
    if output_activation is not None:
        final = _lookup(output_activation, ACTIVATIONS, "--output-activation", "activation")
        if cost.probabilities and not gives_probabilities(final):
            raise BpcalcError(f"--output-activation: {cost.name} needs outputs between 0 and 1, which "
                              f"{final.name} does not keep to; use one of: {', '.join(probability_outputs)}")
    elif cost.fused and hidden_activation.name not in cost.fused:
        # The output the loss is made for (softmax for cross_entropy, sigmoid for binary
        # cross-entropy: δ^L = a − t), as the course pairs them.
        final = ACTIVATIONS[next(iter(cost.fused))]
        notes.append(f"the output layer uses {final.name}, the activation {cost.name} is paired with "
                     f"(--output-activation chooses another)")
    elif cost.probabilities and not gives_probabilities(hidden_activation):
        final = ACTIVATIONS["sigmoid"]
        notes.append(f"the output layer uses sigmoid: {cost.name} needs outputs between 0 and 1")
    else:
        final = hidden_activation
    one_hot = final.name == "softmax" or cost.name == "cross_entropy"
    if one_hot:
        chosen = min(1, outputs - 1)
        targets = ["1" if j == chosen else "0" for j in range(outputs)]
        target_note = (f"a one-hot class (class {chosen + 1} of {outputs})" if outputs > 1 else
                       "a softmax of one neuron is always 1")
    else:
        targets = ["1" if j % 2 == 0 else "0" for j in range(outputs)]
        target_note = ("0 or 1 per output" if cost.probabilities else "any real number per output")
    inputs = [INPUT_PATTERN[k % len(INPUT_PATTERN)] for k in range(sizes[0])]
    shape = "-".join(map(str, sizes))
    names = (hidden_activation.name if final is hidden_activation
             else f"{hidden_activation.name} hidden, {final.name} output" if hidden else final.name)
    summary = f"a {shape} network ({names}, {cost.name})"
    loss_text = cost.name
    if cost.params:
        loss_text = "{name: " + cost.name + "".join(f", {k}: {v:g}" for k, v in cost.params.items()) + "}"
    lines = [
        MODELINE,
        f"# A {shape} network written by `bpcalc new`: put in the numbers of your homework.",
        "# Nielsen's notation: layer l computes z^l = w^l a^(l-1) + b^l and a^l = f(z^l),",
        f"# for l = 1 … {len(sizes) - 1}; a^0 is the input. Remove or change any comment.",
        f"title: {shape} network ({names}, {cost.name})",
        "description: |",
        f"  {counted(sizes[0], 'input')}, " + "".join(f"a hidden layer of {counted(n, 'neuron')}, "
                                                       for n in sizes[1:-1])
        + f"{counted(outputs, 'output neuron')}; C = {to_unicode(cost.summed())}.",
        "",
        f"# a^0, the input: one value per input neuron ({sizes[0]}). For several examples write",
        "#   examples: [{input: [...], target: [...]}, ...]   instead of input and target,",
        "# and reduction: mean (the default) or sum of their costs.",
        f"input: {_row(inputs)}",
        f"# t, the target: one value per output neuron ({outputs}); here {target_note}.",
        f"target: {_row(targets)}",
        *_comments(f"The cost C of one example, summed over the outputs: {to_unicode(cost.summed())}."),
        *_comments(f"Built in: {', '.join(sorted(LOSSES))}."),
        "# Your own: loss: {cost: (a - t)^4/4}, a formula in a, t and n (the number of outputs).",
    ]
    for key, default in cost.params.items():
        lines.append(f"# {key}: the loss's parameter (default {default:g}).")
    lines += [
        f"loss: {loss_text}",
        "# η, for one SGD step w ← w − η·∂C/∂w (without it: gradients only).",
        "learning_rate: 0.1",
        "",
        *_comments("Activations: " + ", ".join(a.name for a in REGISTERED) + " (any letter case; "
                   "softmax only on the last layer)."),
        "# Your own: activations: {swish: {f: z*sigma(z)}} at the top of the file, a formula in z.",
        "layers:",
    ]
    start = 0
    for number in range(1, len(sizes)):
        rows, columns = sizes[number], sizes[number - 1]
        layer_activation = final if number == len(sizes) - 1 else hidden_activation
        role = "output" if number == len(sizes) - 1 else "hidden"
        feeding = counted(columns, "input") if number == 1 else \
            f"{counted(columns, 'neuron')} of layer {number - 1}"
        lines += [
            f"  # Layer {number} ({role}): {counted(rows, 'neuron')}, fed by the {feeding}.",
            (f"  # weights: {rows}×{columns}, row j = the weights into neuron j (w^{number}_jk: neuron j, "
             "input k);"),
            (f"  # bias: one per neuron (remove it for none). Their names: w{number}_jk, b{number}_j "
             "(1-based),"),
            "  # or yours with names: {weights: ..., bias: ...}; fixed: weights keeps them out of SGD.",
            f"  - activation: {layer_activation.name}",
        ]
        for key, default in layer_activation.params.items():
            lines.append(f"    {key}: {default:g}    # {layer_activation.name}'s parameter (default {default:g})")
        lines += [
            f"    weights: {_matrix(_weights(start, rows, columns), len('    weights: '))}",
            f"    bias: {_row([_tenths(1 if j % 2 == 0 else -1) for j in range(rows)])}",
        ]
        start += rows * columns
    lines += [
        "",
        "# Answer keys (`bpcalc verify` proves them) and questions (`bpcalc check` grades them):",
        "# expected:",
        "#   gradients.w1_11: 0.0123            # a path of `bpcalc solve --format json`: its value",
        "# questions:",
        "#   - id: dC_dw1_11",
        "#     prompt: What is ∂C/∂w¹₁₁?",
        "#     numeric: gradients.w1_11",
        "#",
        *_next_steps(path, LAYERED_NEXT),
    ]
    return Template("\n".join(lines) + "\n", summary, LAYERED_NEXT, tuple(notes))


def graph(*, path: str = "graph.yaml") -> Template:
    """cs231n's sigmoid neuron f = σ(w0·x0 + w1·x1 + w2) as a commented staged computation,
    with the numbers of the CS231n notes (x = (−1, −2), w = (2, −3, −3))."""
    lines = [
        MODELINE,
        "# A computation graph written by `bpcalc new --graph`: put in your own stages.",
        "# CS231n's sigmoid neuron f = σ(w0·x0 + w1·x1 + w2), one stage per node; bpcalc",
        "# evaluates the nodes in order, then takes ∂f/∂(every name) back through them.",
        "title: A sigmoid neuron as a computation graph",
        "description: |",
        "  f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2))) with x = (-1, -2), w = (2, -3, -3),",
        "  as in the CS231n notes on backpropagation.",
        "",
        "# Leaves that SGD does not update, NAME: number (a letter, then letters, digits or _).",
        "inputs: {x0: -1, x1: -2}",
        "# Leaves that SGD updates: w ← w − η·∂f/∂w.",
        "parameters: {w0: 2, w1: -3, w2: -3}",
        "# The stages in order, NAME: a formula over leaves and earlier nodes, in the syntax of",
        "# `bpcalc formula` (+ - * / ^, exp, ln, sigma, relu, tanh, max(a, b), …).",
        "nodes:",
        "  wx0: w0*x0",
        "  wx1: w1*x1",
        "  dot: wx0 + wx1 + w2",
        "  f: 1/(1 + exp(-dot))             # σ(dot); sigma(dot) says the same",
        "# The node whose gradients ∂f/∂name are taken (default: the last node).",
        "output: f",
        "# η, for one SGD step of the parameters (without it: gradients only).",
        "learning_rate: 0.1",
        "",
        "# Several input sets at once: move x0 and x1 from inputs into",
        "#   examples: [{inputs: {x0: -1, x1: -2}}, {inputs: {x0: 1, x1: 0.5}}]",
        "# and add reduction: mean (the default) or sum over the examples.",
        "# Answer keys for `bpcalc verify`: paths value, nodes.NAME.value, nodes.NAME.grad,",
        "# gradients.NAME, updated.NAME, e.g.",
        "# expected:",
        "#   gradients.w0: -0.19661193",
        "#",
        *_next_steps(path, GRAPH_NEXT),
    ]
    return Template("\n".join(lines) + "\n", "a computation graph (cs231n's sigmoid neuron)", GRAPH_NEXT)


def build(template: Template, path: str) -> Template:
    """Check that the template loads and solves as written (it always should: a failure
    here is a bug, reported as one line rather than a file that does not solve)."""
    from .problem import _Validator, parse_yaml
    from .solver import solve

    try:
        document, lines = parse_yaml(template.text, path)
        solve(_Validator(path, lines).problem(document))
    except BpcalcError as error:
        raise BpcalcError(f"bpcalc new made a file that does not solve (please report it): {error}") from None
    return template


__all__ = ["Template", "build", "gives_probabilities", "graph", "layered", "parse_sizes"]
