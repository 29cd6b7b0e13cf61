"""Grading a class's formulas by shape: the regex tokenizer, shape keys, the compiled
evaluator, and batched grades, each against an independent reference.

* The tokenizer against the character-by-character one it replaced (``tokenizer_reference``).
* Shape keys: formulas with one key parse to one tree up to their numbers.
* Compiled shapes against ``expr.evaluate`` on random edX formulas, at sample points that
  include the corner cases (0, -0.0, 1, -1, negative numbers): every answer either gets
  ``evaluate``'s numbers or is sent back to ``evaluate`` (NotBatchable), never a third value.
* ``Grader.grade_many`` against the reference path (each answer parsed on its own and
  evaluated by ``expr.evaluate`` at every sample point and variable swap): the same Grade,
  field for field, for student-like answers right, wrong and unreadable.
"""

from __future__ import annotations

import json
import math
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import tokenizer_reference
from bpcalc.errors import FormulaError
from bpcalc.expr import evaluate, substitute
from bpcalc.formula import SLOT, _tokenize, parse, parse_shape, shape_key
from bpcalc.formula_shapes import NotBatchable, compile_shape
from bpcalc.grading import Grade, Grader, answer_text
from bpcalc.problem import load
from clitools import ROOT
from test_formula import EDX_FORMULAS, VARIABLES

REFERENCE = ROOT / "problems" / "simple_network.yaml"
FAST = dict(deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def reference() -> Grader:
    return Grader(load(REFERENCE))


# --------------------------------------------------------------------------- the tokenizer

_PIECES = list("ab_xwjkeE0123456789.+-*/^()|%' \t\n\r{}\\,×٣") + [
    "**", "||", "e3", "e-", "E+ 2", "_{", "}^{", "_(", "sigma", "U", "1.5", "w_(jk)", "x''", "5 %"]


@settings(max_examples=800, **FAST)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
def test_tokenizer_agrees_with_the_character_by_character_one(text):
    assume("٣" not in text)            # the old one let Unicode digits continue a number
    try:
        want = tokenizer_reference.tokenize(text)
    except tokenizer_reference.BadCharacter as error:
        want = ("error at", error.position)
    try:
        got = [(t.kind, t.text, t.start, t.end, t.value, t.plain) for t in _tokenize(text)]
    except FormulaError as error:
        got = ("error at", error.position)
    assert got == want


def test_a_number_has_ascii_digits_only():
    with pytest.raises(FormulaError, match="unexpected character"):
        parse("1٣")                    # edX's nums are ASCII; it used to read 13


# --------------------------------------------------------------------------- shape keys

_NUMBERS = ["3", "0.25", "12.", ".5", "1e-3", "2.5E2", "7 %", "2 e 1", "0", "0.0", "9007199254740993"]


def _variant(text: str, rng: random.Random) -> str:
    """``text`` with each number token replaced by another number."""
    out, last = [], 0
    for token in _tokenize(text):
        if token.kind == "num":
            out += [text[last:token.start], rng.choice(_NUMBERS)]
            last = token.end
    return "".join(out) + text[last:]


@settings(max_examples=300, **FAST)
@given(EDX_FORMULAS, st.randoms(use_true_random=False))
def test_formulas_with_one_shape_key_parse_alike_up_to_their_numbers(text, rng):
    try:
        tree = parse_shape(text, allowed=VARIABLES)
    except FormulaError:
        return
    key, _numbers = shape_key(text)
    for _ in range(3):
        variant = _variant(text, rng)
        found = shape_key(variant)
        if found is None or found[0] != key:
            continue                     # e.g. "3" + ".5": the variant joined two numbers
        numbers = found[1]
        assert substitute(tree, {f"{SLOT}{i}": n for i, n in enumerate(numbers)}) == \
            parse(variant, allowed=VARIABLES)


@pytest.mark.parametrize("one, other", [
    ("a b", "ab"), ("2 2", "2"), ("2", ""), ("w_(jk)", "w_jk"), ("* *", "**"), ("x | | y", "x || y"),
    ("x'", "x"), ("U_{ij}", "U_ij"), ("2 e", "2e3"), ("2 %", "2 %%"), ("f (x)", "f(x)*1"),
])
def test_different_tokens_have_different_keys(one, other):
    keys = [shape_key(text) for text in (one, other)]
    assert None in keys or keys[0][0] != keys[1][0]


def test_shape_keys_ignore_spacing_and_numbers():
    assert shape_key("w_1 - 0.5*eta*partialC/partialw_1") == \
        ("w_1\0-\0\0*\0eta\0*\0partialC\0/\0partialw_1", [0.5])
    assert shape_key("w_1-2.25 *  eta*partialC /partialw_1")[0] == shape_key("w_1 - 0.5*eta*partialC/partialw_1")[0]
    assert shape_key("2 e 3 + 5 %")[1] == [2000.0, 0.05]
    assert shape_key("x\0") is None and shape_key("x" * 2001) is None and shape_key("  ") is None


# --------------------------------------------------------------------------- compiled shapes

CORNERS = np.array([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.5, 3.0, 1e-300, 1e300])


def _environment(rng: random.Random, bounds: tuple[float, float]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([CORNERS, [rng.uniform(*bounds) for _ in range(6)]])
            for name in VARIABLES}


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    """The same numbers: NaN where the other has NaN, the same infinities, and finite values
    equal to float64 rounding (NumPy's vector loops may round a last bit differently)."""
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return False
    finite = np.isfinite(want)
    if not np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]):
        return False
    return bool(np.allclose(got[finite], want[finite], rtol=1e-12, atol=0)
                and np.array_equal(np.isfinite(got), finite))


@settings(max_examples=400, **FAST)
@given(EDX_FORMULAS, st.randoms(use_true_random=False), st.sampled_from([(1.0, 3.0), (-3.0, 3.0)]))
def test_compiled_shapes_give_evaluates_numbers_or_defer_to_it(text, rng, bounds):
    try:
        tree = parse_shape(text, allowed=VARIABLES)
    except FormulaError:
        return
    try:
        shape = compile_shape(tree, VARIABLES)
    except NotBatchable:
        return                                   # e.g. the constant i: evaluate grades it
    env = _environment(rng, bounds)
    texts = [text] + [v for v in (_variant(text, rng) for _ in range(3)) if shape_key(v)[0] == shape_key(text)[0]]
    rows, kept = [], []
    for variant in texts:
        try:
            rows.append(shape.constants(shape_key(variant)[1]))
            kept.append(variant)
        except NotBatchable:
            pass
    if not rows:
        return
    constants = np.array(rows, dtype=float).reshape(len(rows), -1)
    together = None
    try:
        together = shape.evaluate(constants, {k: v[None, :] for k, v in env.items()})
    except NotBatchable:
        pass
    for index, variant in enumerate(kept):
        try:
            alone = shape.evaluate(constants[index:index + 1], {k: v[None, :] for k, v in env.items()})[0]
        except NotBatchable:
            alone = None
        try:
            with np.errstate(all="ignore"):
                want = np.asarray(evaluate(parse(variant, allowed=VARIABLES), env))
        except Exception:                        # evaluate refuses: the batch must not answer
            assert alone is None, (variant, alone)
            continue
        if want.dtype.kind == "c" or want.dtype.kind == "O":
            assert alone is None, (variant, want)
            continue
        if alone is None:
            continue                             # deferred to evaluate: always allowed
        want = np.broadcast_to(want.astype(float), alone.shape)
        assert _same(alone, want), (variant, alone, want)
        if together is not None:                 # one answer's numbers never depend on another's
            assert _same(together[index], alone), (variant, together[index], alone)


@pytest.mark.parametrize("text, deferred", [
    ("x*(10^400*0) + 1", False),                 # exact integers: 0, as evaluate gives
    ("x*(2^53 + 1 - 2^53)", False),              # exact: 1, where float64 would give 0
    ("x + 9007199254740993", True),              # no float64 is this integer
    ("x/(2*-0.0)", True),                        # the sign of this zero: evaluate decides
    ("x/-0.0", False),                           # as written: a negative zero, -inf
    ("x/-0", False),                             # the integer 0: +inf
    ("x*i", True), ("sqrt(x - 5)", True), ("x*(-8)^(1/3)", True), ("(x - 5)^0.5", True),
    ("fact(x)", True), ("x || 0", False), ("x||y||2", False), ("x^-2^2", False), ("2^-1^x", True),
    ("-x^2 + 3%*y", False), ("PI*X + e", False), ("sigma'(x)*relu(y)", False), ("abs(-3)^2*x", False),
    ("x*(1/3)^(-2)", False), ("x + (1e999 - 1e999)", False), ("x*1e999", False),
])
def test_corner_cases_give_evaluates_numbers_or_defer_to_it(text, deferred):
    env = {name: np.array([1.0, 2.5, 3.0, 0.0, -1.0]) for name in VARIABLES}
    shape = None
    try:
        shape = compile_shape(parse_shape(text, allowed=VARIABLES), VARIABLES)
        row = shape.constants(shape_key(text)[1])
        got = shape.evaluate(np.array([row], dtype=float).reshape(1, -1), {k: v[None, :] for k, v in env.items()})[0]
    except NotBatchable:
        got = None
    assert (got is None) == deferred, got
    if got is not None:
        with np.errstate(all="ignore"):
            want = np.broadcast_to(np.asarray(evaluate(parse(text, allowed=VARIABLES), env), dtype=float), got.shape)
        assert _same(got, want), (got, want)


def test_constant_parts_are_exact_and_shared():
    x = {"x": np.array([[2.0]])}
    first = compile_shape(parse_shape("x*(7/7)", allowed=["x"]), ["x"])
    assert first.constants([7, 7]) == [1.0]
    assert first.constants([1, 3]) == [1 / 3]
    big = compile_shape(parse_shape("x*(2^60 - 2^60 + 1)", allowed=["x"]), ["x"])
    assert big.constants([2, 60, 2, 60, 1]) == [1]
    assert big.evaluate(np.array([[1.0]]), x).tolist() == [[2.0]]
    # 2^60 - 2^61 + 1 is exact, then rounded once to float64, as it is when it meets x
    assert big.constants([2, 60, 2, 61, 1]) == [float(2**60 - 2**61 + 1)]
    assert first.constants([9007199254740993, 7]) == [9007199254740993 / 7]   # Python's exact int / int
    literal = compile_shape(parse_shape("x + 7", allowed=["x"]), ["x"])
    with pytest.raises(NotBatchable):
        literal.constants([9007199254740993])   # written with more digits than a float64 holds


# --------------------------------------------------------------------------- grading by shape

def _student_answers(rng: random.Random, expected: str, mistakes: list[str], variables: list[str],
                     count: int) -> list[str]:
    """Answers as a class types them: the formula or a listed mistake, rewritten with a
    student's own coefficient, a factor that changes nothing, a flipped sign, a swapped
    variable, a dropped factor, odd spacing and case; and some that do not parse."""
    answers = []
    for _ in range(count):
        text = rng.choice([expected] * 3 + mistakes)
        roll = rng.random()
        k = f"{rng.uniform(0.1, 9):.{rng.randint(1, 4)}f}"
        n = rng.randint(1, 999)
        if roll < 0.15:
            text = f"{k}*({text})"
        elif roll < 0.3:
            text = f"({text})*{rng.choice([f'({n}/{n})', f'{n}/{n}', f'(1+{n}-{n})', f'{n}%*100/{n}'])}"
        elif roll < 0.4:
            text = f"-({text})"
        elif roll < 0.5 and len(variables) > 1:
            wrong, right = rng.sample(variables, 2)
            text = re.sub(rf"\b{re.escape(right)}\b", wrong, text)
        elif roll < 0.6:
            text = f"({text})/{rng.choice(variables)}"
        elif roll < 0.65:
            text = f"({text}) + {k}"
        elif roll < 0.7:
            text = rng.choice([f"{text})", f"{text} ×2", f"2{text}", f"{text}*i", f"sqrt({text} - 9)",
                               f"({text})*(10^400*0 + 1)", f"({text})^0.5", f"{text} + 0*x9"])
        text = "".join(f" {c} " if c in "+-*/" and rng.random() < 0.3 else c for c in text)
        answers.append(text.upper() if rng.random() < 0.1 else text)
    return answers


@pytest.mark.parametrize("qid", ["sgd_rule", "delta_L", "dC_dwjk", "dC_dbj", "sigma_prime"])
def test_grades_by_shape_are_the_reference_grades(reference, qid):
    question = reference.question(qid)
    rng = random.Random(qid)
    mistakes = [wrong for wrong, _message in question.known_mistakes]
    texts = _student_answers(rng, question.value, mistakes, list(question.variables), 600)
    grader = Grader(reference.problem)
    together = grader.grade_many(qid, texts)
    for text, grade in zip(texts, together):
        assert grade == reference._graded(question, answer_text(text)), text
    assert len(grader._shapes[qid]) < len(set(texts)) / 3     # answers really were shared


@settings(max_examples=150, **FAST)
@given(st.lists(EDX_FORMULAS.map(lambda t: re.sub(r"\b(x|y|a_k|delta_j|l|j)\b", "z", t)), min_size=1, max_size=6))
def test_random_formula_answers_get_the_reference_grade(reference, texts):
    question = reference.question("sigma_prime")            # one variable, z
    for text, grade in zip(texts, Grader(reference.problem).grade_many("sigma_prime", texts)):
        assert grade == reference._graded(question, answer_text(text)), text


def test_a_batch_of_numbers_is_graded_as_each_alone(reference):
    rng = random.Random(3)
    values = {"dC_dw1": 2.0809166, "dC_dw2": -0.0041618, "dC_db": -0.13873, "w1_updated": -0.19809}
    for qid, exact in values.items():
        texts = [rng.choice([f"{exact * (1 + rng.gauss(0, 0.003)):.{rng.randint(1, 7)}g}", "-5", "0.000",
                             f"{-exact:.3g}", "0_1", "-0.1387*0.03", "1/0", "", f"{exact:.2e}", "0.01"])
                 for _ in range(300)]
        together = Grader(reference.problem).grade_many(qid, texts)
        single = Grader(reference.problem)                 # its memo holds only answers graded alone
        assert together == [single.grade(qid, text) for text in texts]


# --------------------------------------------------------------------------- the report's JSON

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=300, **FAST)
@given(_TEXT, _TEXT, st.booleans(), st.one_of(st.floats(allow_nan=False, allow_infinity=False), _TEXT, st.none()),
       _TEXT, st.one_of(_TEXT, st.none()), st.booleans(), st.integers(1, 17))
def test_grade_json_is_json_dumps_of_its_dict(qid, given_text, correct, expected, message, diagnosis,
                                               unanswered, digits):
    grade = Grade(qid, given_text, correct, expected, message, diagnosis, unanswered=unanswered)
    assert grade.to_json(digits) == json.dumps(grade.to_dict(digits), ensure_ascii=False)
    assert json.loads(grade.to_json(digits)) == json.loads(json.dumps(grade.to_dict(digits)))


def test_expected_json_of_a_question_is_shared(reference):
    grade = reference.grade("dC_dw2", "-0.004")
    assert grade.to_json(6, grade.expected_json(6)) == grade.to_json(6)
    assert math.isclose(json.loads(grade.to_json(10))["expected"], -0.004161833124, rel_tol=1e-9)


# --------------------------------------------------------------------------- batches of rows

def test_chunks_of_rows_change_nothing_in_the_report(reference, tmp_path, monkeypatch):
    import bpcalc.batch as batch

    lines = ["student,dC_dw1,dC_dw2,sgd_rule,delta_l"]
    rng = random.Random(11)
    for number in range(40):
        student = f"s{number % 29}"                       # second rows of a student, across chunks
        answers = [rng.choice(["2.081", "2.0", "", "-2.081", "0_1"]), rng.choice(["-0.004", "-0.139", ""]),
                   rng.choice(["w_1 - eta*partialC/partialw_1", f"w_1 - {rng.randint(1, 9)}*eta*partialC",
                               "w_1 +", ""]), rng.choice(["a", "b", "", "z"])]
        row = ",".join([student, *answers])
        lines.append(rng.choice([row, row, row.rsplit(",", 1)[0], row + ",extra", "", ",,,"]))
    path = tmp_path / "subs.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def report(chunk: int) -> dict:
        monkeypatch.setattr(batch, "CHUNK_ROWS", chunk)
        grader = Grader(reference.problem)
        with batch.SubmissionFile(str(path), grader.question) as rows:
            result = batch.grade_submissions(grader, rows, ids=batch.question_ids(grader, rows.columns))
        return result.to_dict()

    whole = report(1000)
    assert whole["summary"]["skipped"] > 0 and any("again" in row["reason"] for row in whole["skipped"])
    for chunk in (1, 3, 7):
        assert report(chunk) == whole


def test_a_memo_that_starts_afresh_changes_no_grade(reference, monkeypatch):
    import bpcalc.grading as grading

    texts = {"dC_dw1": ["2.081", "2.0", "", "2.081", "-2.081"] * 3,
             "sgd_rule": ["w_1 - eta*partialC/partialw_1", "w_1 + eta*partialC/partialw_1", "w_1 -"] * 3}
    want = {qid: Grader(reference.problem).grade_many(qid, answers) for qid, answers in texts.items()}
    monkeypatch.setattr(grading, "MEMO_LIMIT", 2)
    small = Grader(reference.problem)
    for _ in range(3):
        for qid, answers in texts.items():
            assert small.grade_many(qid, answers) == want[qid]
            assert sum(len(memo) for memo in small._grades.values()) <= 2 + len(set(answers))


def test_a_wrong_answer_to_a_one_variable_question_is_graded(reference):
    # No variable swaps there; the diagnosis used to fail ("cannot reshape array of size 0").
    for grader in (reference, Grader(reference.problem)):
        missing = grader.grade("sigma_prime", "sigma(z)")
        assert not missing.correct and missing.message.startswith("wrong (") and not missing.unreadable
        assert missing.diagnosis == "A factor 1-sigma(z) is missing."
        assert grader._graded(grader.question("sigma_prime"), "sigma(z)*(1 + sigma(z))").message.startswith("wrong (")
