"""The ``bpcalc`` command: thin Click commands over the core.

Each command parses its options, calls the core, and hands the result to a
renderer. Core errors (:class:`bpcalc.errors.BpcalcError`) become one line on
stderr and exit code 2. Heavy modules (NumPy, Rich) are imported inside the
commands, so ``bpcalc --help`` and ``--format json`` start quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from . import __version__
from .errors import BpcalcError

EXIT_WRONG = 1


class BadInput(click.ClickException):
    """Bad input: one line on stderr, exit code 2 (ClickException alone exits 1)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"bpcalc: error: {self.format_message()}", err=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the core's BpcalcError into BadInput, once for every command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BpcalcError as error:
            raise BadInput(str(error)) from None
        except RecursionError:
            raise BadInput("the input is nested too deeply to read") from None

    return wrapper


def format_options(*formats: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` (first choice is the default) and ``--precision``, shared by commands."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--precision", "-p", type=click.IntRange(1, 17), default=6, show_default=True,
            help="Significant digits shown (JSON always carries full precision).")(command)
        return click.option(
            "--format", "-f", "fmt", type=click.Choice(formats), default=formats[0], show_default=True,
            help="Output format: " + ", ".join(formats) + ".")(command)

    return decorate


def print_json(document: Any) -> None:
    try:
        text = json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise BadInput("the result holds a non-finite number, which JSON cannot carry") from None
    click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="bpcalc")
def main() -> None:
    """A calculator and checker for back-propagation homework.

    Write the network of a homework question in a YAML problem file, then:

    \b
      bpcalc solve problems/simple_network.yaml      every z, a, δ, gradient and the SGD update
      bpcalc verify problems/                        prove every answer key right

    Run 'bpcalc COMMAND --help' for a command's options and an example.
    """


@main.command()
@click.argument("file")
@format_options("text", "json", "markdown")
@user_errors
def solve(file: str, fmt: str, precision: int) -> None:
    """Solve a problem file: forward pass, error terms δ, gradients and the SGD update.

    \b
    Examples:
      bpcalc solve problems/simple_network.yaml
      bpcalc solve problems/simple_network.yaml --format json
      bpcalc solve my_homework.yaml --format markdown --precision 4 > answers.md
    """
    from .problem import load
    from .solver import solve as run

    solution = run(load(file))
    if fmt == "json":
        print_json(solution.to_dict())
        return
    from .render.tables import solution_tables

    tables = solution_tables(solution, precision)
    heading = solution.problem.title or file
    if fmt == "markdown":
        from .render.markdown import tables_markdown

        click.echo(tables_markdown(tables, heading), nl=False)
        return
    from .render.terminal import make_console, print_tables

    print_tables(tables, make_console(), heading)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@format_options("text", "json")
def verify(paths: tuple[str, ...], fmt: str, precision: int) -> None:
    """Check the answer keys ('expected:') of problem files against the solver.

    PATHS are problem files or directories (searched for *.yaml). Every file is
    checked, even after a broken one. Exit code 0 when every key is right, 1
    when an answer disagrees with the solver, 2 when a file cannot be loaded.

    \b
    Examples:
      bpcalc verify problems/
      bpcalc verify problems/simple_network.yaml --format json
    """
    from .verify import verify as run

    report = run(paths)
    if not report.files:
        raise BadInput("no problem files (*.yaml) found in " + ", ".join(paths))
    if fmt == "json":
        from .render.reports import verify_document

        print_json(verify_document(report))
    else:
        from .render.reports import verify_summary, verify_tables
        from .render.terminal import make_console, print_tables

        print_tables(verify_tables(report, precision), make_console())
        click.echo(verify_summary(report))
        for broken in (f for f in report.files if f.error):
            click.echo(f"bpcalc: error: {broken.error}", err=True)
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
