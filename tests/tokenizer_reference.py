"""The formula tokenizer as it was written before it became one regex (character by
character), kept as a test oracle for :func:`bpcalc.formula._tokenize`. Never imported by
bpcalc. One deliberate difference: this version let Unicode digits continue a number
(``1٣`` was 13, as Python's ``int`` reads it); edX (pyparsing's ``nums``) and bpcalc now
read ASCII digits only, so the tests skip texts with non-ASCII digits."""

from __future__ import annotations

import re

_WHITESPACE = " \t\n\r"
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_DIGITS = re.compile(r"\d+")
_TENSOR_MIXED = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_\{[A-Za-z0-9]+\})?\^\{[A-Za-z0-9]+\}'*")
_TENSOR_LOWER = re.compile(r"[A-Za-z][A-Za-z0-9]*_\{[A-Za-z0-9]+\}'*")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_INDEX = re.compile(r"\(([A-Za-z0-9]+)\)")


class BadCharacter(Exception):
    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def _skip(text, pos):
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def tokenize(text):
    """[(kind, text, start, end, value, plain)]; BadCharacter(position) for a character error."""
    tokens = []
    pos = _skip(text, 0)
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch.isascii() and (ch.isdigit() or (ch == "." and pos + 1 < n and text[pos + 1].isdigit()
                                              and text[pos + 1].isascii())):
            tokens.append(_number(text, pos))
        elif ch.isascii() and ch.isalpha():
            tokens.append(_name(text, pos))
        elif text.startswith("||", pos):
            tokens.append(("op", "||", pos, pos + 2, None, True))
        elif text.startswith("**", pos):
            tokens.append(("op", "^", pos, pos + 2, None, True))
        elif ch in "+-*/^":
            tokens.append(("op", ch, pos, pos + 1, None, True))
        elif ch in "(),":   # "," separates the arguments of max(a, b) and min(a, b)
            tokens.append((ch, ch, pos, pos + 1, None, True))
        else:
            raise BadCharacter(pos)
        pos = _skip(text, tokens[-1][3])
    tokens.append(("end", "", n, n, None, True))
    return tokens


def _number(text, pos):
    match = _NUMBER.match(text, pos)
    mantissa, end = match.group(), match.end()
    exponent = ""
    at = _skip(text, end)
    if at < len(text) and text[at] in "eE":
        at = _skip(text, at + 1)
        sign = ""
        if at < len(text) and text[at] in "+-":
            sign = text[at]
            at = _skip(text, at + 1)
        digits = _DIGITS.match(text, at)
        if digits and digits.group().isascii():
            exponent = f"e{sign}{digits.group()}"
            end = digits.end()
    percent = False
    at = _skip(text, end)
    if at < len(text) and text[at] == "%":
        percent, end = True, at + 1
    if percent:
        value = float(mantissa + exponent) * 0.01
    elif "." in mantissa or exponent:
        value = float(mantissa + exponent)
    else:
        value = int(mantissa)
    return ("num", text[pos:end], pos, end, value, True)


def _name(text, pos):
    for pattern in (_TENSOR_MIXED, _TENSOR_LOWER):
        match = pattern.match(text, pos)
        if match:
            return ("name", match.group(), pos, match.end(), None, False)
    match = _NAME.match(text, pos)
    name, end = match.group(), match.end()
    if name.endswith("_"):
        index = _INDEX.match(text, end)
        if index:
            return ("name", name + index.group(1), pos, index.end(), None, False)
    primes = len(text) - len(text[end:].lstrip("'")) - end
    return ("name", name + "'" * primes, pos, end + primes, None, True)
