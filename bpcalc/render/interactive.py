"""Interactive checking: ask each question on the terminal and grade it at once.

Colour follows the same rules as the rest of bpcalc's output (Rich decides: none
under ``NO_COLOR``, on a terminal without colour such as ``TERM=dumb``, or when
piped); text from the problem file and the answers is shown with control
characters escaped.
"""

from __future__ import annotations

import shutil
from typing import Any

import click

from ..grading import Grader, letters
from ..usertext import visible


class _Look:
    """Which styles this terminal gets, as Rich decides for every other command: none when
    piped or on a terminal without styles (TERM=dumb), no colour under NO_COLOR."""

    def __init__(self) -> None:
        from .terminal import make_console

        console = make_console()
        self.styled = console.color_system is not None
        self.coloured = self.styled and not console.no_color

    def __call__(self, fg: str | None = None, bold: bool = False) -> dict[str, Any]:
        style: dict[str, Any] = {"color": self.styled}
        if bold and self.styled:
            style["bold"] = True
        if fg and self.coloured:
            style["fg"] = fg
        return style


_PLAIN: dict[str, Any] = {"color": False}


def _say(text: str, indent: str = "    ", style: dict[str, Any] = _PLAIN) -> None:
    """Wrapped to the terminal, with a hanging indent, so diagnoses never break mid-word."""
    width = min(shutil.get_terminal_size().columns, 100)
    click.secho(click.wrap_text(visible(text, keep="\n"), width=width, initial_indent=indent,
                                subsequent_indent=indent, preserve_paragraphs=True), **style)


def _ask(question: Any, hint: str) -> str | None:
    try:
        return click.prompt(f"  {visible(question.id)} ({hint})", default="", show_default=False)
    except (click.Abort, EOFError):
        click.echo()
        return None


def ask_questions(grader: Grader, digits: int = 6) -> bool:
    """Ask every question in turn; Enter skips one, Ctrl-D stops. True when all answered are right."""
    questions = [grader.questions[qid] for qid in grader.problem_question_ids]
    if not questions:
        raise click.UsageError("this problem has no questions; give solution paths with "
                               "--answer, e.g. --answer gradients.w1=2.081")
    look = _Look()
    click.echo(f"{len(questions)} questions. Press Enter to skip one, Ctrl-D to stop.\n")
    answered = right = asked = 0
    for number, question in enumerate(questions, start=1):
        _say(f"[{number}/{len(questions)}] {question.prompt or question.id}", indent="", style=look(bold=True))
        for letter, option in zip(letters(len(question.options)), question.options):
            _say(f"{letter}) {option}", indent="   ")
        hint = {"numeric": "a number", "formula": "a formula", "choice": "letter(s)"}[question.kind]
        while True:
            text = _ask(question, hint)
            if text is None or not text.strip():
                break
            grade = grader.grade(question.id, text)
            if not grade.unreadable:
                break
            _say(f"✗ {grade.message}; try again (Enter skips)", indent="  ", style=look(fg="yellow"))
        if text is None:
            break
        asked += 1
        if not text.strip():
            click.echo("  skipped\n")
            continue
        answered += 1
        right += grade.correct
        if grade.correct:
            _say("✓ correct", indent="  ", style=look(fg="green"))
        else:
            _say(f"✗ {grade.message}", indent="  ", style=look(fg="red"))
            if grade.diagnosis:
                _say(grade.diagnosis)
            if grade.expected is not None:
                _say(f"expected: {grade.expected_text(digits)}")
        click.echo()
    unasked = len(questions) - asked
    if unasked:
        click.echo(f"Stopped early: {unasked} of {len(questions)} questions not asked.")
    click.echo(f"{right} of {answered} answered correctly.")
    return answered > 0 and right == answered
