"""A formula as ``bpcalc formula`` shows it: how it was read, and its value.

The input is the user's text, echoed with :func:`bpcalc.usertext.visible` (a control
character in it is shown as ``\\x1b``, never sent to the terminal)."""

from __future__ import annotations

from typing import Any

import click

from ..numbers import format_number
from ..usertext import visible


def _value_text(value: Any, digits: int) -> str:
    if isinstance(value, complex):
        if value.imag == 0:
            return format_number(value.real, digits)
        sign = "+" if value.imag >= 0 else "-"
        return f"{format_number(value.real, digits)} {sign} {format_number(abs(value.imag), digits)}i"
    return format_number(value, digits)


def print_formula(description: Any, digits: int) -> None:
    click.echo(f"input:     {visible(description.input)}")
    click.echo(f"read as:   {visible(description.parsed)}")
    click.echo(f"rendered:  {visible(description.unicode)}")
    click.echo(f"variables: {visible(', '.join(description.variables)) or '(none)'}")
    if description.value is None:
        missing = ", ".join(description.missing) if getattr(description, "missing", None) else ""
        click.echo("value:     give every variable a value (NAME=VALUE) to evaluate it"
                   + (f"; missing: {missing}" if missing else ""))
    else:
        click.echo(f"value:     {_value_text(description.value, digits)}")
