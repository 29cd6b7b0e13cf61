"""Derivations (``bpcalc explain``) as terminal text, Markdown or LaTeX.

Text: Rich on a terminal (bold headings, dim notes, yellow warnings), plain when piped,
at most 80 columns when piped, every step numbered "Step 3/16". A step's equation
stays on one line when it fits and otherwise breaks before each "=" with the signs
aligned, as on paper.

Markdown: ``$…$`` inline and ``$$…$$`` display math that GitHub and Jupyter both
render. GitHub runs Markdown before MathJax and only protects ``\\\\`` at the end of a
line, so matrix rows end their line, and the thin space ``\\,`` (which Markdown would
read as an escaped comma) is written as a plain ``\\ `` space.

LaTeX: one ``align*`` per step with the step's title as a paragraph above it; needs
only amsmath. ``standalone=True`` wraps it in a minimal document that pdflatex compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from ..derivation import (
    RELATIONS_LATEX, Derivation, Math, Step, Table, TeX, latex, latex_text,
    prose_latex, prose_unicode, unicode,
)
from ..numbers import format_number

INDENT = "  "


# ------------------------------------------------------------------ shared

def step_heading(step: Step, number: int, total: int) -> str:
    """``Step 7/16 · gradient of w2 (w²₁₁) · BP4``."""
    title = step.title
    if step.indexed is not None and unicode(step.indexed) != step.title.rsplit(" ", 1)[-1]:
        title += f" ({unicode(step.indexed)})"
    if (step.rule.startswith("BP") or step.rule in ("SGD", "chain")) and step.rule not in step.title:
        title += f" · {step.rule}" if step.rule != "chain" else " · chain rule"
    return f"Step {number}/{total} · {title}"


def has_equation(step: Step) -> bool:
    """A statement with nothing but its subject (a concept's prose) shows no equation."""
    return len(step.forms()) > 1 or step.value is not None


def equation_lines(step: Step, width: int) -> list[str]:
    """The equation on one line if it fits in ``width``, else one form per line with the
    relations aligned under the first."""
    forms = [(rel, unicode(form)) for rel, form in step.forms()]
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


@dataclass
class _Block:
    """What one page of --step shows: a section heading (if the section starts here), the
    step, its note and warnings, and any table that closes the section."""

    number: int
    step: Step
    section: str | None
    tables: list[Table]


def _blocks(derivation: Derivation) -> Iterator[_Block]:
    steps = derivation.steps
    for index, step in enumerate(steps):
        starts = index == 0 or steps[index - 1].section != step.section
        ends = index == len(steps) - 1 or steps[index + 1].section != step.section
        tables = [t for t in derivation.tables if t.section == step.section] if ends else []
        yield _Block(index + 1, step, step.section if starts else None, tables)


def _cell_text(value: Any, digits: int) -> str:
    if isinstance(value, float):
        text = format_number(value, digits)
        return "−" + text[1:] if text.startswith("-") else text
    if isinstance(value, tuple):
        return prose_unicode(value)
    if isinstance(value, Math):
        return prose_unicode([value])
    return str(value)


def _cell_latex(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return f"${format_number(value, digits)}$".replace("e", r"\mathrm{e}")
    if isinstance(value, tuple):
        return prose_latex(value)
    if isinstance(value, (Math, TeX)):
        return prose_latex([value])
    return latex_text(str(value))


# ------------------------------------------------------------------ text

NBSP = "\u00a0"


def wrap(text: str, width: int, indent: str = "", hanging: str = "") -> list[str]:
    """Lines of at most ``width`` columns (where spaces allow), without trailing spaces;
    a formula written with non-breaking spaces (see :func:`prose_text`) stays on one line."""
    import textwrap

    lines = textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=hanging,
                          break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]
    return [line.replace(NBSP, " ") for line in lines]


def prose_text(prose: Any) -> str:
    """Prose for the terminal: like prose_unicode, but short formulas do not break."""
    out = []
    for segment in prose:
        text = prose_unicode([segment])
        if not isinstance(segment, str) and len(text) <= 40:
            text = text.replace(" ", NBSP)
        out.append(text)
    return "".join(out)


class TextRenderer:
    """A derivation as styled lines, block by block (the pager shows one block at a time)."""

    def __init__(self, derivation: Derivation, console: Any) -> None:
        self.d = derivation
        self.console = console
        self.total = len(derivation.steps)
        self.styled = console.is_terminal
        self.width = max(40, min(console.width, 100))

    def style(self, name: str) -> str:
        return name if self.styled else ""

    def header(self) -> list[Any]:
        out: list[Any] = [(line, "bold") for line in wrap(self.d.title, self.width)]
        for paragraph in self.d.intro:
            out += [(line, "dim") for line in wrap(prose_text(paragraph), self.width)]
        if not self.d.steps:
            out.append(("(nothing to show)", ""))
        return out

    def block(self, block: _Block) -> list[Any]:
        out: list[Any] = []
        if block.section is not None:
            out += [("", ""), (block.section, "bold underline")]
            if not self.styled:
                out.append(("─" * min(len(block.section), self.width), ""))
        step = block.step
        out.append(("", ""))
        out += [(line, "bold") for line in wrap(step_heading(step, block.number, self.total), self.width,
                                                "", INDENT)]
        lines = equation_lines(step, self.width - len(INDENT)) if has_equation(step) else []
        if step.summarised:
            lines.append(" " * len(unicode(step.lhs)) + " = " + step.summary())
        for line in lines:
            hanging = INDENT + " " * (line.find(" = ") + 3 if " = " in line[:40] else 4)
            out += [(text, "") for text in wrap(line, self.width, INDENT, hanging)]
        if step.note is not None:
            out += [(line, "dim italic") for line in wrap("↳ " + prose_text(step.note), self.width,
                                                          INDENT, INDENT + "  ")]
        for caution in self.d.warnings_after(block.number - 1):
            out += [(line, "bold yellow") for line in wrap("⚠ Warning: " + prose_text(caution.message),
                                                           self.width, INDENT, INDENT + "  ")]
        for table in block.tables:
            out.extend(self.table(table))
        return out

    def table(self, table: Table) -> list[Any]:
        from rich import box
        from rich.table import Table as RichTable

        rich = RichTable(box=box.ROUNDED if self.styled else box.SIMPLE, title=table.title,
                         title_justify="left", header_style=self.style("bold"))
        for header in table.headers:
            rich.add_column(prose_unicode([header]), justify="left" if header == "" else "right")
        for row in table.rows:
            rich.add_row(*(_cell_text(cell, self.d.digits) for cell in row))
        with self.console.capture() as captured:
            self.console.print(rich)
        out: list[Any] = [("", "")]
        out += [_Raw(line.rstrip()) for line in captured.get().splitlines()]
        if table.note:
            out += [(line, "dim") for line in wrap(prose_unicode(table.note), self.width)]
        return out

    def footer(self) -> list[Any]:
        loose = [w for w in self.d.warnings if w.step is None]
        out: list[Any] = []
        if loose:
            out += [("", ""), ("Warnings", "bold underline")]
            for caution in loose:
                out += [(line, "bold yellow") for line in wrap("⚠ " + prose_text(caution.message),
                                                               self.width, INDENT, INDENT + "  ")]
        return out

    def blocks(self) -> Iterator[_Block]:
        return _blocks(self.d)

    def print(self, items: list[Any]) -> None:
        from rich.text import Text

        for item in items:
            if isinstance(item, _Raw):
                self.console.print(Text.from_ansi(item), soft_wrap=True)
            elif isinstance(item, tuple):
                text, style = item
                self.console.print(text, style=self.style(style) or None, markup=False,
                                   highlight=False, soft_wrap=True)
            else:
                self.console.print(item)


def print_text(derivation: Derivation, console: Any) -> None:
    renderer = TextRenderer(derivation, console)
    renderer.print(renderer.header())
    for block in renderer.blocks():
        renderer.print(renderer.block(block))
    renderer.print(renderer.footer())


# ------------------------------------------------------------------ Markdown

def markdown_math(tex: str) -> str:
    """LaTeX that survives Markdown on GitHub and Jupyter (see the module docstring)."""
    tex = tex.replace(r"\,", r"\ ")
    return tex.replace(r" \\ ", " \\\\\n")


def _prose_markdown(prose: Any) -> str:
    return prose_latex(prose, math=lambda tex: f"${markdown_math(tex).replace(chr(10), ' ')}$",
                       text=_markdown_text)


def _markdown_text(text: str) -> str:
    for char in "\\`*_[]<>$|":
        text = text.replace(char, "\\" + char)
    return text


def _long(step: Step) -> bool:
    """Break an equation into one form per line when it would not read as one line."""
    forms = step.forms()
    return len(forms) > 2 and sum(len(unicode(form)) + 3 for _, form in forms) > 70


def _markdown_equation(step: Step) -> list[str]:
    if not _long(step):
        return markdown_math(_equation_latex(step)).split("\n")
    forms = step.forms()
    rows = [f"{latex(forms[0][1])} &{RELATIONS_LATEX[forms[1][0]]} {latex(forms[1][1])}"]
    rows += [f"&{RELATIONS_LATEX[rel]} {latex(form)}" for rel, form in forms[2:]]
    text = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
    return markdown_math(text).split("\n")


def _equation_latex(step: Step) -> str:
    parts = []
    for rel, form in step.forms():
        parts.append(f"{RELATIONS_LATEX[rel]} {latex(form)}" if rel else latex(form))
    return " ".join(parts)


def render_markdown(derivation: Derivation) -> str:
    total = len(derivation.steps)
    lines = [f"## {_markdown_text(derivation.title)}", ""]
    for paragraph in derivation.intro:
        lines += [_prose_markdown(paragraph), ""]
    for block in _blocks(derivation):
        step = block.step
        if block.section is not None:
            lines += [f"### {_markdown_text(block.section)}", ""]
        heading = _markdown_text(step_heading(step, block.number, total))
        head, _, rest = heading.partition(" · ")
        lines += [f"**{head}** · {rest}", ""]
        if has_equation(step):
            lines += ["$$", *_markdown_equation(step), "$$", ""]
        if step.summarised:
            lines += [_markdown_text("= " + step.summary()), ""]
        if step.note is not None:
            lines += [f"> {_prose_markdown(step.note)}", ""]
        for caution in derivation.warnings_after(block.number - 1):
            lines += [f"> **Warning:** {_prose_markdown(caution.message)}", ""]
        for table in block.tables:
            lines += _table_markdown(table, derivation.digits)
    loose = [w for w in derivation.warnings if w.step is None]
    if loose:
        lines += ["### Warnings", ""]
        lines += [f"- {_prose_markdown(w.message)}" for w in loose] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _table_markdown(table: Table, digits: int) -> list[str]:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return format_number(value, digits)
        if isinstance(value, tuple):
            return _prose_markdown(value)
        if isinstance(value, (Math, TeX)):
            return _prose_markdown([value])
        return _markdown_text(str(value))

    lines = [f"**{_markdown_text(table.title)}**", "",
             "| " + " | ".join(_prose_markdown([h]) or " " for h in table.headers) + " |",
             "|" + "|".join(":---" if h == "" else "---:" for h in table.headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", _prose_markdown(table.note)]
    return lines + [""]


# ------------------------------------------------------------------ LaTeX

PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{amsmath}
\begin{document}
"""


def render_latex(derivation: Derivation, *, standalone: bool = False) -> str:
    """The derivation as paragraphs and ``align*`` environments (amsmath only)."""
    total = len(derivation.steps)
    lines = [f"% bpcalc explain: {latex_text(derivation.title)}",
             "% Needs \\usepackage{amsmath}; `bpcalc explain --format latex --standalone` gives a whole document.",
             f"\\section*{{{latex_text(derivation.title)}}}", ""]
    for paragraph in derivation.intro:
        lines += [prose_latex(paragraph), ""]
    for block in _blocks(derivation):
        step = block.step
        if block.section is not None:
            lines += [f"\\subsection*{{{latex_text(block.section)}}}", ""]
        lines.append(f"\\noindent\\textbf{{Step {block.number}/{total}}}: {_latex_heading(step)}")
        lines += _align(step) if has_equation(step) else [""]
        if step.summarised:
            lines += [latex_text("= " + step.summary()), ""]
        if step.note is not None:
            lines += [f"{{\\small {prose_latex(step.note)}}}", ""]
        for caution in derivation.warnings_after(block.number - 1):
            lines += [f"\\noindent\\textbf{{Warning:}} {prose_latex(caution.message)}", ""]
        for table in block.tables:
            lines += _table_latex(table, derivation.digits)
    loose = [w for w in derivation.warnings if w.step is None]
    if loose:
        lines += ["\\subsection*{Warnings}", ""]
        lines += [f"\\noindent {prose_latex(w.message)}\n" for w in loose]
    body = "\n".join(lines).rstrip("\n") + "\n"
    if standalone:
        return PREAMBLE + body + "\\end{document}\n"
    return body


def _latex_heading(step: Step) -> str:
    text = latex_text(step.title)
    if step.indexed is not None:
        text += f" (${latex(step.indexed)}$)"
    if step.rule.startswith("BP") or step.rule == "SGD":
        text += f" [{step.rule}]"
    return text


def _align(step: Step) -> list[str]:
    forms = step.forms()
    lhs = latex(forms[0][1])
    rows = [(RELATIONS_LATEX[rel], latex(form)) for rel, form in forms[1:]]
    if not rows:
        return ["\\begin{align*}", lhs, "\\end{align*}"]
    if not _long(step):
        return ["\\begin{align*}", f"{lhs} &{rows[0][0]} " + " ".join(
            [rows[0][1]] + [f"{rel} {text}" for rel, text in rows[1:]]), "\\end{align*}"]
    out = ["\\begin{align*}", f"{lhs} &{rows[0][0]} {rows[0][1]} \\\\"]
    out += [f"&{rel} {text} \\\\" for rel, text in rows[1:]]
    out[-1] = out[-1][:-3]
    return out + ["\\end{align*}"]


def _table_latex(table: Table, digits: int) -> list[str]:
    spec = "".join("l" if h == "" else "r" for h in table.headers)
    lines = ["\\begin{center}", latex_text(table.title) + "\\\\[4pt]", f"\\begin{{tabular}}{{{spec}}}",
             " & ".join(_cell_latex(h, digits) if not isinstance(h, str) else latex_text(h)
                        for h in table.headers) + " \\\\", "\\hline"]
    lines += [" & ".join(_cell_latex(c, digits) for c in row) + " \\\\" for row in table.rows]
    lines += ["\\end{tabular}", "\\end{center}"]
    if table.note:
        lines += [prose_latex(table.note)]
    return lines + [""]
