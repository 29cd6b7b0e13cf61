"""Many steps of training: the optimizers of ``torch.optim``, on the layers' arrays.

A problem file's ``train:`` mapping is validated into :class:`TrainSettings` by the
loader (:func:`read_settings`); :func:`train` then runs the steps. Each step is one
forward and one backward pass on the current parameters and the step's mini-batch:
for a layered network the solver's (:func:`bpcalc.solver.forward`,
:func:`~bpcalc.solver.output_error`, :func:`~bpcalc.solver.backward`) on the weight
arrays, for a computation graph its compiled node programs
(:func:`bpcalc.graph.forward_pass`, :func:`~bpcalc.graph.backward_pass`), whose
output reduced over the examples is the loss. The problem is never rebuilt or
validated again. ``fixed`` parameters are not updated. The loss recorded at step k is the
full-data loss at the parameters after k updates (step 0: before any update).

Every optimizer follows the update rule that the PyTorch documentation gives for its
class (g is ∂C/∂θ of the mini-batch, η the learning rate, λ the weight decay, t the
step number from 1):

* ``sgd`` (``torch.optim.SGD``):              g ← g + λθ;  θ ← θ − ηg
* ``momentum`` (``SGD(momentum=μ)``):         g ← g + λθ;  b ← μb + g;  θ ← θ − ηb
* ``nesterov`` (``SGD(momentum=μ, nesterov=True)``): as momentum, then g ← g + μb;  θ ← θ − ηg
* ``adagrad`` (``torch.optim.Adagrad``):      g ← g + λθ;  s ← s + g²;  θ ← θ − η g/(√s + ε)
* ``rmsprop`` (``torch.optim.RMSprop``):      g ← g + λθ;  v ← αv + (1 − α)g²;
  θ ← θ − η g/(√v + ε)  (with momentum μ > 0: b ← μb + g/(√v + ε);  θ ← θ − ηb)
* ``adam`` (``torch.optim.Adam``):            g ← g + λθ;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
  θ ← θ − η (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε)
* ``adamw`` (``torch.optim.AdamW``):          θ ← θ − ηλθ (decoupled), then Adam's update with g as is

Buffers b, s, m, v start at 0. The defaults are torch.optim's (AdamW's weight decay
is 0.01, every other 0), except that ``momentum`` and ``nesterov`` default to μ = 0.9.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BpcalcError

Array = np.ndarray

DEFAULT_STEPS = 100
MAX_STEPS = 100_000_000
COMMON_KEYS = ("steps", "optimizer", "batch_size", "shuffle", "seed")
# The options each optimizer takes (an option given for another optimizer is an error).
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "sgd": ("weight_decay",),
    "momentum": ("momentum", "weight_decay"),
    "nesterov": ("momentum", "weight_decay"),
    "adagrad": ("eps", "weight_decay"),
    "rmsprop": ("alpha", "eps", "momentum", "weight_decay"),
    "adam": ("betas", "eps", "weight_decay"),
    "adamw": ("betas", "eps", "weight_decay"),
}
OPTION_KEYS = ("momentum", "betas", "eps", "alpha", "weight_decay")
TRAIN_KEYS = COMMON_KEYS + OPTION_KEYS


def _defaults(optimizer: str) -> dict[str, Any]:
    """torch.optim's defaults for the optimizer's options (μ = 0.9 for momentum, nesterov)."""
    return {
        "momentum": 0.9 if optimizer in ("momentum", "nesterov") else 0.0,
        "betas": (0.9, 0.999),
        "eps": 1e-10 if optimizer == "adagrad" else 1e-8,
        "alpha": 0.99,
        "weight_decay": 0.01 if optimizer == "adamw" else 0.0,
    }


@dataclass(frozen=True)
class TrainSettings:
    """How to train: the ``train:`` mapping of a problem file, with defaults filled in.
    ``given`` holds the option keys that were written (not defaulted)."""

    steps: int = DEFAULT_STEPS
    optimizer: str = "sgd"
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99
    weight_decay: float = 0.0
    batch_size: int | None = None           # None: the full batch
    shuffle: bool = True
    seed: int = 0
    given: frozenset[str] = field(default_factory=frozenset)

    def with_overrides(self, fail: Callable[[str, str], Exception], examples: int,
                       **overrides: Any) -> TrainSettings:
        """These settings with the options given on the command line (None: not given).
        When the optimizer changes, the file's options for the old one fall back to the
        new one's defaults; an option given here that the optimizer does not take is an error."""
        overrides = {key: value for key, value in overrides.items() if value is not None}
        values: dict[str, Any] = {key: getattr(self, key) for key in COMMON_KEYS}
        optimizer = overrides.get("optimizer", self.optimizer)
        kept = {key for key in self.given if key in OPTIMIZERS.get(str(optimizer), ())}
        values.update({key: getattr(self, key) for key in kept})
        values.update(overrides)
        return settings_from(values, fail, examples)


def settings_from(values: Mapping[str, Any], fail: Callable[[str, str], Exception],
                  examples: int) -> TrainSettings:
    """Validate a ``train:`` mapping. ``fail(key, message)`` makes the located error
    (the loader's ``train.KEY`` at FILE:LINE:COL, or a command-line option)."""
    from .problem import describe, did_you_mean

    for key in values:
        if key not in TRAIN_KEYS:
            raise fail(key, f"unknown key {key!r}{did_you_mean(key, TRAIN_KEYS)}; expected one of: "
                       + ", ".join(TRAIN_KEYS))
    name = values.get("optimizer", "sgd")
    optimizer = name.strip().lower() if isinstance(name, str) else None
    if optimizer not in OPTIMIZERS:
        raise fail("optimizer", f"unknown optimizer {describe(name)}{did_you_mean(str(name), list(OPTIMIZERS))}; "
                   f"expected one of: {', '.join(OPTIMIZERS)}")
    takes = OPTIMIZERS[optimizer]
    for key in OPTION_KEYS:
        if key in values and key not in takes:
            owners = ", ".join(o for o, options in OPTIMIZERS.items() if key in options)
            raise fail(key, f"{optimizer} takes no '{key}' (it takes {', '.join(takes)}); "
                       f"'{key}' is an option of {owners}")

    def number(key: str, value: Any, low: float, high: float | None = None, *,
               low_open: bool = False, what: str = "") -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise fail(key, f"expected a number{what}, got {describe(value)}")
        value = float(value)
        if (value <= low if low_open else value < low) or (high is not None and value >= high):
            bounds = (f"in ({low:g}, {high:g})" if low_open else f"in [{low:g}, {high:g})") if high is not None \
                else (f"> {low:g}" if low_open else f">= {low:g}")
            raise fail(key, f"expected a number {bounds}{what}, got {describe(value)}")
        return value

    def integer(key: str, value: Any, low: int, high: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
            raise fail(key, f"expected a whole number ({what}), got {describe(value)}")
        if not low <= value <= high:
            raise fail(key, f"expected a whole number from {low:,} to {high:,} ({what}), got {describe(value)}")
        return int(value)

    result: dict[str, Any] = dict(_defaults(optimizer), optimizer=optimizer)
    if "steps" in values:
        result["steps"] = integer("steps", values["steps"], 0, MAX_STEPS, "the number of updates")
    if values.get("batch_size") is not None:
        result["batch_size"] = integer("batch_size", values["batch_size"], 1, examples,
                                       f"the problem has {examples} example{'s' * (examples != 1)}")
    if "shuffle" in values and not isinstance(values["shuffle"], bool):
        raise fail("shuffle", f"expected true or false, got {describe(values['shuffle'])}")
    result["shuffle"] = values.get("shuffle", True)
    if "seed" in values:
        result["seed"] = integer("seed", values["seed"], 0, 2**63 - 1, "the seed of the shuffle")
    if "momentum" in values:
        result["momentum"] = number("momentum", values["momentum"], 0.0, 1.0, what=" (μ)")
    if optimizer == "nesterov" and result["momentum"] == 0:
        raise fail("momentum", "nesterov needs a momentum above 0 (as torch.optim.SGD does)")
    if "betas" in values:
        betas = values["betas"]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise fail("betas", f"expected two numbers [β1, β2] such as [0.9, 0.999], got {describe(betas)}")
        result["betas"] = tuple(number("betas", beta, 0.0, 1.0, what=f" (β{i + 1})")
                                for i, beta in enumerate(betas))
    if "eps" in values:
        result["eps"] = number("eps", values["eps"], 0.0, low_open=True, what=" (ε)")
    if "alpha" in values:
        result["alpha"] = number("alpha", values["alpha"], 0.0, 1.0, what=" (the smoothing constant α)")
    if "weight_decay" in values:
        result["weight_decay"] = number("weight_decay", values["weight_decay"], 0.0, what=" (λ)")
    given = frozenset(key for key in OPTION_KEYS if key in values)
    return TrainSettings(**result, given=given)


def read_settings(validator: Any, value: Any, examples: int) -> TrainSettings | None:
    """The loader's call: ``train:`` of a problem file, or None when there is none."""
    if value is None:
        return None
    mapping = validator.keys(value, ("train",), TRAIN_KEYS, "training settings")

    def fail(key: str, message: str) -> Exception:
        return validator.fail(("train", key), message)

    return settings_from(mapping, fail, examples)


# -- optimizers ----------------------------------------------------------------

class Optimizer:
    """One optimizer's state over a list of parameter arrays, updated in place."""

    def __init__(self, settings: TrainSettings, rate: float, params: Sequence[Array]) -> None:
        self.s, self.rate, self.t = settings, rate, 0
        zeros = [np.zeros_like(p) for p in params]
        self.first = zeros                                   # b, s (adagrad) or m
        self.second = [np.zeros_like(p) for p in params]     # v (rmsprop, adam, adamw)
        self.update = getattr(self, "_" + settings.optimizer)

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self.t += 1
        s = self.s
        for i, (theta, g) in enumerate(zip(params, grads)):
            if s.weight_decay and s.optimizer != "adamw":
                g = g + s.weight_decay * theta
            self.update(i, theta, g)

    def _sgd(self, i: int, theta: Array, g: Array) -> None:
        theta -= self.rate * g

    def _momentum(self, i: int, theta: Array, g: Array) -> None:
        b = self.first[i]
        b *= self.s.momentum
        b += g
        theta -= self.rate * b

    def _nesterov(self, i: int, theta: Array, g: Array) -> None:
        b = self.first[i]
        b *= self.s.momentum
        b += g
        theta -= self.rate * (g + self.s.momentum * b)

    def _adagrad(self, i: int, theta: Array, g: Array) -> None:
        total = self.first[i]
        total += g * g
        theta -= self.rate * g / (np.sqrt(total) + self.s.eps)

    def _rmsprop(self, i: int, theta: Array, g: Array) -> None:
        alpha, v = self.s.alpha, self.second[i]
        v *= alpha
        v += (1 - alpha) * g * g
        scaled = g / (np.sqrt(v) + self.s.eps)
        if self.s.momentum > 0:
            b = self.first[i]
            b *= self.s.momentum
            b += scaled
            scaled = b
        theta -= self.rate * scaled

    def _adam(self, i: int, theta: Array, g: Array) -> None:
        (beta1, beta2), m, v, t = self.s.betas, self.first[i], self.second[i], self.t
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        theta -= self.rate * m_hat / (np.sqrt(v_hat) + self.s.eps)

    def _adamw(self, i: int, theta: Array, g: Array) -> None:
        theta *= 1 - self.rate * self.s.weight_decay
        self._adam(i, theta, g)


# -- the training loop ---------------------------------------------------------

@dataclass(frozen=True)
class TrainResult:
    """The recorded steps of a training run and where it ended."""

    settings: TrainSettings
    learning_rate: float
    names: tuple[str, ...]                  # every parameter, in the order of the solution's
    fixed: tuple[bool, ...]
    initial: Array                          # parameter values before training, in ``names`` order
    final: Array
    steps: tuple[int, ...]                  # the recorded step numbers (0 and the last always)
    losses: Array                           # the full-data loss at each recorded step
    parameters: Array | None                # (recorded steps, parameters), when asked for
    outputs: Array                          # the outputs of every example at the final parameters
    final_loss: float
    curve: tuple[Array, Array] | None = None    # (steps, losses) recorded for a plot, when asked for
    output_names: tuple[str, ...] = ()          # the columns of ``outputs``: a1, a2, … or the graph's output

    def to_dict(self) -> dict[str, Any]:
        """The document ``bpcalc train --format json`` prints, at full precision."""
        return {
            "steps": [{"step": k, "loss": float(c)} for k, c in zip(self.steps, self.losses.tolist())],
            "final": {
                "step": self.steps[-1],
                "loss": self.final_loss,
                "parameters": dict(zip(self.names, self.final.tolist())),
                "outputs": self.outputs.tolist(),
            },
        }


class _Network:
    """A layered problem's trainable arrays, and its loss and gradients on a batch.
    ``regularization: {l2: λ}`` adds λ/(2n)·Σw² to the loss (n: every example) and
    (λ/n)·w to each weight's gradient."""

    def __init__(self, problem: Any) -> None:
        from .solver import backward, forward, output_error

        self._passes = forward, output_error, backward
        self.problem = problem
        self.params = [(layer.weights.copy(), None if layer.bias is None else layer.bias.copy())
                       for layer in problem.layers]
        self.trainable: list[Array] = []
        self._slots: list[tuple[int, int]] = []     # (layer, 0 weights / 1 bias) of each trainable array
        names: list[str] = []
        fixed: list[bool] = []
        for number, (layer, (w, b)) in enumerate(zip(problem.layers, self.params)):
            names += layer.weight_names.flat()
            fixed += ["weights" in layer.fixed] * w.size
            if "weights" not in layer.fixed:
                self.trainable.append(w)
                self._slots.append((number, 0))
            if b is not None:
                names += layer.bias_names.flat()
                fixed += ["bias" in layer.fixed] * b.size
                if "bias" not in layer.fixed:
                    self.trainable.append(b)
                    self._slots.append((number, 1))
        self.names, self.fixed = tuple(names), tuple(fixed)
        self.output_names = tuple(f"a{j + 1}" for j in range(problem.layers[-1].weights.shape[0]))
        self.examples = len(problem.inputs)
        self._mean = problem.reduction == "mean"
        self._decay = problem.l2 / self.examples

    def flat(self) -> Array:
        return _flat(self.params)

    def _loss(self, costs: Array) -> float:        # costs.mean() is the same sum / n, with more overhead
        total = float(costs.sum())
        loss = total / len(costs) if self._mean else total
        if self._decay:
            loss += self._decay / 2 * sum(float(np.vdot(w, w)) for w, _b in self.params)
        return loss

    def gradients(self, chosen: Array | None) -> tuple[float | None, list[Array]]:
        """The gradients of the batch (``chosen`` examples; None: all of them) and, for the
        full batch, the loss at the current parameters."""
        forward, output_error, backward = self._passes
        problem = self.problem
        batch_in, batch_t = (problem.inputs, problem.targets) if chosen is None else (
            problem.inputs[chosen], problem.targets[chosen])
        zs, activations = forward(problem, self.params, batch_in)
        costs, delta = output_error(problem, zs[-1], activations[-1], batch_t)
        deltas = backward(problem, zs, activations, delta, [w for w, _ in self.params])
        scale = 1.0 / len(batch_in) if self._mean else 1.0
        previous = [batch_in, *activations[:-1]]
        decay, params = self._decay, self.params
        grads = [scale * (deltas[l].T @ previous[l]) + (decay * params[l][0] if decay else 0.0)
                 if kind == 0 else scale * deltas[l].sum(axis=0) for l, kind in self._slots]
        return (self._loss(costs) if chosen is None else None), grads

    def loss(self) -> float:
        return self.evaluate()[0]

    def evaluate(self) -> tuple[float, Array]:
        """The full-data loss and a^L of every example, at the current parameters."""
        forward, output_error, _ = self._passes
        zs, activations = forward(self.problem, self.params)
        return self._loss(output_error(self.problem, zs[-1], activations[-1])[0]), activations[-1]


class _Graph:
    """A computation graph's parameters (one array, in file order); its output, reduced
    over the examples (mean or sum), is the loss that training minimises."""

    def __init__(self, problem: Any) -> None:
        self.problem = problem
        self.names = tuple(problem.parameters)
        self.fixed = (False,) * len(self.names)
        self.output_names = (problem.output,)
        self.theta = np.array([problem.parameters[name] for name in self.names], dtype=np.float64)
        self.trainable = [self.theta] if self.names else []
        self.examples = problem.examples
        self._inputs = {name: np.asarray(values, dtype=np.float64) for name, values in problem.inputs.items()}
        self._mean = problem.reduction == "mean"

    def flat(self) -> Array:
        return self.theta.copy()

    def _run(self, chosen: Array | None, backward: bool) -> tuple[Any, dict[str, Any] | None]:
        from .graph import backward_pass, forward_pass

        size = self.examples if chosen is None else len(chosen)
        if size == 1:                      # floats: an array of one costs ten times more per operation
            row = 0 if chosen is None else int(chosen[0])
            env: dict[str, Any] = {name: float(values[row]) for name, values in self._inputs.items()}
            env.update(zip(self.names, self.theta.tolist()))
        else:
            env = {name: (values if chosen is None else values[chosen]) for name, values in self._inputs.items()}
            env.update((name, np.full(size, value)) for name, value in zip(self.names, self.theta.tolist()))
        tapes = forward_pass(self.problem, env)
        output = env[self.problem.output]
        return output, (backward_pass(self.problem, env, tapes) if backward else None)

    def _reduce(self, values: Any) -> float:
        values = np.asarray(values, dtype=np.float64)
        return float(values.mean() if self._mean else values.sum())

    def gradients(self, chosen: Array | None) -> tuple[float | None, list[Array]]:
        output, grads = self._run(chosen, True)
        assert grads is not None
        g = np.array([self._reduce(grads[name]) for name in self.names], dtype=np.float64)
        return (self._reduce(output) if chosen is None else None), ([g] if self.names else [])

    def loss(self) -> float:
        return self.evaluate()[0]

    def evaluate(self) -> tuple[float, Array]:
        """The reduced output and the output of every example, at the current parameters."""
        output, _ = self._run(None, False)
        values = np.broadcast_to(np.asarray(output, dtype=np.float64), (self.examples,))
        return self._reduce(values), values.reshape(-1, 1).copy()


def _flat(params: Sequence[tuple[Array, Array | None]]) -> Array:
    return np.concatenate([part.ravel() for w, b in params for part in ((w,) if b is None else (w, b))])


def train(problem: Any, settings: TrainSettings | None = None, *, learning_rate: float | None = None,
          every: int = 1, curve_every: int | None = None, keep_parameters: bool = False,
          progress: Callable[[int], None] | None = None) -> TrainResult:
    """Train a problem (a layered network, or a computation graph whose output is the
    loss) for ``settings.steps`` updates (settings: the problem's own ``train:``, else
    the defaults). ``every`` records the loss every K steps (and at the last);
    ``curve_every`` records it for a plot too, every K steps; ``keep_parameters``
    records every parameter at the ``every`` steps; ``progress(k)`` is called now and
    then with the number of steps done."""
    settings = settings or getattr(problem, "train", None) or TrainSettings()
    rate = problem.learning_rate if learning_rate is None else learning_rate
    source = problem.source or "<problem>"
    if rate is None:
        raise BpcalcError(f"{source}: training needs a learning rate η: write "
                          "learning_rate: in the file or give --learning-rate")
    if every < 1 or (curve_every is not None and curve_every < 1):
        raise BpcalcError(f"every: expected a whole number of at least 1, got {min(every, curve_every or 1)}")
    model: _Network | _Graph = _Graph(problem) if getattr(problem, "kind", None) == "graph" else _Network(problem)
    initial = model.flat()
    optimizer = Optimizer(settings, rate, model.trainable)
    n = model.examples
    size = settings.batch_size or n
    full = size >= n
    rng = np.random.default_rng(settings.seed)
    order: Array = np.arange(n)
    position = n                                # start a new epoch at the first step
    steps, losses, snapshots = [], [], []
    curve_steps: list[int] = []
    curve_losses: list[float] = []
    curve = curve_every or 0

    def record(k: int, loss: float, table: bool = True) -> None:
        if not np.isfinite(loss):
            raise BpcalcError(f"{source}: the loss is no longer finite after "
                              f"{k} step{'s' * (k != 1)} ({settings.optimizer}, η = {rate:g}): the "
                              "training diverges; try a smaller learning rate")
        if table:
            steps.append(k)
            losses.append(loss)
            if keep_parameters:
                snapshots.append(model.flat())
        if curve and (k % curve == 0 or k == settings.steps):
            curve_steps.append(k)
            curve_losses.append(loss)

    total = settings.steps
    with np.errstate(all="ignore"):
        for k in range(total):
            chosen = None
            if not full:
                if position >= n:
                    order = rng.permutation(n) if settings.shuffle else order
                    position = 0
                chosen = order[position:position + size]
                position += size
            loss, grads = model.gradients(chosen)
            table = k % every == 0
            if table or (curve and k % curve == 0):
                record(k, model.loss() if loss is None else loss, table)
            optimizer.step(model.trainable, grads)
            if progress is not None and (k + 1) % 1000 == 0:
                progress(k + 1)
        final_loss, outputs = model.evaluate()
    record(total, final_loss)
    return TrainResult(settings, rate, model.names, model.fixed, initial, model.flat(),
                       tuple(steps), np.array(losses), np.array(snapshots) if keep_parameters else None,
                       outputs, final_loss,
                       (np.array(curve_steps), np.array(curve_losses)) if curve else None,
                       model.output_names)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``train:`` (for :mod:`bpcalc.schema`); the loader checks the rest
    (an option the chosen optimizer does not take, batch_size against the examples)."""
    from .schema import any_case

    def prop(title: str, description: str, **schema: Any) -> dict[str, Any]:
        return {"title": title, "description": description, **schema}

    unit = {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
    return prop(
        "Training settings", "For `bpcalc train`: how many updates, with which torch.optim optimizer "
        "(learning_rate is η).",
        type=["object", "null"], additionalProperties=False, properties={
            "steps": prop("Steps", f"Updates to take (default {DEFAULT_STEPS}).",
                          type="integer", minimum=0, maximum=MAX_STEPS),
            "optimizer": prop("Optimizer", "The torch.optim update rule (default sgd; any case).",
                              anyOf=[{"enum": list(OPTIMIZERS)},
                                     {"type": "string", "pattern": any_case(OPTIMIZERS)}]),
            "momentum": prop("Momentum μ", "For momentum and nesterov (default 0.9) and rmsprop (default 0).",
                             **unit),
            "betas": prop("β1, β2", "Adam's decay rates of the moment estimates (default [0.9, 0.999]).",
                          type="array", minItems=2, maxItems=2,
                          items=prop("β", "A decay rate in [0, 1).", **unit)),
            "eps": prop("ε", "Added to the denominator: adagrad (default 1e-10), rmsprop, adam, adamw (1e-8).",
                        type="number", exclusiveMinimum=0),
            "alpha": prop("α", "RMSprop's smoothing constant (default 0.99).", **unit),
            "weight_decay": prop("Weight decay λ", "Added to the gradient as λθ; decoupled (θ ← θ − ηλθ) "
                                 "for adamw (default 0; adamw 0.01).", type="number", minimum=0),
            "batch_size": prop("Mini-batch size", "Examples per update (default: all of them).",
                               type=["integer", "null"], minimum=1),
            "shuffle": prop("Shuffle", "Reshuffle the examples every epoch (default true).", type="boolean"),
            "seed": prop("Seed", "Seed of the shuffle (numpy.random.default_rng; default 0).",
                         type="integer", minimum=0),
        })
