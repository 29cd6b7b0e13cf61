"""A training run (:class:`bpcalc.training.TrainResult`) as tables and as CSV."""

from __future__ import annotations

import csv
import io

from ..numbers import format_number
from ..usertext import spreadsheet_safe
from .tables import Table


def training_tables(result, digits: int) -> list[Table]:
    """The loss at the recorded steps; the parameters (initial, final, change); the outputs."""
    s = result.settings
    options = {"momentum": s.momentum, "betas": list(s.betas), "eps": s.eps, "alpha": s.alpha,
               "weight_decay": s.weight_decay}
    from ..training import OPTIMIZERS

    taken = ", ".join(f"{key} " + (", ".join(format_number(v, digits) for v in value)
                                   if isinstance(value, list) else format_number(value, digits))
                      for key, value in options.items() if key in OPTIMIZERS[s.optimizer])
    batch = "full batch" if s.batch_size is None else (
        f"batch size {s.batch_size}, " + (f"shuffled (seed {s.seed})" if s.shuffle else "in order"))
    loss = Table(f"Loss: {s.optimizer} ({taken}), η = {format_number(result.learning_rate, digits)}, "
                 f"{batch}", ("step", "loss C"), (True, True),
                 [(str(k), format_number(c, digits)) for k, c in zip(result.steps, result.losses.tolist())])
    parameters = Table(f"Parameters after {result.steps[-1]} steps", ("parameter", "initial", "final", "change"),
                       (False, True, True, True), [
                           (name + (" (fixed)" if fixed else ""), format_number(before, digits),
                            format_number(after, digits), format_number(after - before, digits))
                           for name, fixed, before, after in zip(result.names, result.fixed,
                                                                 result.initial.tolist(), result.final.tolist())])
    layered = result.output_names == tuple(f"a{j + 1}" for j in range(result.outputs.shape[1]))
    title = "Final outputs a^L" if layered else "Final output " + ", ".join(result.output_names)
    outputs = Table(title, ("example", *result.output_names),
                    (True,) * (1 + result.outputs.shape[1]),
                    [(str(i), *(format_number(v, digits) for v in row))
                     for i, row in enumerate(result.outputs.tolist())])
    return [loss, parameters, outputs]


def training_csv(result) -> str:
    """One row per recorded step: step, loss, then one column per parameter (full precision)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(cell) for cell in ("step", "loss", *result.names)])
    for k, loss, values in zip(result.steps, result.losses.tolist(), result.parameters.tolist()):
        writer.writerow([k, repr(loss), *map(repr, values)])
    return buffer.getvalue()
