"""The errors bpcalc raises for bad input.

Every problem a user can cause (a missing file, a YAML typo, a weight matrix of
the wrong shape, a formula that does not parse) is a :class:`BpcalcError`
whose message is one line naming where the problem is and what was expected.
The CLI turns these into exit code 2; library users catch them.
"""

from __future__ import annotations


class BpcalcError(Exception):
    """Bad input: the message is one line, ready to show to a user."""


class ProblemFileError(BpcalcError):
    """A problem file that cannot be read, parsed or validated.

    ``location`` is ``path``, ``path:line:column`` or ``path: key.path``;
    the message reads ``<location>: <what was expected>``.
    """

    def __init__(self, message: str, *, source: str | None = None,
                 key: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.source, self.key, self.line, self.column = source, key, line, column
        self.detail = message
        where = source or "<problem>"
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class FileError(BpcalcError):
    """A file that cannot be read: missing, not a regular file, too large, not UTF-8.

    ``source`` is the path as given (the message shows it with control characters escaped).
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(message)


class FormulaError(BpcalcError):
    """A formula that cannot be parsed or evaluated.

    ``position`` is the 0-based character offset the message points at, or None.
    """

    def __init__(self, message: str, *, text: str = "", position: int | None = None) -> None:
        self.text, self.position, self.detail = text, position, message
        where = f" (at character {position + 1})" if position is not None else ""
        super().__init__(f"{message}{where}")


class AnswerError(BpcalcError):
    """An answer or answer file that cannot be read (not a wrong answer: that is a grade)."""
