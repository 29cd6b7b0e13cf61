"""Derivations (``bpcalc explain``) on a terminal, and the Markdown and LaTeX documents.

Text: Rich on a terminal (bold headings, dim notes, yellow warnings), plain when piped,
at most 80 columns when piped, every step numbered "Step 3/16". A step's equation
stays on one line when it fits and otherwise breaks before each "=" with the signs
aligned, as on paper. The words and math come from
:class:`bpcalc.derivation.printers.UnicodePrinter`; this module only lays them out and
styles them. Markdown and LaTeX are the core's printers.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, Iterator

from ..derivation import Derivation, Step, Table
from ..derivation.printers import UnicodePrinter, blocks, has_equation, print_document, unicode

INDENT = "  "
NBSP = "\u00a0"


def render_markdown(derivation: Derivation) -> str:
    return print_document(derivation, "markdown")


def render_latex(derivation: Derivation, *, standalone: bool = False) -> str:
    return print_document(derivation, "latex", standalone=standalone)


@dataclass
class _Block:
    """What one page of --step shows: a section heading (if the section starts here), the
    step, its note and warnings, and any table that closes the section."""

    number: int
    step: Step
    section: str | None
    tables: list[Table]


def equation_lines(printer: UnicodePrinter, step: Step, width: int) -> list[str]:
    """The equation on one line if it fits in ``width``, else one form per line with the
    relations aligned under the first."""
    forms = [(rel, printer.expression(form)) for rel, form in step.forms()]
    one_line = " ".join(f"{rel} {text}" if rel else text for rel, text in forms)
    if len(one_line) <= width or len(forms) <= 2:
        return [one_line]
    lhs = forms[0][1]
    pad = " " * len(lhs)
    lines = [f"{lhs} {forms[1][0]} {forms[1][1]}"]
    lines += [f"{pad} {rel} {text}" for rel, text in forms[2:]]
    return lines


class _Raw(str):
    """A line already drawn (with its ANSI styles, on a terminal): printed as it is."""


def wrap(text: str, width: int, indent: str = "", hanging: str = "") -> list[str]:
    """Lines of at most ``width`` columns (where spaces allow), without trailing spaces;
    a formula written with non-breaking spaces (see :func:`prose_text`) stays on one line."""
    lines = textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=hanging,
                          break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]
    return [line.replace(NBSP, " ") for line in lines]


class TextRenderer:
    """A derivation as styled lines, block by block (the pager shows one block at a time)."""

    def __init__(self, derivation: Derivation, console: Any) -> None:
        self.d = derivation
        self.console = console
        self.total = len(derivation.steps)
        self.styled = console.is_terminal
        self.width = max(40, min(console.width, 100))
        self.printer = UnicodePrinter(derivation.digits)

    def style(self, name: str) -> str:
        return name if self.styled else ""

    def prose(self, prose: Any) -> str:
        """Prose for the terminal; short formulas do not break across lines."""
        out = []
        for segment in prose:
            text = self.printer.print(segment)
            if not isinstance(segment, str) and len(text) <= 40:
                text = text.replace(" ", NBSP)
            out.append(text)
        return "".join(out)

    def header(self) -> list[Any]:
        out: list[Any] = [(line, "bold") for line in wrap(self.printer.words(self.d.title), self.width)]
        for paragraph in self.d.intro:
            out += [(line, "dim") for line in wrap(self.prose(paragraph), self.width)]
        if not self.d.steps:
            out.append(("(nothing to show)", ""))
        return out

    def block(self, block: _Block) -> list[Any]:
        out: list[Any] = []
        if block.section is not None:
            section = self.printer.words(block.section)
            out += [("", ""), (section, "bold underline")]
            if not self.styled:
                out.append(("─" * min(len(section), self.width), ""))
        step = block.step
        out.append(("", ""))
        heading = self.printer.words(self.printer.heading(step, block.number, self.total))
        out += [(line, "bold") for line in wrap(heading, self.width, "", INDENT)]
        lines = equation_lines(self.printer, step, self.width - len(INDENT)) if has_equation(step) else []
        if step.summarised:
            lines.append(" " * len(unicode(step.lhs)) + " = " + step.summary())
        for line in lines:
            hanging = INDENT + " " * (line.find(" = ") + 3 if " = " in line[:40] else 4)
            out += [(text, "") for text in wrap(line, self.width, INDENT, hanging)]
        if step.note is not None:
            out += [(line, "dim italic") for line in wrap("↳ " + self.prose(step.note), self.width,
                                                          INDENT, INDENT + "  ")]
        for caution in self.d.warnings_after(block.number - 1):
            out += [(line, "bold yellow") for line in wrap("⚠ Warning: " + self.prose(caution.message),
                                                           self.width, INDENT, INDENT + "  ")]
        for table in block.tables:
            out.extend(self.table(table))
        return out

    def table(self, table: Table) -> list[Any]:
        from rich import box
        from rich.table import Table as RichTable
        from rich.text import Text

        rich = RichTable(box=box.ROUNDED if self.styled else box.SIMPLE, title=Text(table.title),
                         title_justify="left", header_style=self.style("bold"))
        for header in table.headers:
            rich.add_column(Text(self.printer.print(header)), justify="left" if header == "" else "right")
        for row in table.rows:
            rich.add_row(*(Text(self.printer.cell(cell)) for cell in row))
        with self.console.capture() as captured:
            self.console.print(rich)
        out: list[Any] = [("", "")]
        out += [_Raw(line.rstrip()) for line in captured.get().splitlines()]
        if table.note:
            out += [(line, "dim") for line in wrap(self.printer.print(table.note), self.width)]
        return out

    def footer(self) -> list[Any]:
        loose = [w for w in self.d.warnings if w.step is None]
        out: list[Any] = []
        if loose:
            out += [("", ""), ("Warnings", "bold underline")]
            for caution in loose:
                out += [(line, "bold yellow") for line in wrap("⚠ " + self.prose(caution.message),
                                                               self.width, INDENT, INDENT + "  ")]
        return out

    def blocks(self) -> Iterator[_Block]:
        return (_Block(*block) for block in blocks(self.d))

    def print(self, items: list[Any]) -> None:
        from rich.text import Text

        for item in items:
            if isinstance(item, _Raw):
                self.console.print(Text.from_ansi(item), soft_wrap=True)
            else:
                text, style = item
                self.console.print(Text(text, style=self.style(style) or ""), soft_wrap=True)


def print_text(derivation: Derivation, console: Any) -> None:
    renderer = TextRenderer(derivation, console)
    renderer.print(renderer.header())
    for block in renderer.blocks():
        renderer.print(renderer.block(block))
    renderer.print(renderer.footer())
