"""Hostile input to ``check`` and ``grade``: no traceback, no hang, no injection, no lost report.

Every case either exits 2 with one line naming the file (and the line, key path or
column) or, for a bad row or answer, grades the rest of the class and reports that
row with its line number. Cases that could hang (a FIFO, /dev/zero) run the CLI in a
subprocess with a timeout; the rest run in-process. A big submissions file is graded
in a subprocess whose peak memory is measured.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from bpcalc.batch import MAX_CELL_CHARS, PARTIAL, ReportWriter, SubmissionFile
from bpcalc.grading import Grader
from bpcalc.problem import load

from clitools import CLEAN_ENV, REFERENCE, ROOT, bpcalc, crashed

pytestmark = pytest.mark.usefixtures("from_repo_root")
TIMEOUT = 30          # seconds: far above any case's cost, so only a hang reaches it
HEADER = "student,dC_dw1,dC_dw2,dC_db\n"


def one_line_error(result, *parts: str) -> str:
    assert not crashed(result), repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpcalc: error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``bpcalc ARGS`` in a fresh process, killed after TIMEOUT seconds (a hang fails the test)."""
    env = {key: value for key, value in os.environ.items() if key not in CLEAN_ENV}
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def grade(tmp_path, text: str | bytes, name: str = "subs.csv", report: str = "report.json", *options):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    out = tmp_path / report
    return bpcalc("grade", REFERENCE, str(path), "-o", str(out), *options), out


def report_of(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# ================================================================== files that are not files

@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def test_a_fifo_as_submissions_is_refused_without_waiting(fifo, tmp_path):
    result = run("grade", REFERENCE, str(fifo), "-o", str(tmp_path / "r.json"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "FIFO" in result.stderr and "pipe.csv" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_fifo_as_the_answers_file_is_refused_without_waiting(fifo):
    result = run("check", REFERENCE, "--answers", str(fifo))
    assert result.returncode == 2 and "FIFO" in result.stderr and "answers file" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("where", ["submissions", "answers"])
def test_dev_zero_is_refused_at_once(where, tmp_path):
    if where == "answers":
        result = run("check", REFERENCE, "--answers", "/dev/zero")
    else:
        link = tmp_path / "zero.csv"
        link.symlink_to("/dev/zero")
        result = run("grade", REFERENCE, str(link), "-o", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "character device" in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_directory_as_submissions(tmp_path):
    folder = tmp_path / "subs.csv"
    folder.mkdir()
    one_line_error(bpcalc("grade", REFERENCE, str(folder), "-o", str(tmp_path / "r.json")),
                   "subs.csv", "directory")


# ================================================================== the answers file of check

@pytest.mark.parametrize("text, said", [
    ("", "the answers file is empty"),
    ("# only a comment\n", "the answers file is empty"),
    ("- 2.081\n", "must be a mapping"),
    ("dC_dw1: [1\n", "the answers file is not valid"),
])
def test_answers_file_messages_name_the_answers_file(tmp_path, text, said):
    answers = tmp_path / "mine.yaml"
    answers.write_text(text, encoding="utf-8")
    line = one_line_error(bpcalc("check", REFERENCE, "--answers", str(answers)), said, "mine.yaml")
    assert "layers" not in line                 # not the problem-file message


def test_answers_file_not_utf8(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_bytes(b"dC_dw1: \xff\n")
    one_line_error(bpcalc("check", REFERENCE, "--answers", str(answers)), "not UTF-8", "answers file")


def test_unknown_id_in_the_answers_file_points_at_its_line(tmp_path):
    answers = tmp_path / "mine.yaml"
    answers.write_text("dC_dw1: 2.081\ndC_bd: -0.139\n", encoding="utf-8")
    one_line_error(bpcalc("check", REFERENCE, "--answers", str(answers)), f"{answers}:2:1:", "'dC_bd'",
                   "did you mean 'dC_db'")


# ================================================================== outputs

def test_the_report_cannot_overwrite_the_submissions(tmp_path):
    subs = tmp_path / "subs.csv"
    subs.write_text(HEADER + "ann,2.081,-0.004,-0.139\n", encoding="utf-8")
    before = subs.read_bytes()
    for output in (str(subs), str(tmp_path / "." / "subs.csv")):
        one_line_error(bpcalc("grade", REFERENCE, str(subs), "-o", output), "one of the input files")
    link = tmp_path / "link.csv"
    link.symlink_to(subs)
    one_line_error(bpcalc("grade", REFERENCE, str(subs), "-o", str(link)), "one of the input files")
    hard = tmp_path / "hard.csv"
    os.link(subs, hard)
    one_line_error(bpcalc("grade", REFERENCE, str(hard), "-o", str(subs)), "one of the input files")
    assert subs.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.csv", "link.csv", "subs.csv"]


def test_the_report_cannot_overwrite_the_problem(tmp_path):
    problem = tmp_path / "homework.json"                 # YAML read from any file name
    problem.write_text((ROOT / REFERENCE).read_text(encoding="utf-8"), encoding="utf-8")
    subs = tmp_path / "subs.csv"
    subs.write_text(HEADER, encoding="utf-8")
    one_line_error(bpcalc("grade", str(problem), str(subs), "-o", str(problem)), "one of the input files")
    assert problem.read_text(encoding="utf-8") == (ROOT / REFERENCE).read_text(encoding="utf-8")


def test_an_existing_reports_permissions_are_kept(tmp_path):
    report = tmp_path / "report.json"
    report.write_text("{}", encoding="utf-8")
    report.chmod(0o640)
    result, _ = grade(tmp_path, HEADER + "ann,2.081,-0.004,-0.139\n")
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    assert report_of(report)["students"][0]["score"] == 3


def test_a_new_report_gets_the_umask_not_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        result, report = grade(tmp_path, HEADER + "ann,2.081,-0.004,-0.139\n")
    finally:
        os.umask(previous)
    assert result.exit_code == 0
    assert stat.S_IMODE(report.stat().st_mode) == 0o644


def test_the_partial_report_is_named_for_an_instructor(tmp_path):
    with ReportWriter(str(tmp_path / "report.json")) as writer:
        assert re.fullmatch(rf"\.report\.json{re.escape(PARTIAL)}{os.getpid()}-\w+",
                            os.path.basename(writer.temporary))
    assert list(tmp_path.iterdir()) == []            # left without finish(): removed


def test_leftovers_of_a_killed_run_are_removed_and_a_live_runs_kept(tmp_path):
    dead = tmp_path / f".report.json{PARTIAL}999999999-abc"
    dead.write_text("half a report", encoding="utf-8")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".report.json{PARTIAL}{sleeper.pid}-xyz"
        live.write_text("being written", encoding="utf-8")
        other = tmp_path / f".other.json{PARTIAL}999999999-abc"
        other.write_text("another report's", encoding="utf-8")
        result, report = grade(tmp_path, HEADER + "ann,2.081,-0.004,-0.139\n")
        assert result.exit_code == 0
        assert not dead.exists() and live.exists() and other.exists()
        assert report_of(report)["summary"]["students"] == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_failed_rename_keeps_the_old_report(tmp_path, monkeypatch):
    report = tmp_path / "report.json"
    report.write_text("OLD", encoding="utf-8")

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    result, _ = grade(tmp_path, HEADER + "ann,2.081,-0.004,-0.139\n")
    one_line_error(result, "report.json", "No space left")
    assert report.read_text(encoding="utf-8") == "OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "subs.csv"]


# ================================================================== CSV injection

INJECTIONS = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
              "\t=1+1", "\r=1+1", "=1+1"]


def test_csv_report_cells_are_not_spreadsheet_formulas(tmp_path):
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["student", "dC_dw1", "dC_dw2", "dC_db"])
    writer.writerow(["=cmd|x", INJECTIONS[0], INJECTIONS[1], INJECTIONS[2]])
    writer.writerow(["+bob", INJECTIONS[3], INJECTIONS[4], INJECTIONS[5]])
    writer.writerow(["carl", "-0.004", "-0.0042", "2.081"])
    result, report = grade(tmp_path, rows.getvalue(), report="report.csv")
    assert result.exit_code == 0, result.stderr
    cells = [cell for row in csv.reader(io.StringIO(report.read_text(encoding="utf-8"))) for cell in row]
    live = [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")
            or (cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?(e-?\d+)?", cell))]
    assert live == [], live
    assert "'=cmd|x" in cells and "-0.004" in cells          # numbers stay numbers


# ================================================================== rows that cannot be graded

def test_an_oversized_cell_skips_only_its_row(tmp_path):
    text = HEADER + "ann,2.081,-0.004,-0.139\n" + "bob," + "9" * 200_000 + ",1,1\n" + "cy,2.081,,\n"
    result, report = grade(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    document = report_of(report)
    assert [s["student"] for s in document["students"]] == ["ann", "cy"]
    assert document["skipped"] == [{"line": 3, "reason": "the line is longer than 100,000 characters"}]
    assert document["summary"]["skipped"] == 1


def test_a_long_answer_within_the_line_limit_skips_its_row(tmp_path):
    text = HEADER + "ann," + "1" * (MAX_CELL_CHARS + 1) + ",1,1\ncy,2.081,,\n"
    document = report_of(grade(tmp_path, text)[1])
    assert [row["line"] for row in document["skipped"]] == [2]
    assert "characters" in document["skipped"][0]["reason"]


def test_a_deeply_nested_jsonl_line_skips_only_its_row(tmp_path):
    text = ('{"student": "ann", "answers": {"dC_dw1": "2.081"}}\n'
            + '{"student": "deep", "answers": {"dC_dw1": ' + "[" * 20_000 + "]" * 20_000 + "}}\n"
            + '{"student": "cy", "answers": {"dC_dw1": 2.081}}\n')
    result, report = grade(tmp_path, text, "subs.jsonl")
    assert result.exit_code == 0
    document = report_of(report)
    assert [s["student"] for s in document["students"]] == ["ann", "cy"]
    assert document["skipped"] == [{"line": 2, "reason": "nested too deeply to read"}]


def test_huge_integers_in_jsonl_are_graded_not_crashed(tmp_path):
    digits = "7" * 5000
    text = (f'{{"student": {digits}, "answers": {{"dC_dw1": {digits}, "dC_dw2": -0.004}}}}\n'
            '{"student": "ann", "answers": {"dC_dw1": 2.081}}\n')
    result, report = grade(tmp_path, text, "subs.jsonl")
    assert result.exit_code == 0, result.stderr
    first = report_of(report)["students"][0]
    assert first["student"] == digits
    assert first["answers"][0]["correct"] is False and "too large" in first["answers"][0]["message"]
    assert first["answers"][1]["correct"] is True


def test_a_lone_surrogate_escape_skips_its_row(tmp_path):
    text = ('{"student": "ann", "answers": {"dC_dw1": "\\ud800"}}\n'
            '{"student": "bob\\udfff", "answers": {"dC_dw1": "2.081"}}\n'
            '{"student": "emoji \\ud83d\\ude00", "answers": {"dC_dw1": "2.081"}}\n')
    result, report = grade(tmp_path, text, "subs.jsonl")
    assert result.exit_code == 0, result.stderr
    document = report_of(report)
    assert [row["line"] for row in document["skipped"]] == [1, 2]
    assert "surrogate" in document["skipped"][0]["reason"]
    assert [s["student"] for s in document["students"]] == ["emoji 😀"]


@pytest.mark.parametrize("name", ["subs.csv", "subs.jsonl"])
def test_a_row_that_is_not_utf8_skips_only_that_row(tmp_path, name):
    if name.endswith(".csv"):
        data = (HEADER + "ann,2.081,,\n").encode() + b"b\xffb,2.081,,\n" + b"cy,2.081,,\n"
    else:
        data = (b'{"student": "ann", "answers": {"dC_dw1": 2.081}}\n'
                b'{"student": "b\xffb", "answers": {}}\n{"student": "cy", "answers": {}}\n')
    result, report = grade(tmp_path, data, name)
    assert result.exit_code == 0, result.stderr
    document = report_of(report)
    assert [s["student"] for s in document["students"]] == ["ann", "cy"]
    [skipped] = document["skipped"]
    assert skipped["line"] == (3 if name.endswith(".csv") else 2) and "UTF-8" in skipped["reason"]


@pytest.mark.parametrize("answer, said", [
    ("fact(3000)^fact(3000)", ""), ("10^400", "too large"), ("1e999", "too large"),
    ("sqrt(-1)", "not a real number"), ("1/0", "no finite value"), ("[/bold]", "not a number"),
    ("\x1b[2J", "not a number"), ("9" * 5000, "too large"),
])
def test_an_answer_that_cannot_be_graded_gets_a_verdict(tmp_path, answer, said):
    rows = io.StringIO()
    csv.writer(rows).writerows([["student", "dC_dw1"], ["ann", answer], ["bob", "2.081"]])
    result, report = grade(tmp_path, rows.getvalue())
    assert result.exit_code == 0, (result.stderr, result.exception)
    document = report_of(report)
    ann, bob = document["students"]
    assert ann["answers"][0]["correct"] is False and said in ann["answers"][0]["message"]
    assert bob["score"] == 1
    assert "\x1b" not in result.stdout


def test_a_formula_answer_that_cannot_be_computed(tmp_path):
    result, report = grade(tmp_path, "student,dC_dwjk\nann,fact(a_k)\nbob,a_k^(l-1)*delta_j^l\n")
    ann, bob = report_of(report)["students"]
    assert not ann["answers"][0]["correct"] and "cannot be computed" in ann["answers"][0]["message"]
    assert bob["score"] == 1


# ================================================================== the shape of a class file

def test_a_bom_is_accepted_in_csv_and_jsonl(tmp_path):
    result, report = grade(tmp_path, "\ufeff" + HEADER + "ann,2.081,-0.004,-0.139\n")
    assert result.exit_code == 0 and report_of(report)["students"][0]["score"] == 3
    result, report = grade(tmp_path, '\ufeff{"student": "ann", "answers": {"dC_dw1": 2.081}}\n',
                           "subs.jsonl")
    assert result.exit_code == 0 and report_of(report)["students"][0]["score"] == 1


def test_short_rows_are_graded_with_blanks_and_the_total_is_the_same(tmp_path):
    document = report_of(grade(tmp_path, HEADER + "ann,2.081\nbob,2.081,-0.004,-0.139\n,\n")[1])
    ann, bob = document["students"]
    assert (ann["score"], ann["total"], ann["answered"]) == (1, 3, 1)
    assert (bob["score"], bob["total"]) == (3, 3)
    assert [a["unanswered"] for a in ann["answers"]] == [False, True, True]


def test_all_questions_counts_the_ones_without_a_column(tmp_path):
    result, report = grade(tmp_path, HEADER + "ann,2.081,-0.004,-0.139\n", "subs.csv", "report.json",
                           "--all-questions")
    ann = report_of(report)["students"][0]
    assert ann["total"] == len(Grader(load(ROOT / REFERENCE)).questions) and ann["score"] == 3


def test_a_repeated_question_column_is_refused(tmp_path):
    result, report = grade(tmp_path, "student,dC_dw1,dC_db,dC_dw1\nann,1,2,3\n")
    one_line_error(result, "subs.csv:1:", "'dC_dw1'", "two columns (2 and 4)")
    assert not report.exists()


def test_a_students_second_row_is_skipped_and_reported(tmp_path):
    document = report_of(grade(tmp_path, HEADER + "ann,2.081,,\nbob,1,,\nann,1,1,1\n")[1])
    assert [(s["student"], s["score"]) for s in document["students"]] == [("ann", 1), ("bob", 0)]
    assert document["skipped"] == [{"line": 4, "reason": "student 'ann' again (first on line 2): "
                                    "only the first row of a student is graded"}]


def test_markup_and_escapes_in_names_are_shown_as_text(tmp_path):
    rows = io.StringIO()
    csv.writer(rows).writerows([["student", "dC_dw1"], ["[bold]x[/bold]\x1b[2J", "2.0"]])
    result, report = grade(tmp_path, rows.getvalue())
    assert result.exit_code == 0 and "\x1b" not in result.stdout
    assert report_of(report)["students"][0]["student"] == "[bold]x[/bold]\x1b[2J"     # data kept


# ================================================================== questions that cannot be graded

PROBLEM = textwrap.dedent("""\
    input: 3
    target: 1
    learning_rate: 0.1
    layers:
      - activation: relu
        weights: 0.01
      - activation: sigmoid
        weights: -5
        bias: -1
    questions:
      - id: q
    """)


@pytest.mark.parametrize("lines, key, said", [
    ("    numeric: gradients.w1_11\n    tolerance: {rel: .inf}\n", "questions[0].tolerance.rel", "finite"),
    ("    numeric: gradients.w1_11\n    tolerance: {abs: .nan}\n", "questions[0].tolerance.abs", "finite"),
    ("    numeric: .nan\n", "questions[0].numeric", "finite"),
    ("    numeric: gradients.w1_11\n    tolerance: {rel: 5}\n", "questions[0].tolerance.rel", "fraction"),
    ("    formula: l*2\n    ranges: {l: [1, .inf]}\n", "questions[0].ranges.l[1]", "finite"),
    ("    formula: l*2\n    ranges: [1, 3]\n", "questions[0].ranges", "mapping"),
    ("    formula: l*2\n    ranges: {m: [1, 3]}\n", "questions[0].ranges.m", "not one of"),
])
@pytest.mark.parametrize("command", ["solve", "explain", "check"])
def test_broken_questions_are_reported_by_every_command(tmp_path, lines, key, said, command):
    path = tmp_path / "homework.yaml"
    path.write_text(PROBLEM + lines, encoding="utf-8")
    args = [command, str(path)] + (["-a", "q=1"] if command == "check" else [])
    line = one_line_error(bpcalc(*args), f": {key}: ", said)
    assert re.match(rf"bpcalc: error: {re.escape(str(path))}:\d+:\d+: ", line), line


# ================================================================== big files

def _big_csv(path: pathlib.Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("student,dC_dw1,dC_dw2,dC_db,w1_updated,delta_l\n")
        answers = ["2.081,-0.004,-0.139,-0.198,a", "2.0,-0.139,0.139,0.218,b", "2.08,,-0.1387,,c"]
        for number in range(rows):
            handle.write(f"s{number:07d},{answers[number % 3]}\n")


PEAK = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "bpcalc", "grade", sys.argv[1], sys.argv[2], "-o", sys.argv[3]],
               check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(submissions: pathlib.Path, report: pathlib.Path) -> int:
    env = {key: value for key, value in os.environ.items() if key not in CLEAN_ENV}
    done = subprocess.run([sys.executable, "-c", PEAK, str(ROOT / REFERENCE), str(submissions), str(report)],
                          capture_output=True, text=True, timeout=120, env=env, check=True)
    return int(done.stdout)


def test_a_big_file_is_graded_in_bounded_memory(tmp_path):
    """Ten times the rows must not cost ten times the memory: rows are streamed, results
    written as they come. (benchmarks/big_submissions.py measures a 200 MB file.)"""
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _big_csv(small, 6_000)
    _big_csv(big, 60_000)                      # about 2.6 MB, 360,000 answers
    base = _peak_kib(small, tmp_path / "small.json")
    peak = _peak_kib(big, tmp_path / "big.json")
    document = json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))
    assert document["summary"]["students"] == 60_000
    assert peak - base < 25_000, (base, peak)   # KiB: the student ids seen, not the rows


def test_rows_are_read_as_they_are_graded(tmp_path):
    """The progress bar can move while reading: after the first row, only a part of the
    file has been read."""
    path = tmp_path / "big.csv"
    _big_csv(path, 100_000)
    grader = Grader(load(ROOT / REFERENCE))
    with SubmissionFile(str(path), grader.question) as rows:
        first = next(iter(rows))
        assert first.student == "s0000000"
        assert 0 < rows.position < rows.size / 10
