"""Derivations printed: one printer base over steps and prose, a subclass per format.

As SymPy's printers do for expressions, :class:`DerivationPrinter` walks a derivation by
dispatching on the class of each part (``_print_Step``, ``_print_Math``, ``_print_str``
for prose words, …); a format says how it writes math, words and relations, and how a
document is laid out. So a new output format is one class, and Unicode, LaTeX, Markdown
and JSON cannot drift apart: they print the same steps in the same order.

User text (a problem's title) is data in every format: control characters are shown as
escapes, LaTeX specials and Markdown/HTML are escaped.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from ..expr import (
    GREEK, Expr, LatexPrinter as LatexExprPrinter, Mul, Partial, Sym, UnicodePrinter as UnicodeExprPrinter,
    to_json,
)
from ..numbers import format_number
from ..usertext import markdown_escape, visible
from .model import Caution, Derivation, Math, Step, Table

RELATIONS_LATEX = {"=": "=", "≈": r"\approx", "←": r"\leftarrow", ">": ">", "<": "<",
                   "≤": r"\le", "≥": r"\ge", "≠": r"\ne"}


class _UnicodeExpressions(UnicodeExprPrinter):
    """The course writes a chain of partials unbracketed: ∂C/∂y·∂y/∂z2 (a/b·c/d is (a/b)(c/d)),
    and an indexed symbol after ∂ needs no brackets either (∂z²₃/∂w²₃₇)."""

    def needs_parens(self, child: Expr, parent: Expr, side: str) -> bool:
        if isinstance(child, Partial) and isinstance(parent, Mul):
            return False
        return super().needs_parens(child, parent, side)

    def _print_Partial(self, node: Partial) -> str:
        if isinstance(node.of, Sym):            # ∂z²₃/∂w²₃₇, not ∂(z²₃)/∂w²₃₇
            return f"∂{self.print(node.of)}/∂{self.print(node.wrt)}" if isinstance(node.wrt, Sym) \
                else f"∂{self.print(node.of)}/∂({self.print(node.wrt)})"
        return super()._print_Partial(node)


def unicode(node: Expr) -> str:
    """Unicode text of an expression, as every derivation format shows it."""
    return _UnicodeExpressions().print(node)


def latex(node: Expr) -> str:
    return LatexExprPrinter().print(node)


# LaTeX text mode: specials escaped, the few symbols our prose uses mapped.
TEXT_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
              "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
              "—": "---", "–": "--", "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\dots{}",
              "·": r"$\cdot$", "−": "-", "≈": r"$\approx$", "≤": r"$\le$", "≥": r"$\ge$",
              **{letter: f"$\\{name}$" for name, letter in GREEK.items()}, "∂": r"$\partial$",
              "⊙": r"$\odot$", "′": "'", "×": r"$\times$", "→": r"$\to$", "←": r"$\leftarrow$",
              "½": r"$\frac{1}{2}$", "|": r"$|$", "<": r"$<$", ">": r"$>$",
              "ᵀ": r"$^{\mathsf{T}}$", "¼": r"$\frac{1}{4}$",
              **{sup: f"$^{{{plain}}}$" for sup, plain in zip("⁰¹²³⁴⁵⁶⁷⁸⁹ˡ⁺⁻", "0123456789l+-")},
              **{sub: f"$_{{{plain}}}$" for sub, plain in zip("₀₁₂₃₄₅₆₇₈₉ⱼₖₗ", "0123456789jkl")}}


def latex_text(text: str) -> str:
    """Plain words for LaTeX text mode: specials escaped, the few symbols we use mapped,
    accented Latin letters kept (utf8 input), control characters escaped, anything else '?'."""
    out = []
    for char in visible(text):
        if char in TEXT_LATEX:
            out.append(TEXT_LATEX[char])
        elif ord(char) < 128 or (char.isalpha() and ord(char) < 0x250):
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


# ------------------------------------------------------------------ the base

class DerivationPrinter:
    """Dispatches on the class of each part; subclasses say how their format writes it."""

    relations: dict[str, str] = {}

    def __init__(self, digits: int = 4) -> None:
        self.digits = digits

    def print(self, part: Any) -> Any:
        for cls in type(part).__mro__:
            rule = getattr(self, f"_print_{cls.__name__}", None)
            if rule is not None:
                return rule(part)
        raise TypeError(f"{type(self).__name__} cannot print {type(part).__name__}")

    # -- pieces every format has -----------------------------------------------------
    def expression(self, node: Expr) -> str:
        raise NotImplementedError

    def relation(self, symbol: str) -> str:
        return self.relations.get(symbol, symbol)

    def _print_Math(self, item: Math) -> str:
        text = self.expression(item.parts[0])
        for relation, part in zip(item.relations, item.parts[1:]):
            text += f" {self.relation(relation)} {self.expression(part)}"
        return self.inline(text)

    def _print_str(self, words: str) -> str:
        return self.words(words)

    def _print_tuple(self, prose: tuple) -> str:
        return "".join(self.print(segment) for segment in prose)

    def _print_Expr(self, node: Expr) -> str:
        return self.inline(self.expression(node))

    def inline(self, math: str) -> str:
        return math

    def words(self, text: str) -> str:
        return visible(text)

    def equation(self, step: Step) -> str:
        return " ".join(f"{self.relation(rel)} {self.expression(form)}" if rel else self.expression(form)
                        for rel, form in step.forms())

    @staticmethod
    def heading(step: Step, number: int, total: int) -> str:
        """``Step 7/16 · gradient of w2 (w²₁₁) · BP4``."""
        title = step.title
        if step.indexed is not None and unicode(step.indexed) != step.title.rsplit(" ", 1)[-1]:
            title += f" ({unicode(step.indexed)})"
        if (step.rule.startswith("BP") or step.rule in ("SGD", "chain")) and step.rule not in step.title:
            title += f" · {step.rule}" if step.rule != "chain" else " · chain rule"
        return f"Step {number}/{total} · {title}"

    def cell(self, value: Any) -> str:
        if isinstance(value, float):
            return self.number(value)
        return self.print(value)

    def number(self, value: float) -> str:
        return format_number(value, self.digits)


def blocks(derivation: Derivation) -> Iterator[tuple[int, Step, str | None, list[Table]]]:
    """(number, step, the section if it starts here, the tables that close its section)."""
    steps = derivation.steps
    for index, step in enumerate(steps):
        starts = index == 0 or steps[index - 1].section != step.section
        ends = index == len(steps) - 1 or steps[index + 1].section != step.section
        tables = [t for t in derivation.tables if t.section == step.section] if ends else []
        yield index + 1, step, step.section if starts else None, tables


def has_equation(step: Step) -> bool:
    """A statement with nothing but its subject (a concept's prose) shows no equation."""
    return len(step.forms()) > 1 or step.value is not None


# ------------------------------------------------------------------ Unicode

class UnicodePrinter(DerivationPrinter):
    """Plain Unicode text: what the terminal shows (render/derivation.py adds Rich styles)."""

    def expression(self, node: Expr) -> str:
        return unicode(node)

    def number(self, value: float) -> str:
        text = format_number(value, self.digits)
        return "−" + text[1:] if text.startswith("-") else text


def prose_unicode(prose: Iterable[Any]) -> str:
    return UnicodePrinter().print(tuple(prose))


# ------------------------------------------------------------------ LaTeX

class LatexPrinter(DerivationPrinter):
    """LaTeX: ``$…$`` in text, one ``align*`` per step (amsmath only)."""

    relations = RELATIONS_LATEX
    PREAMBLE = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                "\\usepackage{amsmath}\n\\begin{document}\n")

    def expression(self, node: Expr) -> str:
        return latex(node)

    def inline(self, math: str) -> str:
        return f"${math}$"

    def words(self, text: str) -> str:
        return latex_text(text)

    def number(self, value: float) -> str:
        return f"${format_number(value, self.digits)}$".replace("e", r"\mathrm{e}")

    def long(self, step: Step) -> bool:
        """Break an equation into one form per line when it would not read as one line."""
        forms = step.forms()
        return len(forms) > 2 and sum(len(unicode(form)) + 3 for _, form in forms) > 70

    def aligned_rows(self, step: Step) -> list[str]:
        forms = step.forms()
        lhs = self.expression(forms[0][1])
        rows = [(self.relation(rel), self.expression(form)) for rel, form in forms[1:]]
        if not rows:
            return [lhs]
        if not self.long(step):
            return [f"{lhs} &{rows[0][0]} " + " ".join([rows[0][1]] + [f"{r} {t}" for r, t in rows[1:]])]
        return [f"{lhs} &{rows[0][0]} {rows[0][1]}"] + [f"&{r} {t}" for r, t in rows[1:]]

    def step_heading(self, step: Step, number: int, total: int) -> str:
        text = self.words(step.title)
        if step.indexed is not None:
            text += f" (${self.expression(step.indexed)}$)"
        if step.rule.startswith("BP") or step.rule == "SGD":
            text += f" [{step.rule}]"
        return f"\\noindent\\textbf{{Step {number}/{total}}}: {text}"

    def document(self, derivation: Derivation, standalone: bool = False) -> str:
        total = len(derivation.steps)
        lines = [f"% bpcalc explain: {self.words(derivation.title)}",
                 "% Needs \\usepackage{amsmath}; `bpcalc explain --format latex --standalone` gives a whole document.",
                 f"\\section*{{{self.words(derivation.title)}}}", ""]
        for paragraph in derivation.intro:
            lines += [self.print(paragraph), ""]
        for number, step, section, tables in blocks(derivation):
            if section is not None:
                lines += [f"\\subsection*{{{self.words(section)}}}", ""]
            lines.append(self.step_heading(step, number, total))
            if has_equation(step):
                rows = self.aligned_rows(step)
                lines += ["\\begin{align*}", " \\\\\n".join(rows), "\\end{align*}"]
            else:
                lines.append("")
            if step.summarised:
                lines += [self.words("= " + step.summary()), ""]
            if step.note is not None:
                lines += [f"{{\\small {self.print(step.note)}}}", ""]
            for caution in derivation.warnings_after(number - 1):
                lines += [f"\\noindent\\textbf{{Warning:}} {self.print(caution.message)}", ""]
            for table in tables:
                lines += self.table(table)
        loose = [w for w in derivation.warnings if w.step is None]
        if loose:
            lines += ["\\subsection*{Warnings}", ""]
            lines += [f"\\noindent {self.print(w.message)}\n" for w in loose]
        body = "\n".join(lines).rstrip("\n") + "\n"
        return self.PREAMBLE + body + "\\end{document}\n" if standalone else body

    def table(self, table: Table) -> list[str]:
        spec = "".join("l" if h == "" else "r" for h in table.headers)
        lines = ["\\begin{center}", self.words(table.title) + "\\\\[4pt]", f"\\begin{{tabular}}{{{spec}}}",
                 " & ".join(self.print(h) for h in table.headers) + " \\\\", "\\hline"]
        lines += [" & ".join(self.cell(c) for c in row) + " \\\\" for row in table.rows]
        lines += ["\\end{tabular}", "\\end{center}"]
        if table.note:
            lines += [self.print(table.note)]
        return lines + [""]


def prose_latex(prose: Iterable[Any]) -> str:
    return LatexPrinter().print(tuple(prose))


# ------------------------------------------------------------------ Markdown

def markdown_math(tex: str) -> str:
    """LaTeX that survives Markdown on GitHub and Jupyter: GitHub runs Markdown before
    MathJax and protects ``\\\\`` only at the end of a line, and reads ``\\,`` as an
    escaped comma; so matrix rows end their line and the thin space is a plain ``\\ ``."""
    tex = tex.replace(r"\,", r"\ ")
    return tex.replace(r" \\ ", " \\\\\n")


class MarkdownPrinter(LatexPrinter):
    """GitHub-flavoured Markdown with ``$…$`` and ``$$…$$`` math (GitHub and Jupyter)."""

    def inline(self, math: str) -> str:
        return "$" + markdown_math(math).replace("\n", " ") + "$"

    def words(self, text: str) -> str:
        return markdown_escape(text)

    def number(self, value: float) -> str:
        return format_number(value, self.digits)

    def display(self, step: Step) -> list[str]:
        if not self.long(step):
            return markdown_math(self.equation(step)).split("\n")
        rows = self.aligned_rows(step)
        return markdown_math("\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}").split("\n")

    def document(self, derivation: Derivation, standalone: bool = False) -> str:
        total = len(derivation.steps)
        lines = [f"## {self.words(derivation.title)}", ""]
        for paragraph in derivation.intro:
            lines += [self.print(paragraph), ""]
        for number, step, section, tables in blocks(derivation):
            if section is not None:
                lines += [f"### {self.words(section)}", ""]
            head, _, rest = self.heading(step, number, total).partition(" · ")
            lines += [f"**{self.words(head)}** · {self.words(rest)}", ""]
            if has_equation(step):
                lines += ["$$", *self.display(step), "$$", ""]
            if step.summarised:
                lines += [self.words("= " + step.summary()), ""]
            if step.note is not None:
                lines += [f"> {self.print(step.note)}", ""]
            for caution in derivation.warnings_after(number - 1):
                lines += [f"> **Warning:** {self.print(caution.message)}", ""]
            for table in tables:
                lines += self.table(table)
        loose = [w for w in derivation.warnings if w.step is None]
        if loose:
            lines += ["### Warnings", ""]
            lines += [f"- {self.print(w.message)}" for w in loose] + [""]
        return "\n".join(lines).rstrip("\n") + "\n"

    def table(self, table: Table) -> list[str]:
        lines = [f"**{self.words(table.title)}**", "",
                 "| " + " | ".join(self.print(h) or " " for h in table.headers) + " |",
                 "|" + "|".join(":---" if h == "" else "---:" for h in table.headers) + "|"]
        lines += ["| " + " | ".join(self.cell(c) for c in row) + " |" for row in table.rows]
        if table.note:
            lines += ["", self.print(table.note)]
        return lines + [""]


# ------------------------------------------------------------------ JSON

class JsonPrinter(DerivationPrinter):
    """The ``explain --format json`` document: every form as Unicode, LaTeX and a tree."""

    def __init__(self, digits: int = 4) -> None:
        super().__init__(digits)
        self.unicode, self.latex = UnicodePrinter(digits), LatexPrinter(digits)

    def expression(self, node: Expr) -> str:
        return unicode(node)

    def both(self, part: Any) -> dict[str, str]:
        return {"unicode": self.unicode.print(part), "latex": self.latex.print(part)}

    def rendered(self, node: Expr | None) -> dict[str, Any] | None:
        if node is None:
            return None
        return {"unicode": unicode(node), "latex": latex(node), "tree": to_json(node)}

    def step(self, step: Step, number: int | None = None) -> dict[str, Any]:
        value = step.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif value is not None:
            value = float(value)
        return {
            "number": number,
            "section": step.section,
            "title": step.title,
            "indexed": self.rendered(step.indexed),
            "rule": step.rule,
            "key": step.key,
            "example": None if step.example is None else step.example + 1,
            "relation": step.relation,
            "lhs": self.rendered(step.lhs),
            "chain": self.rendered(step.chain),
            "call": self.rendered(step.call),
            "general": self.rendered(step.general),
            "substituted": self.rendered(step.substituted),
            "result": None if step.value is None or step.summarised else {
                "unicode": step.result_text, "latex": latex(step.result)},
            "exact": step.exact,
            "value": value,
            "summarised": step.summarised,
            "equation": {"unicode": self.unicode.equation(step), "latex": self.latex.equation(step)},
            "note": None if step.note is None else self.both(step.note),
        }

    def caution(self, caution: Caution) -> dict[str, Any]:
        return {"kind": caution.kind, "step": None if caution.step is None else caution.step + 1,
                "layer": caution.layer, "neuron": None if caution.neuron is None else caution.neuron + 1,
                "examples": [x + 1 for x in caution.examples], **self.both(caution.message)}

    def table(self, table: Table) -> dict[str, Any]:
        def cell(value: Any) -> Any:
            if isinstance(value, (Math, tuple, Expr)):
                return self.both(value)
            return value

        return {"section": table.section, "title": table.title,
                "headers": [self.unicode.print(h) for h in table.headers],
                "rows": [[cell(c) for c in row] for row in table.rows],
                "note": None if table.note is None else self.unicode.print(table.note)}

    def derivation(self, derivation: Derivation) -> dict[str, Any]:
        return {
            "title": derivation.title,
            "digits": derivation.digits,
            "param": derivation.param,
            "scalars": derivation.scalars,
            "intro": [self.both(p) for p in derivation.intro],
            "sections": list(derivation.sections),
            "steps": [self.step(step, number) for number, step in enumerate(derivation.steps, start=1)],
            "warnings": [self.caution(w) for w in derivation.warnings],
            "tables": [self.table(t) for t in derivation.tables],
            "summarised": (f"{sum(s.summarised for s in derivation.steps)} results have more than "
                           f"{36} entries: their text shows the first few, 'value' has them all")
            if any(s.summarised for s in derivation.steps) else None,
        }


def print_document(derivation: Derivation, fmt: str, *, standalone: bool = False) -> str:
    """A whole derivation in ``markdown`` or ``latex``."""
    printer = {"markdown": MarkdownPrinter, "latex": LatexPrinter}[fmt](derivation.digits)
    return printer.document(derivation, standalone=standalone)
