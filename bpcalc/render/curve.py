"""A loss curve: drawn in the terminal with Braille dots, written as CSV, or as PNG/SVG.

The terminal drawing is plain text (it reads the same piped); PNG and SVG need
matplotlib, the optional ``plot`` extra, imported only here and only when asked for.
The y axis is logarithmic when every loss is positive and they span more than two
decades (a training curve usually does), and the drawing says so.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence

from ..errors import BpcalcError
from ..numbers import format_number
from ..usertext import visible

IMAGE_FORMATS = ("png", "svg")
CURVE_FORMATS = ("csv", *IMAGE_FORMATS)
INSTALL = "pip install matplotlib (bpcalc's plot extra)"
# The Braille cell's dots, (column, row) -> bit: 2 columns × 4 rows per character.
_DOTS = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (0, 3): 0x40,
         (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20, (1, 3): 0x80}


def logarithmic(losses: Sequence[float]) -> bool:
    """A log scale pays off when every loss is positive and they span over two decades."""
    low, high = min(losses), max(losses)
    return low > 0 and high / low > 100


def terminal_curve(steps: Sequence[int], losses: Sequence[float], width: int = 80, height: int = 12) -> str:
    """The curve in ``width`` columns: y labels, a Braille plot, the step axis below."""
    if not steps:
        raise ValueError("a curve needs at least one point")
    log = logarithmic(losses)
    ys = [math.log10(v) for v in losses] if log else list(losses)
    top, bottom = max(ys), min(ys)
    if top == bottom:                       # a flat curve: a line through the middle
        top, bottom = top + 1, bottom - 1
    labels = [format_number(10 ** top if log else top, 3), format_number(10 ** bottom if log else bottom, 3)]
    margin = max(len(label) for label in labels) + 1
    columns = max(10, width - margin - 2)
    dots_x, dots_y = 2 * columns, 4 * height
    first, last = steps[0], steps[-1]
    span = max(last - first, 1)

    def row(y: float) -> int:               # 0 at the top
        return min(dots_y - 1, max(0, round((top - y) / (top - bottom) * (dots_y - 1))))

    lows: list[int | None] = [None] * dots_x
    highs: list[int | None] = [None] * dots_x
    ends: list[int] = [0] * dots_x          # the row of the column's last point: where the line leaves it
    for step, y in zip(steps, ys):
        x = min(dots_x - 1, round((step - first) / span * (dots_x - 1)))
        r = row(y)
        lows[x] = r if lows[x] is None else max(lows[x], r)
        highs[x] = r if highs[x] is None else min(highs[x], r)
        ends[x] = r
    drawn = [x for x in range(dots_x) if lows[x] is not None]
    for left, right in itertools.pairwise(drawn):   # columns between two points: the straight line
        for x in range(left + 1, right):
            r = round(ends[left] + (highs[right] - ends[left]) * (x - left) / (right - left))
            lows[x] = highs[x] = ends[x] = r
    cells = [[0] * columns for _ in range(height)]
    previous: int | None = None
    for x in range(dots_x):
        if lows[x] is None:
            continue
        upper, lower = highs[x], lows[x]
        if previous is not None:            # join to the last point drawn, so the line is unbroken
            upper, lower = min(upper, previous), max(lower, previous)
        for r in range(upper, lower + 1):
            cells[r // 4][x // 2] |= _DOTS[(x % 2, r % 4)]
        previous = ends[x]
    lines = ["loss" + (" (log scale)" if log else "")]
    for index, cell_row in enumerate(cells):
        label = labels[0] if index == 0 else labels[1] if index == height - 1 else ""
        axis = "┤" if label else "│"
        lines.append(f"{label:>{margin}}{axis}" + "".join(chr(0x2800 + bits) for bits in cell_row).rstrip("\u2800"))
    lines.append(" " * margin + "└" + "─" * columns)
    left, right = f"{first:,}", f"{last:,}"
    room = columns - len(left) - len(right)         # the axis's name between the two ticks
    middle = "step".center(room) if room >= 6 else " " * max(1, room)
    lines.append(" " * (margin + 1) + left + middle + right)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def curve_csv(steps: Sequence[int], losses: Sequence[float]) -> bytes:
    """``step,loss`` rows at full precision (repr: the float read back is the same)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("step", "loss"))
    writer.writerows((int(k), repr(float(c))) for k, c in zip(steps, losses))
    return buffer.getvalue().encode("utf-8")


def curve_image(steps: Sequence[int], losses: Sequence[float], fmt: str, title: str, subtitle: str) -> bytes:
    """The curve as PNG or SVG bytes, through matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure
    except ImportError:
        raise BpcalcError(f"a {fmt.upper()} loss curve needs matplotlib, which is not installed: "
                          f"{INSTALL}; or write the curve as CSV (--output curve.csv)") from None
    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    axes.plot(list(steps), list(losses), linewidth=1.5, color="#1f77b4")
    if logarithmic(losses):
        axes.set_yscale("log")
    axes.set_xlabel("step", parse_math=False)
    axes.set_ylabel("loss C", parse_math=False)
    axes.set_title(visible(title), parse_math=False, fontsize=11)     # user text: never mathtext
    axes.text(0.99, 0.98, visible(subtitle), transform=axes.transAxes, ha="right", va="top",
              fontsize=8, color="#555555", parse_math=False)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}    # the same bytes every run
    with matplotlib.rc_context({"svg.hashsalt": "bpcalc"}):            # stable element ids
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()
