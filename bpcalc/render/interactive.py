"""Interactive checking: ask each question on the terminal and grade it at once."""

from __future__ import annotations

from typing import Any

import shutil

import click

from ..grading import Grader, letters


def _say(text: str, indent: str = "    ", **style: object) -> None:
    """Wrapped to the terminal, with a hanging indent, so diagnoses never break mid-word."""
    width = min(shutil.get_terminal_size().columns, 100)
    click.secho(click.wrap_text(text, width=width, initial_indent=indent, subsequent_indent=indent,
                                preserve_paragraphs=True), **style)


def _ask(question: Any, hint: str) -> str | None:
    try:
        return click.prompt(f"  {question.id} ({hint})", default="", show_default=False)
    except (click.Abort, EOFError):
        click.echo()
        return None


def ask_questions(grader: Grader) -> bool:
    """Ask every question in turn; Enter skips one, Ctrl-D stops. True when all answered are right."""
    questions = list(grader.questions.values())
    if not questions:
        raise click.UsageError("this problem has no questions; give solution paths with "
                               "--answer, e.g. --answer gradients.w1=2.081")
    click.echo(f"{len(questions)} questions. Press Enter to skip one, Ctrl-D to stop.\n")
    answered = right = asked = 0
    for number, question in enumerate(questions, start=1):
        _say(f"[{number}/{len(questions)}] {question.prompt or question.id}", indent="", bold=True)
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
            _say(f"✗ {grade.message}; try again (Enter skips)", indent="  ", fg="yellow")
        if text is None:
            break
        asked += 1
        if not text.strip():
            click.echo("  skipped\n")
            continue
        answered += 1
        right += grade.correct
        if grade.correct:
            click.secho("  ✓ correct", fg="green")
        else:
            _say(f"✗ {grade.message}", indent="  ", fg="red")
            if grade.diagnosis:
                _say(grade.diagnosis)
            if grade.expected is not None:
                _say(f"expected: {grade.expected}")
        click.echo()
    unasked = len(questions) - asked
    if unasked:
        click.echo(f"Stopped early: {unasked} of {len(questions)} questions not asked.")
    click.echo(f"{right} of {answered} answered correctly.")
    return answered > 0 and right == answered
