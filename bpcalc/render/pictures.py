"""``bpcalc graph``'s formats: which one a file name asks for, and the picture in it."""

from __future__ import annotations

import os
from typing import Any

from ..errors import BpcalcError
from ..usertext import visible

FORMATS = ("dot", "mermaid", "markdown", "svg", "png")
BINARY = ("png",)
EXTENSIONS = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".md": "markdown",
              ".svg": "svg", ".png": "png"}


def choose_format(output: str | None, fmt: str | None) -> str:
    """The format: ``--format`` if given, else the extension of ``--output``, else DOT.
    An explicit format that contradicts a known extension is an error."""
    if output is None:
        return fmt or "dot"
    extension = os.path.splitext(output)[1].lower()
    implied = EXTENSIONS.get(extension)
    if fmt is not None and implied is not None and implied != fmt:
        raise BpcalcError(f"--output {visible(output)} is a {extension} file ({implied}), but --format is "
                          f"{fmt}; use a .{_extension(fmt)} name or drop --format")
    if fmt is None and implied is None:
        known = ", ".join(EXTENSIONS)
        raise BpcalcError(f"--output {visible(output)}: cannot tell the format from the name; end it in "
                          f"one of {known}, or give --format")
    return fmt or implied  # type: ignore[return-value]


def _extension(fmt: str) -> str:
    return next(extension for extension, name in EXTENSIONS.items() if name == fmt)[1:]


def draw(solution: Any, fmt: str, digits: int) -> bytes:
    """The picture of a solved problem in one of :data:`FORMATS`, as bytes (UTF-8 for text)."""
    from ..picture import picture
    from .dot import render_image, to_dot

    drawing = picture(solution, digits)
    if fmt in ("mermaid", "markdown"):
        from .mermaid import to_markdown, to_mermaid

        return (to_mermaid if fmt == "mermaid" else to_markdown)(drawing).encode("utf-8")
    text = to_dot(drawing)
    if fmt == "dot":
        return text.encode("utf-8")
    return render_image(text, fmt)
