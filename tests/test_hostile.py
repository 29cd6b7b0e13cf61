"""Hostile input, end to end: no traceback, no hang, no injection, bounded time.

Every case is a command a student or an instructor could run on a file or an answer
that someone else wrote. Each must end with exit code 2 and one line on stderr (or,
for an answer, a graded verdict), within a generous time guard, with no traceback
and no raw escape sequence in any output (stdout is not a terminal here, so any ESC
at all would be a leak). Where a hang is possible (a FIFO, /dev/zero) the command
runs in a subprocess with ``timeout=``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clitools import CLEAN_ENV, REFERENCE, ROOT, bpcalc, crashed

pytestmark = pytest.mark.usefixtures("from_repo_root")

# Control characters a terminal acts on (C0 but newline/tab, DEL, C1) and the bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e"
MARKUP = "[/bold] [red]x [link=https://example.com]click[/link]"
GOOD = "input: 1\ntarget: 1\nlayers: [{weights: 1, activation: sigmoid}]\n"
TIME_GUARD = 2.0         # seconds of CPU for one command (the bound), against blow-ups


def inert(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.search(text).group())


def run(*args: str, input: str | None = None, env: dict | None = None, guard: float = TIME_GUARD):
    """bpcalc in-process, with a CPU-time guard; nothing may escape as an exception."""
    start = time.process_time()
    result = bpcalc(*args, input=input, env=env)
    assert time.process_time() - start < guard, args
    assert not crashed(result), repr(result.exception)
    inert(result.stdout, result.stderr)
    return result


def run_process(*args: str, timeout: float = 30):
    """bpcalc in a subprocess, killed by ``timeout`` if it hangs (which fails the test)."""
    env = {key: value for key, value in os.environ.items() if key not in CLEAN_ENV}
    result = subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True,
                            text=True, timeout=timeout, env=env, cwd=ROOT)
    inert(result.stdout, result.stderr)
    return result


def bad_input(result, *phrases: str) -> str:
    """Exit 2 and exactly one line on stderr, saying each of ``phrases``."""
    code = result.returncode if hasattr(result, "returncode") else result.exit_code
    assert code == 2, (code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpcalc: error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


# ------------------------------------------------------------------ files that are not files

@pytest.fixture
def fifo(tmp_path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["solve"], ["explain"], ["check", "--answer", "loss=1"],
                                     ["verify"]])
def test_fifo_as_the_problem_file_is_refused_without_waiting(fifo, command):
    result = run_process(command[0], str(fifo), *command[1:])
    if command[0] == "verify":
        assert result.returncode == 2 and f"{fifo}: BROKEN" in result.stdout
        assert result.stderr.count("\n") == 1 and "is a FIFO" in result.stderr
    else:
        bad_input(result, str(fifo), "is a FIFO (named pipe), expected a YAML problem file")


def test_fifo_in_a_verify_folder_is_broken_and_the_others_are_checked(fifo, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD + "expected: {loss: 0.036164744}\n", encoding="utf-8")
    result = run_process("verify", str(tmp_path))
    assert result.returncode == 2
    assert f"{fifo}: BROKEN" in result.stdout and f"{tmp_path / 'good.yaml'}: ok" in result.stdout
    [line] = result.stderr.splitlines()
    assert "is a FIFO" in line
    document = json.loads(run_process("verify", str(tmp_path), "--format", "json").stdout)
    assert [Path(f["file"]).name for f in document["files"]] == ["good.yaml", "pipe.yaml"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("command", ["solve", "explain", "verify"])
def test_dev_zero_is_refused_at_once(command):
    result = run_process(command, "/dev/zero", timeout=20)
    assert result.returncode == 2 and "/dev/zero: is a character device" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_directory_is_refused(tmp_path):
    bad_input(run("solve", str(tmp_path)), "is a directory")


def test_nul_byte(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(GOOD.replace("target: 1", "target: 1\x00").encode())
    bad_input(run("solve", str(path)), f"{path}: line 2: contains a NUL byte")


@pytest.mark.parametrize("name", ["esc\x1b[31mred.yaml", "new\nline.yaml", "osc\x1b]0;x\x07.yaml",
                                  "c1\x9b2J.yaml", "rtl\u202eplh.yaml"])
def test_file_names_are_shown_not_run(tmp_path, name):
    path = tmp_path / name
    line = bad_input(run("solve", str(path)), "no such file")
    assert "\\x1b" in line or "\\n" in line or "\\x9b" in line or "\\u202e" in line
    path.write_text(GOOD.replace("sigmoid", "sigmod"), encoding="utf-8")
    bad_input(run("solve", str(path)), "layers[1].activation: unknown activation 'sigmod'")
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    result = run("verify", str(tmp_path))
    assert result.exit_code == 2 and "BROKEN" in result.stdout and len(result.stderr.splitlines()) == 1
    document = json.loads(run("verify", str(tmp_path), "-f", "json").stdout)
    assert name in [Path(f["file"]).name for f in document["files"]]


# ------------------------------------------------------------------ numbers that do not fit

def test_a_5000_digit_integer_in_a_problem_file(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD.replace("input: 1", "input: " + "9" * 5000), encoding="utf-8")
    line = bad_input(run("solve", str(path)), f"{path}:1:8: input: expected a finite number",
                     "5,000 digits")
    assert len(line) < 300
    result = run("verify", str(path))
    assert result.exit_code == 2 and "BROKEN" in result.stdout


@pytest.mark.parametrize("key", ["layers[1].z[" + "9" * 5000 + "]", "layers[1].z[99999999999]",
                                 "layers[" + "1" * 400 + "].a", "x" * 3000])
def test_huge_indices_and_paths_in_a_key(tmp_path, key):
    path = tmp_path / "key.yaml"
    path.write_text(GOOD + f"expected:\n  ? {key}\n  : 1\n  loss: 0.036164744\n", encoding="utf-8")
    result = run("verify", str(path))
    assert result.exit_code == 2 and "BROKEN" in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bpcalc: error: {path}:5:5: expected.") and len(line) < 400
    document = json.loads(run("verify", str(path), "-f", "json").stdout)
    assert [c["passed"] for c in document["files"][0]["checks"]] == [False, True]
    answer = run("check", str(path), "--answer", f"{key}=1")
    bad_input(answer, "no question")


@pytest.mark.parametrize("answer", ["10^20", "2^64", "fact(25)", "2^64-2^64+1", "fact(3000)^fact(3000)",
                                    "9^9^9", "1e400", "-10^400*0", "*".join(["fact(500)"] * 20)])
def test_huge_values_in_formula_answers_are_graded(answer):
    for qid in ("dC_dwjk", "sigma_prime"):
        result = run("check", REFERENCE, "--answer", f"{qid}={answer}", "--format", "json")
        assert result.exit_code == 1, result.stderr
        [grade] = json.loads(result.stdout)
        assert grade["correct"] is False


@pytest.mark.parametrize("text, phrase", [
    ("fact(3000)^fact(3000)", "too large"), ("9^9^9", "too large"), ("2^4097", "too large"),
    ("fact(171)", "too large"), ("10^309", "too large"),
])
def test_formula_too_large_is_one_line(text, phrase):
    bad_input(run("formula", text), phrase)


@pytest.mark.parametrize("text, value", [("10^20", "1e20"), ("2^64", "1.84467e19"),
                                         ("fact(25)", "1.55112e25"), ("10^400*0", "0"),
                                         ("2^64-2^64+1", "1")])
def test_formula_big_exact_integers(text, value):
    result = run("formula", text)
    assert result.exit_code == 0 and f"value:     {value}\n" in result.stdout


def test_exact_arithmetic_in_a_201_character_formula_is_cheap():
    """Products of big exact integers grow: 201 characters of them used to cost seconds."""
    text = "*".join(["(2^4000+1)"] * 18) + "+1"
    assert len(text) > 195
    start = time.process_time()
    bad_input(run("formula", text), "too large")
    text = "-".join(["fact(300)*fact(300)/(fact(299)*fact(299))"] * 4)   # 4,070-bit steps
    assert "value:     -180000\n" in run("formula", text).stdout
    assert time.process_time() - start < 2


@pytest.mark.parametrize("count", [22, 60, 100])
def test_power_chains_print_in_linear_time(count):
    text = "^".join(["x"] * count)
    start = time.process_time()
    result = run("formula", text, "x=1")
    assert result.exit_code == 0 and "value:     1\n" in result.stdout
    assert time.process_time() - start < 2
    answer = run("check", REFERENCE, "--answer", f"sigma_prime={text}")
    assert answer.exit_code == 1


def test_long_flat_sums_are_answers_not_nesting():
    """401 terms, as the course grader accepts them: graded, not refused as nesting."""
    text = "sigma(z)*(1-sigma(z))" + "+0*z" * 400
    for answer, right in ((text, True), (text + "+z", False)):
        result = run("check", REFERENCE, "--answer", f"sigma_prime={answer}", "-f", "json")
        [grade] = json.loads(result.stdout)
        assert grade["correct"] is right, grade


# ------------------------------------------------------------------ answer keys that cannot be checked

@pytest.mark.parametrize("key, said", [
    ("loss: .nan", "the key holds .nan"), ("loss: -.inf", "the key holds -.inf"),
    ("layers: 1", "in the solution this is a list of mappings"),
    ("gradients: 1", "in the solution this is a mapping"), ("loss: [1, .inf]", "the key holds .inf"),
    ("loss: true", "not a number"),
])
def test_keys_that_cannot_be_checked_are_errors_for_that_key(tmp_path, key, said):
    bad = tmp_path / "a_bad.yaml"
    bad.write_text(GOOD + f"expected:\n  {key}\n  layers[1].z[0]: 1\n", encoding="utf-8")
    good = tmp_path / "b_good.yaml"
    good.write_text(GOOD + "expected:\n  layers[1].z[0]: 1\n", encoding="utf-8")
    result = run("verify", str(tmp_path))
    assert result.exit_code == 2
    assert f"{bad}: BROKEN" in result.stdout and f"{good}: ok" in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bpcalc: error: {bad}:5:3: expected.") and said in line
    json_result = run("verify", str(tmp_path), "--format", "json")
    assert json_result.exit_code == 2
    document = json.loads(json_result.stdout)          # the report of every file, always
    assert [f["broken"] for f in document["files"]] == [True, False]
    assert [c["passed"] for c in document["files"][0]["checks"]] == [False, True]


def test_a_broken_question_makes_the_file_broken_with_its_key_path(tmp_path):
    """Questions are validated when the file is loaded (as for every command), so the
    file is reported broken, located at the question, and the other files still run."""
    path = tmp_path / "q.yaml"
    path.write_text(GOOD + "expected:\n  loss: 0.036164744\n"
                    "questions:\n  - {id: q, numeric: gradients.nope}\n", encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(GOOD, encoding="utf-8")
    result = run("verify", str(tmp_path))
    assert result.exit_code == 2 and f"{path}: BROKEN" in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bpcalc: error: {path}:7:") and "questions[0].numeric" in line
    files = json.loads(run("verify", str(tmp_path), "-f", "json").stdout)["files"]
    assert [bool(f["error"]) for f in files] == [False, True]


# ------------------------------------------------------------------ user text is data

TITLE = f"T {ESCAPES} {MARKUP} <script>alert(1)</script> # **b** _i_ | x"


@pytest.fixture
def titled(tmp_path) -> Path:
    path = tmp_path / "titled.yaml"
    path.write_text(f"title: {json.dumps(TITLE)}\n{GOOD}expected:\n  {json.dumps(MARKUP)}: 1\n"
                    f"  loss: 0.036164744\n", encoding="utf-8")
    return path


def test_title_in_solve_text_is_shown_literally(titled):
    result = run("solve", str(titled))
    assert result.exit_code == 0
    heading = " ".join(result.stdout.split("\n\n")[0].split())     # the title may wrap at 80 columns
    assert MARKUP in heading and "\\x1b[2J" in heading and "\\u202e" in heading


def test_title_in_a_terminal_is_shown_literally(titled):
    """Rich draws for a terminal here (colours, boxes): its own escapes are fine, the
    title's are not; markup is shown, never applied (no OSC 8 link)."""
    result = bpcalc("solve", str(titled), env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0 and not crashed(result)
    out = result.stdout
    assert "╭" in out and "\x1b[1m" in out           # drawn as for a terminal
    assert "\x1b[2J" not in out and "\x1b]0;" not in out and "\x1b]8;" not in out and "\x9b" not in out
    assert "[red]x" in out and "[/bold]" in out and "\\x1b[2J" in out


def test_title_in_solve_markdown_is_escaped(titled):
    out = run("solve", str(titled), "--format", "markdown").stdout
    heading = out.splitlines()[0]
    assert heading.startswith("## T ")
    assert "<script>" not in out and "&lt;script" in heading
    assert "**b**" not in heading and "\\*\\*b\\*\\*" in heading and "\\[red\\]" in heading
    assert heading.count("|") == heading.count("\\|")      # a title cannot open a table cell


def test_title_in_solve_json_is_a_json_string(titled):
    document = json.loads(run("solve", str(titled), "--format", "json").stdout)
    assert document["title"] == TITLE


def test_titles_and_keys_in_verify(titled):
    result = run("verify", str(titled))
    assert result.exit_code == 2                         # the markup key names nothing
    assert MARKUP in result.stdout and "\\x1b]0;pwned\\x07" in result.stdout
    [line] = result.stderr.splitlines()
    assert "expected.[/bold]" in line
    document = json.loads(run("verify", str(titled), "--format", "json").stdout)
    assert document["files"][0]["title"] == TITLE
    assert document["files"][0]["checks"][0]["path"] == MARKUP


@pytest.mark.parametrize("text", [MARKUP, ESCAPES, "[bold]", "<b>x</b>", "=HYPERLINK(\"x\")"])
def test_answers_and_ids_to_check_are_shown_not_run(text):
    for qid in ("dC_dw1", "dC_dwjk", "delta_l"):
        result = run("check", REFERENCE, "--answer", f"{qid}={text}")
        assert result.exit_code == 1
        for fmt in ("json",):
            graded = run("check", REFERENCE, "--answer", f"{qid}={text}", "--format", fmt)
            assert json.loads(graded.stdout)[0]["given"] == text.strip()
    bad_input(run("check", REFERENCE, "--answer", f"{text}=1"))


def test_names_with_markup_are_refused_in_one_line(tmp_path):
    path = tmp_path / "names.yaml"
    path.write_text(GOOD.replace("activation: sigmoid", f"activation: sigmoid, names: {{weights: {json.dumps(MARKUP + ESCAPES)}}}"),
                    encoding="utf-8")
    bad_input(run("solve", str(path)), "layers[1].names.weights: expected a name")


def test_formula_input_is_echoed_visibly():
    result = run("formula", "x\x1b[2J+1")
    bad_input(result, "unexpected control character (U+001B)")
    result = run("formula", "x+1", "x=2")
    assert result.exit_code == 0 and "input:     x+1\n" in result.stdout


# ------------------------------------------------------------------ linear cost

def test_tables_of_many_layers_are_linear(tmp_path):
    """50 s for 10,000 layers was Rich laying out ~230,000 cells; 3,000 layers must take
    well under the guard (the benchmark, benchmarks/scale_speed.py, measures ~11 µs a row)."""
    path = tmp_path / "deep.yaml"
    path.write_text("input: 0.5\ntarget: 0.5\nlearning_rate: 0.1\nlayers:\n"
                    + "  - {activation: tanh, weights: 0.9, bias: 0.01}\n" * 3000, encoding="utf-8")
    result = run("solve", str(path), guard=5)
    assert result.exit_code == 0 and "3000 (tanh)" in result.stdout
    too_wide = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert not too_wide


def test_verify_of_many_files_is_quick(tmp_path):
    # (not the files that train for 10,000 steps on the way: that is training's time, not verify's)
    shipped = sorted(path for path in (ROOT / "problems").glob("*.yaml") if "\ntrain:" not in path.read_text())
    for index in range(200):
        (tmp_path / f"p{index:03d}.yaml").write_bytes(shipped[index % len(shipped)].read_bytes())
    result = run("verify", str(tmp_path), guard=5)
    assert result.exit_code == 0 and "in 200 files: all correct." in result.stdout
    assert not [line for line in result.stdout.splitlines()
                if len(line) > 80 and not line.startswith(str(tmp_path))]


def test_solve_markdown_renders_the_title_as_typed(titled):
    """Rendered by a CommonMark parser (markdown-it-py, which Rich depends on): the
    heading is exactly the title's characters (escapes shown), with no HTML, link,
    emphasis or table cell made from it; and every table keeps its columns."""
    markdown_it = pytest.importorskip("markdown_it")
    from bpcalc.usertext import visible

    parser = markdown_it.MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(run("solve", str(titled), "--format", "markdown").stdout)
    kinds = {token.type for token in tokens} | {child.type for token in tokens for child in token.children or ()}
    assert not kinds & {"html_inline", "html_block", "link_open", "em_open", "strong_open", "image"}
    heading = next(tokens[i + 1] for i, token in enumerate(tokens) if token.type == "heading_open")
    assert "".join(child.content for child in heading.children) == visible(TITLE)
    assert [t.tag for t in tokens if t.type == "table_open"] == ["table"] * 3


@pytest.mark.parametrize("text, escaped", [
    ("Mazur's step-by-step example (2-2-2)", "Mazur's step-by-step example (2-2-2)"),
    ("- not a list", "\\- not a list"), ("1. not a list", "1\\. not a list"), ("+ x", "\\+ x"),
    ("a | b", "a \\| b"), ("# x #", "\\# x \\#"), ("<b>&", "&lt;b\\>&amp;"),
])
def test_markdown_escape_escapes_what_acts_and_nothing_else(text, escaped):
    from bpcalc.usertext import markdown_escape

    assert markdown_escape(text) == escaped
