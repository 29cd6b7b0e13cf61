"""Text that users wrote (titles, names, answers, file names) shown as data, never as code.

A problem title, a student's answer or a file name can hold anything: terminal escape
sequences, Rich markup, HTML, a spreadsheet formula. Each output format has one
function here that makes such text inert for that format, and every renderer uses it:

* :func:`visible` for terminals and one-line messages: control characters and the
  Unicode bidirectional overrides are written as escapes (``\\x1b``, ``\\u202e``), so
  ``ESC[2J`` in a title cannot clear a screen and a message stays one line.
* :func:`spreadsheet_safe` for CSV reports: a cell that a spreadsheet would run as a
  formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, as
  OWASP lists them) gets a leading apostrophe; plain numbers such as ``-0.004`` are
  left as they are, since a number is not a formula.
* :func:`markdown_escape` for Markdown: HTML is written as entities and Markdown's
  punctuation is backslash-escaped, so a title renders as the characters typed.

Rich markup is handled where Rich is used (``bpcalc.render``): user text is passed as
``rich.text.Text`` or with ``markup=False``, after :func:`visible`.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidi embeddings/overrides/isolates that can
# make text display in another order than it is stored (the "Trojan source" characters).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, *, keep: str = "") -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``).
    Characters in ``keep`` (e.g. ``"\\n"`` for a multi-line description) are left alone."""
    text = str(text)
    if not _INVISIBLE.search(text):
        return text
    if not keep:
        return _INVISIBLE.sub(_escape, text)
    return _INVISIBLE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


_FORMULA_START = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def spreadsheet_safe(cell: object) -> str:
    """A CSV cell that no spreadsheet runs as a formula (OWASP's CSV-injection advice)."""
    text = "" if cell is None else str(cell)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


# Characters that act anywhere in a line, and those that act only where a line starts
# (a list item "- x", "+ x", "1. x", a setext rule "="): escaping "." or "(" in the
# middle of a title would only make the Markdown source hard to read.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~>])")
_MARKDOWN_LINE_START = re.compile(r"\A(\s*)(?:([-+=])|(\d+)([.)]))")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def html_escape(text: object) -> str:
    """``&``, ``<``, ``>`` and ``"`` as entities (for HTML, and inside Markdown)."""
    return re.sub(r'[&<>"]', lambda m: _HTML[m.group()], visible(text))


def markdown_escape(text: object) -> str:
    """Text that Markdown renders as typed: HTML as entities, punctuation that would act
    escaped (``*``, ``_``, ``[``, ``#``, ``|``, … anywhere; ``-``, ``+``, ``1.`` at the start)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text))
    escaped = re.sub(r'[&<"]', lambda m: _HTML[m.group()], escaped)
    return _MARKDOWN_LINE_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)),
        escaped)
