"""Tables as GitHub-flavoured Markdown, ready to paste into a write-up.

The heading is the problem's title, user text: it is escaped with
:func:`bpcalc.usertext.markdown_escape`, so HTML in it is shown, not run, and
Markdown in it is shown as typed. Cells are escaped too (names, labels): HTML as
entities, and the characters that act inside a table row; not ``_``, which cannot
open emphasis inside a name such as ``w1_11`` (a name starts with a letter), so
the default names stay readable in the Markdown source.
"""

from __future__ import annotations

import re

from ..usertext import html_escape, markdown_escape
from .tables import Table

_INLINE = re.compile(r"([\\`*\[\]|~])")


def _cell(text: str) -> str:
    return _INLINE.sub(r"\\\1", html_escape(text)) or " "


def table_markdown(table: Table) -> str:
    lines = [f"### {table.title}", ""]
    if table.rows:
        lines.append("| " + " | ".join(_cell(h) for h in table.headers) + " |")
        lines.append("|" + "|".join("---:" if numeric else ":---" for numeric in table.numeric) + "|")
        lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows)
    if table.note:
        lines.extend(["", table.note])
    return "\n".join(lines)


def tables_markdown(tables: list[Table], heading: str | None = None) -> str:
    parts = [f"## {markdown_escape(heading)}"] if heading else []
    parts.extend(table_markdown(table) for table in tables)
    return "\n\n".join(parts) + "\n"
