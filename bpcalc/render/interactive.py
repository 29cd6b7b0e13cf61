"""Interactive checking: ask each question on the terminal and grade it at once."""

from __future__ import annotations

import click

from ..grading import Grader, letters


def ask_questions(grader: Grader) -> bool:
    """Ask every question in turn; Enter skips one, Ctrl-D stops. True when all answered are right."""
    questions = list(grader.questions.values())
    if not questions:
        raise click.UsageError("this problem has no questions; give solution paths with "
                               "--answer, e.g. --answer gradients.w1=2.081")
    click.echo(f"{len(questions)} questions. Press Enter to skip one, Ctrl-D to stop.\n")
    answered = right = 0
    for number, question in enumerate(questions, start=1):
        click.secho(f"[{number}/{len(questions)}] {question.prompt or question.id}", bold=True)
        for letter, option in zip(letters(len(question.options)), question.options):
            click.echo(f"   {letter}) {option}")
        hint = {"numeric": "a number", "formula": "a formula", "choice": "letter(s)"}[question.kind]
        try:
            text = click.prompt(f"  {question.id} ({hint})", default="", show_default=False)
        except (click.Abort, EOFError):
            click.echo()
            break
        if not text.strip():
            click.echo("  skipped\n")
            continue
        grade = grader.grade(question.id, text)
        answered += 1
        right += grade.correct
        if grade.correct:
            click.secho("  ✓ correct", fg="green")
        else:
            click.secho(f"  ✗ {grade.message}", fg="red")
            if grade.diagnosis:
                click.echo(f"    {grade.diagnosis}")
            if grade.expected is not None:
                click.echo(f"    expected: {grade.expected}")
        click.echo()
    click.echo(f"{right} of {answered} answered correctly.")
    return right == answered
