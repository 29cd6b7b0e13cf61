"""Student formulas: text -> expression tree, numeric equivalence, and ``describe``.

The language is Open edX's formula grader (``calc.evaluator``, openedx-calc 4): every formula
it accepts parses here to a tree with the same value.  Its rules, some surprising:

* Numbers: ``2``, ``2.5``, ``.5``, ``5.``, ``1e-3``, ``2.5E2``; whitespace may sit inside the
  exponent (``2 e 3`` is 2000) and before ``%`` (``5 %`` is 0.05).  ``%`` is the only suffix
  openedx-calc 4 keeps (older edX also had k, M, m, u, ...): ``2k`` is refused as ``2*k``
  would be.  Integer literals are exact integers.
* A sign directly before a number after ``*``, ``/``, ``^``, ``||`` or a sign is part of that
  number and binds tighter than ``^``: ``2^-1`` = 0.5, ``2*-2^2`` = 8, ``2^-2^2`` = 16,
  ``1--2`` = 3.  Before anything else such a sign is refused (``2*-x``: write ``2*(-x)``).
* A sign at the start of a sum applies to the whole first product: ``-2^2`` = -4,
  ``-a||b`` = -(a||b).  At most that one sign plus a number's own: ``--2`` is 2, ``---2`` fails.
* Precedence, loosest first: ``+ -``, ``* /``, ``||`` (a*b||c = a*(b||c)), ``^`` (right-assoc).
* Names: a letter then letters, digits, ``_``, then optional primes (``a_k``, ``partialw_1``,
  ``x'``), or edX tensor names ``U_{ij}^{2}`` (one name, not a power).  Functions take
  exactly one argument.  Names and functions are case-insensitive when unambiguous; a
  variable named like a constant (``e``, ``pi``, ``i``, ``j``) overrides the constant.

Extensions, where students stumble (none changes a formula edX accepts):

* ``**`` is a power, like ``^``.
* ``w_(jk)`` is the one indexed name ``w_jk``, so ``w_(jk)^l`` reads as edX reads ``a_k^(l-1)``.
* ``sigma'(z)`` is the derivative σ′(z) of a registry function that has one.
* ``fact(3.0)`` is 6 (edX accepts only integer-typed arguments).

Refused with one helpful sentence and a position: implicit multiplication (``2x``, ``2(x+1)``,
``(a)(b)``: "missing operator: write 2*x"; edX refuses it too, and ``partialw_1`` would be
ambiguous), LaTeX (``\\eta``, ``\\frac``), non-ASCII (``×``, ``·``, ``÷``, ``−``, ``σ``), unknown
names (with did-you-mean), unbalanced or empty parentheses, doubled or trailing operators,
an empty formula, more than 2,000 characters, more than 64 nested parentheses/calls and
trees more than 100 operations deep (checked before recursing: no RecursionError). A flat
chain such as a sum of hundreds of terms counts as one level: it is a long formula, not a
deep one, and the course grader accepts it.
A formula is data: it is split into tokens by one regular expression and parsed by hand, and
never reaches eval or Python.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import FormulaError
from .expr import (
    CONSTANTS,
    Add,
    Call,
    Div,
    Expr,
    Mul,
    Neg,
    Num,
    Parallel,
    Pow,
    Sub,
    Sym,
    evaluate,
    function_table,
    symbols,
    to_latex,
    to_text,
    to_unicode,
)

__all__ = [
    "DEFAULT_RANGE",
    "EVALUATION_ERRORS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NESTING",
    "SLOT",
    "FormulaDescription",
    "SamplePoints",
    "describe",
    "equivalent",
    "parse",
    "parse_shape",
    "shape_key",
]

MAX_LENGTH = 2000   # characters
MAX_NESTING = 64    # parentheses and function calls inside one another
MAX_DEPTH = 100     # levels of operations (a flat chain 1+1+...+1 counts as one level)
DEFAULT_RANGE = (1.0, 3.0)
"""Sample range for :func:`equivalent`: positive, so ``a_k^(l-1)`` stays real, and away
from 0, so quotients stay finite."""

_WHITESPACE = " \t\n\r"  # pyparsing's default: other spaces are refused, as in edX
_ALNUM = "A-Za-z0-9"
# One pattern for every token, so a formula is split by the regex engine, not character by
# character in Python: optional whitespace, then a number (group 1: digits with an optional
# exponent and %, whitespace allowed inside as edX allows it) or anything else (group 2: a
# name, an operator, a parenthesis, or any other single character, which is an error).
# Names: an edX tensor name (U_{ij}^{2}, a_{k}), the extension w_(jk), or letters, digits and
# _ then primes. Digits are ASCII only (pyparsing's nums); "." starts a number only before a digit.
_NUMBER_TOKEN = (r"(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)"
                 r"(?:[ \t\n\r]*+[eE][ \t\n\r]*+[+-]?[ \t\n\r]*+[0-9]++)?(?:[ \t\n\r]*+%)?")
_NAME_TOKEN = (rf"[A-Za-z][{_ALNUM}]*+(?:(?:_\{{[{_ALNUM}]+\}})?\^\{{[{_ALNUM}]+\}}'*+"
               rf"|_\{{[{_ALNUM}]+\}}'*+|[{_ALNUM}_]*+(?:(?<=_)\([{_ALNUM}]+\)|'*+))")
_TOKEN = re.compile(rf"[ \t\n\r]*+(?:({_NUMBER_TOKEN})|({_NAME_TOKEN}|\|\||\*\*|[-+*/^(),]|.))", re.DOTALL)
_NUMBER_PARTS = re.compile(r"([0-9.]+)[ \t\n\r]*(?:[eE][ \t\n\r]*([+-]?)[ \t\n\r]*([0-9]+))?[ \t\n\r]*(%?)")
_LATEX_COMMAND = re.compile(r"\\([A-Za-z]+)")

_COMMA_HINT = ("',' is not part of formulas: functions take one argument (only max(a, b) and "
               "min(a, b) take several) and decimals use '.'")
_ASCII_HINTS = {
    "{": "braces do not group in formulas: use parentheses ( )",
    "}": "braces do not group in formulas: use parentheses ( )",
    "[": "use parentheses ( ) for grouping, not [ ]",
    "]": "use parentheses ( ) for grouping, not [ ]",
    "=": "write only the expression: '=' is not part of a formula",
    "!": "write fact(n) for n!",
    ",": _COMMA_HINT,
    "$": "remove the $ signs: formulas are plain text, not LaTeX",
    "%": "'%' must follow a number (5% is 0.05)",
    "'": "a prime ' must follow a name (x' or sigma'(z))",
    "_": "names start with a letter, not '_'",
    ".": "'.' must be part of a number such as 0.5",
    "|": "write abs(x) for |x|; '||' is the parallel operator",
}
_UNICODE_HINTS = {
    **dict.fromkeys("×·⋅∙✕✖∗", "write * for multiplication, not '{}'"),
    **dict.fromkeys("÷∕⁄", "write / for division, not '{}'"),
    **dict.fromkeys("−–—‐‑‒﹣－", "write - (the ASCII minus) instead of '{}'"),
    **dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "write a power with ^ (x^2), not '{}'"),
    **dict.fromkeys("₀₁₂₃₄₅₆₇₈₉", "write an index with _ (w_1), not '{}'"),
    **dict.fromkeys("′’‘", "write the ASCII apostrophe ' instead of '{}'"),
    "√": "write sqrt(x), not '√'",
    "∥": "write || for the parallel operator, not '∥'",
    "∂": "'∂' is not understood: name a derivative with letters (e.g. dC_dw)",
    "⊙": "write * (elementwise products are products of numbers here), not '⊙'",
    "∞": "'∞' is not understood: write a large number such as 1e999",
    "＋": "write + instead of '＋'",
}
_LATEX_HINTS = {
    "frac": "write (a)/(b), not \\frac{a}{b}",
    "dfrac": "write (a)/(b), not \\dfrac{a}{b}",
    "tfrac": "write (a)/(b), not \\tfrac{a}{b}",
    "cdot": "write * for multiplication, not \\cdot",
    "times": "write * for multiplication, not \\times",
    "ast": "write * for multiplication, not \\ast",
    "div": "write / for division, not \\div",
    "left": "write plain parentheses, not \\left( and \\right)",
    "right": "write plain parentheses, not \\left( and \\right)",
    "sqrt": "write sqrt(x), not \\sqrt{x}",
    "partial": "\\partial is not understood: name a derivative with letters (e.g. dC_dw)",
    "odot": "write * (elementwise products are products of numbers here), not \\odot",
    "log": "write ln(x), log10(x) or log2(x), not \\log",
}


def _fail(message: str, text: str, position: int | None) -> FormulaError:
    return FormulaError(message, text=text, position=position)


def _suggest(word: str, candidates: list[str]) -> list[str]:
    """The closest candidates (difflib), only those about as close as the best one."""
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if not close:
        return []
    score = [difflib.SequenceMatcher(None, word, c).ratio() for c in close]
    return [c for c, r in zip(close, score) if r >= score[0] - 0.05]


def _quote(snippet: str, limit: int = 16) -> str:
    snippet = " ".join(snippet.split())
    return snippet if len(snippet) <= limit else "…"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str          # "num", "name", "op", "(", ")", "end"
    text: str          # the operator (`**` as "^"), the name, or the number's source
    start: int
    end: int
    value: Any = None  # a number's value
    plain: bool = True  # a name that may be called (not a tensor or w_(jk) name)


def _character_error(text: str, pos: int) -> FormulaError:
    ch = text[pos]
    if ch == "\\":
        match = _LATEX_COMMAND.match(text, pos)
        if not match:
            return _fail("LaTeX is not understood: remove the backslash", text, pos)
        command = match.group(1)
        if command in _LATEX_HINTS:
            return _fail(_LATEX_HINTS[command], text, pos)
        lowered = command.lower()
        if lowered in function_table() or lowered in CONSTANTS or _greek_name(command):
            return _fail(f"write {command}, not \\{command}", text, pos)
        return _fail(f"LaTeX commands such as \\{command} are not understood: "
                     "write the formula in plain ASCII", text, pos)
    if ch in _ASCII_HINTS:
        return _fail(_ASCII_HINTS[ch], text, pos)
    if ch in _UNICODE_HINTS:
        return _fail(_UNICODE_HINTS[ch].format(ch), text, pos)
    greek = _greek_name(ch)
    if greek:
        return _fail(f"write {greek}, not {ch}", text, pos)
    code = f"U+{ord(ch):04X}"
    if unicodedata.category(ch) == "Zs" or ch in "\f\v":
        return _fail(f"unexpected space character ({code}): use an ordinary space", text, pos)
    if ord(ch) < 32 or ord(ch) == 127:
        return _fail(f"unexpected control character ({code})", text, pos)
    shown = ch if ch.isprintable() else code
    return _fail(f"unexpected character '{shown}': formulas use ASCII letters, digits, "
                 "names and + - * / ^ || ( )", text, pos)


def _greek_name(word: str) -> str | None:
    if len(word) == 1:
        name = unicodedata.name(word, "")
        match = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (FINAL )?(\w+)", name)
        if not match:
            return None
        letter = match.group(3).lower().replace("lamda", "lambda")
        return letter if match.group(1) == "SMALL" else letter.capitalize()
    from .expr import GREEK
    return word if word in GREEK else None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        number, other = match.group(1, 2)
        if number is not None:
            start = match.start(1)
            tokens.append(_Token("num", number, start, match.end(), _number_value(number)))
            continue
        start, end = match.start(2), match.end()
        first = other[0]
        if first.isascii() and first.isalpha():
            if "(" in other:                                # the extension w_(jk) -> w_jk
                base, index = other[:-1].split("(")
                tokens.append(_Token("name", base + index, start, end, plain=False))
            else:
                tokens.append(_Token("name", other, start, end, plain="{" not in other))
        elif other in ("(", ")", ","):
            tokens.append(_Token(other, other, start, end))
        elif other in _OPERATORS:
            tokens.append(_Token("op", _OPERATORS[other], start, end))
        else:
            raise _character_error(text, start)
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


_OPERATORS = {"||": "||", "**": "^", "+": "+", "-": "-", "*": "*", "/": "/", "^": "^"}


def _number_value(token: str) -> int | float:
    """A number token's value, as edX computes it: an integer literal is an exact int, a
    decimal or exponent makes a float, and ``%`` is ``float(...) * 0.01``."""
    if token.isdigit():
        return int(token)
    if token.replace(".", "", 1).isdigit():
        return float(token)
    mantissa, sign, exponent, percent = _NUMBER_PARTS.fullmatch(token).groups()
    text = mantissa if exponent is None else f"{mantissa}e{sign}{exponent}"
    if percent:
        return float(text) * 0.01
    return float(text) if exponent is not None or "." in mantissa else int(mantissa)


def _check_parentheses(text: str, tokens: list[_Token]) -> None:
    opened: list[int] = []
    for token in tokens:
        if token.kind == "(":
            opened.append(token.start)
        elif token.kind == ")":
            if not opened:
                raise _fail("this ')' has no matching '('", text, token.start)
            opened.pop()
    if opened:
        raise _fail("this '(' is never closed", text, opened[-1])


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over edX's grammar; the grammar methods return (node, depth) so
    the tree depth is checked as it grows, never by recursing into a finished tree."""

    def __init__(self, text: str, known: Collection[str] | None, strict: bool,
                 functions: Collection[str] | None, slots: bool = False) -> None:
        self.text = text
        self.strict = strict
        self.known = list(dict.fromkeys(known or ()))
        self.known_set = set(self.known)
        table = function_table()
        self.functions = list(table) + [f for f in (functions or ()) if f not in table]
        self.tokens = _tokenize(text)
        if slots:                                   # parse_shape: the i-th number is Sym("#i")
            numbers = (i for i, token in enumerate(self.tokens) if token.kind == "num")
            for count, index in enumerate(numbers):
                self.tokens[index] = dataclasses.replace(self.tokens[index], value=Sym(f"{SLOT}{count}"))
        _check_parentheses(text, self.tokens)
        self.i = 0

    # -- helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> _Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def error(self, message: str, position: int) -> FormulaError:
        return _fail(message, self.text, position)

    def node(self, position: int, cls: type, *parts: tuple[Expr, int]) -> tuple[Expr, int]:
        return cls(*(n for n, _ in parts)), self.deepest(position, 1 + max(d for _, d in parts))

    def deepest(self, position: int, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise self.error(f"the formula is too deeply nested (more than {MAX_DEPTH} "
                             "levels of operations)", position)
        return depth

    def chain(self, left: tuple[Expr, int], op: _Token, cls: type,
              right: tuple[Expr, int], first: int) -> tuple[Expr, int]:
        """One more term of a flat chain a+b+c… (or a*b*c…, a||b||c…): the chain is one
        level above its terms however long it is, as edX reads it (a sum of n terms, not
        n nested sums), so hundreds of terms are not "nesting". ``first`` is the depth
        of the chain's first term."""
        depth = self.deepest(op.start, max(left[1], 1 + max(first, right[1])))
        return cls(left[0], right[0]), depth

    @staticmethod
    def literal(token: _Token) -> Expr:
        return token.value if isinstance(token.value, Sym) else Num(token.value)

    def is_sign(self, token: _Token) -> bool:
        return token.kind == "op" and token.text in "+-"

    # -- grammar
    def parse(self) -> Expr:
        node, _ = self.sum(0)
        if self.tok.kind != "end":
            raise self.unexpected_after_operand()
        return node

    def sum(self, nesting: int) -> tuple[Expr, int]:
        sign = None
        if self.is_sign(self.tok):
            sign = self.tok
            self.i += 1
        left = self.product(nesting)
        if sign is not None and sign.text == "-":
            left = self.node(sign.start, Neg, left)
        first = left[1]
        while self.is_sign(self.tok):
            op = self.tok
            self.i += 1
            right = self.product(nesting)
            left = self.chain(left, op, Add if op.text == "+" else Sub, right, first)
        return left

    def product(self, nesting: int) -> tuple[Expr, int]:
        left = self.parallel(nesting)
        first = left[1]
        while self.tok.kind == "op" and self.tok.text in "*/":
            op = self.tok
            self.i += 1
            right = self.parallel(nesting)
            left = self.chain(left, op, Mul if op.text == "*" else Div, right, first)
        return left

    def parallel(self, nesting: int) -> tuple[Expr, int]:
        left = self.power(nesting)
        first = left[1]
        while self.tok.kind == "op" and self.tok.text == "||":
            op = self.tok
            self.i += 1
            right = self.power(nesting)
            left = self.chain(left, op, Parallel, right, first)
        return left

    def power(self, nesting: int) -> tuple[Expr, int]:
        atoms = [self.atom(nesting)]
        carets = []
        while self.tok.kind == "op" and self.tok.text == "^":
            carets.append(self.tok.start)
            self.i += 1
            atoms.append(self.atom(nesting))
        result = atoms[-1]
        for base, caret in zip(reversed(atoms[:-1]), reversed(carets)):
            result = self.node(caret, Pow, base, result)
        return result

    def atom(self, nesting: int) -> tuple[Expr, int]:
        tok = self.tok
        if self.is_sign(tok):
            nxt = self.peek()
            if nxt.kind == "num":  # edX's signed number literal: binds tighter than ^
                self.i += 2
                self.check_operator_follows(tok.start)
                num = (self.literal(nxt), 0)
                return self.node(tok.start, Neg, num) if tok.text == "-" else num
            raise self.sign_error(tok)
        if tok.kind == "num":
            self.i += 1
            self.check_operator_follows(tok.start)
            return self.literal(tok), 0
        if tok.kind == "name":
            if self.peek().kind == "(":
                return self.call(nesting)
            self.i += 1
            self.check_operator_follows(tok.start)
            return Sym(self.resolve_variable(tok)), 0
        if tok.kind == "(":
            if nesting >= MAX_NESTING:
                raise self.error(f"the formula nests more than {MAX_NESTING} parentheses "
                                 "or function calls", tok.start)
            if self.peek().kind == ")":
                raise self.error("empty parentheses: write something inside ( )", tok.start)
            self.i += 1
            inner = self.sum(nesting + 1)
            self.expect_close(tok)
            self.check_operator_follows(tok.start)
            return inner
        raise self.missing_operand(tok)

    def call(self, nesting: int) -> tuple[Expr, int]:
        name_tok = self.tok
        open_tok = self.peek()
        name, derivative = self.resolve_function(name_tok)
        if nesting >= MAX_NESTING:
            raise self.error(f"the formula nests more than {MAX_NESTING} parentheses "
                             "or function calls", open_tok.start)
        if self.peek(2).kind == ")":
            raise self.error(f"{name}() needs an argument: write {name}(x)", open_tok.start)
        self.i += 2
        arg, depth = self.sum(nesting + 1)
        args = [arg]
        spec = function_table().get(name)
        several = spec is not None and spec.arity != 1 and not derivative
        while self.tok.kind == "," and several:
            self.i += 1
            arg, more = self.sum(nesting + 1)
            args.append(arg)
            depth = max(depth, more)
        if several and len(args) < 2:
            raise self.error(f"{name} needs at least two arguments: write {name}(a, b)", open_tok.start)
        if self.tok.kind == ",":
            raise self.error(f"{name} takes one argument (functions take one argument; only max(a, b) "
                             "and min(a, b) take several)", self.tok.start)
        self.expect_close(open_tok)
        self.check_operator_follows(name_tok.start)
        if depth + 1 > MAX_DEPTH:
            raise self.error(f"the formula is too deeply nested (more than {MAX_DEPTH} "
                             "levels of operations)", name_tok.start)
        return Call(name, tuple(args), derivative), depth + 1

    def expect_close(self, open_tok: _Token) -> None:
        if self.tok.kind == ")":
            self.i += 1
            return
        if self.tok.kind == "end":  # (unreachable after the balance check; kept for safety)
            raise self.error("this '(' is never closed", open_tok.start)
        raise self.unexpected_after_operand()

    # -- names
    def resolve_variable(self, tok: _Token) -> str:
        name = tok.text
        if name in self.known_set:
            return name
        folded = name.casefold()
        matches = [k for k in self.known if k.casefold() == folded]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise self.error(f"'{name}' is ambiguous: it could be any of "
                             f"{', '.join(sorted(matches))}", tok.start)
        if folded in CONSTANTS:
            return folded
        if not self.strict:
            return name
        raise self.error(self.unknown_variable_message(name), tok.start)

    def unknown_variable_message(self, name: str) -> str:
        message = f"unknown variable '{name}'"
        if self.lookup_function(name.rstrip("'")) is not None:
            return message + f": {name} is a function, write {name}(x)"
        close = _suggest(name, self.known + list(CONSTANTS))
        if close:
            message += f" (did you mean {' or '.join(close)}?)"
        if "^{" in name:
            message += f"; edX reads {name} as one name, for a power write ^2 or ^(2)"
        if self.known:
            allowed = ", ".join(self.known) if len(self.known) <= 12 else \
                ", ".join(self.known[:12]) + ", …"
            message += f"; allowed variables: {allowed}"
        else:
            message += "; this formula may use no variables"
        return message

    def lookup_function(self, name: str) -> str | None:
        if name in self.functions:
            return name
        matches = [f for f in self.functions if f.casefold() == name.casefold()]
        return matches[0] if len(matches) == 1 else None

    def resolve_function(self, tok: _Token) -> tuple[str, int]:
        base = tok.text.rstrip("'")
        primes = len(tok.text) - len(base)
        name = self.lookup_function(base) if tok.plain else None
        if name is None:
            right = f"({_quote(self.text[self.peek().start + 1:self.matching_close()], 12)})"
            known_variable = (not tok.plain or tok.text in self.known_set
                              or any(k.casefold() == tok.text.casefold() for k in self.known)
                              or tok.text.casefold() in CONSTANTS)
            if known_variable:
                raise self.error(f"missing operator: write {tok.text}*{right}", self.peek().start)
            close = _suggest(base.lower(), self.functions)
            message = f"unknown function '{tok.text}'"
            if close:
                message += f" (did you mean {' or '.join(close)}?)"
            message += f"; to multiply, write {tok.text}*{right}"
            raise self.error(message, tok.start)
        if primes:
            spec = function_table().get(name)
            if primes > 1:
                raise self.error(f"only first derivatives are available: write {name}'(x)",
                                 tok.start)
            if spec is None or spec.derivative is None:
                raise self.error(f"no derivative of {name} is available", tok.start)
        return name, primes

    def matching_close(self) -> int:
        depth, j = 0, self.i + 1
        while j < len(self.tokens):
            kind = self.tokens[j].kind
            depth += kind == "("
            depth -= kind == ")"
            if depth == 0:
                return self.tokens[j].start
            j += 1
        return len(self.text)

    # -- errors
    def check_operator_follows(self, start: int) -> None:
        nxt = self.tok
        if nxt.kind in ("num", "name", "("):
            left = _quote(self.text[start:self.tokens[self.i - 1].end])
            if nxt.kind == "(":
                right = "(…)"
            elif nxt.kind == "name" and self.peek().kind == "(":
                right = f"{nxt.text}(…)"
            else:
                right = _quote(nxt.text)
            raise self.error(f"missing operator: write {left}*{right}", nxt.start)

    def unexpected_after_operand(self) -> FormulaError:
        tok = self.tok
        if tok.kind == ")":
            return self.error("this ')' has no matching '('", tok.start)
        if tok.kind == ",":
            return self.error(_COMMA_HINT, tok.start)
        return self.error(f"unexpected '{tok.text}'", tok.start)

    def previous_operator(self) -> _Token | None:
        return self.tokens[self.i - 1] if self.i > 0 else None

    def sign_error(self, sign: _Token) -> FormulaError:
        nxt = self.peek()
        prev = self.previous_operator()
        if nxt.kind in ("name", "("):
            shown = "(…)" if nxt.kind == "(" else nxt.text + ("(…)" if self.peek(2).kind == "(" else "")
            before = prev.text if prev is not None else ""
            return self.error(f"put the signed term in parentheses: write {before}({sign.text}{shown}) "
                              "(a sign may follow an operator only before a number)", sign.start)
        return self.missing_operand(nxt, after=sign)

    def missing_operand(self, tok: _Token, after: _Token | None = None) -> FormulaError:
        prev = after or self.previous_operator()
        if tok.kind == "end":
            if prev is None:
                return self.error("the formula is empty", 0)
            return self.error(f"the formula ends after '{prev.text}': a term is missing",
                              prev.start)
        if prev is None or prev.kind == "(":
            if tok.kind == ")":
                return self.error("empty parentheses: write something inside ( )", prev.start if prev else tok.start)
            where = "the formula" if prev is None else "a bracket"
            return self.error(f"{where} cannot start with '{tok.text}'", tok.start)
        if tok.kind == ")":
            return self.error(f"')' cannot follow '{prev.text}': a term is missing", tok.start)
        return self.error(f"doubled operator: '{tok.text}' cannot follow '{prev.text}'", tok.start)


def parse(text: str, *, allowed: Collection[str] | None = None,
          functions: Collection[str] | None = None) -> Expr:
    """The tree of a formula in edX's syntax (see the module docstring).

    With ``allowed``, every variable must be one of those names (or a constant e, pi, i, j)
    and is returned spelled as in ``allowed`` (case-insensitive match when unambiguous);
    without it any name is a variable.  ``functions`` names extra callable functions.
    Raises FormulaError with a one-sentence message and a 0-based position.
    """
    return _parse(text, allowed, strict=allowed is not None, functions=functions)


def _parse(text: str, known: Collection[str] | None, *, strict: bool,
           functions: Collection[str] | None = None, slots: bool = False) -> Expr:
    if not isinstance(text, str):
        raise TypeError("a formula is a str")
    if len(text) > MAX_LENGTH:
        raise _fail(f"the formula is too long ({len(text)} characters, at most {MAX_LENGTH})",
                    text[:MAX_LENGTH], MAX_LENGTH)
    if not text.strip(_WHITESPACE):
        raise _fail("the formula is empty", text, 0)
    return _Parser(text, known, strict, functions, slots).parse()


# --------------------------------------------------------------------------- shapes

SLOT = "#"
"""Prefix of the symbols that stand for a shape's numbers (no name can contain it)."""
_NUMBER_FIELD, _OTHER_FIELD = operator.itemgetter(0), operator.itemgetter(1)


def shape_key(text: str) -> tuple[str, list[int | float]] | None:
    """``text``'s tokens with its numbers taken out, and the numbers' values in order.

    Two formulas with the same key have the same tokens (names, operators, parentheses,
    number tokens) and differ only in their numbers' values, so they parse to the same tree
    up to those values (:func:`parse_shape`): ``2*x + 0.5`` and ``3 * x+7`` share one. None
    for a text that only :func:`parse` can read (empty, too long, or holding a NUL: the key
    is the tokens' texts joined by NUL). The split is :func:`_tokenize`'s, done by the regex
    engine alone, which is what makes a key much cheaper than a parse."""
    if len(text) > MAX_LENGTH or "\0" in text:
        return None
    fields = _TOKEN.findall(text)
    if not fields:
        return None
    numbers = [int(n) if n.isdigit() else _number_value(n) for n in filter(None, map(_NUMBER_FIELD, fields))]
    return "\0".join(map(_OTHER_FIELD, fields)), numbers


def parse_shape(text: str, *, allowed: Collection[str]) -> Expr:
    """:func:`parse` of ``text`` with its i-th number read as the symbol ``#i`` (see
    :data:`SLOT`): the tree every formula of the same :func:`shape_key` has, once its
    numbers are put back (``expr.substitute(tree, {"#0": 2, ...})``). Raises as parse does."""
    return _parse(text, allowed, strict=True, slots=True)


# --------------------------------------------------------------------------- equivalence


def _as_numbers(values: np.ndarray) -> np.ndarray:
    """Float (or complex) values: an exact integer too large for a float is inf."""
    if values.dtype.kind in "fc":
        return values
    if values.dtype.kind in "iub":
        return values.astype(float)
    flat = [complex(v) if isinstance(v, complex) else _plain_value(v) for v in values.ravel()]
    kind = complex if any(isinstance(v, complex) for v in flat) else float
    return np.asarray(flat, dtype=kind).reshape(values.shape)


def _evaluate_samples(tree: Expr, env: dict[str, np.ndarray], samples: int) -> np.ndarray:
    try:
        result = _as_numbers(np.asarray(evaluate(tree, env)))
        if result.ndim == 0 or result.shape == (samples,):
            return np.broadcast_to(result, (samples,))
    except FormulaError:
        raise
    except (TypeError, ValueError, AttributeError):
        pass
    # A function that does not vectorise: one point at a time.
    values = [evaluate(tree, {k: float(v[s]) for k, v in env.items()}) for s in range(samples)]
    try:
        return np.asarray(values, dtype=complex if any(np.iscomplexobj(v) for v in values) else float)
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"the formula does not give one number per sample: {exc}") from None


EVALUATION_ERRORS = (FormulaError, ArithmeticError, ValueError, TypeError, RecursionError, MemoryError)
"""What evaluating a student's formula can raise: a wrong answer, never a crash."""


class SamplePoints:
    """The random points at which formulas are compared, drawn once (per question).

    Each variable is drawn uniformly from ``ranges[name]`` or :data:`DEFAULT_RANGE`, in
    sorted-name order from ``numpy.random.default_rng(seed)``, so a check is reproducible.
    A formula is evaluated over all points at once (NumPy arrays), and with
    :meth:`swapped` over several variants of the points in one evaluation, which is what
    keeps grading a class of distinct answers fast."""

    def __init__(self, variables: Sequence[str], ranges: Mapping[str, tuple[float, float]] | None = None,
                 samples: int = 10, seed: int = 0, rtol: float = 1e-6, atol: float = 1e-12) -> None:
        self.names = list(dict.fromkeys(variables))
        self.samples, self.rtol, self.atol = samples, rtol, atol
        rng = np.random.default_rng(seed)
        self.env: dict[str, np.ndarray] = {}
        for name in sorted(self.names):
            low, high = (ranges or {}).get(name, DEFAULT_RANGE)
            self.env[name] = rng.uniform(low, high, samples)

    def values(self, tree: Expr) -> np.ndarray:
        """The formula at every point (errors propagate: see :data:`EVALUATION_ERRORS`)."""
        return _evaluate_samples(tree, self.env, self.samples)

    def swaps(self) -> list[tuple[str, str]]:
        """Every (wrong, right) pair of distinct variables, in sorted order of ``wrong``."""
        return [(wrong, right) for wrong in sorted(self.names) for right in self.names if right != wrong]

    def with_swaps(self, tree: Expr, swaps: Sequence[tuple[str, str]]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """The formula at the points, and with variable ``wrong`` given ``right``'s values for
        each (wrong, right): what ``substitute(tree, {wrong: Sym(right)})`` gives. All in one
        evaluation over stacked copies of the points (the stack is built once); a variant
        that cannot be evaluated is None. Errors of the formula itself propagate."""
        n, blocks = self.samples, len(swaps) + 1
        key = tuple(swaps)
        if getattr(self, "_stack_key", None) != key:
            stack = {name: np.tile(values, blocks) for name, values in self.env.items()}
            for block, (wrong, right) in enumerate(swaps, start=1):
                stack[wrong][block * n:(block + 1) * n] = self.env[right]
            self._stack, self._stack_key = stack, key
        try:
            together = _evaluate_samples(tree, self._stack, n * blocks)
        except EVALUATION_ERRORS:
            return self.values(tree), self._one_by_one(tree, swaps)
        return together[:n], [together[block * n:(block + 1) * n] for block in range(1, blocks)]

    def _one_by_one(self, tree: Expr, swaps: Sequence[tuple[str, str]]) -> list[np.ndarray | None]:
        variants: list[np.ndarray | None] = []
        for wrong, right in swaps:
            try:
                variants.append(_evaluate_samples(tree, {**self.env, wrong: self.env[right]}, self.samples))
            except EVALUATION_ERRORS:
                variants.append(None)
        return variants

    def expected(self, tree: Expr) -> np.ndarray:
        """The expected formula's values; FormulaError if it has no finite value at any point."""
        want = self.values(tree)
        if not np.isfinite(want).any():
            raise FormulaError("the expected formula has no finite value at any sample point")
        return want

    def same(self, got: np.ndarray | None, want: np.ndarray) -> bool:
        """Do ``got`` and ``want`` agree wherever ``want`` is finite (NaN or inf in ``got``
        there, or no value at all, means no)?"""
        if got is None:
            return False
        return bool(self.matching(got[None, :], want)[0])

    def matching(self, got: np.ndarray, want: np.ndarray) -> np.ndarray:
        """:meth:`same` for many rows at once: row i of ``got`` against ``want`` (one row for
        all, or one row each). One array operation, however many candidates a diagnosis has.
        Where ``want`` is finite, ``|got - want|`` within the (finite) tolerance already means
        ``got`` is finite: NaN compares false and an infinity is never that close."""
        with np.errstate(all="ignore"):
            close = np.abs(got - want) <= self.atol + self.rtol * np.abs(want)
            if not (math.isfinite(self.atol) and math.isfinite(self.rtol)):
                close &= np.isfinite(got)
            free = ~np.isfinite(want)              # where want is not finite, anything goes
            if free.any():
                close |= free
            return close.all(axis=-1)


def equivalent(expected: Expr | str, given: Expr | str, variables: Sequence[str], *,
               ranges: Mapping[str, tuple[float, float]] | None = None, samples: int = 10,
               seed: int = 0, rtol: float = 1e-6, atol: float = 1e-12) -> bool:
    """Whether two formulas agree at ``samples`` random points, as course graders check.

    The points are :class:`SamplePoints`' ([1, 3] by default). Points where ``expected`` is
    not finite are skipped; an error, NaN or inf in ``given`` where ``expected`` is finite
    means not equivalent.  Strings are parsed with ``allowed=variables`` (a given string
    that does not parse is not equivalent).
    """
    names = list(dict.fromkeys(variables))
    if isinstance(expected, str):
        expected = parse(expected, allowed=names)
    if isinstance(given, str):
        try:
            given = parse(given, allowed=names)
        except FormulaError:
            return False
    points = SamplePoints(names, ranges, samples, seed, rtol, atol)
    want = points.expected(expected)
    try:
        got = points.values(given)
    except EVALUATION_ERRORS:
        return False
    return points.same(got, want)


# --------------------------------------------------------------------------- describe


def _plain_value(value: Any) -> float | complex:
    """A Python float or complex (complex only with a non-zero imaginary part)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise FormulaError("the formula gives an array, not one number")
        value = value[()]
    if np.iscomplexobj(value):
        c = complex(value)
        return c if c.imag != 0 else c.real
    if isinstance(value, (int, np.integer)):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return float(value)


def _json_value(value: complex | None) -> Any:
    if value is None:
        return None
    if isinstance(value, complex):
        return {"re": _json_value(value.real), "im": _json_value(value.imag)}
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


@dataclass(frozen=True)
class FormulaDescription:
    """What ``bpcalc formula TEXT [NAME=VALUE ...]`` shows.  ``value`` is None when a
    variable has no value; in :meth:`to_dict` a complex value is ``{"re": .., "im": ..}``
    and inf/nan are the strings ``"inf"``, ``"-inf"``, ``"nan"`` (JSON has no such numbers)."""

    input: str
    tree: Expr
    parsed: str
    unicode: str
    latex: str
    variables: tuple[str, ...]
    value: float | complex | None
    missing: tuple[str, ...] = ()  # the variables without a value (why value is None)

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "parsed": self.parsed, "latex": self.latex,
                "variables": list(self.variables), "value": _json_value(self.value)}


def describe(text: str, values: Mapping[str, float]) -> FormulaDescription:
    """Parse ``text`` (any variable names; names given in ``values`` matched
    case-insensitively) and evaluate it if every variable has a value."""
    tree = _parse(text, list(values), strict=False)
    names = symbols(tree)
    variables = tuple(sorted(n for n in names if n in values or n not in CONSTANTS))
    missing = tuple(n for n in variables if n not in values)
    value = None
    if not missing:
        value = _plain_value(evaluate(tree, {n: values[n] for n in names if n in values}))
    return FormulaDescription(input=text, tree=tree, parsed=to_text(tree),
                              unicode=to_unicode(tree), latex=to_latex(tree),
                              variables=variables, value=value, missing=missing)
