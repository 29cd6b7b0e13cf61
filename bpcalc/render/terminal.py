"""Tables drawn with Rich: colour and box lines on a terminal, plain columns in a pipe.

Rich decides colour itself (it honours NO_COLOR and FORCE_COLOR and knows when
stdout is not a terminal); we only pick a quieter box style for pipes so that
piped output reads as plain text.
"""

from __future__ import annotations

from typing import Any

from .tables import Table


def make_console(file: Any = None) -> Any:
    from rich.console import Console

    return Console(file=file, highlight=False, soft_wrap=False)


def rich_table(table: Table, console: Any) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    style = box.ROUNDED if console.is_terminal else box.SIMPLE
    rich = RichTable(box=style, header_style="bold" if console.is_terminal else "")
    for header, numeric in zip(table.headers, table.numeric):
        rich.add_column(header, justify="right" if numeric else "left", no_wrap=numeric)
    for index, row in enumerate(table.rows):
        rich.add_row(*row, end_section=index in table.section_ends and index != len(table.rows) - 1)
    return rich


def print_tables(tables: list[Table], console: Any, heading: str | None = None) -> None:
    if heading:
        console.print(heading, style="bold", markup=False)
    for table in tables:
        console.print(table.title, style="bold", markup=False, soft_wrap=True)
        if table.rows:
            console.print(rich_table(table, console))
        if table.note:
            console.print(table.note, markup=False, soft_wrap=True)
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
