"""Tables drawn with Rich: colour and box lines on a terminal, plain columns in a pipe.

Rich decides colour itself (it honours NO_COLOR and FORCE_COLOR and knows when
stdout is not a terminal); we only pick a quieter box style for pipes so that
piped output reads as plain text.

Every cell, header, title and note can hold user text (a problem's title, a file
name, a key path, a student's answer), so each reaches Rich as a ``rich.text.Text``
after :func:`bpcalc.usertext.visible`: never as markup (``[/bold]`` and
``[link=…]`` are shown as typed) and never with a raw control character.

Rich lays out a table at roughly 100 µs a cell, which is minutes for the tables of
a network of 10,000 layers or for ``verify`` over a thousand files. Past
:data:`RICH_CELLS` cells, tables are laid out here instead, in the same columns as
Rich's plain style (linear in the number of cells, a few µs each).
"""

from __future__ import annotations

import textwrap
from typing import Any

from ..usertext import visible
from .tables import Table

RICH_CELLS = 3_000          # more cells than this in one print: laid out without Rich
_MIN_WRAP_WIDTH = 10        # a wrapped text column is never narrower than this


def make_console(file: Any = None) -> Any:
    from rich.console import Console

    return Console(file=file, highlight=False, soft_wrap=False)


def _text(value: str, style: str = "") -> Any:
    from rich.text import Text

    return Text(visible(value), style=style)


def rich_table(table: Table, console: Any) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    style = box.ROUNDED if console.is_terminal else box.SIMPLE
    rich = RichTable(box=style, header_style="bold" if console.is_terminal else "")
    for header, numeric in zip(table.headers, table.numeric):
        rich.add_column(_text(header), justify="right" if numeric else "left", no_wrap=numeric)
    last = len(table.rows) - 1
    for index, row in enumerate(table.rows):
        rich.add_row(*(_text(cell) for cell in row),
                     end_section=index in table.section_ends and index != last)
    return rich


def plain_table_lines(table: Table, width: int) -> list[str]:
    """The table as Rich's plain (SIMPLE box) style lays it out, without Rich: a header,
    a rule, the rows with a blank line at each section end; text columns are wrapped
    so the table fits ``width`` columns. Trailing spaces are left off."""
    from rich.cells import cell_len

    headers = [visible(header) for header in table.headers]
    rows = [[visible(cell) for cell in row] for row in table.rows]
    widths = [max([cell_len(header)] + [cell_len(row[c]) for row in rows])
              for c, header in enumerate(headers)]
    excess = 4 + sum(widths) + 3 * (len(widths) - 1) - width
    while excess > 0:
        wrappable = [c for c, numeric in enumerate(table.numeric)
                     if not numeric and widths[c] > _MIN_WRAP_WIDTH]
        if not wrappable:
            break
        widest = max(wrappable, key=lambda c: widths[c])
        cut = min(excess, widths[widest] - _MIN_WRAP_WIDTH)
        widths[widest] -= cut
        excess -= cut

    def cell_lines(text: str, column: int) -> list[str]:
        if cell_len(text) <= widths[column]:
            return [text]
        return textwrap.wrap(text, widths[column], break_on_hyphens=False) or [""]

    def line(cells: list[str]) -> str:
        padded = [cell.rjust(widths[c] - cell_len(cell) + len(cell)) if table.numeric[c]
                  else cell.ljust(widths[c] - cell_len(cell) + len(cell))
                  for c, cell in enumerate(cells)]
        return ("  " + "   ".join(padded)).rstrip()

    lines = [line(headers), " " + "─" * (sum(widths) + 3 * (len(widths) - 1) + 2)]
    last = len(rows) - 1
    for index, row in enumerate(rows):
        wrapped = [cell_lines(cell, c) for c, cell in enumerate(row)]
        for part in range(max(len(cell) for cell in wrapped)):
            lines.append(line([cell[part] if part < len(cell) else "" for cell in wrapped]))
        if index in table.section_ends and index != last:
            lines.append("")
    return lines


def print_tables(tables: list[Table], console: Any, heading: str | None = None) -> None:
    from rich.text import Text

    fast = sum(len(table.rows) * len(table.headers) for table in tables) > RICH_CELLS
    if heading:
        console.print(_text(heading, "bold"))
    for table in tables:
        console.print(_text(table.title, "bold"), soft_wrap=True)
        if table.rows and fast:
            console.file.write("\n" + "\n".join(plain_table_lines(table, console.width)) + "\n\n")
        elif table.rows:
            console.print(rich_table(table, console))
        for line in table.note.split("\n") if table.note else ():   # visible() would show \n
            console.print(Text(visible(line)), soft_wrap=True)
        console.print()


class progress_bar:
    """A Rich progress bar on a terminal (for large batches); nothing otherwise.

    Used as ``with progress_bar(console, total, "Grading") as advance: advance()``.
    """

    def __init__(self, console: Any, total: int, description: str, minimum: int = 500) -> None:
        self.console, self.total, self.description = console, total, description
        self.enabled = console.is_terminal and total >= minimum
        self.progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self.progress = Progress(console=self.console, transient=True)
        self.progress.start()
        task = self.progress.add_task(self.description, total=self.total)
        return lambda: self.progress.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
