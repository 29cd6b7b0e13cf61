"""``bpcalc check``, ``bpcalc formula`` and ``bpcalc grade`` end to end.

Commands run in-process through ``click.testing.CliRunner`` from the repository root,
so paths read as a student types them. Expected numbers for the reference homework
(x = 3, t = 1, w1 = 0.01 ReLU, w2 = −5, b = −1 sigmoid, C = ½(y − t)², η = 0.1) are
worked by hand in ``tests/test_grading.py``; here only the course's rounded answers
(2.081, −0.004, −0.139) and a1 = 0.03 are needed.

The interactive mode is driven twice: with a scripted ``click.prompt`` (always), and
in a real terminal through tmux (skipped when tmux is missing).

"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import uuid
import warnings

import click
import pytest

from bpcalc.grading import Grader
from bpcalc.problem import load

from clitools import CLEAN_ENV, REFERENCE, ROOT, bpcalc, crashed

GRADE_KEYS = {"id", "given", "correct", "expected", "expected_text", "message", "diagnosis", "unanswered"}
FORMULA_KEYS = {"input", "parsed", "latex", "variables", "value"}

pytestmark = pytest.mark.usefixtures("from_repo_root")


def assert_bad_input(result, *parts: str) -> str:
    """Exit 2, nothing on stdout, one line ``bpcalc: error: ...`` on stderr containing parts."""
    assert not crashed(result), result.exception
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpcalc: error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def check_json(*answers: str, options: tuple[str, ...] = ()) -> tuple[int, list]:
    args = ["check", REFERENCE, "--format", "json", *options]
    for answer in answers:
        args += ["--answer", answer]
    result = bpcalc(*args)
    assert not crashed(result), result.exception
    return result.exit_code, json.loads(result.stdout)


# ================================================================== bpcalc check

def test_check_right_answer_exits_0():
    result = bpcalc("check", REFERENCE, "--answer", "dC_dw1=2.081")
    assert result.exit_code == 0, result.output
    assert "✓ correct" in result.stdout and "1 of 1 correct" in result.stdout


def test_check_wrong_answer_exits_1_and_names_a1():
    result = bpcalc("check", REFERENCE, "--answer", "dC_dw2=-0.139")
    assert result.exit_code == 1, result.output
    text = " ".join(result.stdout.split())          # the table wraps the diagnosis
    assert "a1" in text and "0.03" in text
    assert "✗ wrong" in text and "0 of 1 correct" in text
    assert result.stderr == ""


def test_check_text_output_fits_80_columns_in_its_table():
    result = bpcalc("check", REFERENCE, "-a", "dC_dw2=-0.139", "-a", "delta_l=b",
                    "-a", "dC_dwjk=a_j^(l-1)*delta_j^l")
    table = [line for line in result.stdout.splitlines() if "│" in line or line.startswith("  ")]
    assert table and max(len(line) for line in table) <= 80


def test_check_some_right_some_wrong_exits_1():
    code, grades = check_json("dC_dw1=2.081", "dC_dw2=-0.004", "dC_db=0.139")
    assert code == 1
    assert [grade["correct"] for grade in grades] == [True, True, False]


def test_check_json_is_a_list_of_grade_objects():
    code, grades = check_json("dC_dw2=-0.139", "dC_dw1=2.081", "delta_l=B", "sigma_prime=sigma(z)",
                              "dC_dwjk=a_j^(l-1)*delta_j^l")
    assert code == 1
    assert isinstance(grades, list) and len(grades) == 5
    for grade in grades:
        assert set(grade) == GRADE_KEYS
        assert isinstance(grade["id"], str) and isinstance(grade["given"], str)
        assert isinstance(grade["correct"], bool) and isinstance(grade["message"], str)
        assert grade["expected"] is None or isinstance(grade["expected"], (str, float))
        assert grade["expected_text"] is None or isinstance(grade["expected_text"], str)
        assert grade["unanswered"] is False
        assert grade["diagnosis"] is None or isinstance(grade["diagnosis"], str)
    assert [grade["id"] for grade in grades] == ["dC_dw2", "dC_dw1", "delta_l", "sigma_prime", "dC_dwjk"]
    first = grades[0]
    assert first["given"] == "-0.139" and first["correct"] is False
    assert first["expected"] == pytest.approx(-0.0041618331243, rel=1e-11)   # full precision
    assert first["expected_text"] == "-0.00416183"
    assert "a1" in first["diagnosis"] and "0.03" in first["diagnosis"]
    assert grades[1] == {"id": "dC_dw1", "given": "2.081", "correct": True,
                         "expected": grades[1]["expected"], "expected_text": "2.08092",
                         "message": "correct", "diagnosis": None, "unanswered": False}
    assert "index" in grades[4]["diagnosis"].lower()


def test_check_all_right_json_exits_0():
    code, grades = check_json("dC_dw1=2.081", "dC_dw2=-0.004", "dC_db=-0.139", "w1_updated=-0.198",
                              "dC_dwjk=delta_j^l * a_k^(l-1)", "delta_l=A", "sigma_large_z=b")
    assert code == 0 and all(grade["correct"] for grade in grades)


def test_check_answers_file(tmp_path):
    answers = tmp_path / "my_answers.yaml"
    answers.write_text(
        "dC_dw1: 2.0810            # YAML numbers keep the digits written\n"
        "dC_dw2: -4.16e-3\n"
        "dC_db: -0.139\n"
        "relu_prime_positive: 1\n"
        "dC_dwjk: delta_j^l * a_k^(l-1)\n"
        "sgd_rule: 'w_1 - eta*partialC/partialw_1'\n"
        "delta_l: [A]\n"
        "sigma_large_z: b\n", encoding="utf-8")
    code, grades = check_json(options=("--answers", str(answers)))
    assert code == 0, grades
    assert [grade["id"] for grade in grades][:3] == ["dC_dw1", "dC_dw2", "dC_db"]
    assert grades[0]["given"] == "2.0810" and grades[1]["given"] == "-4.16e-3"
    assert all(grade["correct"] for grade in grades)


def test_check_answers_file_and_answer_together(tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("dC_dw2: -0.139\n", encoding="utf-8")
    code, grades = check_json("dC_dw1=2.081", options=("--answers", str(answers)))
    assert code == 1
    assert [(grade["id"], grade["correct"]) for grade in grades] == [("dC_dw1", True), ("dC_dw2", False)]


def test_check_unknown_question_id_is_bad_input_with_did_you_mean():
    result = bpcalc("check", REFERENCE, "--answer", "dC_dw1=2.081", "--answer", "dC_dw=-0.004")
    assert_bad_input(result, "'dC_dw'", "did you mean 'dC_dw2'?")


def test_check_unknown_question_id_in_an_answers_file(tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("dC_dw1: 2.081\ndC_bd: -0.139\n", encoding="utf-8")
    assert_bad_input(bpcalc("check", REFERENCE, "--answers", str(answers)), "'dC_bd'", "dC_db")


@pytest.mark.parametrize("pair", ["dC_dw1", "=2.081", " =1", "dC_dw1 2.081"])
def test_check_malformed_answer_is_bad_input(pair):
    assert_bad_input(bpcalc("check", REFERENCE, "--answer", pair), "ID=VALUE")


def test_check_empty_value_is_a_wrong_answer_not_a_crash():
    code, grades = check_json("dC_dw1=")
    assert code == 1 and grades[0]["correct"] is False and grades[0]["message"] == "no answer given"


@pytest.mark.parametrize("text", [
    "dC_dw1: 2.081\ndC_db: [1\n",          # an unclosed flow sequence
    "dC_dw1: 2.081\n  dC_db: 1\n  - x\n",   # bad indentation
    "dC_dw1: 'open\n",                      # an unclosed quote
])
def test_check_unparseable_answers_file_is_bad_input_with_line_and_column(tmp_path, text):
    answers = tmp_path / "bad.yaml"
    answers.write_text(text, encoding="utf-8")
    line = assert_bad_input(bpcalc("check", REFERENCE, "--answers", str(answers)))
    assert line.startswith(f"bpcalc: error: {answers}:")
    location = line[len(f"bpcalc: error: {answers}:"):].split(":")
    assert location[0].isdigit() and location[1].isdigit(), line


def test_check_answers_file_that_is_not_a_mapping(tmp_path):
    answers = tmp_path / "list.yaml"
    answers.write_text("- 2.081\n- -0.004\n", encoding="utf-8")
    assert_bad_input(bpcalc("check", REFERENCE, "--answers", str(answers)), "mapping")


def test_check_missing_answers_file(tmp_path):
    assert_bad_input(bpcalc("check", REFERENCE, "--answers", str(tmp_path / "none.yaml")), "none.yaml")


def test_check_missing_problem_file():
    assert_bad_input(bpcalc("check", "problems/nope.yaml", "--answer", "x=1"), "nope.yaml")


@pytest.mark.parametrize("pair, right", [
    ("gradients.w2=-0.004", True), ("gradients.w1=2.081", True), ("gradients.b=-0.139", True),
    ("updated.w2=-4.99958", True), ("layers[2].delta[0]=-0.1387", True), ("layers[1].a[0]=0.03", True),
    ("gradients.w2=-0.139", False), ("loss=0.2884", True),
])
def test_check_solution_paths_as_ids(pair, right):
    code, grades = check_json(pair)
    assert code == (0 if right else 1)
    assert grades[0]["id"] == pair.partition("=")[0] and grades[0]["correct"] is right
    if not right:
        assert "a1" in grades[0]["diagnosis"]


def test_check_code_in_a_formula_answer_runs_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    code, grades = check_json("dC_dwjk=__import__('os').system('true')")
    assert code == 1 and grades[0]["correct"] is False
    assert grades[0]["message"].startswith("cannot read the formula")
    assert_bad_input(bpcalc("formula", "__import__('os').system('true')"))
    assert calls == []


def test_check_without_answers_and_without_a_terminal_is_bad_input():
    line = assert_bad_input(bpcalc("check", REFERENCE, input=""))
    assert "--answer" in line and "--answers" in line and "dC_dw1" in line


def test_check_without_answers_never_waits_for_stdin():
    """stdin is a pipe that stays open: bpcalc must not read from it."""
    env = {key: value for key, value in os.environ.items() if key not in CLEAN_ENV}
    process = subprocess.Popen([sys.executable, "-m", "bpcalc", "check", REFERENCE], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("bpcalc check waited for input on a pipe")
    finally:
        process.stdin.close()
    stdout, stderr = process.stdout.read().decode(), process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert process.returncode == 2
    assert stdout == "" and len(stderr.splitlines()) == 1 and "--answer" in stderr


# ------------------------------------------------------------------ interactive, scripted

def scripted_prompt(monkeypatch, replies: list[str]) -> list[str]:
    """Replace click.prompt: each call takes the next reply; after the last, Ctrl-D."""
    asked = []
    queue = list(replies)

    def prompt(text, **_kwargs):
        asked.append(text)
        if not queue:
            raise click.Abort()
        return queue.pop(0)

    monkeypatch.setattr(click, "prompt", prompt)
    return asked


def test_interactive_session_scripted(monkeypatch, capsys):
    from bpcalc.render.interactive import ask_questions

    asked = scripted_prompt(monkeypatch, ["2.081", "-0.139", "", "0.2181"])
    all_right = ask_questions(Grader(load(REFERENCE)))
    out = capsys.readouterr().out
    assert all_right is False
    assert len(asked) == 5 and "dC_dw1" in asked[0] and "w1_updated" in asked[3]
    assert "13 questions" in out and "Ctrl-D" in out
    assert "[1/13] What is ∂C/∂w1?" in out and "✓ correct" in out
    assert "a1 = 0.03" in out and "expected: -0.00416183" in out
    assert "skipped" in out
    assert "w ← w − η·∂C/∂w" in out or "subtracts" in out
    assert out.rstrip().endswith("1 of 3 answered correctly.")


def test_interactive_choice_shows_lettered_options(monkeypatch, capsys):
    from bpcalc.render.interactive import ask_questions

    grader = Grader(load(REFERENCE))
    replies = [""] * list(grader.questions).index("delta_l") + ["a"]
    scripted_prompt(monkeypatch, replies)
    assert ask_questions(grader) is True
    out = capsys.readouterr().out
    assert "   a) δ^l_j = Σ_k w^(l+1)_kj" in out and "   c) " in out
    assert out.rstrip().endswith("1 of 1 answered correctly.")


# ------------------------------------------------------------------ interactive, in tmux

def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-S", socket, *args], capture_output=True, text=True,
                          timeout=10, check=False).stdout


def _wait_for(socket: str, text: str, deadline: float) -> str:
    while True:
        screen = _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "check")
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
        time.sleep(0.1)


def _start_check(tmp_path, setting: str = "", term: str | None = None) -> str:
    """``bpcalc check REFERENCE`` in a private tmux server (never the user's), 80×40; its socket."""
    socket = str(tmp_path / f"tmux-{uuid.uuid4().hex[:8]}")
    command = f"env {setting}{sys.executable} -m bpcalc check {REFERENCE}; echo EXIT=$?; sleep 60"
    env = {key: value for key, value in os.environ.items() if key not in CLEAN_ENV and key != "TMUX"}
    if term:
        env["TERM"] = term
    started = subprocess.run(["tmux", "-S", socket, "new-session", "-d", "-s", "check", "-x", "80",
                              "-y", "40", "-c", str(ROOT), command], env=env, timeout=10)
    assert started.returncode == 0
    return socket


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_interactive_session_in_a_real_terminal(tmp_path):
    socket = _start_check(tmp_path)
    deadline = time.monotonic() + 30
    try:
        _wait_for(socket, "dC_dw1 (a number):", deadline)
        for reply, then in [("2.081", "[2/13]"), ("-0.139", "[3/13]"), ("", "[4/13]"),
                            ("0.2181", "[5/13]")]:
            if reply:
                _tmux(socket, "send-keys", "-t", "check", "-l", "--", reply)
            _tmux(socket, "send-keys", "-t", "check", "Enter")
            _wait_for(socket, then, deadline)
        _tmux(socket, "send-keys", "-t", "check", "C-d")
        screen = _wait_for(socket, "EXIT=", deadline)
    finally:
        _tmux(socket, "kill-session", "-t", "check")
    assert "✓ correct" in screen
    assert "a1 = 0.03" in screen and "expected: -0.00416183" in screen
    assert "skipped" in screen
    assert "1 of 3 answered correctly." in screen
    assert "EXIT=1" in screen
    assert "Traceback" not in screen


# ================================================================== bpcalc formula

def formula_json(*args: str) -> dict:
    result = bpcalc("formula", "--format", "json", "--", *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_formula_json_keys_and_value():
    document = formula_json("a_k^(l-1)*delta_j^l", "a_k=0.03", "delta_j=-0.1387", "l=2")
    assert set(document) == FORMULA_KEYS
    assert document["input"] == "a_k^(l-1)*delta_j^l"
    assert document["variables"] == ["a_k", "delta_j", "l"]
    assert document["value"] == pytest.approx(0.03 ** (2 - 1) * (-0.1387) ** 2)   # ^ is a power
    assert isinstance(document["parsed"], str) and isinstance(document["latex"], str)


def test_formula_value_is_null_when_a_variable_has_no_value():
    document = formula_json("w_1 - eta*partialC/partialw_1", "w_1=0.01")
    assert set(document) == FORMULA_KEYS
    assert document["value"] is None
    assert document["variables"] == sorted(["w_1", "eta", "partialC", "partialw_1"])


def test_formula_variables_are_sorted():
    document = formula_json("z*y + b*a + m")
    assert document["variables"] == ["a", "b", "m", "y", "z"]


def test_formula_without_variables_has_a_number():
    document = formula_json("2^3^2")
    assert document["value"] == 512 and document["variables"] == []


def test_formula_latex():
    result = bpcalc("formula", "a_k^(l-1)*delta_j^l", "--format", "latex")
    assert result.exit_code == 0
    latex = result.stdout.strip()
    assert "\\delta" in latex and "a_{k}^{l - 1}" in latex.replace("{l-1}", "{l - 1}")
    assert "\n" not in latex


def test_formula_text():
    result = bpcalc("formula", "sigma(z)*(1-sigma(z))", "z=-1.15")
    assert result.exit_code == 0
    assert "0.182654" in result.stdout                 # σ′(−1.15) = 0.18265408


LONG = "1+" * 50_000 + "1"                              # 100 kB
NESTED = "(" * 300 + "1" + ")" * 300


@pytest.mark.parametrize("text, part", [
    (r"\eta*2", "write eta"), ("2x", "2*x"), ("(((", "never closed"), ("a ×b", "*"),
    ("1+", "missing"), (NESTED, "nest"), (LONG, "too long"), ("", "empty"), ("2**", "missing"),
    ("sin()", "argument"), ("foo(2)", "unknown function"), ("1 = 2", "="),
], ids=["latex-eta", "2x", "(((", "times", "1+", "300-parentheses", "100kB", "empty", "2**",
        "sin()", "foo(2)", "equals"])
def test_formula_bad_input_is_one_line_and_quick(text, part):
    bpcalc("formula", "1")                 # imports done, so only the refusal is timed
    start = time.perf_counter()
    result = bpcalc("formula", "--", text)
    elapsed = time.perf_counter() - start
    line = assert_bad_input(result, part)
    assert len(line) < 400
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def test_formula_bad_assignment_is_bad_input():
    assert_bad_input(bpcalc("formula", "x*2", "x=abc"), "NAME=NUMBER")


# 44 formulas: edX precedence corners, the homework's formulas, every function family.
EDX_VALUES = {"x": 0.7, "y": 2.5, "a_k": 0.03, "delta_j": -0.1387, "l": 2.0, "w_1": 0.01,
              "eta": 0.1, "partialC": 2.0809166, "partialw_1": 1.0, "z": -1.15, "t": 1.0}
EDX_FORMULAS = [
    "1+2*3", "2^3^2", "-2^2", "2^-1", "2*-2^2", "2^-2^2", "1--2", "--2", "(1+2)*(3-4)/5",
    "5%", "5 %", "2.5E2", "1e-3", "2 e 3", ".5+5.", "10/4", "7/2/2",
    "x^2 - 2*x*y + y^2", "-x^2", "x/y/x", "(x+y)^(1/3)", "x||y", "2*x||y", "-x||y", "X*Y",
    "a_k^(l-1)*delta_j^l", "delta_j^l*a_k^(l-1)", "w_1 - eta*partialC/partialw_1",
    "sqrt(x)+sqrt(y)", "exp(-z)/(1+exp(-z))^2", "ln(y)", "log10(1000)", "log2(8)",
    "sin(pi/6)", "cos(x)^2+sin(x)^2", "tan(x)", "arctan(y)", "sinh(x)-cosh(x)", "tanh(z)",
    "abs(z)", "fact(5)", "e^x", "pi*y^2", "1/(1+exp(-z))", "(t - 1/(1+e^(-z)))^2/2",
    "sech(x)", "arcsin(x)",
]


def test_edx_formula_list_is_about_forty():
    assert len(EDX_FORMULAS) >= 40


@pytest.mark.parametrize("text", EDX_FORMULAS)
def test_formula_agrees_with_openedx_calc(text):
    calc = pytest.importorskip("calc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = complex(calc.evaluator(dict(EDX_VALUES), {}, text))
    assert want.imag == 0
    document = formula_json(text, *(f"{name}={value!r}" for name, value in EDX_VALUES.items()))
    assert isinstance(document["value"], (int, float))
    assert math.isclose(document["value"], want.real, rel_tol=1e-9, abs_tol=1e-9), (document, want)


# ================================================================== bpcalc grade

CSV_SUBMISSIONS = (
    "student,dC_dw1,dC_dw2,delta_l,sgd_rule\n"
    "ann,2.081,-0.004,a,w_1 - eta*partialC/partialw_1\n"
    "bob,2.0,-0.139,b,w_1 + eta*partialC/partialw_1\n"
    "carl,2.081,-0.004\n"                                   # line 4: 3 fields, the header has 5
    '"dan, jr",4.162,0.004,"a,c",w_1\n'
    "eve,2.08,,A,\n"                                        # blanks are unanswered
)


def grade_cli(tmp_path, submissions_name: str, text: str, report_name: str):
    submissions = tmp_path / submissions_name
    submissions.write_text(text, encoding="utf-8")
    report = tmp_path / report_name
    return bpcalc("grade", REFERENCE, str(submissions), "--output", str(report)), report


def test_grade_csv_to_json_report(tmp_path):
    result, report = grade_cli(tmp_path, "subs.csv", CSV_SUBMISSIONS, "report.json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    document = json.loads(report.read_text(encoding="utf-8"))
    students = {entry["student"]: entry for entry in document["students"]}
    assert list(students) == ["ann", "bob", "carl", "dan, jr", "eve"]
    for entry in students.values():
        assert {"student", "line", "score", "total", "answered", "answers"} <= set(entry)
        assert entry["total"] == 4                       # the header's four questions, for everyone
        assert [a["id"] for a in entry["answers"]] == ["dC_dw1", "dC_dw2", "delta_l", "sgd_rule"]
        for answer in entry["answers"]:
            assert set(answer) == GRADE_KEYS
    scores = {name: (entry["score"], entry["answered"]) for name, entry in students.items()}
    assert scores == {"ann": (4, 4), "bob": (0, 4), "carl": (2, 2), "dan, jr": (0, 4), "eve": (2, 2)}
    blank = students["eve"]["answers"][1]
    assert blank["unanswered"] is True and blank["correct"] is False and blank["given"] == ""
    assert "a1" in students["bob"]["answers"][1]["diagnosis"]
    assert "½" in students["dan, jr"]["answers"][0]["diagnosis"]
    assert students["ann"]["answers"][0]["expected"] == pytest.approx(2.0809165621704553, rel=1e-15)
    assert document["summary"] == {"students": 5, "questions": 4, "skipped": 0,
                                   "question_ids": ["dC_dw1", "dC_dw2", "delta_l", "sgd_rule"]}
    assert "Report written to" in result.stdout


def test_grade_answers_are_the_objects_check_prints(tmp_path):
    result, report = grade_cli(tmp_path, "subs.csv", CSV_SUBMISSIONS, "report.json")
    assert result.exit_code == 0
    for entry in json.loads(report.read_text(encoding="utf-8"))["students"]:
        pairs = [f"{answer['id']}={answer['given']}" for answer in entry["answers"]]
        _code, checked = check_json(*pairs)
        assert entry["answers"] == checked, entry["student"]


def test_grade_short_rows_are_graded_and_long_rows_skipped(tmp_path):
    text = CSV_SUBMISSIONS + "fay,2.081,-0.004,a,w_1,surplus\ngus,2.081,-0.004,a,w_1,,\n"
    result, report = grade_cli(tmp_path, "subs.csv", text, "report.json")
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["skipped"] == [{"line": 7, "reason": "6 fields, but the header has 5"}]
    graded = [entry["student"] for entry in document["students"]]
    assert "carl" in graded and "fay" not in graded and "gus" in graded   # empty extra fields are fine
    text = " ".join(result.stdout.split())
    assert "Skipped rows" in text and re.search(r"\b1 row skipped", text)


JSONL_SUBMISSIONS = (
    '{"student": "ann", "answers": {"dC_dw1": "2.081", "dC_dw2": -0.004, "delta_l": "a"}}\n'
    '{"student": "bob", "answers": {dC_dw1: 2}}\n'                       # line 2: not JSON
    '\n'
    '{"student": "cy", "answers": {"dC_db": "0.139", "sgd_rule": "w_1 - eta*partialC/partialw_1"}}\n'
    '["not", "an", "object"]\n'                                        # line 5
    '{"student": 7, "answers": {"dC_dw1": 2.0809}}\n'
)


def test_grade_jsonl_to_csv_report(tmp_path):
    result, report = grade_cli(tmp_path, "subs.jsonl", JSONL_SUBMISSIONS, "report.csv")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert rows and list(rows[0]) == ["student", "score", "total", "question", "given", "correct",
                                      "unanswered", "expected", "expected_text", "message", "diagnosis"]
    questions = list(Grader(load(REFERENCE)).questions)
    assert [row["question"] for row in rows] == questions * 3      # every question, for everyone
    answered = [(row["student"], row["question"], row["correct"]) for row in rows if row["unanswered"] == "False"]
    assert answered == [("ann", "dC_dw1", "True"), ("ann", "dC_dw2", "True"), ("ann", "delta_l", "True"),
                        ("cy", "dC_db", "False"), ("cy", "sgd_rule", "True"), ("7", "dC_dw1", "True")]
    cy = [row for row in rows if row["student"] == "cy" and row["question"] == "dC_db"][0]
    assert cy["score"] == "1" and cy["total"] == str(len(questions)) and "sign" in cy["diagnosis"]
    assert float(cy["expected"]) == pytest.approx(-0.13872777081136367, rel=1e-15)
    assert cy["expected_text"] == "-0.138728"


def test_grade_jsonl_skips_bad_lines_with_their_numbers(tmp_path):
    result, report = grade_cli(tmp_path, "subs.jsonl", JSONL_SUBMISSIONS, "report.json")
    assert result.exit_code == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    skipped = {row["line"]: row["reason"] for row in document["skipped"]}
    assert set(skipped) == {2, 5}
    assert "JSON" in skipped[2] and "student" in skipped[5]
    assert [entry["student"] for entry in document["students"]] == ["ann", "cy", "7"]
    text = " ".join(result.stdout.split())
    assert "2 rows skipped" in text


def test_grade_unknown_question_in_the_csv_header_is_bad_input(tmp_path):
    result, report = grade_cli(tmp_path, "subs.csv", "student,dC_dw1,dC_dw\nann,2.081,1\n", "report.json")
    line = assert_bad_input(result, "subs.csv:1:", "'dC_dw'", "did you mean 'dC_dw2'?")
    assert len(line) < 600
    assert not report.exists()


def test_grade_csv_without_a_student_header_is_bad_input(tmp_path):
    result, report = grade_cli(tmp_path, "subs.csv", "name,dC_dw1\nann,2.081\n", "report.json")
    assert_bad_input(result, "student")
    assert not report.exists()


@pytest.mark.parametrize("name", ["subs.txt", "subs.json"])
def test_grade_unknown_submission_format_is_bad_input(tmp_path, name):
    result, _report = grade_cli(tmp_path, name, "student,dC_dw1\nann,2.081\n", "report.json")
    assert_bad_input(result, ".csv", ".jsonl")


def test_grade_report_must_be_json_or_csv(tmp_path):
    result, report = grade_cli(tmp_path, "subs.csv", CSV_SUBMISSIONS, "report.txt")
    assert_bad_input(result, ".json", ".csv")
    assert not report.exists()


def test_grade_summary_shows_per_question_rates(tmp_path):
    result, _report = grade_cli(tmp_path, "subs.csv", CSV_SUBMISSIONS, "report.json")
    lines = result.stdout.splitlines()
    assert any("Per question" in line for line in lines)
    rates = {line.split()[0]: line.split()[1:] for line in lines
             if line.strip() and line.split()[0] in {"dC_dw1", "dC_dw2", "delta_l", "sgd_rule"}
             and line.rstrip().endswith("%")}
    # answered, correct, rate over all 5 students (a blank counts as wrong):
    # dC_dw1 ann ✓ bob ✗ carl ✓ dan ✗ eve ✓; dC_dw2 ann ✓ bob ✗ carl ✓ dan ✗ (eve blank);
    # delta_l ann ✓ bob ✗ dan ✗ eve ✓ (carl missing); sgd_rule ann ✓ bob ✗ dan ✗
    assert rates == {"dC_dw1": ["5", "3", "60", "%"], "dC_dw2": ["4", "2", "40", "%"],
                     "delta_l": ["4", "2", "40", "%"], "sgd_rule": ["3", "1", "20", "%"]}
    document = json.loads(_report.read_text(encoding="utf-8"))
    assert document["questions"]["dC_dw2"] == {"graded": 5, "answered": 4, "correct": 2, "unanswered": 1,
                                               "rate": pytest.approx(0.4)}
    assert "Most common diagnosed mistakes" in result.stdout
    assert "5 students graded, each on 4 questions" in " ".join(result.stdout.split())


def _leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name != "subs.csv")


@pytest.mark.parametrize("existing", [False, True], ids=["new-report", "over-an-old-report"])
def test_grade_report_is_written_atomically(tmp_path, monkeypatch, existing):
    submissions = tmp_path / "subs.csv"
    submissions.write_text(CSV_SUBMISSIONS, encoding="utf-8")
    report = tmp_path / "report.json"
    if existing:
        report.write_text("OLD REPORT\n", encoding="utf-8")
    renamed = []

    def failing_replace(source, target, *args, **kwargs):
        renamed.append((os.fspath(source), os.fspath(target)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    result = bpcalc("grade", REFERENCE, str(submissions), "--output", str(report))
    assert result.exit_code != 0
    assert renamed and renamed[0][1] == str(report)
    assert pathlib.Path(renamed[0][0]).parent == tmp_path      # the temporary file sat beside it
    assert not pathlib.Path(renamed[0][0]).exists()
    if existing:
        assert _leftovers(tmp_path) == ["report.json"]
        assert report.read_text(encoding="utf-8") == "OLD REPORT\n"
    else:
        assert _leftovers(tmp_path) == []
    assert "Report written" not in result.stdout


def test_grade_report_replaces_an_old_one(tmp_path):
    (tmp_path / "report.csv").write_text("OLD\n", encoding="utf-8")
    result, report = grade_cli(tmp_path, "subs.csv", CSV_SUBMISSIONS, "report.csv")
    assert result.exit_code == 0
    assert report.read_text(encoding="utf-8").startswith("student,score,total,question")
    assert _leftovers(tmp_path) == ["report.csv"]


def test_grade_missing_submissions_file_is_bad_input(tmp_path):
    result = bpcalc("grade", REFERENCE, str(tmp_path / "none.csv"), "--output", str(tmp_path / "r.json"))
    assert_bad_input(result, "none.csv")


# ================================================================== known bugs and poor messages

def test_formula_starting_with_a_minus():
    result = bpcalc("formula", "-x^2", "x=2", "--format", "json")
    if result.exit_code == 0:
        assert json.loads(result.stdout)["value"] == -4
    else:
        assert re.search(r"(?<![\w-])--(?![\w-])", result.stderr), result.stderr   # a bare `--` hint


def test_formula_help_matches_the_language():
    help_text = bpcalc("formula", "--help").stdout
    result = bpcalc("formula", "--format", "json", "2k")
    assert "2k = 2000" not in help_text or (result.exit_code == 0
                                            and json.loads(result.stdout)["value"] == 2000)


def test_check_unknown_solution_path_says_what_exists():
    assert_bad_input(bpcalc("check", REFERENCE, "--answer", "gradients.w3=1"), "b, w1, w2")


def test_check_blank_answer_in_a_file(tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("dC_dw1:\ndC_dw2: -0.004\n", encoding="utf-8")
    result = bpcalc("check", REFERENCE, "--answers", str(answers), "--format", "json")
    assert "None" not in result.stdout


def test_grade_jsonl_choice_list(tmp_path):
    text = '{"student": "ann", "answers": {"delta_l": ["a"], "sigma_large_z": ["B"]}}\n'
    result, report = grade_cli(tmp_path, "subs.jsonl", text, "report.json")
    assert result.exit_code == 0
    answers = json.loads(report.read_text(encoding="utf-8"))["students"][0]["answers"]
    assert {answer["id"]: answer["correct"] for answer in answers if not answer["unanswered"]} == {
        "delta_l": True, "sigma_large_z": True}


def test_grade_report_in_a_missing_folder_is_bad_input(tmp_path):
    submissions = tmp_path / "subs.csv"
    submissions.write_text(CSV_SUBMISSIONS, encoding="utf-8")
    result = bpcalc("grade", REFERENCE, str(submissions), "--output", str(tmp_path / "no" / "r.json"))
    assert_bad_input(result, "r.json")


def test_interactive_unreadable_formula_is_asked_again(monkeypatch, capsys):
    from bpcalc.render.interactive import ask_questions

    grader = Grader(load(REFERENCE))
    skip = list(grader.questions).index("dC_dwjk")
    asked = scripted_prompt(monkeypatch, [""] * skip + [r"\eta*a_k^(l-1)", "a_k^(l-1)*delta_j^l"])
    ask_questions(grader)
    out = capsys.readouterr().out
    assert "dC_dwjk" in asked[skip] and "dC_dwjk" in asked[skip + 1]
    assert "expected: a_k^(l-1)*delta_j^l" not in out


def test_interactive_nothing_answered_is_not_all_right(monkeypatch, capsys):
    from bpcalc.render.interactive import ask_questions

    scripted_prompt(monkeypatch, ["", ""])
    assert ask_questions(Grader(load(REFERENCE))) is False


# ================================================================== precision, colour

def test_check_precision_applies_to_the_expected_value():
    result = bpcalc("check", REFERENCE, "-a", "dC_dw2=-0.139", "-p", "10")
    assert result.exit_code == 1
    assert "expected -0.004161833124" in " ".join(result.stdout.split())
    _code, grades = check_json("dC_dw2=-0.139", options=("-p", "10"))
    assert grades[0]["expected_text"] == "-0.004161833124"
    assert grades[0]["expected"] == pytest.approx(-0.00416183312434091, rel=1e-15)   # always full


def test_grade_precision_applies_to_the_report(tmp_path):
    (tmp_path / "subs.csv").write_text("student,dC_dw2\nann,-0.004\n", encoding="utf-8")
    report = tmp_path / "report.json"
    result = bpcalc("grade", REFERENCE, str(tmp_path / "subs.csv"), "-o", str(report), "-p", "3")
    assert result.exit_code == 0
    answer = json.loads(report.read_text(encoding="utf-8"))["students"][0]["answers"][0]
    assert answer["expected_text"] == "-0.00416" and answer["correct"] is True


COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7](;[0-9]+)*m|\x1b\[[0-9;]*38;")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("setting, coloured, styled", [
    ("", True, True), ("NO_COLOR=1 ", False, True), ("TERM=dumb ", False, False)],
    ids=["colour", "NO_COLOR", "TERM=dumb"])
def test_interactive_check_follows_the_terminals_colour_rules(tmp_path, setting, coloured, styled):
    socket = _start_check(tmp_path, setting, term="xterm-256color")
    deadline = time.monotonic() + 30
    try:
        _wait_for(socket, "dC_dw1 (a number):", deadline)
        for reply, then in [("2.081", "[2/13]"), ("-0.139", "[3/13]")]:
            _tmux(socket, "send-keys", "-t", "check", "-l", "--", reply)
            _tmux(socket, "send-keys", "-t", "check", "Enter")
            _wait_for(socket, then, deadline)
        _tmux(socket, "send-keys", "-t", "check", "C-d")
        _wait_for(socket, "EXIT=", deadline)
        screen = _tmux(socket, "capture-pane", "-p", "-e", "-J", "-S", "-", "-t", "check")
    finally:
        _tmux(socket, "kill-session", "-t", "check")
    assert "✓ correct" in screen and "a1 = 0.03" in screen
    assert bool(COLOUR.search(screen)) is coloured, repr(screen[:2000])
    assert ("\x1b[1m" in screen) is styled, repr(screen[:2000])
