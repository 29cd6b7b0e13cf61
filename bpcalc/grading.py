"""Questions in problem files, and grading a student's answers to them.

Three kinds of question, as course homework asks them:

* ``numeric``: a path into the solution (``gradients.w2``) or a literal number,
  graded by the one numeric rule of :mod:`bpcalc.numbers`; a wrong answer is
  diagnosed against :mod:`bpcalc.mistakes` (the closest matching mistake is named).
* ``formula``: compared with the expected formula at random points of its
  variables (:class:`bpcalc.formula.SamplePoints`), as course graders do.
* ``choice``: options lettered a, b, c, …; the answer is the letter(s).

Questions are validated when the problem file is loaded (:func:`parse_questions`,
called by :mod:`bpcalc.problem`), so every command reports a broken question.
Grading never raises for an answer: whatever a student typed gets a verdict.
Grades are memoised per (question, answer text), and everything a question
needs to grade many answers (sample points, the expected formula's values,
the mistake candidates) is computed once per question. :meth:`Grader.grade_many`
grades a batch of answers to one question together, so a class of distinct
answers costs little more than a class of repeated ones: numbers in a few array
operations; formulas by shape (:mod:`bpcalc.formula_shapes`: one tokenization per
answer, one parse and one NumPy evaluation per shape), with the reference path
(a parse and ``expr.evaluate`` per answer) for anything a shape cannot take.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import AnswerError, BpcalcError, FormulaError
from .numbers import (KEY_TOLERANCE, NotANumber, Reading, Tolerance, agrees, counted, format_number, read_answer,
                      read_written, rounding_allowance, within)
from .problem import KEY, Problem
from .solver import Solution

QUESTION_KEYS = ("id", "prompt", "numeric", "key", "tolerance", "formula", "variables", "ranges",
                 "choice", "correct", "feedback", "show_expected", "mistakes", "verify")
KINDS = ("numeric", "formula", "choice")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*\Z")
MEMO_LIMIT = 20_000         # distinct answers whose grades are kept (all questions); then the memo starts afresh
PARSE_LIMIT = 20_000        # parsed formulas kept (a tree costs more memory than a grade)
SHAPE_LIMIT = 20_000        # compiled formula shapes kept per question
GRADING_ERRORS = (BpcalcError, ArithmeticError, ValueError, TypeError, RecursionError, MemoryError)
_UNSEEN = object()
_json_text = json.encoder.encode_basestring     # what json.dumps(text, ensure_ascii=False) writes


@dataclass(frozen=True)
class Question:
    """One question of a problem file, validated."""

    id: str
    kind: str                                   # numeric | formula | choice
    prompt: str = ""
    path: str | None = None                     # numeric: where the answer is in the solution
    value: Any = None                           # numeric: the number; formula: the text
    tolerance: Tolerance = Tolerance()
    variables: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    options: tuple[str, ...] = ()
    correct: frozenset[str] = frozenset()       # choice: the right letters
    show_expected: bool = True
    known_mistakes: tuple[tuple[str, str], ...] = ()   # formula: (wrong formula, message)
    key: Any = None                             # numeric: the instructor's published answer
    verify_values: Mapping[str, Any] = field(default_factory=dict)   # formula: variable -> path/number
    verify_equals: Any = None                   # formula: the path/number it must then equal
    feedback: Mapping[str, str] = field(default_factory=dict)       # choice: letter -> why it is wrong

    @property
    def expected(self) -> Any:
        """The answer: the full-precision number, the formula text, or the right letters."""
        if self.kind == "numeric":
            return float(self.value)
        if self.kind == "formula":
            return str(self.value)
        return ", ".join(sorted(self.correct))

    def expected_text(self, digits: int = 6) -> str:
        if self.kind == "numeric":
            return format_number(self.value, digits)
        return self.expected


@dataclass(frozen=True, slots=True)
class Grade:
    """The verdict on one answer; ``to_dict`` is the object ``check --format json`` prints.

    ``expected`` is the full-precision number for a numeric question (the formula or the
    letters otherwise), None when the question hides it; ``expected_text`` rounds it."""

    id: str
    given: str
    correct: bool
    expected: float | str | None
    message: str
    diagnosis: str | None = None
    unreadable: bool = False      # the answer could not be read at all (ask again, interactively)
    unanswered: bool = False      # blank or missing: wrong, and counted as not answered

    def expected_text(self, digits: int = 6) -> str | None:
        if isinstance(self.expected, float):
            return format_number(self.expected, digits)
        return self.expected

    def __repr__(self) -> str:
        verdict = "correct" if self.correct else "wrong"
        return f"<Grade {self.id}={self.given!r}: {verdict}>"

    def _repr_html_(self) -> str:
        """Jupyter shows a grade as a small table; every text is escaped (answers are data)."""
        from .usertext import html_escape

        rows = [("Question", self.id), ("Your answer", self.given),
                ("Result", ("✓ " if self.correct else "✗ ") + self.message)]
        if not self.correct and self.expected_text() is not None:
            rows.append(("Expected", self.expected_text()))
        if self.diagnosis:
            rows.append(("Diagnosis", self.diagnosis))
        body = "".join(f"<tr><th style='text-align:left'>{html_escape(k)}</th><td>{html_escape(v)}</td></tr>"
                       for k, v in rows)
        return f"<table>{body}</table>"

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        return {"id": self.id, "given": self.given, "correct": self.correct,
                "expected": self.expected, "expected_text": self.expected_text(digits),
                "message": self.message, "diagnosis": self.diagnosis, "unanswered": self.unanswered}

    def to_json(self, digits: int = 6, expected: str | None = None) -> str:
        """``json.dumps(self.to_dict(digits), ensure_ascii=False)``, written directly: a
        class report writes one per distinct answer. ``expected`` may give the JSON of the
        ``"expected"`` and ``"expected_text"`` members, which one question's grades share."""
        if expected is None:
            expected = self.expected_json(digits)
        tail = _json_tail if len(self.message) <= 300 else _json_tail.__wrapped__   # cache short ones
        return (f'{{"id": {_json_text(self.id)}, "given": {_json_text(self.given)}, '
                f'"correct": {"true" if self.correct else "false"}, {expected}, '
                f'{tail(self.message, self.diagnosis, self.unanswered)}')

    def expected_json(self, digits: int = 6) -> str:
        """The ``"expected": …, "expected_text": …`` members of :meth:`to_json`."""
        return (f'"expected": {json.dumps(self.expected, ensure_ascii=False)}, '
                f'"expected_text": {json.dumps(self.expected_text(digits), ensure_ascii=False)}')


def letters(count: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(count)]


# ---------------------------------------------------------------- questions, at load time

def parse_questions(problem: Problem, validator: Any = None,
                    solution: Solution | None = None) -> tuple[Question, ...]:
    """Validate the raw ``questions:`` of a problem (solving it to resolve paths).

    ``validator`` gives ``fail(path, message)`` and ``number(value, path)`` with the
    file's lines (the problem loader passes its own); every error is one located line."""
    from .problem import _Validator
    from .solver import solve

    if all(isinstance(spec, Question) for spec in problem.questions):
        return tuple(problem.questions)                 # validated when the problem was loaded
    reader = _QuestionReader(problem, validator or _Validator(problem.source, problem.lines),
                             solution or solve(problem))
    questions: dict[str, Question] = {}
    for index, spec in enumerate(problem.questions):
        question = spec if isinstance(spec, Question) else reader.question(spec, ("questions", index))
        if question.id in questions:
            raise reader.fail(("questions", index, "id"), f"duplicate question id {question.id!r}")
        questions[question.id] = question
    return tuple(questions.values())


def _text(value: Any) -> str:
    """A scalar from a problem file as the text its author wrote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return getattr(value, "text", None) or str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _path_value(document: Mapping[str, Any], path: str) -> float:
    from .paths import resolve

    value = resolve(document, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise AnswerError(f"{path!r} has no value for this problem (null)")
        raise AnswerError(f"{path!r} is a list, not one number: add an index, e.g. {path}[0]")
    return float(value)


class _QuestionReader:
    """Turns one raw question mapping into a :class:`Question`, or a located error."""

    def __init__(self, problem: Problem, validator: Any, solution: Solution) -> None:
        self.problem, self.validator = problem, validator
        from .paths import AnswerDocument

        self.document = AnswerDocument(solution)

    def fail(self, path: tuple, message: str) -> BpcalcError:
        return self.validator.fail(path, message)

    def number(self, value: Any, path: tuple) -> float:
        return self.validator.number(value, path)

    def where(self, value: Any, path: tuple, what: str) -> float:
        """A literal number, or the number at a solution path."""
        if isinstance(value, str) and read_written(value) is None:
            try:
                return _path_value(self.document, value)
            except BpcalcError as error:
                raise self.fail(path, str(error)) from None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return self.number(value, path)
        raise self.fail(path, f"expected {what}: a path into the solution (like gradients.w1) "
                        f"or a number, got {_describe(value)}")

    def question(self, spec: Any, path: tuple) -> Question:
        if not isinstance(spec, Mapping):
            raise self.fail(path, "expected a question (a mapping with 'id' and one of "
                            "'numeric', 'formula' or 'choice')")
        for key in spec:
            if key not in QUESTION_KEYS:
                close = difflib.get_close_matches(str(key), QUESTION_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail((*path, key, KEY), f"unknown key {key!r}{hint}; expected one of: "
                                + ", ".join(QUESTION_KEYS))
        qid = spec.get("id")
        if not isinstance(qid, str) or not _ID.match(qid):
            raise self.fail((*path, "id"), "expected an id of letters, digits and _ . / - "
                            f"(like dC_dw2), got {_describe(qid)}")
        kinds = [kind for kind in KINDS if kind in spec]
        if len(kinds) != 1:
            raise self.fail(path, f"question {qid!r} needs exactly one of 'numeric', 'formula' "
                            f"or 'choice', got {len(kinds)}")
        prompt = spec.get("prompt")
        if isinstance(prompt, (list, Mapping)):
            raise self.fail((*path, "prompt"), f"expected text, got {_describe(prompt)}")
        show = spec.get("show_expected", True)
        if not isinstance(show, bool):
            raise self.fail((*path, "show_expected"), f"expected true or false, got {_describe(show)}")
        kind = kinds[0]
        common = dict(id=qid, kind=kind, prompt=_text(prompt), show_expected=show)
        reader = {"numeric": self.numeric, "formula": self.formula, "choice": self.choice}[kind]
        for key in ("tolerance", "key") if kind != "numeric" else ():
            if key in spec:
                raise self.fail((*path, key, KEY), f"'{key}' applies to numeric questions only")
        return Question(**common, **reader(spec, path))

    def numeric(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        target = spec["numeric"]
        tolerance = Tolerance()
        if spec.get("tolerance") is not None:
            tolerance = self.tolerance(spec["tolerance"], (*path, "tolerance"))
        key = spec.get("key")
        if key is not None:
            if isinstance(key, str) and read_written(key) is not None:
                key = _WrittenKey(read_written(key).value, key.strip())
            if not _is_number(key):
                raise self.fail((*path, "key"), f"expected the published answer as a number, "
                                f"got {_describe(key)}")
            self.number(key, (*path, "key"))
        value = self.where(target, (*path, "numeric"), "the answer")
        is_path = isinstance(target, str) and read_written(target) is None
        return dict(path=target.strip() if is_path else None, value=value, tolerance=tolerance, key=key)

    def tolerance(self, spec: Any, path: tuple) -> Tolerance:
        if not isinstance(spec, Mapping) or not spec or set(spec) - {"rel", "abs", "rounding"}:
            raise self.fail(path, "expected {rel: …} and/or {abs: …} (and optionally "
                            "rounding: true to also accept correctly rounded answers)")
        rel = self.number(spec["rel"], (*path, "rel")) if "rel" in spec else 0.0
        absolute = self.number(spec["abs"], (*path, "abs")) if "abs" in spec else 0.0
        if rel < 0 or absolute < 0:
            raise self.fail(path, "tolerances cannot be negative")
        if rel >= 1:
            raise self.fail((*path, "rel"), f"rel is a fraction of the exact value (0.01 is 1 %), "
                            f"got {format_number(rel)}, which accepts almost anything")
        rounding = spec.get("rounding", False)
        if not isinstance(rounding, bool):
            raise self.fail((*path, "rounding"), f"expected true or false, got {_describe(rounding)}")
        return Tolerance(rel=rel, abs=absolute, rounding=rounding)

    def formula(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        from .expr import symbols
        from .formula import SamplePoints, parse

        text = _text(spec["formula"])
        variables = spec.get("variables")
        try:
            tree = parse(text)
        except FormulaError as error:
            raise self.fail((*path, "formula"), f"the expected formula does not parse: {error}") from None
        own = sorted(symbols(tree) - _constants_in(tree, variables))
        if variables is None:
            variables = own
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            raise self.fail((*path, "variables"), "expected a list of variable names, like [a_k, delta_j]")
        missing = [name for name in own if name not in variables]
        if missing:
            raise self.fail((*path, "variables"), f"the expected formula uses {', '.join(missing)}, "
                            "which is not in 'variables'")
        ranges = self.ranges(spec.get("ranges"), (*path, "ranges"), variables)
        known = []
        mistakes = spec.get("mistakes") or []
        if not isinstance(mistakes, list):
            raise self.fail((*path, "mistakes"), "expected a list of {formula: …, message: …}")
        for index, entry in enumerate(mistakes):
            if not isinstance(entry, Mapping) or set(entry) != {"formula", "message"}:
                raise self.fail((*path, "mistakes", index),
                                "expected {formula: <a wrong formula>, message: <what it means>}")
            wrong = _text(entry["formula"])
            try:
                parse(wrong, allowed=variables)
            except FormulaError as error:
                raise self.fail((*path, "mistakes", index, "formula"),
                                f"the listed mistake does not parse: {error}") from None
            known.append((wrong, _text(entry["message"])))
        try:
            SamplePoints(variables, ranges).expected(parse(text, allowed=variables))
        except FormulaError as error:
            raise self.fail((*path, "formula"), f"{error}: check 'ranges'") from None
        values, equals = self.verification(spec.get("verify"), (*path, "verify"), variables, tree)
        return dict(value=text, variables=tuple(variables), ranges=ranges, known_mistakes=tuple(known),
                    verify_values=values, verify_equals=equals)

    def ranges(self, spec: Any, path: tuple, variables: Sequence[str]) -> dict[str, tuple[float, float]]:
        if spec is None:
            return {}
        if not isinstance(spec, Mapping):
            raise self.fail(path, "expected a mapping from variable names to [low, high], "
                            f"e.g. {{l: [1, 3]}}, got {_describe(spec)}")
        ranges = {}
        for name, bounds in spec.items():
            if name not in variables:
                raise self.fail((*path, name, KEY), f"{name!r} is not one of the question's variables "
                                f"({', '.join(variables)})")
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self.fail((*path, name), f"expected [low, high], got {_describe(bounds)}")
            low, high = (self.number(bound, (*path, name, i)) for i, bound in enumerate(bounds))
            if low >= high:
                raise self.fail((*path, name), "expected [low, high] with low < high")
            ranges[name] = (low, high)
        return ranges

    def verification(self, spec: Any, path: tuple, variables: Sequence[str], tree: Any
                     ) -> tuple[dict[str, Any], Any]:
        from .expr import symbols

        if not spec:
            return {}, None
        if (not isinstance(spec, Mapping) or set(spec) != {"values", "equals"}
                or not isinstance(spec["values"], Mapping)):
            raise self.fail(path, "expected {values: {variable: path or number}, equals: path or number}")
        values = dict(spec["values"])
        unknown = [name for name in values if name not in variables]
        if unknown:
            raise self.fail((*path, "values", unknown[0], KEY), f"{unknown[0]!r} is not one of the "
                            f"question's variables ({', '.join(variables)})")
        needed = sorted(symbols(tree) & set(variables) - set(values))
        if needed:
            raise self.fail((*path, "values"), f"give a value for {', '.join(needed)} too")
        for name, where in values.items():
            self.where(where, (*path, "values", name), "a value")
        self.where(spec["equals"], (*path, "equals"), "the value the formula must give")
        return values, spec["equals"]

    def choice(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        options = spec["choice"]
        if not isinstance(options, list) or len(options) < 2:
            raise self.fail((*path, "choice"), "expected a list of at least two options")
        if len(options) > 26:
            raise self.fail((*path, "choice"), f"expected at most 26 options (a to z), got {len(options)}")
        for index, option in enumerate(options):
            if isinstance(option, (list, Mapping)) or option is None:
                raise self.fail((*path, "choice", index), f"expected the option's text, got {_describe(option)}")
        valid = letters(len(options))
        correct = spec.get("correct")
        chosen = correct if isinstance(correct, list) else [correct]
        if not chosen or not all(isinstance(c, str) and c.strip().lower() in valid for c in chosen):
            raise self.fail((*path, "correct"), f"expected a letter from {', '.join(valid)} "
                            f"(or a list of them), got {_describe(correct)}")
        feedback = spec.get("feedback") or {}
        if not isinstance(feedback, Mapping) or not all(str(k).lower() in valid for k in feedback):
            raise self.fail((*path, "feedback"), f"expected a mapping from option letters "
                            f"({', '.join(valid)}) to what choosing it means")
        return dict(options=tuple(_text(o) for o in options),
                    correct=frozenset(c.strip().lower() for c in chosen),
                    feedback={str(k).lower(): _text(v) for k, v in feedback.items()})


class _WrittenKey(float):
    """A published key given as text ("-0.004"), which keeps its digits like a YAML number."""

    __slots__ = ("text",)

    def __new__(cls, value: float, text: str) -> "_WrittenKey":
        number = super().__new__(cls, value)
        number.text = text
        return number


def _constants_in(tree: Any, variables: Any) -> set[str]:
    """Names in a formula that are constants (e, pi), unless the question makes them variables."""
    from .expr import CONSTANTS, symbols

    declared = {v for v in variables if isinstance(v, str)} if isinstance(variables, list) else set()
    return {name for name in symbols(tree) if name.casefold() in CONSTANTS and name not in declared}


def _describe(value: Any) -> str:
    from .problem import describe

    return describe(value)


# ---------------------------------------------------------------- grading

@dataclass(frozen=True)
class _Candidates:
    """A numeric question's diagnosis table, as arrays: computed once per question."""

    values: np.ndarray
    names: tuple[str, ...]
    sentences: tuple[str, ...]
    conceptual: np.ndarray          # bool: a mistake of understanding (not rounding noise)

    def index(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None


@dataclass(frozen=True)
class _FormulaCheck:
    """What grading many answers to one formula question needs, computed once."""

    points: Any                                         # formula.SamplePoints
    want: np.ndarray
    mistakes: np.ndarray                                 # listed mistakes' values, one row each
    mistake_messages: tuple[str, ...]
    factors: np.ndarray                                  # candidate missing factors' values, a row each
    swaps: tuple[tuple[str, str], ...]                   # (wrong, right) variable pairs
    generic: tuple[str, ...]                             # the sentences of the generic candidates
    _stacks: dict = field(default_factory=dict, compare=False)   # swaps evaluated -> stacked points

    @property
    def base_env(self) -> dict[str, np.ndarray]:
        """The sample points as one row each (a shape's answers are the other axis)."""
        return self._stacked(())

    def swap_matches(self, shape: Any, constants: np.ndarray) -> np.ndarray:
        """Which variable swaps make a shape's answers (rows of ``constants``) right:
        (answers, swaps) booleans. Only swaps of a variable the shape uses are evaluated (in
        one pass over their stacked points); a swap of one it does not use leaves the values
        as they are, which are wrong, so it never matches."""
        n = self.points.samples
        found = np.zeros((len(constants), len(self.swaps)), dtype=bool)
        used = [index for index, (wrong, _right) in enumerate(self.swaps) if wrong in shape.used]
        if used:
            values = shape.evaluate(constants, self._stacked(tuple(used)))
            found[:, used] = self.points.matching(values.reshape(len(constants), len(used), n), self.want)
        return found

    def _stacked(self, used: tuple[int, ...]) -> dict[str, np.ndarray]:
        """The points repeated once per swap in ``used`` (or once, for none), each copy with
        that swap's wrong variable given the right one's values; built once per set."""
        stack = self._stacks.get(used)
        if stack is None:
            if len(self._stacks) >= 64:               # many variables, many subsets: bounded
                self._stacks.clear()
            env, n = self.points.env, self.points.samples
            stack = {name: np.tile(values, max(len(used), 1))[None, :] for name, values in env.items()}
            for block, index in enumerate(used):
                wrong, right = self.swaps[index]
                stack[wrong][0, block * n:(block + 1) * n] = env[right]
            self._stacks[used] = stack
        return stack


class Grader:
    """Grades answers to one problem's questions (and to any solution path)."""

    def __init__(self, problem: Problem, solution: Solution | None = None) -> None:
        from .solver import solve

        self.problem = problem
        self.solution = solution or solve(problem)
        from .paths import AnswerDocument

        self.document = AnswerDocument(self.solution)
        self.questions: dict[str, Question] = {
            question.id: question for question in parse_questions(problem, solution=self.solution)}
        self.problem_question_ids: tuple[str, ...] = tuple(self.questions)
        self._grades: dict[str, dict[str, Grade]] = {}     # question id -> answer text -> its grade
        self._memo_size = 0
        self._candidates_by_path: dict[str, _Candidates] = {}
        self._formulas: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._checks: dict[str, _FormulaCheck] = {}
        self._shapes: dict[str, dict[str, Any]] = {}     # question id -> shape key -> CompiledShape | None
        self._constant_parts: Any = None                 # formula_shapes.ConstantParts, made when needed
        self._blanks: dict[str, Grade] = {}
        self._diagnoser: Any = None

    # -- questions ------------------------------------------------------------
    def number_at(self, where: Any) -> float:
        """A literal number, or the number at a solution path."""
        if _is_number(where):
            return float(where)
        if isinstance(where, str) and read_written(where) is not None:
            return read_written(where).value
        return _path_value(self.document, str(where))

    def question(self, qid: str) -> Question:
        """The question with this id or, failing that, an ad-hoc question for a solution path."""
        if qid in self.questions:
            return self.questions[qid]
        try:
            value = _path_value(self.document, qid)
        except BpcalcError as error:
            if "." in qid or "[" in qid:
                raise AnswerError(f"no question {qid!r}, and as a solution path: {error}") from None
            raise AnswerError(_no_question(qid, self.problem_question_ids)
                              + " (or give a solution path such as gradients.w1)") from None
        question = Question(id=qid, kind="numeric", path=qid, value=value)
        self.questions[qid] = question
        return question

    def asked(self, qid: str) -> Question:
        """One of the problem's own questions (not a solution path), or a one-line error."""
        if qid in self.problem_question_ids:
            return self.questions[qid]
        message = _no_question(qid, self.problem_question_ids)
        try:
            self.question(qid)
        except BpcalcError:
            raise AnswerError(message) from None
        raise AnswerError(f"{message} ({qid!r} is a solution path: grade it from a CSV column)")

    # -- answers --------------------------------------------------------------
    def grade(self, qid: str, given: Any) -> Grade:
        """The verdict on one answer. Raises only for an unknown question id (bad input);
        any answer text, however hostile, gets a Grade."""
        return self.grade_many(qid, [given])[0]

    def grade_many(self, qid: str, answers: Sequence[Any]) -> list[Grade]:
        """The verdicts on many answers to one question, in order (what a class file needs).
        Answers graded before come from the memo; the others are graded together: their
        numbers in one array test, their formulas one evaluation per shape
        (:mod:`bpcalc.formula_shapes`). Raises only for an unknown question id."""
        question = self.question(qid)
        memo = self._grades.get(question.id)
        if memo is None:
            memo = self._grades[question.id] = {}
        grades: list[Any] = []
        pending: dict[str, list[int]] = {}
        blank = None
        for given in answers:
            text = given.strip().replace("\u2212", "-") if type(given) is str else answer_text(given)
            if not text:
                grades.append(blank or (blank := self._blank(question)))
                continue
            grade = memo.get(text)
            if grade is None:
                waiting = pending.get(text)
                if waiting is None:
                    pending[text] = [len(grades)]
                else:
                    waiting.append(len(grades))
            grades.append(grade)
        if pending:
            texts = list(pending)
            graded = self._graded_many(question, texts)
            if not question.show_expected:
                graded = [dataclasses.replace(grade, expected=None) for grade in graded]
            self._memo_size += len(texts)
            if self._memo_size > MEMO_LIMIT:
                self._grades, self._memo_size = {question.id: memo}, len(texts)
                memo.clear()
            for text, grade in zip(texts, graded):
                memo[text] = grade
                for index in pending[text]:
                    grades[index] = grade
        return grades

    def _blank(self, question: Question) -> Grade:
        grade = self._blanks.get(question.id)
        if grade is None:
            expected = question.expected if question.show_expected else None
            grade = self._blanks[question.id] = Grade(question.id, "", False, expected, "no answer given",
                                                      unreadable=True, unanswered=True)
        return grade

    def _graded_many(self, question: Question, texts: list[str]) -> list[Grade]:
        together = {"numeric": self._grade_numbers, "formula": self._grade_formulas}.get(question.kind)
        if together is not None:
            try:
                return together(question, texts)
            except GRADING_ERRORS:
                pass                            # an answer the batch cannot take: one by one
        return [self._graded(question, text) for text in texts]

    def _graded(self, question: Question, text: str) -> Grade:
        """One answer, alone; whatever goes wrong is a verdict, never an exception."""
        grade_kind: Callable[[Question, str], Grade] = {
            "numeric": lambda q, t: self._grade_numbers(q, [t])[0], "formula": self._grade_formula,
            "choice": self._grade_choice}[question.kind]
        try:
            return grade_kind(question, text)
        except GRADING_ERRORS as error:
            reason = str(error) or type(error).__name__
            return Grade(question.id, text, False, question.expected, f"cannot be graded: {reason}",
                         unreadable=True)

    # -- numeric
    def _grade_numbers(self, question: Question, texts: Sequence[str]) -> list[Grade]:
        grades: list[Any] = [None] * len(texts)
        expected = question.expected
        indices, readings = [], []
        for index, text in enumerate(texts):
            written = read_written(text)
            try:
                if written is not None and math.isfinite(written.value):
                    readings.append(Reading(written.value, written))
                else:
                    readings.append(read_answer(text))      # arithmetic, or a message saying why not
                indices.append(index)
            except NotANumber as error:
                grades[index] = Grade(question.id, text, False, expected, str(error), unreadable=True)
        if readings:
            verdicts, diagnoses = self._numeric_verdicts(question, readings)
            for index, reading, verdict, diagnosis in zip(indices, readings, verdicts, diagnoses):
                text = texts[index]
                if verdict and not reading.expression:
                    grades[index] = Grade(question.id, text, True, expected, "correct")
                else:
                    grades[index] = self._numeric_grade(question, text, reading, verdict, diagnosis)
        return grades

    def _numeric_grade(self, question: Question, text: str, reading: Reading, verdict: bool,
                       diagnosis: str | None) -> Grade:
        message = "correct" if verdict else "wrong"
        written = reading.written
        if (not verdict and diagnosis is None and written is not None and written.significant == 0
                and question.value != 0 and abs(question.value) <= written.half_unit):
            message = (f"wrong: {text} has no significant digit, so it is not {question.value:.3g} "
                       "rounded; write its first significant digits")
        if reading.expression:
            message += f" (your expression is {format_number(reading.value)})"
        return Grade(question.id, text, verdict, question.expected, message,
                     None if diagnosis is None else _your_answer(diagnosis))

    def _numeric_verdicts(self, question: Question, readings: Sequence[Reading]
                          ) -> tuple[list[bool], list[str | None]]:
        """(right?, the diagnosing sentence) for each answer, all in a few array operations.
        An expression has no digits written, so only the tolerance counts for it; an answer
        that is the parameter's value before an update is wrong even when the update is
        smaller than the tolerance; a wrong answer is named after the closest listed mistake
        it agrees with."""
        tolerance = question.tolerance
        values = np.array([reading.value for reading in readings], dtype=np.float64)
        allowance = np.array([0.0 if reading.expression else rounding_allowance(tolerance, reading.written)
                              for reading in readings])
        right = within(values, question.value, tolerance, allowance)
        verdicts = right.tolist()
        diagnoses: list[str | None] = [None] * len(readings)
        candidates = self._candidates(question)
        if candidates is None:
            return verdicts, diagnoses
        rows = np.flatnonzero(right)
        if rows.size and candidates.index("old_value") is not None:
            # An update: the step is often smaller than the tolerance, so the answer must be
            # closer to the new value than to the old one or to any listed mistake.
            distance = np.abs(candidates.values[None, :] - values[rows, None])
            rivals = candidates.conceptual & (distance <= np.abs(values[rows] - question.value)[:, None])
            for row, index in _closest(rows, rivals, distance):
                verdicts[row], diagnoses[row] = False, candidates.sentences[index]
        rows = np.flatnonzero(~right)
        if rows.size:
            matching = within(values[rows, None], candidates.values[None, :], tolerance, allowance[rows, None])
            distance = np.abs(candidates.values[None, :] - values[rows, None])
            for row, index in _closest(rows, matching, distance):
                diagnoses[row] = candidates.sentences[index]
        return verdicts, diagnoses

    def _numeric_verdict(self, question: Question, reading: Reading) -> tuple[bool, str | None]:
        verdicts, diagnoses = self._numeric_verdicts(question, [reading])
        return verdicts[0], diagnoses[0]

    def _candidates(self, question: Question) -> _Candidates | None:
        if question.path is None:
            return None
        if question.path not in self._candidates_by_path:
            from . import mistakes

            if getattr(self.problem, "kind", None) == "graph":
                from .graph_mistakes import candidates as graph_candidates

                found = graph_candidates(self.solution, question.path)
            else:
                if self._diagnoser is None:
                    self._diagnoser = mistakes.Diagnoser(self.problem, self.solution)
                found = mistakes.candidates(self.problem, self.solution, question.path, self._diagnoser)
            self._candidates_by_path[question.path] = _Candidates(
                np.array([value for _name, value, _sentence in found], dtype=np.float64),
                tuple(name for name, _value, _sentence in found),
                tuple(sentence for _name, _value, sentence in found),
                np.array([mistakes.is_conceptual(name) for name, _value, _sentence in found], dtype=bool))
        return self._candidates_by_path[question.path]

    def tolerance_conflicts(self, question: Question) -> list[str]:
        """Why this numeric question cannot separate right from wrong, for ``verify``: a
        listed mistake (of :mod:`bpcalc.mistakes`) whose exact value the question grades as
        right, or a published key that the question's own rule grades as wrong."""
        problems = []
        candidates = self._candidates(question)
        if candidates is not None and candidates.conceptual.any():
            accepted = []
            for index in np.flatnonzero(candidates.conceptual):
                value = float(candidates.values[index])
                verdict, _ = self._numeric_verdict(question, Reading(value, read_written(repr(value))))
                if verdict:
                    accepted.append(index)
            if accepted:
                first = accepted[0]
                others = f" (and {counted(len(accepted) - 1, 'other listed mistake')})" if len(accepted) > 1 else ""
                nearest = float(np.min(np.abs(candidates.values[candidates.conceptual] - question.value)))
                problems.append(
                    f"a student whose answer {candidates.sentences[first].rstrip('.')} gets "
                    f"{format_number(float(candidates.values[first]), 8)}, graded right{others}; "
                    f"a tolerance that tells them apart: {_separating(nearest)}")
        key = question.key
        if key is not None and agrees(float(key), question.value, KEY_TOLERANCE, getattr(key, "text", None)):
            grade = self.grade(question.id, key)          # a right key that students cannot type
            if not grade.correct:
                problems.append(f"the published key {answer_text(question.key)} is graded wrong "
                                f"by the question's own rule ({grade.diagnosis or question.tolerance.brief()})")
        return problems

    # -- formula
    def _parsed(self, text: str, allowed: Sequence[str]) -> Any:
        from .formula import parse

        key = (text, tuple(allowed))
        if key not in self._formulas:
            if len(self._formulas) >= PARSE_LIMIT:
                self._formulas.clear()
            try:
                self._formulas[key] = parse(text, allowed=allowed)
            except FormulaError as error:
                self._formulas[key] = error
        return self._formulas[key]

    def _formula_check(self, question: Question) -> _FormulaCheck:
        if question.id not in self._checks:
            from .expr import Sym, to_text
            from .formula import EVALUATION_ERRORS, SamplePoints

            points = SamplePoints(question.variables, question.ranges)
            expected = self._parsed(question.value, question.variables)
            if isinstance(expected, FormulaError):
                raise expected
            want = points.expected(expected)
            listed, messages = [], []
            for wrong, message in question.known_mistakes:
                tree = self._parsed(wrong, question.variables)
                try:
                    if not isinstance(tree, FormulaError):
                        listed.append(points.values(tree))
                        messages.append(message)
                except EVALUATION_ERRORS:
                    continue
            factors, shown = [], []
            for factor in [Sym(name) for name in question.variables] + [
                    f for f in _factors(expected) if not isinstance(f, Sym)]:
                try:
                    factors.append(points.values(factor))
                    shown.append(to_text(factor))
                except EVALUATION_ERRORS:
                    continue
            swaps = tuple(points.swaps())
            generic = ("It has the wrong sign.",
                       *(f"You wrote {wrong} where {right} belongs (check the indices)." for wrong, right in swaps),
                       *(sentence for text in shown for sentence in
                         (f"A factor {text} is missing.", f"It has an extra factor {text}.")))
            empty = np.empty((0, points.samples))
            self._checks[question.id] = _FormulaCheck(
                points, want, np.array(listed) if listed else empty, tuple(messages),
                np.array(factors) if factors else empty, swaps, generic)
        return self._checks[question.id]

    def _grade_formula(self, question: Question, text: str) -> Grade:
        """One formula answer by the reference path: its own tree, ``expr.evaluate`` at the
        sample points and every variable swap (what the shapes' batches must agree with)."""
        from .formula import EVALUATION_ERRORS

        check = self._formula_check(question)
        given = self._parsed(text, question.variables)
        if isinstance(given, FormulaError):
            return Grade(question.id, text, False, question.value, f"cannot read the formula: {given}",
                         unreadable=True)
        with np.errstate(all="ignore"):
            try:
                got, swapped = check.points.with_swaps(given, check.swaps)
            except EVALUATION_ERRORS as error:
                return Grade(question.id, text, False, question.value,
                             f"wrong: it cannot be computed at the sampled values ({error})")
            unusable = np.full_like(got, np.nan)
            variants = np.array([unusable if values is None else values for values in swapped]
                                ).reshape(1, len(swapped), got.shape[0])
            found = check.points.matching(variants, check.want)
            right, diagnoses = _formula_verdicts(check, got[None, :], lambda rows: found[rows])
        return self._formula_grade(question, text, bool(right[0]), diagnoses[0])

    def _formula_grade(self, question: Question, text: str, right: bool, diagnosis: str | None) -> Grade:
        if right:
            return Grade(question.id, text, True, question.value, "correct")
        return Grade(question.id, text, False, question.value,
                     "wrong (it differs from the expected formula at sampled values)", diagnosis)

    def _grade_formulas(self, question: Question, texts: Sequence[str]) -> list[Grade]:
        """Formula answers grouped by shape: each shape's answers evaluated at once, then the
        verdicts of all of them in one pass (the variable swaps evaluated only for the wrong
        answers no listed mistake or sign slip explains). An answer that has no shape or that
        a shape cannot take (NotBatchable) is graded by :meth:`_grade_formula`."""
        from .formula import shape_key
        from .formula_shapes import ConstantParts, NotBatchable

        check = self._formula_check(question)
        shapes = self._shapes.setdefault(question.id, {})
        if self._constant_parts is None:
            self._constant_parts = ConstantParts()
        grades: list[Any] = [None] * len(texts)
        groups: dict[str, tuple[list[int], list[list[Any]], Any]] = {}
        for index, text in enumerate(texts):
            found = shape_key(text)
            if found is not None:
                key, numbers = found
                shape = shapes.get(key, _UNSEEN)
                if shape is _UNSEEN:
                    if len(shapes) >= SHAPE_LIMIT:
                        shapes.clear()
                    shape = shapes[key] = _compiled_shape(text, question.variables, self._constant_parts)
                if shape is not None:
                    try:
                        row = shape.constants(numbers)
                    except NotBatchable:
                        pass
                    else:
                        group = groups.get(key)
                        if group is None:
                            group = groups[key] = ([], [], shape)
                        group[0].append(index)
                        group[1].append(row)
                        continue
            grades[index] = self._graded(question, text)
        blocks, values = [], []
        for indices, rows, shape in groups.values():
            constants = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
            try:
                values.append(shape.evaluate(constants, check.base_env))
            except NotBatchable:
                for index in indices:
                    grades[index] = self._graded(question, texts[index])
                continue
            blocks.append((shape, constants, indices))
        if not blocks:
            return grades
        ends = np.cumsum([len(indices) for _shape, _constants, indices in blocks])
        deferred: set[int] = set()

        def swap_matches(todo: np.ndarray) -> np.ndarray:
            """Which swaps make these rows right, each shape's rows evaluated together."""
            found = np.zeros((len(todo), len(check.swaps)), dtype=bool)
            owner = np.searchsorted(ends, todo, side="right")
            for block in np.unique(owner).tolist():
                mine = owner == block
                shape, constants, _indices = blocks[block]
                local = todo[mine] - (ends[block - 1] if block else 0)
                try:
                    found[mine] = check.swap_matches(shape, constants[local])
                except NotBatchable:
                    deferred.update(todo[mine].tolist())
            return found

        with np.errstate(all="ignore"):
            right, diagnoses = _formula_verdicts(check, np.concatenate(values), swap_matches)
        row = 0
        for ok, diagnosis, index in zip(right.tolist(), diagnoses,
                                        (index for _s, _c, indices in blocks for index in indices)):
            if row in deferred:
                grades[index] = self._graded(question, texts[index])
            else:
                grades[index] = self._formula_grade(question, texts[index], ok, diagnosis)
            row += 1
        return grades

    # -- choice
    def _grade_choice(self, question: Question, text: str) -> Grade:
        valid = letters(len(question.options))
        chosen = {part.lower() for part in re.split(r"[\s,;]+", text.strip().strip("()[]")) if part}
        expected = question.expected
        if not chosen or not chosen <= set(valid):
            return Grade(question.id, text, False, expected,
                         f"answer with the letter of an option ({', '.join(valid)}), e.g. b or a,c",
                         unreadable=True)
        if chosen == question.correct:
            return Grade(question.id, text, True, expected, "correct")
        notes = [question.feedback[letter] for letter in sorted(chosen - question.correct)
                 if letter in question.feedback]
        diagnosis = " ".join(notes) or None
        if chosen < question.correct:
            return Grade(question.id, text, False, expected, "partly right: more options are true")
        return Grade(question.id, text, False, expected, "wrong", diagnosis)


def _no_question(qid: str, ids: Sequence[str]) -> str:
    close = difflib.get_close_matches(qid, list(ids), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no question {qid!r}{hint}; this problem's questions: {', '.join(ids) or 'none'}"


def _separating(distance: float) -> str:
    """An absolute tolerance under half the distance to the nearest mistake, 1 digit."""
    if distance <= 0 or not math.isfinite(distance):
        return "none (a listed mistake gives the same value)"
    half = distance / 2
    step = 10.0 ** math.floor(math.log10(half))
    return f"{{abs: {format_number(math.floor(half / step) * step, 1)}, rounding: true}}"


@functools.lru_cache(maxsize=4096)
def _json_tail(message: str, diagnosis: str | None, unanswered: bool) -> str:
    """The end of a grade's JSON: a class's grades share a few hundred messages and diagnoses."""
    shown = "null" if diagnosis is None else _json_text(diagnosis)
    return (f'"message": {_json_text(message)}, "diagnosis": {shown}, '
            f'"unanswered": {"true" if unanswered else "false"}}}')


@functools.lru_cache(maxsize=1024)
def _your_answer(sentence: str) -> str:
    """A diagnosis as shown: a class's wrong answers share a few dozen (one string each)."""
    return f"Your answer {sentence}"


def _closest(rows: np.ndarray, found: np.ndarray, distance: np.ndarray) -> list[tuple[int, int]]:
    """(row, index of its closest candidate found) for the rows of ``found`` with any; ties
    (and candidates at an infinite distance) go to the first, as argmin over those found."""
    hit = found.any(axis=1)
    if not hit.any():
        return []
    found, distance = found[hit], distance[hit]
    closest = np.where(found, distance, np.inf).argmin(axis=1)
    unfound = ~found[np.arange(len(found)), closest]
    closest[unfound] = found[unfound].argmax(axis=1)
    return list(zip(rows[hit].tolist(), closest.tolist()))


def _formula_verdicts(check: _FormulaCheck, got: np.ndarray, swap_matches: Callable[[np.ndarray], np.ndarray]
                      ) -> tuple[np.ndarray, list[str | None]]:
    """(right?, diagnosis) for each row of ``got`` (an answer's values at the sample points).

    A wrong answer is named after the question's listed mistakes first, then generic ones,
    in this order: the sign flipped, one variable written for another (an index), a factor
    left out or one too many. ``swap_matches(rows)`` says which variable swaps of
    ``check.swaps`` make those rows right (rows, swaps); it is called only for the rows that
    no listed mistake or sign explains, since it is the costly part. All candidates of a
    step are compared in one array test."""
    points, want = check.points, check.want
    right = points.matching(got, want)
    diagnoses: list[str | None] = [None] * len(got)
    todo = np.flatnonzero(~right)
    if todo.size and len(check.mistakes):
        todo = _name_first(points.matching(got[todo, None, :], check.mistakes), todo,
                           check.mistake_messages, diagnoses)
    if todo.size:
        todo = _name_first(points.matching(-got[todo], want)[:, None], todo, check.generic[:1], diagnoses)
    if todo.size:
        values = got[todo][:, None, :]
        found = np.concatenate([swap_matches(todo), points.matching(values * check.factors, want),
                                points.matching(values / check.factors, want)], axis=1)
        factors = len(check.factors)                 # sentences: swaps, then per factor (missing, extra)
        order = np.r_[np.arange(len(check.swaps)),
                      len(check.swaps) + np.arange(2 * factors).reshape(2, factors).T.ravel()]
        _name_first(found[:, order], todo, check.generic[1:], diagnoses)
    return right, diagnoses


def _name_first(found: np.ndarray, todo: np.ndarray, sentences: Sequence[str],
                diagnoses: list[str | None]) -> np.ndarray:
    """Name each row's first candidate found; return the rows still unexplained."""
    hit = found.any(axis=1)
    for row, index in zip(todo[hit].tolist(), found[hit].argmax(axis=1).tolist()):
        diagnoses[row] = sentences[index]
    return todo[~hit]


def _compiled_shape(text: str, variables: Sequence[str], constants: Any) -> Any:
    """The compiled shape of this formula's :func:`~bpcalc.formula.shape_key`, or None when
    its answers need the reference path (it does not parse, or is not batchable)."""
    from .formula import parse_shape
    from .formula_shapes import NotBatchable, compile_shape

    try:
        return compile_shape(parse_shape(text, allowed=variables), variables, constants)
    except (FormulaError, NotBatchable):
        return None


def _factors(tree: Any) -> list[Any]:
    """The factors of a product (a*b/c -> a, b, c): candidates for a missing factor."""
    from .expr import Div, Mul

    if isinstance(tree, (Mul, Div)):
        return _factors(tree.left) + _factors(tree.right)
    return [tree]


def answer_text(given: Any) -> str:
    """An answer as text, with the digits as written and a Unicode minus made ASCII."""
    if type(given) is str:
        return given.strip().replace("\u2212", "-")
    if given is None:
        return ""
    if isinstance(given, bool):
        return "true" if given else "false"
    if isinstance(given, (list, tuple)):
        return ",".join(answer_text(item) for item in given)
    if isinstance(given, Mapping):
        return "{" + ", ".join(f"{answer_text(k)}: {answer_text(v)}" for k, v in given.items()) + "}"
    if isinstance(given, float):
        text = getattr(given, "text", None)
        return text if text is not None else repr(given) if math.isfinite(given) else str(given)
    return str(given).strip().replace("\u2212", "-")
