"""The numeric rule, as the README states it for a teacher, checked by hand and by properties.

One rule for ``check``, ``grade`` and ``verify``: within the tolerance (0.1 % of the exact
value, the same above and below), or the exact value correctly rounded to the digits
written when at least one significant digit and 3 decimals or 3 significant digits are
written; significant digits counted as a teacher counts them; arithmetic without
variables graded as the number it is (by the tolerance only). Expected verdicts are
worked out here by hand (the exact values are the reference homework's, from
``tests/test_grading.py``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bpcalc.grading import Grader
from bpcalc.numbers import NotANumber, Tolerance, agrees, read_answer, read_written
from bpcalc.problem import load

from clitools import REFERENCE, ROOT, bpcalc

G_W1, G_W2, G_B = 2.0809165621704553, -0.00416183312434091, -0.13872777081136367
NEW_W1, W2, NEW_W2 = -0.19809165621704553, -5.0, -4.999583816687566


@pytest.fixture(scope="module")
def reference() -> Grader:
    return Grader(load(ROOT / REFERENCE))


# ------------------------------------------------------------------ the examples

@pytest.mark.parametrize("qid, answer, right", [
    ("dC_dw1", "2.081", True), ("dC_dw2", "-0.004", True), ("dC_db", "-0.139", True),
    ("dC_dw1", "2.0", False), ("dC_dw2", "-0.04", False), ("dC_dw2", "0", False),
    ("dC_dw2", "0.000", False),             # no significant digit: never "correctly rounded"
    ("dC_dw2", "-0.0", False), ("dC_dw2", "-4e-3", True), ("dC_dw2", "-0.0042", True),
    ("dC_dw1", "0_1", False), ("dC_dw1", "1.0_0", False), ("dC_dw1", "2_081", False),
    ("dC_dw2", "-0.1387*0.03", True),       # arithmetic: -0.004161, within 0.1 %
    ("dC_dw2", "-0.139*0.03", False),       # -0.00417: 0.19 % off, and an expression has no digits
    ("relu_prime_positive", "2/2", True), ("relu_prime_positive", "1", True),
    ("relu_prime_negative", "0.000", True), ("relu_prime_negative", "-0", True),
])
def test_the_reference_homework(reference, qid, answer, right):
    assert reference.grade(qid, answer).correct is right


@pytest.mark.parametrize("answer, hint", [
    ("0_1", "digit groups"), ("1.0_0", "digit groups"), ("0x10", "hexadecimal"), ("0b101", "hexadecimal"),
    ("nan", "not a number"), ("NaN", "not a number"), ("inf", "not a number"), ("-Infinity", "not a number"),
    ("2,081", "decimal point"), ("-0,004", "decimal point"), ("1,000", "decimal point"),
    ("abc", "not a number"), ("2x", "2*x"), ("1e999", "too large"),
])
def test_not_a_number_has_a_one_line_hint(reference, answer, hint):
    grade = reference.grade("dC_dw1", answer)
    assert not grade.correct and grade.unreadable and grade.diagnosis is None
    assert hint in grade.message and "\n" not in grade.message


@pytest.mark.parametrize("exact", [1.0, -1.0, 123.456, -0.004])
def test_the_relative_tolerance_is_symmetric(exact):
    tolerance = Tolerance(rounding=False)
    for factor in (Decimal("0.999"), Decimal("1.001")):
        written = str(Decimal(repr(exact)) * factor)
        assert agrees(float(written), exact, tolerance, written), written
    for factor in (Decimal("0.9989"), Decimal("1.0011")):
        written = str(Decimal(repr(exact)) * factor)
        assert not agrees(float(written), exact, tolerance, written), written


def test_0999_and_1001_get_the_same_verdict_for_1(reference):
    assert reference.grade("relu_prime_positive", "0.999").correct
    assert reference.grade("relu_prime_positive", "1.001").correct


@pytest.mark.parametrize("written, decimals, significant", [
    ("2.081", 3, 4), ("-0.004", 3, 1), ("0.000", 3, 0), ("20900", -2, 3), ("2.09e4", -2, 3),
    ("20900.", 0, 5), ("100", -2, 1), ("0", 0, 0), ("1.5e-3", 4, 2), ("-0.0040", 4, 2), ("+ 2.5", 1, 2),
])
def test_significant_digits_are_counted_as_a_teacher_counts_them(written, decimals, significant):
    reading = read_written(written)
    assert (reading.decimals, reading.significant) == (decimals, significant)


def test_trailing_zeros_of_an_integer_are_placeholders():
    # 20862.1: 20900 and 2.09e4 both mean 3 significant digits, ±50; both are it correctly rounded
    assert agrees(20900.0, 20862.1, written="20900") and agrees(20900.0, 20862.1, written="2.09e4")
    assert not agrees(20900.0, 20862.1, written="20900.")     # 5 digits claimed: 37.9 off
    assert not agrees(21000.0, 20862.1, written="21000")      # 2 digits: too coarse, 0.66 % off


def test_update_answers_must_be_closer_to_the_new_value_than_to_the_old(reference):
    # w2: −5 → −4.99958 (the step is 0.0083 %: inside the 0.1 % tolerance)
    for answer in ("-5", "-5.000", "-5.0000", "-5.00001"):
        grade = reference.grade("updated.w2", answer)
        assert not grade.correct, answer
        assert "before the update" in grade.diagnosis and "-4.99958" in grade.diagnosis
    # −4.9999 is nearer w2 − η·δ2·σ′(z2)·a1 = −4.999924 (σ′ applied twice) than the new value
    assert "twice" in reference.grade("updated.w2", "-4.9999").diagnosis
    for answer in ("-4.99958", "-4.9996", "-4.999584"):
        assert reference.grade("updated.w2", answer).correct, answer


def test_an_answer_equal_to_a_mistake_on_an_update_is_that_mistake(reference):
    # w2 + η·∂C/∂w2 = −5.000416: within 0.1 % of the new value, but it is the sign slip
    grade = reference.grade("updated.w2", repr(W2 + 0.1 * G_W2))
    assert not grade.correct and "gradient descent subtracts" in grade.diagnosis


def test_jsonl_numbers_and_strings_get_the_same_verdict(tmp_path):
    lines = ['{"student": "n", "answers": {"dC_dw2": -0.0040, "dC_dw1": 2.0810}}',
             '{"student": "s", "answers": {"dC_dw2": "-0.0040", "dC_dw1": "2.0810"}}']
    (tmp_path / "subs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = bpcalc("grade", str(ROOT / REFERENCE), str(tmp_path / "subs.jsonl"), "-o", str(tmp_path / "r.json"))
    assert result.exit_code == 0
    number, text = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["students"]
    assert number["answers"][:2] == text["answers"][:2]
    assert [a["given"] for a in number["answers"][:2]] == ["2.0810", "-0.0040"]   # as written
    assert [a["correct"] for a in number["answers"][:2]] == [True, False]


def test_verify_refuses_a_key_of_0000_for_a_small_gradient(tmp_path):
    problem = (ROOT / REFERENCE).read_text(encoding="utf-8").replace(
        "gradients.w2: -0.0041618331", "gradients.w2: 0.000")
    path = tmp_path / "keys.yaml"
    path.write_text(problem, encoding="utf-8")
    result = bpcalc("verify", str(path))
    assert result.exit_code == 1 and "gradients.w2" in result.stdout


def test_verify_reports_a_tolerance_that_accepts_a_listed_mistake(tmp_path):
    text = (ROOT / REFERENCE).read_text(encoding="utf-8").replace(
        "    numeric: gradients.w2\n    key: -0.004\n",
        "    numeric: gradients.w2\n    key: -0.004\n    tolerance: {rel: 0.5}\n")
    path = tmp_path / "loose.yaml"
    path.write_text(text, encoding="utf-8")
    result = bpcalc("verify", str(path), "--format", "json")
    assert result.exit_code == 1
    checks = json.loads(result.stdout)["files"][0]["checks"]
    [failed] = [c for c in checks if not c["passed"]]
    assert failed["path"] == "questions.dC_dw2 (tolerance)"
    assert "graded right" in failed["message"] and "abs:" in failed["message"]


# ------------------------------------------------------------------ properties

digits = st.integers(1, 9)
magnitudes = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)


@given(magnitudes, st.booleans(), digits, st.integers(3, 8))
@example(0.0041618331, True, 1, 3)
def test_the_exact_value_correctly_rounded_to_enough_digits_is_right(value, negative, _unused, decimals):
    exact = -value if negative else value
    written = f"{exact:.{decimals}f}"
    assume(float(written) != 0)                    # at least one significant digit
    assert agrees(float(written), exact, written=written)


@given(magnitudes, st.integers(3, 8))
def test_zero_written_with_any_decimals_is_never_right_for_a_nonzero_value(value, decimals):
    assume(value > 1e-3 * 10.0 ** -decimals)       # not within the tolerance of 0 ... of value
    written = "0." + "0" * decimals
    assert not agrees(0.0, value, written=written)


@given(magnitudes, st.floats(0.0, 0.002))
def test_the_verdict_depends_on_the_distance_not_the_side(value, offset):
    tolerance = Tolerance(rounding=False)
    above, below = value * (1 + offset), value * (1 - offset)
    assert agrees(above, value, tolerance, repr(above)) == agrees(below, value, tolerance, repr(below)) \
        or math.isclose(offset, 1e-3, rel_tol=1e-9)


@settings(max_examples=60)
@given(st.floats(-100, 100, allow_nan=False).filter(lambda v: abs(v) > 1e-3), st.integers(2, 6))
def test_an_arithmetic_answer_is_graded_as_its_value(value, places):
    product = f"{value:.{places}f}*2"
    reading = read_answer(product)
    assert reading.expression and reading.value == pytest.approx(float(f"{value:.{places}f}") * 2)


@given(st.text(max_size=60))
def test_any_text_either_reads_as_a_number_or_says_why(text):
    try:
        reading = read_answer(text)
    except NotANumber as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert math.isfinite(reading.value)
