"""Questions in problem files, and grading a student's answers to them.

Three kinds of question, as course homework asks them:

* ``numeric``: a path into the solution (``gradients.w2``) or a literal number,
  compared with :func:`bpcalc.numbers.agrees`; a wrong answer is diagnosed
  against :mod:`bpcalc.mistakes`.
* ``formula``: compared with the expected formula at random points of its
  variables (:func:`bpcalc.formula.equivalent`), as course graders do.
* ``choice``: options lettered a, b, c, …; the answer is the letter(s).

Grades are memoised per (question, answer text), so a class where many
students typed the same formula parses and evaluates it once.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import AnswerError, BpcalcError, FormulaError
from .numbers import Tolerance, agrees, format_number
from .problem import KEY, Problem
from .solver import Solution

QUESTION_KEYS = ("id", "prompt", "numeric", "key", "tolerance", "formula", "variables", "ranges",
                 "choice", "correct", "feedback", "show_expected", "mistakes", "verify")
KINDS = ("numeric", "formula", "choice")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*\Z")


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

    def expected_text(self) -> str:
        if self.kind == "numeric":
            return format_number(self.value)
        if self.kind == "formula":
            return str(self.value)
        return ", ".join(sorted(self.correct))


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer; ``to_dict`` is the object ``check --format json`` prints."""

    id: str
    given: str
    correct: bool
    expected: str | None
    message: str
    diagnosis: str | None = None
    unreadable: bool = False      # the answer could not be read at all (ask again, interactively)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "given": self.given, "correct": self.correct,
                "expected": self.expected, "message": self.message, "diagnosis": self.diagnosis}


def letters(count: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(count)]


class Grader:
    """Grades answers to one problem's questions (and to any solution path)."""

    def __init__(self, problem: Problem, solution: Solution | None = None) -> None:
        from .solver import solve

        self.problem = problem
        self.solution = solution or solve(problem)
        self.document = self.solution.to_dict()
        self.questions: dict[str, Question] = {}
        for index, spec in enumerate(problem.questions):
            question = self._question(spec, ("questions", index))
            if question.id in self.questions:
                raise problem.error(("questions", index, "id"), f"duplicate question id {question.id!r}")
            self.questions[question.id] = question
        self._grades: dict[tuple[str, str], Grade] = {}
        self._mistakes: dict[str, list[tuple[str, float, str]]] = {}
        self._formulas: dict[str, Any] = {}

    # -- questions ------------------------------------------------------------
    def _question(self, spec: Any, path: tuple) -> Question:
        problem = self.problem
        if not isinstance(spec, Mapping):
            raise problem.error(path, "expected a question (a mapping with 'id' and one of "
                                "'numeric', 'formula' or 'choice')")
        for key in spec:
            if key not in QUESTION_KEYS:
                close = difflib.get_close_matches(str(key), QUESTION_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise problem.error((*path, key, KEY), f"unknown key {key!r}{hint}; expected one of: "
                                    + ", ".join(QUESTION_KEYS))
        qid = spec.get("id")
        if not isinstance(qid, str) or not _ID.match(qid):
            raise problem.error((*path, "id"), "expected an id of letters, digits and _ . / - "
                                f"(like dC_dw2), got {qid!r}")
        kinds = [kind for kind in KINDS if kind in spec]
        if len(kinds) != 1:
            raise problem.error(path, f"question {qid!r} needs exactly one of 'numeric', 'formula' "
                                f"or 'choice', got {len(kinds)}")
        kind = kinds[0]
        common = dict(id=qid, kind=kind, prompt=str(spec.get("prompt") or ""),
                      show_expected=bool(spec.get("show_expected", True)))
        if kind == "numeric":
            return Question(**common, **self._numeric(spec, path))
        if kind == "formula":
            return Question(**common, **self._formula(spec, path))
        return Question(**common, **self._choice(spec, path))

    def _numeric(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        target = spec["numeric"]
        tolerance = Tolerance()
        if spec.get("tolerance") is not None:
            tolerance = self._tolerance(spec["tolerance"], (*path, "tolerance"))
        key = spec.get("key")
        if key is not None and (isinstance(key, bool) or not isinstance(key, (int, float))):
            raise self.problem.error((*path, "key"), f"expected the published answer as a number, got {key!r}")
        if isinstance(target, str):
            try:
                value = self._path_value(target)
            except BpcalcError as error:
                raise self.problem.error((*path, "numeric"), str(error)) from None
            return dict(path=target, value=value, tolerance=tolerance, key=key)
        if isinstance(target, (int, float)) and not isinstance(target, bool):
            return dict(value=float(target), tolerance=tolerance)
        raise self.problem.error((*path, "numeric"), "expected a path into the solution (like "
                                 f"gradients.w1) or a number, got {target!r}")

    def _tolerance(self, spec: Any, path: tuple) -> Tolerance:
        if not isinstance(spec, Mapping) or not spec or set(spec) - {"rel", "abs", "rounding"}:
            raise self.problem.error(path, "expected {rel: …} and/or {abs: …} (and optionally "
                                     "rounding: true to also accept correctly rounded answers)")
        try:
            rel, absolute = float(spec.get("rel", 0.0)), float(spec.get("abs", 0.0))
        except (TypeError, ValueError):
            raise self.problem.error(path, "expected numbers for rel and abs") from None
        if rel < 0 or absolute < 0:
            raise self.problem.error(path, "tolerances cannot be negative")
        return Tolerance(rel=rel, abs=absolute, rounding=bool(spec.get("rounding", False)))

    def _formula(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        from .expr import symbols
        from .formula import parse

        text = spec["formula"]
        if not isinstance(text, str):
            text = str(text)
        variables = spec.get("variables")
        try:
            tree = parse(text)
        except FormulaError as error:
            raise self.problem.error((*path, "formula"), f"the expected formula does not parse: {error}") from None
        own = sorted(symbols(tree))
        if variables is None:
            variables = own
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            raise self.problem.error((*path, "variables"), "expected a list of variable names")
        missing = [name for name in own if name not in variables]
        if missing:
            raise self.problem.error((*path, "variables"), f"the expected formula uses {', '.join(missing)}, "
                                     "which is not in 'variables'")
        ranges = {}
        for name, bounds in (spec.get("ranges") or {}).items():
            if (not isinstance(bounds, list) or len(bounds) != 2
                    or not all(isinstance(b, (int, float)) for b in bounds) or bounds[0] >= bounds[1]):
                raise self.problem.error((*path, "ranges", name), "expected [low, high] with low < high")
            ranges[name] = (float(bounds[0]), float(bounds[1]))
        known = []
        for index, entry in enumerate(spec.get("mistakes") or []):
            if not isinstance(entry, Mapping) or set(entry) != {"formula", "message"}:
                raise self.problem.error((*path, "mistakes", index),
                                         "expected {formula: <a wrong formula>, message: <what it means>}")
            known.append((str(entry["formula"]), str(entry["message"])))
        check = spec.get("verify") or {}
        if check and (not isinstance(check, Mapping) or set(check) != {"values", "equals"}
                      or not isinstance(check["values"], Mapping)):
            raise self.problem.error((*path, "verify"), "expected {values: {variable: path or number}, "
                                     "equals: path or number}")
        return dict(value=text, variables=tuple(variables), ranges=ranges, known_mistakes=tuple(known),
                    verify_values=dict(check.get("values", {})), verify_equals=check.get("equals"))

    def _choice(self, spec: Mapping, path: tuple) -> dict[str, Any]:
        options = spec["choice"]
        if not isinstance(options, list) or len(options) < 2:
            raise self.problem.error((*path, "choice"), "expected a list of at least two options")
        valid = letters(len(options))
        correct = spec.get("correct")
        chosen = correct if isinstance(correct, list) else [correct]
        if not chosen or not all(isinstance(c, str) and c.strip().lower() in valid for c in chosen):
            raise self.problem.error((*path, "correct"), f"expected a letter from {', '.join(valid)} "
                                     f"(or a list of them), got {correct!r}")
        feedback = spec.get("feedback") or {}
        if not isinstance(feedback, Mapping) or not all(str(k).lower() in valid for k in feedback):
            raise self.problem.error((*path, "feedback"), f"expected a mapping from option letters "
                                     f"({', '.join(valid)}) to what choosing it means")
        return dict(options=tuple(str(o) for o in options),
                    correct=frozenset(c.strip().lower() for c in chosen),
                    feedback={str(k).lower(): str(v) for k, v in feedback.items()})

    def number_at(self, where: Any) -> float:
        """A literal number, or the number at a solution path."""
        if isinstance(where, (int, float)) and not isinstance(where, bool):
            return float(where)
        return self._path_value(str(where))

    def _path_value(self, path: str) -> float:
        from .paths import resolve

        value = resolve(self.document, path)
        if not isinstance(value, (int, float)):
            raise AnswerError(f"{path!r} is a list, not one number: add an index, e.g. {path}[0]")
        return float(value)

    # -- answers --------------------------------------------------------------
    def question(self, qid: str) -> Question:
        """The question with this id or, failing that, an ad-hoc question for a solution path."""
        if qid in self.questions:
            return self.questions[qid]
        try:
            value = self._path_value(qid)
        except BpcalcError as error:
            if "." in qid or "[" in qid:
                raise AnswerError(f"no question {qid!r}, and as a solution path: {error}") from None
            ids = list(self.questions)
            close = difflib.get_close_matches(qid, ids, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(ids) if ids else "none"
            raise AnswerError(f"no question {qid!r}{hint}; this problem's questions: {known} "
                              "(or give a solution path such as gradients.w1)") from None
        question = Question(id=qid, kind="numeric", path=qid, value=value)
        self.questions[qid] = question
        return question

    def grade(self, qid: str, given: Any) -> Grade:
        question = self.question(qid)
        text = _answer_text(given)
        key = (question.id, text)
        if not text:
            return Grade(question.id, text, False, None if not question.show_expected else
                         question.expected_text(), "no answer given", unreadable=True)
        if key not in self._grades:
            grade = {"numeric": self._grade_numeric, "formula": self._grade_formula,
                     "choice": self._grade_choice}[question.kind](question, text)
            if not question.show_expected:
                grade = Grade(grade.id, grade.given, grade.correct, None, grade.message, grade.diagnosis)
            self._grades[key] = grade
        return self._grades[key]

    def _grade_numeric(self, question: Question, text: str) -> Grade:
        expected = question.expected_text()
        number = _parse_number(text)
        if number is None:
            return Grade(question.id, text, False, expected,
                         f"{text!r} is not a number; write it like 2.081 or -1.5e-3", unreadable=True)
        if agrees(number, question.value, question.tolerance, written=text.strip()):
            return Grade(question.id, text, True, expected, "correct")
        diagnosis = None
        if question.path is not None:
            for _name, value, sentence in self._candidates(question.path):
                if agrees(number, value, question.tolerance, written=text.strip()):
                    diagnosis = f"Your answer {sentence}"
                    break
        return Grade(question.id, text, False, expected, "wrong", diagnosis)

    def _candidates(self, path: str) -> list[tuple[str, float, str]]:
        if path not in self._mistakes:
            from .mistakes import candidates

            self._mistakes[path] = candidates(self.problem, self.solution, path)
        return self._mistakes[path]

    def _parsed(self, text: str, allowed: Sequence[str]) -> Any:
        from .formula import parse

        key = (text, tuple(allowed))
        if key not in self._formulas:
            try:
                self._formulas[key] = parse(text, allowed=allowed)
            except FormulaError as error:
                self._formulas[key] = error
        return self._formulas[key]

    def _grade_formula(self, question: Question, text: str) -> Grade:
        from .formula import equivalent

        expected_tree = self._parsed(question.value, question.variables)
        given = self._parsed(text, question.variables)
        if isinstance(given, FormulaError):
            return Grade(question.id, text, False, question.value, f"cannot read the formula: {given}",
                         unreadable=True)
        same = lambda tree: equivalent(expected_tree, tree, question.variables,  # noqa: E731
                                       ranges=question.ranges)
        if same(given):
            return Grade(question.id, text, True, question.value, "correct")
        diagnosis = None
        for wrong, message in question.known_mistakes:
            tree = self._parsed(wrong, question.variables)
            if not isinstance(tree, FormulaError) and equivalent(tree, given, question.variables,
                                                                 ranges=question.ranges):
                diagnosis = message
                break
        if diagnosis is None:
            diagnosis = _formula_diagnosis(expected_tree, given, question)
        return Grade(question.id, text, False, question.value,
                     "wrong (it differs from the expected formula at sampled values)", diagnosis)

    def _grade_choice(self, question: Question, text: str) -> Grade:
        valid = letters(len(question.options))
        chosen = {part.lower() for part in re.split(r"[\s,;]+", text.strip().strip("()[]")) if part}
        expected = ", ".join(sorted(question.correct))
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


def _formula_diagnosis(expected: Any, given: Any, question: Question) -> str | None:
    """Generic formula mistakes: sign flipped, one variable swapped for another, a factor left out."""
    from .expr import Div, Mul, Neg, Sym, substitute, symbols, to_text
    from .formula import equivalent

    def same(tree: Any) -> bool:
        try:
            return equivalent(expected, tree, question.variables, ranges=question.ranges)
        except BpcalcError:
            return False

    if same(Neg(given)):
        return "It has the wrong sign."
    used = sorted(symbols(given))
    for wrong in used:
        for right in question.variables:
            if right != wrong and same(substitute(given, {wrong: Sym(right)})):
                return f"You wrote {wrong} where {right} belongs (check the indices)."
    factors = [Sym(name) for name in question.variables] + [
        factor for factor in _factors(expected) if not isinstance(factor, Sym)]
    for factor in factors:
        shown = to_text(factor)
        if same(Mul(given, factor)):
            return f"A factor {shown} is missing."
        if same(Div(given, factor)):
            return f"It has an extra factor {shown}."
    return None


def _factors(tree: Any) -> list[Any]:
    """The factors of a product (a*b/c -> a, b, c): candidates for a missing factor."""
    from .expr import Div, Mul

    if isinstance(tree, (Mul, Div)):
        return _factors(tree.left) + _factors(tree.right)
    return [tree]


def _answer_text(given: Any) -> str:
    """An answer as text, with the digits as written and a Unicode minus made ASCII."""
    if given is None:
        return ""
    if isinstance(given, (list, tuple)):
        return ",".join(_answer_text(item) for item in given)
    if isinstance(given, float):
        return getattr(given, "text", repr(given))
    return str(given).strip().replace("\u2212", "-")


def _parse_number(text: str) -> float | None:
    import math

    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
