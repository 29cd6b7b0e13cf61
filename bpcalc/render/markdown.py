"""Tables as GitHub-flavoured Markdown, ready to paste into a write-up."""

from __future__ import annotations

from .tables import Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


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
    parts = [f"## {heading}"] if heading else []
    parts.extend(table_markdown(table) for table in tables)
    return "\n\n".join(parts) + "\n"
