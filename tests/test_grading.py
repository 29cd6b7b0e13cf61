"""Grading at the core: the tolerance rule, the diagnosed mistakes, formula and choice
questions, question validation, the memo, and the question checks of ``bpcalc verify``.

Every expected number is worked by hand here (plain ``math``), never read from
bpcalc. Wording of diagnoses may change, so a diagnosis is identified by the
mistake of :data:`bpcalc.mistakes.MISTAKES` whose sentence it carries, and that
mistake's value is compared with the hand-computed one; only the facts a student
needs (a1 = 0.03, the ½, σ′(z2), the sign, η, …) are checked as text.

"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import textwrap

import pytest
from click.testing import CliRunner

import bpcalc.formula
import bpcalc.mistakes
from bpcalc.cli import main
from bpcalc.errors import ProblemFileError
from bpcalc.grading import Grader
from bpcalc.mistakes import MISTAKES
from bpcalc.numbers import Tolerance, agrees
from bpcalc.problem import Problem, load

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "problems" / "simple_network.yaml"
SHIPPED = sorted((ROOT / "problems").glob("*.yaml"))


# ------------------------------------------------------------------ the reference, by hand

def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def sig2(value: float) -> float:
    """``value`` rounded to 2 significant digits, as a student rounding early would."""
    return float(f"{value:.2g}")


X, T, W1, W2, B, ETA = 3.0, 1.0, 0.01, -5.0, -1.0, 0.1
Z1 = W1 * X                          # 0.03
A1 = max(Z1, 0.0)                    # ReLU(0.03) = 0.03, ReLU′(0.03) = 1
Z2 = W2 * A1 + B                     # −1.15
Y = sigmoid(Z2)                      # 0.24048908
SP2 = Y * (1 - Y)                    # σ′(z2) = 0.18265408
DELTA2 = (Y - T) * SP2               # −0.13872777
DELTA1 = W2 * DELTA2 * 1.0           # 0.69363885
G_W1, G_W2, G_B = DELTA1 * X, DELTA2 * A1, DELTA2
NEW_W1 = W1 - ETA * G_W1             # −0.19809166

# The same gradients with one mistake each, by hand.
NO_SP2_W1 = W2 * (Y - T) * 1.0 * X           # σ′(z2) left out of δ2: 11.392664
SIGMA_FOR_SP2_B = (Y - T) * Y                # σ(z2) where σ′(z2) belongs: −0.18265408
ROUNDED_DELTA2 = sig2(sig2(Y) - T) * sig2(SP2)   # a, σ′ and (a − t) to 2 digits: −0.76·0.18
ROUNDED_W1 = W2 * ROUNDED_DELTA2 * 1.0 * X        # 2.052

# A 2-2-2 identity network where BP2 without the transpose and BP4 with a^l both differ
# from the right answer and from every other mistake:
#   x = (1, 2), t = (1, 2), W1 = [[1, 2], [3, 4]], W2 = [[1, −1], [2, 1]], no biases
#   a1 = W1 x = (5, 11), a2 = W2 a1 = (−6, 21), δ2 = a2 − t = (−7, 19)
#   δ1 = W2ᵀ δ2 = (1·−7 + 2·19, −1·−7 + 1·19) = (31, 26)      (right)
#   δ1 = W2 δ2  = (1·−7 − 1·19, 2·−7 + 1·19)  = (−26, 5)      (untransposed)
SMALL = {
    "input": [1, 2], "target": [1, 2], "loss": "half_squared_error",
    "layers": [{"activation": "identity", "weights": [[1, 2], [3, 4]]},
               {"activation": "identity", "weights": [[1, -1], [2, 1]]}],
}
S_X, S_T = [1, 2], [1, 2]
S_W1, S_W2 = [[1, 2], [3, 4]], [[1, -1], [2, 1]]
S_A1 = [sum(S_W1[j][k] * S_X[k] for k in range(2)) for j in range(2)]
S_A2 = [sum(S_W2[j][k] * S_A1[k] for k in range(2)) for j in range(2)]
S_D2 = [S_A2[j] - S_T[j] for j in range(2)]
S_D1 = [sum(S_W2[k][j] * S_D2[k] for k in range(2)) for j in range(2)]
S_D1_UNTRANSPOSED = [sum(S_W2[j][k] * S_D2[k] for k in range(2)) for j in range(2)]


@pytest.fixture(scope="module")
def reference() -> Grader:
    return Grader(load(REFERENCE))


@pytest.fixture(scope="module")
def small() -> Grader:
    return Grader(Problem.from_dict(SMALL))


def test_hand_values_are_the_course_values():
    assert A1 == pytest.approx(0.03)
    assert (G_W1, G_W2, G_B) == pytest.approx((2.0809166, -0.0041618331, -0.13872777), rel=1e-7)
    assert NEW_W1 == pytest.approx(-0.19809166, rel=1e-7)
    assert (S_A1, S_A2, S_D2, S_D1, S_D1_UNTRANSPOSED) == (
        [5, 11], [-6, 21], [-7, 19], [31, 26], [-26, 5])


def test_the_solver_agrees_with_the_hand_values(reference, small):
    gradients = reference.document["gradients"]
    assert (gradients["w1"], gradients["w2"], gradients["b"]) == pytest.approx((G_W1, G_W2, G_B))
    assert small.document["gradients"]["w1_21"] == S_D1[1] * S_X[0]


# ------------------------------------------------------------------ the tolerance rule

@pytest.mark.parametrize("written, exact", [
    ("2.081", G_W1), ("2.08", G_W1), ("2.0809", G_W1), ("2.0809166", G_W1), ("+2.081", G_W1),
    ("-0.004", G_W2), ("-0.0042", G_W2), ("-0.00416", G_W2), ("-4.16e-3", G_W2), ("-4e-3", G_W2),
    ("-0.139", G_B), ("-0.1387", G_B), ("-.139", G_B),
    ("-0.198", NEW_W1),
])
def test_agrees_accepts_the_course_roundings(written, exact):
    assert agrees(float(written), exact, written=written)


@pytest.mark.parametrize("written, exact", [
    ("2.0", G_W1),        # 2 significant digits, 1 decimal: too coarse, and 4 % off
    ("2", G_W1), ("2.1", G_W1), ("2.084", G_W1), ("-2.081", G_W1),
    ("-0.04", G_W2),      # a factor 10 off
    ("0", G_W2), ("0.004", G_W2), ("-0.005", G_W2), ("-0.003", G_W2),
    ("0.139", G_B), ("-0.14", G_B), ("-0.138", G_B), ("0", G_B),
])
def test_agrees_rejects_coarse_wrong_and_sign_errors(written, exact):
    assert not agrees(float(written), exact, written=written)


def test_agrees_without_the_written_text_reads_the_number():
    assert agrees(2.081, G_W1)
    assert not agrees(2.0, G_W1)


def test_explicit_tolerances():
    assert agrees(2.0, G_W1, Tolerance(rel=0.05, rounding=False))
    assert not agrees(1.9, G_W1, Tolerance(rel=0.05, rounding=False))
    assert agrees(2.09, G_W1, Tolerance(rel=0, abs=0.01, rounding=False))
    assert not agrees(2.1, G_W1, Tolerance(rel=0, abs=0.01, rounding=False))
    # Without rounding, only the tolerance counts: -0.004 is 3.9 % off.
    assert not agrees(-0.004, G_W2, Tolerance(rel=0.01, rounding=False), written="-0.004")
    assert agrees(-0.004, G_W2, Tolerance(rel=0.01, rounding=True), written="-0.004")
    assert agrees(0.0, 0.0, Tolerance(rel=0, rounding=False))


def test_non_finite_numbers_only_agree_with_themselves():
    assert not agrees(math.inf, G_W1)
    assert not agrees(math.nan, G_W1)
    assert not agrees(2.081, math.nan, written="2.081")


def _problem(questions: list, **extra) -> Problem:
    document = {"input": X, "target": T, "learning_rate": ETA, "layers": [
        {"activation": "relu", "weights": W1, "names": {"weights": "w1"}},
        {"activation": "sigmoid", "weights": W2, "bias": B, "names": {"weights": "w2", "bias": "b"}}],
        "questions": questions, **extra}
    return Problem.from_dict(document)


def test_tolerances_from_a_problem_file():
    grader = Grader(_problem([
        {"id": "rel", "numeric": "gradients.w1", "tolerance": {"rel": 0.05}},
        {"id": "abs", "numeric": "gradients.w1", "tolerance": {"abs": 0.01}},
        {"id": "w2rel", "numeric": "gradients.w2", "tolerance": {"rel": 0.01}},
        {"id": "w2round", "numeric": "gradients.w2", "tolerance": {"rel": 0.01, "rounding": True}},
    ]))
    verdicts = {(qid, answer): grader.grade(qid, answer).correct for qid, answer in [
        ("rel", "2.0"), ("rel", "1.9"), ("abs", "2.09"), ("abs", "2.081"), ("abs", "2.1"),
        ("w2rel", "-0.004"), ("w2rel", "-0.00415"), ("w2round", "-0.004")]}
    assert verdicts == {
        ("rel", "2.0"): True, ("rel", "1.9"): False,
        ("abs", "2.09"): True, ("abs", "2.081"): True, ("abs", "2.1"): False,
        # An explicit tolerance replaces the default rule: rounding only when asked for.
        ("w2rel", "-0.004"): False, ("w2rel", "-0.00415"): True, ("w2round", "-0.004"): True}


@pytest.mark.parametrize("qid, answer, right", [
    ("relu_prime_positive", "1", True), ("relu_prime_positive", "1.0", True),
    ("relu_prime_positive", "0", False), ("relu_prime_positive", "0.5", False),
    ("relu_prime_negative", "0", True), ("relu_prime_negative", "0.000", True),
    ("relu_prime_negative", "-0", True), ("relu_prime_negative", "1", False),
    ("relu_prime_negative", "0.001", False),
])
def test_literal_number_questions(reference, qid, answer, right):
    grade = reference.grade(qid, answer)
    assert grade.correct is right
    assert grade.diagnosis is None


@pytest.mark.parametrize("qid, answer, right", [
    ("dC_dw1", "2.081", True), ("dC_dw1", "2.08", True), ("dC_dw1", "2.0", False),
    ("dC_dw1", "2", False), ("dC_dw1", "-2.081", False),
    ("dC_dw2", "-0.004", True), ("dC_dw2", "-0.04", False), ("dC_dw2", "0", False),
    ("dC_db", "-0.139", True), ("dC_db", "0.139", False),
    ("w1_updated", "-0.198", True), ("w1_updated", "-0.1981", True),
])
def test_numeric_questions_follow_the_rule(reference, qid, answer, right):
    assert reference.grade(qid, answer).correct is right


@pytest.mark.parametrize("answer", ["abc", "2,081", "inf", "nan", "0_1", "1.0_0", "0x1A", "1,000"])
def test_a_non_number_is_a_wrong_answer_that_says_how_to_write_one(reference, answer):
    grade = reference.grade("dC_dw1", answer)
    assert not grade.correct and grade.diagnosis is None
    assert "not a number" in grade.message and "2.081" in grade.message


def test_published_keys_of_the_reference_are_right_answers(reference):
    for question in reference.questions.values():
        if question.kind == "numeric" and question.key is not None:
            assert reference.grade(question.id, question.key).correct, question.id


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_questions_load_and_accept_their_own_answers(path):
    grader = Grader(load(path))
    assert grader.questions, f"{path.name} has no questions"
    for question in grader.questions.values():
        if question.kind == "numeric":
            text = repr(float(question.value))
        elif question.kind == "formula":
            text = question.value
        else:
            text = ",".join(sorted(question.correct))
        grade = grader.grade(question.id, text)
        assert grade.correct and grade.diagnosis is None, (path.name, question.id, grade)
        if question.key is not None:
            assert grader.grade(question.id, question.key).correct, (path.name, question.id)


# ------------------------------------------------------------------ diagnosed mistakes

def diagnosed_as(grader: Grader, qid: str, answer: str) -> tuple[set[tuple[str, float]], str]:
    """The (mistake name, value) pairs whose sentence the diagnosis carries."""
    grade = grader.grade(qid, answer)
    assert not grade.correct, f"{answer} was graded right"
    assert grade.diagnosis, f"{answer} for {qid} got no diagnosis"
    question = grader.question(qid)
    found = {(name, value) for name, value, sentence in
             bpcalc.mistakes.candidates(grader.problem, grader.solution, question.path)
             if sentence in grade.diagnosis}
    assert found, f"the diagnosis {grade.diagnosis!r} is no sentence of bpcalc.mistakes"
    return found, grade.diagnosis


# mistake, question, answer (the hand value rounded as a student would), hand value, facts shown
REFERENCE_MISTAKES = [
    ("neighbouring_gradient", "dC_dw2", "-0.139", G_B, ["a1", "0.03"]),
    ("sign_flipped", "dC_db", "0.139", -G_B, ["sign"]),
    ("half_forgotten", "dC_dw1", "4.162", 2 * G_W1, ["½"]),
    ("missing_derivative", "dC_dw1", "11.39", NO_SP2_W1, ["σ′(z2)"]),
    ("function_for_derivative", "dC_db", "-0.1827", SIGMA_FOR_SP2_B, ["σ(z2)", "σ′(z2)"]),
    ("update", "w1_updated", "0.2181", W1 + ETA * G_W1, ["+"]),           # w + η·g
    ("update", "w1_updated", "-2.071", W1 - G_W1, ["η", "0.1"]),          # w − g, no η
    ("update", "w1_updated", "-0.2081", -ETA * G_W1, []),                 # the step alone
    ("rounded_early", "dC_db", "-0.1368", ROUNDED_DELTA2, ["2 significant"]),
    ("derivative_twice", "dC_db", "-0.02534", G_B * SP2, ["σ′(z2)", "twice"]),          # δ2·σ′(z2)
    ("old_value", "w1_updated", "0.01000", W1, ["before the update", "0.01"]),
    ("rounded_early", "dC_dw1", "2.052", ROUNDED_W1, ["2 significant"]),
]
# On the 2-2-2 problem, by hand (see SMALL): ∂C/∂w1_21 = δ1_2·x_1 = 26, ∂C/∂w2_12 = δ2_1·a1_2 = −77.
SMALL_MISTAKES = [
    ("not_transposed", "gradients.w1_21", "5", S_D1_UNTRANSPOSED[1] * S_X[0], ["transpose"]),
    ("not_transposed", "gradients.w1_11", "-26", S_D1_UNTRANSPOSED[0] * S_X[0], ["transpose"]),
    ("wrong_activation", "gradients.w1_21", "130", S_D1[1] * S_A1[0], ["a^(l−1)"]),
    ("wrong_activation", "gradients.w2_12", "-147", S_D2[0] * S_A2[1], ["a^(l−1)"]),
]


def _check_mistake(grader, name, qid, answer, hand, facts):
    written = answer.lstrip("+-")
    decimals = len(written.split(".")[1]) if "." in written else 0
    assert float(answer) == pytest.approx(hand, abs=0.5 * 10.0 ** -decimals), "the answer is the hand value"
    found, diagnosis = diagnosed_as(grader, qid, answer)
    assert any(mistake == name and value == pytest.approx(hand, rel=1e-9) for mistake, value in found), \
        (diagnosis, found)
    for fact in facts:
        assert fact in diagnosis, (fact, diagnosis)
    assert "\n" not in diagnosis


@pytest.mark.parametrize("name, qid, answer, hand, facts", REFERENCE_MISTAKES,
                         ids=[f"{m[0]}-{m[1]}={m[2]}" for m in REFERENCE_MISTAKES])
def test_mistakes_on_the_reference(reference, name, qid, answer, hand, facts):
    _check_mistake(reference, name, qid, answer, hand, facts)


@pytest.mark.parametrize("name, qid, answer, hand, facts", SMALL_MISTAKES,
                         ids=[f"{m[0]}-{m[1]}={m[2]}" for m in SMALL_MISTAKES])
def test_mistakes_on_a_2_2_2_network(small, name, qid, answer, hand, facts):
    _check_mistake(small, name, qid, answer, hand, facts)


# The reference with regularization: {l2: 0.1} (n = 1): ∂C/∂w2 = G_W2 + 0.1·W2 (W2 = −5).
L2_MISTAKES = [
    ("penalty_left_out", "gradients.w2", "-0.004162", G_W2, ["penalty", "(λ/n)·w2"]),
    ("penalty_left_out", "w2_updated", "-4.9996", -5 - ETA * G_W2, ["∂C₀/∂w2"]),
]


@pytest.mark.parametrize("name, qid, answer, hand, facts", L2_MISTAKES,
                         ids=[f"{m[0]}-{m[1]}={m[2]}" for m in L2_MISTAKES])
def test_mistakes_on_the_regularized_reference(name, qid, answer, hand, facts):
    grader = Grader(load(REFERENCE.parent / "l2_regularization.yaml"))
    _check_mistake(grader, name, qid, answer, hand, facts)


def test_the_2_2_2_mistakes_differ_from_the_answer_and_each_other(small):
    right = S_D1[1] * S_X[0]
    untransposed = S_D1_UNTRANSPOSED[1] * S_X[0]
    wrong_input = S_D1[1] * S_A1[0]
    assert len({right, untransposed, wrong_input}) == 3
    assert small.grade("gradients.w1_21", str(right)).correct


def test_every_mistake_in_the_table_is_exercised():
    exercised = {case[0] for case in REFERENCE_MISTAKES + SMALL_MISTAKES + L2_MISTAKES}
    assert {mistake.name for mistake in MISTAKES} <= exercised


def test_the_missing_a1_diagnosis_reads_well(reference):
    diagnosis = reference.grade("dC_dw2", "-0.139").diagnosis
    assert diagnosis.startswith("Your answer ")
    assert "∂C/∂b" in diagnosis and "a1 = 0.03" in diagnosis


@pytest.mark.parametrize("qid, answer", [
    ("dC_dw1", "2.081"), ("dC_dw1", "2.0809166"), ("dC_dw2", "-0.004"), ("dC_dw2", "-0.0041618"),
    ("dC_db", "-0.139"), ("w1_updated", "-0.198"), ("relu_prime_positive", "1"),
    ("relu_prime_negative", "0"), ("dC_dwjk", "a_k^(l-1)*delta_j^l"), ("dC_dbj", "delta_j^l"),
    ("sigma_prime", "sigma(z)*(1 - sigma(z))"), ("sigma_prime", "exp(-z)/(1+exp(-z))^2"),
    ("sgd_rule", "w_1 - eta*partialC/partialw_1"),
    ("delta_L", "(a_j - t_j)*sigma(z_j)*(1 - sigma(z_j))"),
    ("delta_l", "a"), ("sigma_large_z", "B"),
    ("gradients.w2", "-0.004"), ("layers[2].delta[0]", "-0.1387"),
])
def test_a_correct_answer_never_gets_a_diagnosis(reference, qid, answer):
    grade = reference.grade(qid, answer)
    assert grade.correct and grade.message == "correct" and grade.diagnosis is None


@pytest.mark.parametrize("qid, answer", [
    ("dC_dw1", "7.7"), ("dC_db", "0.5"), ("dC_dw2", "-0.01"), ("w1_updated", "3"),
    ("dC_dwjk", "a_k^(l-1)*delta_j^l + 1"), ("sigma_prime", "sigma(z)^3"),
])
def test_a_wrong_answer_matching_nothing_has_no_diagnosis(reference, qid, answer):
    grade = reference.grade(qid, answer)
    assert not grade.correct and grade.diagnosis is None


def test_show_expected_false_hides_the_answer():
    grader = Grader(_problem([{"id": "g", "numeric": "gradients.w1", "show_expected": False}]))
    assert grader.grade("g", "2.081").expected is None
    assert grader.grade("g", "1").expected is None


# ------------------------------------------------------------------ formula questions

@pytest.mark.parametrize("answer", [
    "a_k^(l-1)*delta_j^l", "delta_j^l * a_k^(l-1)", "delta_j^l*a_k^(l-1)", " a_k^(l-1) * delta_j^l ",
    "(a_k^(l-1))*(delta_j^l)", "a_k^l/a_k*delta_j^l", "A_K^(L-1)*DELTA_J^L",
])
def test_formula_right(reference, answer):
    grade = reference.grade("dC_dwjk", answer)
    assert grade.correct and grade.diagnosis is None


def test_formula_wrong_index_gets_the_listed_diagnosis(reference):
    grade = reference.grade("dC_dwjk", "a_j^(l-1)*delta_j^l")
    assert not grade.correct
    assert "index" in grade.diagnosis.lower() and "a^(l−1)_k" in grade.diagnosis


def test_formula_listed_mistake_of_the_sgd_rule(reference):
    grade = reference.grade("sgd_rule", "w_1 + eta*partialC/partialw_1")
    assert not grade.correct and "against the gradient" in grade.diagnosis


def test_latex_eta_is_a_wrong_answer_that_says_write_eta(reference):
    grade = reference.grade("sgd_rule", r"w_1 - \eta*partialC/partialw_1")
    assert not grade.correct
    assert "write eta" in grade.message
    assert grade.expected == "w_1 - eta*partialC/partialw_1"


@pytest.mark.parametrize("answer", [
    "__import__('os').system('true')", "os.system('true')", "eval('1')", "exec('import os')",
    "().__class__", "lambda: 1", "open('/etc/passwd')",
])
def test_code_in_an_answer_is_refused_and_runs_nothing(reference, monkeypatch, answer):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    grade = reference.grade("dC_dwjk", answer)
    assert not grade.correct
    assert grade.message.startswith("cannot read the formula")
    assert calls == []


def test_unknown_variable_is_a_wrong_answer_with_a_helpful_message(reference):
    grade = reference.grade("dC_dwjk", "x*delta_j^l")
    assert not grade.correct
    assert "unknown variable 'x'" in grade.message
    assert "a_k" in grade.message and "delta_j" in grade.message   # the allowed variables


def test_misspelt_variable_gets_did_you_mean(reference):
    grade = reference.grade("dC_dwjk", "a_kk^(l-1)*delta_j^l")
    assert not grade.correct
    assert "did you mean a_k" in grade.message


def test_formula_that_does_not_parse_is_a_wrong_answer(reference):
    for answer in ["2x", "(((", "a_k ×delta_j", "1+"]:
        grade = reference.grade("dC_dwjk", answer)
        assert not grade.correct and grade.message.startswith("cannot read the formula"), answer


def test_generic_sign_flip(reference):
    grade = reference.grade("dC_dwjk", "-a_k^(l-1)*delta_j^l")
    assert not grade.correct and "sign" in grade.diagnosis


def test_generic_swapped_variable(reference):
    grade = reference.grade("dC_dwjk", "a_k^(l-1)*delta_k^l")
    assert not grade.correct
    assert "delta_k" in grade.diagnosis and "delta_j" in grade.diagnosis


def test_generic_missing_and_extra_factor():
    grader = Grader(_problem([{"id": "q", "formula": "a_k*delta_j", "variables": ["a_k", "a_j", "delta_j"]}]))
    missing = grader.grade("q", "delta_j")
    assert not missing.correct
    assert "missing" in missing.diagnosis and "a_k" in missing.diagnosis
    extra = grader.grade("q", "a_k*delta_j*a_j")
    assert not extra.correct
    assert "extra" in extra.diagnosis and "a_j" in extra.diagnosis


# ------------------------------------------------------------------ choice questions

CHOICE = {"id": "pick", "choice": ["right one", "wrong one", "right two", "wrong two"],
          "correct": ["a", "c"], "feedback": {"b": "B forgets σ′.", "d": "D uses w untransposed."}}


@pytest.fixture(scope="module")
def choice() -> Grader:
    return Grader(_problem([CHOICE, {"id": "one", "choice": ["x", "y"], "correct": "b"}]))


@pytest.mark.parametrize("answer", ["a,c", "a c", "A, C", "c,a", "C A", "(a, c)", "[a,c]", "a;c", "a,,c"])
def test_choice_letters_in_any_case_and_separator(choice, answer):
    assert choice.grade("pick", answer).correct


def test_choice_partial_answer(choice):
    grade = choice.grade("pick", "a")
    assert not grade.correct and "partly" in grade.message and grade.diagnosis is None


def test_choice_wrong_option_gets_its_feedback(choice):
    grade = choice.grade("pick", "a,b,c")
    assert not grade.correct and grade.diagnosis == "B forgets σ′."
    both = choice.grade("pick", "b d")
    assert "B forgets σ′." in both.diagnosis and "D uses w untransposed." in both.diagnosis


def test_choice_without_feedback_has_no_diagnosis(choice):
    grade = choice.grade("one", "a")
    assert not grade.correct and grade.diagnosis is None
    assert choice.grade("one", "B").correct


@pytest.mark.parametrize("answer", ["e", "ab", "1", "a,z"])
def test_choice_answer_that_is_no_letter(choice, answer):
    grade = choice.grade("pick", answer)
    assert not grade.correct and "letter" in grade.message and "a, b, c, d" in grade.message


@pytest.mark.parametrize("qid", ["dC_dw1", "dC_dwjk", "delta_l"])
def test_an_empty_answer_says_no_answer_was_given(reference, qid):
    grade = reference.grade(qid, "")
    assert not grade.correct and grade.message == "no answer given" and grade.unreadable


def test_choice_on_the_reference(reference):
    assert reference.grade("delta_l", "A").correct
    grade = reference.grade("delta_l", "b")
    assert not grade.correct and "transpose" in grade.diagnosis


# ------------------------------------------------------------------ question validation

BASE = textwrap.dedent("""\
    input: 3
    target: 1
    learning_rate: 0.1
    layers:
      - activation: relu
        weights: 0.01
        names: {weights: w1}
      - activation: sigmoid
        weights: -5
        bias: -1
        names: {weights: w2, bias: b}
    questions:
    """)   # the first question starts on line 13

INVALID = [
    ("unknown key", "  - id: q1\n    numeric: gradients.w1\n    tolerence: {rel: 0.01}\n",
     15, "questions[0].tolerence", ["unknown key 'tolerence'", "did you mean 'tolerance'"]),
    ("missing kind", "  - id: q1\n    prompt: What?\n",
     13, "questions[0]", ["'q1'", "exactly one of 'numeric', 'formula' or 'choice'", "got 0"]),
    ("two kinds", "  - id: q1\n    numeric: gradients.w1\n    formula: x\n",
     13, "questions[0]", ["exactly one of", "got 2"]),
    ("bad correct letter", "  - id: q1\n    choice: [one, two]\n    correct: c\n",
     15, "questions[0].correct", ["a, b", "'c'"]),
    ("bad correct list", "  - id: q1\n    choice: [one, two]\n    correct: [a, z]\n",
     15, "questions[0].correct", ["a, b"]),
    ("numeric path that does not exist", "  - id: q1\n    numeric: gradients.w3\n",
     14, "questions[0].numeric", ["gradients.w3", "w1, w2"]),
    ("numeric path to a list", "  - id: q1\n    numeric: layers[1].z\n",
     14, "questions[0].numeric", ["layers[1].z[0]"]),
    ("formula that does not parse", "  - id: q1\n    formula: 2x\n",
     14, "questions[0].formula", ["does not parse", "2*x"]),
    ("variables missing a name", "  - id: q1\n    formula: a*b\n    variables: [a]\n",
     15, "questions[0].variables", ["uses b"]),
    ("duplicate id", "  - id: q1\n    numeric: gradients.w1\n  - id: q1\n    numeric: gradients.w2\n",
     15, "questions[1].id", ["duplicate", "'q1'"]),
    ("bad id", "  - id: 'q 1'\n    numeric: gradients.w1\n",
     13, "questions[0].id", ["'q 1'"]),
    ("bad tolerance", "  - id: q1\n    numeric: gradients.w1\n    tolerance: {relative: 1}\n",
     15, "questions[0].tolerance", ["rel", "abs"]),
    ("bad key", "  - id: q1\n    numeric: gradients.w1\n    key: two\n",
     15, "questions[0].key", ["'two'"]),
    ("bad mistake entry", "  - id: q1\n    formula: a\n    mistakes: [{formula: b}]\n",
     15, "questions[0].mistakes[0]", ["message"]),
    ("bad feedback letter", "  - id: q1\n    choice: [one, two]\n    correct: a\n    feedback: {z: no}\n",
     16, "questions[0].feedback", ["a, b"]),
    ("too few options", "  - id: q1\n    choice: [one]\n    correct: a\n",
     14, "questions[0].choice", ["at least two"]),
    ("not a mapping", "  - just text\n", 13, "questions[0]", ["'id'"]),
]


@pytest.mark.parametrize("case, questions, line, key, parts", INVALID, ids=[c[0] for c in INVALID])
def test_question_errors_are_one_located_line(tmp_path, case, questions, line, key, parts):
    path = tmp_path / "homework.yaml"
    path.write_text(BASE + questions, encoding="utf-8")
    with pytest.raises(ProblemFileError) as caught:
        Grader(load(path))
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(path))}:{line}:\d+: {re.escape(key)}: ", message), message
    for part in parts:
        assert part in message, (part, message)


def test_question_errors_through_the_cli_are_exit_2_and_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "homework.yaml").write_text(BASE + INVALID[0][1], encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "homework.yaml", "--answer", "q1=1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpcalc: error: homework.yaml:15:")


# ------------------------------------------------------------------ the memo

def test_the_same_answer_is_parsed_once(monkeypatch):
    grader = Grader(load(REFERENCE))
    calls = []
    original = bpcalc.formula._parse               # behind parse and parse_shape alike

    def counting(text, *args, **kwargs):
        calls.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(bpcalc.formula, "_parse", counting)
    answer = "delta_j^l * a_k^(l-1)"
    first = grader.grade("dC_dwjk", answer)
    second = grader.grade("dC_dwjk", answer)
    third = grader.grade("dC_dwjk", f"  {answer}  ")     # the same answer, typed with spaces
    assert first.correct and second == first and third == first
    assert calls.count(answer) == 1
    # the answer, and at most once each the expected formula and the listed mistakes
    assert len(calls) <= 2 + len(grader.questions["dC_dwjk"].known_mistakes)


def test_a_wrong_formula_is_parsed_once_with_its_diagnosis(monkeypatch):
    grader = Grader(load(REFERENCE))
    calls = []
    original = bpcalc.formula._parse
    monkeypatch.setattr(bpcalc.formula, "_parse",
                        lambda text, *a, **k: calls.append(text) or original(text, *a, **k))
    for _ in range(3):
        grade = grader.grade("dC_dwjk", "a_j^(l-1)*delta_j^l")
    assert "index" in grade.diagnosis.lower()
    # once as the listed mistake, once as the answer's shape; never again for the answer
    assert calls.count("a_j^(l-1)*delta_j^l") == 2


def test_mistake_candidates_are_computed_once_per_question(monkeypatch):
    grader = Grader(load(REFERENCE))
    calls = []
    original = bpcalc.mistakes.candidates
    monkeypatch.setattr(bpcalc.mistakes, "candidates",
                        lambda *args: calls.append(args[2]) or original(*args))
    for answer in ["-0.139", "0.004", "7", "-0.139"]:
        grader.grade("dC_dw2", answer)
    assert calls == ["gradients.w2"]


# ------------------------------------------------------------------ verify: question keys

GOOD_QUESTIONS = textwrap.dedent("""\
      - id: g1
        numeric: gradients.w1
        key: 2.081
      - id: upd
        formula: w_1 - eta*g
        variables: [w_1, eta, g]
        verify:
          values: {w_1: 0.01, eta: learning_rate, g: gradients.w1}
          equals: updated.w1
        mistakes:
          - formula: w_1 + eta*g
            message: Gradient descent subtracts.
    """)


def _verify(tmp_path, questions: str, *options: str):
    path = tmp_path / "keys.yaml"
    path.write_text(BASE + questions, encoding="utf-8")
    return CliRunner().invoke(main, ["verify", str(path), *options])


def test_verify_passes_good_question_keys(tmp_path):
    result = _verify(tmp_path, GOOD_QUESTIONS)
    assert result.exit_code == 0, result.output
    assert "questions.g1" in result.output and "questions.upd" in result.output


@pytest.mark.parametrize("case, old, new, label", [
    ("published key disagrees", "key: 2.081", "key: 2.09", "questions.g1"),
    ("published key has the wrong sign", "key: 2.081", "key: -2.081", "questions.g1"),
    ("formula verify disagrees", "formula: w_1 - eta*g\n", "formula: w_1 - 2*eta*g\n",
     "questions.upd (verify)"),
    ("listed mistake equals the key", "- formula: w_1 + eta*g", "- formula: w_1 - g*eta", "questions.upd (mistake 1)"),
])
def test_verify_fails_on_a_wrong_question_key(tmp_path, case, old, new, label):
    assert old in GOOD_QUESTIONS
    questions = GOOD_QUESTIONS.replace(old, new)
    result = _verify(tmp_path, questions)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    document = json.loads(_verify(tmp_path, questions, "--format", "json").output)
    failed = [check["path"] for check in document["files"][0]["checks"] if not check["passed"]]
    assert failed == [label]


def test_verify_of_the_shipped_problems_passes():
    result = CliRunner().invoke(main, ["verify", str(ROOT / "problems")])
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ known bugs and poor messages

def test_unicode_minus_follows_the_same_rule(reference):
    assert reference.grade("dC_dw2", "−0.004").correct
    assert reference.grade("dC_db", "−0.139").correct


def test_unknown_question_key_points_at_the_key(tmp_path):
    path = tmp_path / "homework.yaml"
    path.write_text(BASE + INVALID[0][1], encoding="utf-8")
    with pytest.raises(ProblemFileError) as caught:
        Grader(load(path))
    assert str(caught.value).startswith(f"{path}:15:5: ")


def test_missing_power_factor_is_diagnosed(reference):
    grade = reference.grade("dC_dwjk", "delta_j^l")
    assert not grade.correct
    assert grade.diagnosis and "a_k" in grade.diagnosis


def test_verify_formula_failure_honours_precision(tmp_path):
    # w_1 − 2·η·g = 0.01 − 0.2·2.0809166 = −0.40618331; the solver's updated.w1 is −0.19809166
    result = _verify(tmp_path, GOOD_QUESTIONS.replace("formula: w_1 - eta*g\n", "formula: w_1 - 2*eta*g\n"),
                     "--precision", "4")
    assert result.exit_code == 1
    assert "-0.4062" in result.output and "-0.1981" in result.output
    assert not re.search(r"\d\.\d{8,}", result.output), result.output


# ------------------------------------------------------------------ diagnosis on any shape, by hand

# A 2-3-2 identity network (both weight matrices non-square), no biases, ½Σ(a − t)²:
#   x = (1, 3), W1 = [[2, 0], [1, 1], [1, 2]] (3×2), W2 = [[1, 2, 0], [0, 1, 3]] (2×3), t = (1, 1)
#   a1 = W1 x = (2, 4, 7), a2 = W2 a1 = (10, 25), δ2 = a2 − t = (9, 24)
#   δ1_k = Σ_j W2_jk δ2_j = (9, 2·9 + 24, 3·24) = (9, 42, 72)                          (right)
#   untransposed: δ1_k = Σ_{j<2} W2_kj δ2_j for k < 2: (1·9 + 2·24, 0·9 + 1·24) = (57, 24);
#   δ1_3 would need W2_3j, which does not exist: no such mistake for layer 1's third row
#   a^l for a^(l−1): ∂C/∂w2_jk = δ2_j a2_k for k < 2 (a2 has 2 entries): w2_12 = 9·25 = 225
NON_SQUARE = {"input": [1, 3], "target": [1, 1], "layers": [
    {"activation": "identity", "weights": [[2, 0], [1, 1], [1, 2]]},
    {"activation": "identity", "weights": [[1, 2, 0], [0, 1, 3]]}]}
NS_RIGHT = {"w1_11": 9 * 1, "w1_21": 42 * 1, "w1_31": 72 * 1, "w2_12": 9 * 4}
NON_SQUARE_MISTAKES = [
    ("not_transposed", "gradients.w1_11", "57", 57 * 1, ["transpose"]),
    ("not_transposed", "gradients.w1_12", "171", 57 * 3, ["transpose"]),
    ("not_transposed", "gradients.w1_21", "24", 24 * 1, ["transpose"]),
    ("wrong_activation", "gradients.w2_12", "225", 9 * 25, ["a^(l−1)"]),
    ("wrong_activation", "gradients.w2_22", "600", 24 * 25, ["a^(l−1)"]),
]


@pytest.fixture(scope="module")
def non_square() -> Grader:
    return Grader(Problem.from_dict(NON_SQUARE))


def test_the_non_square_network_by_hand(non_square):
    gradients = non_square.document["gradients"]
    assert {name: gradients[name] for name in NS_RIGHT} == NS_RIGHT


@pytest.mark.parametrize("name, qid, answer, hand, facts", NON_SQUARE_MISTAKES,
                         ids=[f"{m[0]}-{m[1]}={m[2]}" for m in NON_SQUARE_MISTAKES])
def test_mistakes_on_a_non_square_network(non_square, name, qid, answer, hand, facts):
    _check_mistake(non_square, name, qid, answer, hand, facts)


def test_mistakes_whose_indices_do_not_exist_are_skipped(non_square):
    names = {name for name, _v, _s in bpcalc.mistakes.candidates(
        non_square.problem, non_square.solution, "gradients.w1_31")}
    assert "not_transposed" not in names                   # needs W2_3j: W2 has 2 rows
    names = {name for name, _v, _s in bpcalc.mistakes.candidates(
        non_square.problem, non_square.solution, "gradients.w2_13")}
    assert "wrong_activation" not in names                 # needs a2_3: layer 2 has 2 neurons


def test_softmax_with_cross_entropy_without_its_jacobian():
    # z = (1, 0, −1), a = softmax(z), t = (0, 1, 0): δ = a − t; forgetting the Jacobian gives
    # δ = ∂C/∂a = −t/a = (0, −1/a_2, 0), and ∂C/∂w1_21 = δ_2·x = −S/e⁰ = −(e + 1 + 1/e)
    grader = Grader(Problem.from_dict({"input": 1, "target": [0, 1, 0], "loss": "cross_entropy",
                                       "layers": [{"activation": "softmax", "weights": [1, 0, -1]}]}))
    total = math.e + 1 + 1 / math.e
    assert grader.document["gradients"]["w1_21"] == pytest.approx(1 / total - 1)
    grade = grader.grade("gradients.w1_21", f"{-total:.4f}")
    assert not grade.correct and "softmax" in grade.diagnosis and "a1 − t" in grade.diagnosis
    # for the classes with t = 0 the same mistake gives δ = 0: an answer 0 is that mistake
    assert "softmax" in grader.grade("gradients.w1_11", "0").diagnosis


def test_sigmoid_with_binary_cross_entropy_without_sigma_prime():
    # a = σ(0.5), t = 1: δ = a − t; forgetting σ′ gives ∂C/∂a = (a − t)/(a(1 − a)) = −1/a
    grader = Grader(Problem.from_dict({"input": 1, "target": 1, "loss": "binary_cross_entropy",
                                       "layers": [{"activation": "sigmoid", "weights": 0.5}]}))
    a = sigmoid(0.5)
    assert grader.document["gradients"]["w1_11"] == pytest.approx(a - 1)
    grade = grader.grade("gradients.w1_11", f"{-1 / a:.5f}")
    assert not grade.correct and "binary_cross_entropy" in grade.diagnosis and "σ′(z1)" in grade.diagnosis


def test_the_closest_mistake_is_named():
    # tanh hidden layer: leaving out tanh′ and using tanh for tanh′ give values 3 % apart;
    # an answer equal to one of them to every digit is named as that one.
    doc = {"input": [0.5, -1.0], "target": [0.2], "layers": [
        {"activation": "tanh", "weights": [[0.4, 0.3], [-0.6, 0.9]]},
        {"activation": "identity", "weights": [[0.7, -0.5]]}]}
    grader = Grader(Problem.from_dict(doc))
    found = bpcalc.mistakes.candidates(grader.problem, grader.solution, "gradients.w1_11")
    for name, value, sentence in found:
        if name in ("missing_derivative", "function_for_derivative", "derivative_twice"):
            grade = grader.grade("gradients.w1_11", repr(value))
            assert sentence in grade.diagnosis, (name, grade.diagnosis)
