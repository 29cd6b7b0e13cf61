"""Paths into a solution document: ``gradients.w1``, ``layers[2].delta[0]``, ``loss``.

Answer keys and questions point at numbers with these paths. They read the
document that ``bpcalc solve --format json`` prints, with one convenience: in
``layers[l]`` the layer is numbered from 1 as in the course (a^0 is the
input), while indices inside a layer count from 0 as in JSON and NumPy.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from .errors import BpcalcError

_PART = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>-?\d+)\]|(?P<dot>\.)")
MAX_INDEX_DIGITS = 9        # no solution has a billion entries; longer indices are refused unread
MAX_PATH_LENGTH = 1000


class PathError(BpcalcError):
    """A path that does not name a value in the solution."""


def split(path: str) -> list[str | int]:
    """``layers[2].delta[0]`` -> ``["layers", 2, "delta", 0]``."""
    parts: list[str | int] = []
    position, expect_name = 0, True
    text = path.strip()
    if len(text) > MAX_PATH_LENGTH:
        raise PathError(f"the path {_shown(text)} is {len(text):,} characters long; expected "
                        "something like gradients.w1 or layers[2].delta[0]")
    while position < len(text):
        match = _PART.match(text, position)
        if not match or (match["dot"] and expect_name) or (match["name"] and not expect_name):
            raise PathError(f"cannot read the path {_shown(path)} at character {position + 1}; "
                            "expected something like gradients.w1 or layers[2].delta[0]")
        if match["name"]:
            parts.append(match["name"])
            expect_name = False
        elif match["index"]:
            digits = match["index"].lstrip("-")
            if len(digits) > MAX_INDEX_DIGITS:
                raise PathError(f"the path {_shown(path)} has an index of {len(digits):,} digits "
                                f"at character {position + 1}; no solution has that many entries")
            parts.append(int(match["index"]))
        else:
            expect_name = True
        position = match.end()
    if not parts or expect_name:
        raise PathError(f"cannot read the path {_shown(path)}; expected something like gradients.w1")
    return parts


def _shown(path: str, limit: int = 60) -> str:
    """A path quoted for a message: shortened when long (a key can be any text)."""
    return repr(path if len(path) <= limit else path[:limit - 3] + "...")


def resolve(document: dict[str, Any], path: str) -> Any:
    """The value at ``path`` in a solution document, or a PathError saying what exists."""
    value: Any = document
    walked = ""
    parts = split(path)
    for position, part in enumerate(parts):
        if isinstance(part, int):
            if not isinstance(value, list):
                raise PathError(f"{_shown(path)}: {walked or 'the solution'} is not a list")
            index = part - 1 if walked == "layers" else part
            if walked == "layers" and part < 1:
                raise PathError(f"{_shown(path)}: layers are numbered from 1 (layer 1 is the first "
                                f"layer after the input), up to {len(value)}")
            if not -len(value) <= index < len(value):
                bound = f"1 to {len(value)}" if walked == "layers" else f"0 to {len(value) - 1}"
                raise PathError(f"{_shown(path)}: index {part} is out of range for {walked} ({bound})")
            value = value[index]
            walked += f"[{part}]"
        else:
            if not isinstance(value, dict) or part not in value:
                choices = sorted(value) if isinstance(value, dict) else []
                close = difflib.get_close_matches(part, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                known = f"; {walked or 'the solution'} has: {', '.join(choices)}" if choices else ""
                raise PathError(f"{_shown(path)}: no {part!r} in {walked or 'the solution'}{hint}{known}")
            value = value[part]
            walked += ("." if walked else "") + part
        if value is None and position < len(parts) - 1:
            raise PathError(f"{_shown(path)}: {walked} is empty (null) for this problem")
    return value


class AnswerDocument(dict):
    """The document that answer keys and questions are resolved in: the solution's JSON
    and, for a problem with ``train:`` settings, the training run under ``train``
    (``train.steps[10].loss``, ``train.final.parameters.w1``), computed only when a path
    asks for it (so solving or checking a file does not train it for nothing)."""

    def __init__(self, solution: Any) -> None:
        super().__init__(solution.to_dict())
        self._problem = solution.problem

    def _trains(self) -> bool:
        return getattr(self._problem, "train", None) is not None

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (key == "train" and self._trains())

    def __missing__(self, key: str) -> Any:
        if key != "train" or not self._trains():
            raise KeyError(key)
        from .training import train

        self[key] = train(self._problem).to_dict()
        return self[key]
