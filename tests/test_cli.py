"""The ``bpcalc`` command line, end to end through ``click.testing.CliRunner``.

Every command runs from the repository root, so paths read as a student types
them (``problems/simple_network.yaml``). Expected numbers for the reference
homework are worked by hand here, never taken from bpcalc's own output.

Known bugs and poor messages are ``xfail(strict=True)`` tests (none open now);
fixed ones stay at the end as regression tests.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest
import yaml
from rich.cells import cell_len

from bpcalc.cli import main

from clitools import ANSI, PROBLEMS, REFERENCE, ROOT, bpcalc, crashed

pytestmark = pytest.mark.usefixtures("from_repo_root")


# ------------------------------------------------------------------ helpers

def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def hand_worked_reference() -> dict[str, float]:
    """The reference homework by hand: x = 3, t = 1, w1 = 0.01, w2 = −5, b = −1, η = 0.1."""
    x, t, w1, w2, b, rate = 3.0, 1.0, 0.01, -5.0, -1.0, 0.1
    z1 = w1 * x
    a1 = max(z1, 0.0)                   # ReLU, and ReLU'(0.03) = 1
    y = sigmoid(w2 * a1 + b)
    delta2 = (y - t) * y * (1 - y)      # half squared error through σ' = y(1 − y)
    delta1 = w2 * delta2 * 1.0
    grads = {"w1": delta1 * x, "w2": delta2 * a1, "b": delta2}
    return {**{f"grad_{k}": v for k, v in grads.items()},
            "loss": 0.5 * (y - t) ** 2,
            "new_w1": w1 - rate * grads["w1"], "new_w2": w2 - rate * grads["w2"],
            "new_b": b - rate * grads["b"]}


HAND = hand_worked_reference()


def test_hand_values_match_the_course():
    # The hand computation above against the values stated in the brief / problem file.
    assert HAND["grad_w1"] == pytest.approx(2.0809166, rel=1e-7)
    assert HAND["grad_w2"] == pytest.approx(-0.0041618331, rel=1e-7)
    assert HAND["grad_b"] == pytest.approx(-0.13872777, rel=1e-7)


# ------------------------------------------------------------------ solve

def test_solve_json_gives_the_hand_worked_gradients():
    result = bpcalc("solve", REFERENCE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert set(document["gradients"]) == {"w1", "w2", "b"}
    for name in ("w1", "w2", "b"):
        assert document["gradients"][name] == pytest.approx(HAND[f"grad_{name}"], rel=1e-12)
        assert document["updated"][name] == pytest.approx(HAND[f"new_{name}"], rel=1e-12)
    assert document["loss"] == pytest.approx(HAND["loss"], rel=1e-12)
    assert document["title"] == "Simple network"
    assert document["learning_rate"] == 0.1
    assert [layer["activation"] for layer in document["layers"]] == ["relu", "sigmoid"]
    assert document["layers"][0]["dC_db"] is None          # the hidden neuron has no bias
    assert document["layers"][1]["dC_dw"] == [[pytest.approx(HAND["grad_w2"], rel=1e-12)]]


def test_solve_text_shows_every_table():
    result = bpcalc("solve", REFERENCE)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith("Simple network\n")
    for title in ("Forward pass", "Error terms", "Gradients", "SGD update"):
        assert title in out
    # 6 significant digits by default: 2.08092, -0.00416183, -0.138728
    for shown in ("2.08092", "-0.00416183", "-0.138728", "0.288428", "-0.198092", "-4.99958", "-0.986127"):
        assert shown in out
    assert re.search(r"^\s*w1\s.*\b2\.08092\b", out, re.MULTILINE)
    assert re.search(r"^\s*b\s.*-0\.138728\b", out, re.MULTILINE)


def test_solve_markdown():
    result = bpcalc("solve", REFERENCE, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith("## Simple network\n")
    assert out.count("### ") == 4
    assert "| w1 | w¹₁₁ | 0.01 | 2.08092 |" in out
    assert "| w2 | w²₁₁ | -5 | -0.00416183 |" in out
    assert "| b | b²₁ | -1 | -0.138728 |" in out
    # every table row has as many cells as its header
    for block in out.split("### ")[1:]:
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert len({line.count("|") for line in rows}) == 1, block
    assert not ANSI.search(out)


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_precision_changes_the_digits_shown(fmt):
    def gradient_w1(*extra: str) -> str:
        result = bpcalc("solve", REFERENCE, "--format", fmt, *extra)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    assert "2.08092" in gradient_w1()
    low = gradient_w1("--precision", "3")
    assert re.search(r"\b2\.08\b", low) and "2.081" not in low and "2.08092" not in low
    assert "-0.00416" in low and "-0.004161" not in low
    high = gradient_w1("-p", "10")
    assert "2.080916562" in high and "-0.004161833124" in high


def test_precision_does_not_touch_json():
    full = bpcalc("solve", REFERENCE, "--format", "json")
    for digits in ("1", "3", "17"):
        result = bpcalc("solve", REFERENCE, "--format", "json", "--precision", digits)
        assert result.exit_code == 0
        assert result.stdout == full.stdout
    assert json.loads(full.stdout)["gradients"]["w1"] == pytest.approx(HAND["grad_w1"], rel=1e-15)


@pytest.mark.parametrize("digits", ["0", "18", "x"])
def test_precision_out_of_range_is_a_usage_error(digits):
    result = bpcalc("solve", REFERENCE, "--precision", digits)
    assert result.exit_code == 2
    assert "--precision" in result.stderr and result.stdout == ""


def test_text_output_has_no_ansi_escapes_when_not_a_terminal():
    for args in (("solve", REFERENCE), ("verify", "problems/")):
        result = bpcalc(*args)
        assert result.exit_code in (0, 1), result.stderr
        assert not ANSI.search(result.stdout), args
        assert not ANSI.search(result.stderr), args


def test_no_color_is_honoured():
    plain = bpcalc("solve", REFERENCE)
    result = bpcalc("solve", REFERENCE, env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert not ANSI.search(result.stdout)
    assert result.stdout == plain.stdout
    # Forced to draw for a terminal, NO_COLOR still keeps colours out (bold is allowed).
    forced = bpcalc("solve", REFERENCE, env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert forced.exit_code == 0, forced.stderr
    assert "2.08092" in forced.stdout
    assert not re.search(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)", forced.stdout)


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_solve_tables_fit_80_columns(problem):
    # CliRunner's stdout is not a terminal, so Rich draws for 80 columns.
    result = bpcalc("solve", f"problems/{problem.name}")
    assert result.exit_code == 0, result.stderr
    too_wide = [line for line in result.stdout.splitlines() if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in result.stdout            # nothing truncated to fit


def test_verify_tables_fit_80_columns():
    # Only the tables: a file's heading line holds its path and title, unwrapped on purpose.
    result = bpcalc("verify", "problems/")
    headings = [line for line in result.stdout.splitlines() if line.startswith("problems/")]
    assert len(headings) == len(PROBLEMS)
    too_wide = [line for line in result.stdout.splitlines()
                if cell_len(line) > 80 and line not in headings]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_solve_every_shipped_problem_in_every_format(problem):
    for fmt in ("text", "json", "markdown"):
        result = bpcalc("solve", f"problems/{problem.name}", "-f", fmt)
        assert result.exit_code == 0, (fmt, result.stderr)
        assert result.stderr == ""
        assert "Traceback" not in result.stdout
    document = json.loads(bpcalc("solve", f"problems/{problem.name}", "-f", "json").stdout)
    gradients = [g for v in document["gradients"].values() for g in (v if isinstance(v, list) else [v])]
    assert all(math.isfinite(v) for v in gradients)      # per-example inputs of a graph: lists


# ------------------------------------------------------------------ verify

def test_verify_shipped_problems():
    result = bpcalc("verify", "problems/")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stderr == ""
    for problem in PROBLEMS:
        assert f"problems/{problem.name}" in result.stdout
    assert re.search(rf"in {len(PROBLEMS)} files: all correct\.", result.stdout)
    assert "FAIL" not in result.stdout and "BROKEN" not in result.stdout


def test_verify_shipped_problems_json():
    result = bpcalc("verify", "problems/", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["passed"] is True
    assert sorted(pathlib.Path(f["file"]).name for f in document["files"]) == [p.name for p in PROBLEMS]
    assert all(f["error"] is None and f["checks"] for f in document["files"])


def shipped_reference_keys_only() -> str:
    """problems/simple_network.yaml with only its answer key (``expected:``): its other
    checked parts (``questions:``) are left out, so these tests fail for a key only."""
    document = yaml.safe_load((ROOT / REFERENCE).read_text(encoding="utf-8"))
    document.pop("questions", None)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _copy_with(folder: pathlib.Path, name: str, old: str, new: str) -> pathlib.Path:
    text = shipped_reference_keys_only()
    assert text.count(old) == 1, old
    path = folder / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_shipped_reference_key_copy_passes(tmp_path):
    copy = _copy_with(tmp_path, "copy.yaml", "gradients.w2: -0.0041618331", "gradients.w2: -0.0041618331")
    result = bpcalc("verify", str(copy))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert re.search(r"13 answers in 1 files?: all correct\.", result.stdout)


def test_verify_altered_key_exits_1_and_names_the_answer(tmp_path, monkeypatch):
    # The course's own rounding (-0.004) must still pass; a wrong digit must not.
    monkeypatch.chdir(tmp_path)
    altered = _copy_with(pathlib.Path("."), "altered.yaml", "gradients.w2: -0.0041618331", "gradients.w2: -0.0041")
    result = bpcalc("verify", str(altered))
    assert result.exit_code == 1, result.stdout
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    failing = [i for i, line in enumerate(lines) if "FAIL" in line and "gradients.w2" in line]
    assert failing, result.stdout
    row = " ".join(lines[failing[0]:failing[0] + 2])   # the Result cell may wrap onto a second line
    assert "-0.00416183" in row                        # the solver's value is shown next to the key
    assert f"{altered} (Simple network): FAIL" in result.stdout
    assert re.search(r"13 answers in 1 files?: 1 wrong\.", result.stdout)
    # the other answers are still checked and pass
    assert re.search(r"^\s*gradients\.w1\s.*\bok\b", result.stdout, re.MULTILINE)

    document = json.loads(bpcalc("verify", str(altered), "-f", "json").stdout)
    assert document["passed"] is False
    [file] = document["files"]
    failed = [check["path"] for check in file["checks"] if not check["passed"]]
    assert failed == ["gradients.w2"]


def test_verify_accepts_the_course_rounding(tmp_path):
    rounded = _copy_with(tmp_path, "rounded.yaml", "gradients.w2: -0.0041618331", "gradients.w2: -0.004")
    assert bpcalc("verify", str(rounded)).exit_code == 0


def test_verify_broken_file_among_good_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # short relative paths: Rich wraps long headings at 80 columns
    folder = pathlib.Path("set")
    folder.mkdir()
    (folder / "a_good.yaml").write_text(shipped_reference_keys_only(), encoding="utf-8")
    (folder / "b_broken.yaml").write_text("title: x\ninput: [1, 2\ntarget: 1\n", encoding="utf-8")
    shutil.copy(ROOT / "problems/tanh_2_3_1.yaml", folder / "c_good.yaml")
    result = bpcalc("verify", str(folder))
    assert result.exit_code == 2
    assert not crashed(result)
    out = result.stdout
    # both good files are checked and reported, including the one after the broken file
    assert f"{folder / 'a_good.yaml'} (Simple network): ok" in out
    assert f"{folder / 'c_good.yaml'} (Tanh hidden layer (2-3-1 regression)): ok" in out
    assert out.index("a_good.yaml") < out.index("b_broken.yaml") < out.index("c_good.yaml")
    assert f"{folder / 'b_broken.yaml'}: BROKEN" in out
    assert re.search(r"\d+ answers in 3 files?: 1 files? broken\.", out)
    # and the broken one gets its one error line on stderr, naming file:line:column
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"bpcalc: error: {folder / 'b_broken.yaml'}:3:7: not valid YAML: ")


def test_verify_empty_directory_exits_2(tmp_path):
    result = bpcalc("verify", str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("bpcalc: error: ") and str(tmp_path) in result.stderr
    assert result.stderr.count("\n") == 1


def test_verify_needs_a_path():
    result = bpcalc("verify")
    assert result.exit_code == 2 and "Missing argument" in result.stderr


# ------------------------------------------------------------------ version, help, python -m

def test_version():
    result = bpcalc("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"bpcalc, version \d+\.\d+\.\d+\S*\n", result.stdout)
    assert result.stdout.split()[-1] == version("bpcalc")
    assert bpcalc("-V").stdout == result.stdout


@pytest.mark.parametrize("command", sorted(main.commands))
def test_command_help_has_examples(command):
    for flag in ("--help", "-h"):
        result = bpcalc(command, flag)
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert f"bpcalc {command} " in result.stdout


def test_group_help_has_examples():
    result = bpcalc("--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "bpcalc solve problems/simple_network.yaml" in result.stdout
    for command in main.commands:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command


def test_group_help_fits_80_columns():
    result = bpcalc("--help", env={"COLUMNS": "80"})
    too_wide = [line for line in result.stdout.splitlines() if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)


def test_python_dash_m_version():
    completed = subprocess.run([sys.executable, "-m", "bpcalc", "--version"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"bpcalc, version {version('bpcalc')}\n"
    assert completed.stderr == ""


# ------------------------------------------------------------------ bad input

# The reference homework, written out here so that the line numbers in the messages
# below do not move when problems/simple_network.yaml is edited.
REFERENCE_TEXT = """\
# The reference homework: one ReLU neuron feeding one sigmoid neuron.
title: Simple network
description: |
  A chain of two neurons: z1 = w1·x, a1 = ReLU(z1), z2 = w2·a1 + b, y = σ(z2),
  C = ½(y − t)². Find ∂C/∂w1, ∂C/∂w2 and ∂C/∂b, then take one SGD step with
  η = 0.1.

input: 3
target: 1
loss: half_squared_error
learning_rate: 0.1
layers:
  - activation: relu
    weights: 0.01
    names: {weights: w1}
  - activation: sigmoid
    weights: -5
    bias: -1
    names: {weights: w2, bias: b}
expected:
  gradients.w1: 2.0809166
  gradients.w2: -0.0041618331
  gradients.b: -0.13872777
"""


def test_in_test_reference_is_the_homework(tmp_path):
    path = tmp_path / "reference.yaml"
    path.write_text(REFERENCE_TEXT, encoding="utf-8")
    assert bpcalc("verify", str(path)).exit_code == 0
    gradients = json.loads(bpcalc("solve", str(path), "-f", "json").stdout)["gradients"]
    assert gradients == pytest.approx({name: HAND[f"grad_{name}"] for name in ("w1", "w2", "b")}, rel=1e-12)


def _variant(old: str, new: str) -> str:
    assert REFERENCE_TEXT.count(old) == 1, old
    return REFERENCE_TEXT.replace(old, new)


# name -> (file text or None for a missing file, a regex the message must match)
BAD_INPUTS = {
    "missing_file": (None, r": no such file$"),
    "yaml_syntax": ("title: x\ninput: [1, 2\ntarget: 1\n", r"\.yaml:3:7: not valid YAML: "),
    "yaml_tab": ("input: 1\n\ttarget: 1\n", r"\.yaml:2:1: not valid YAML: "),
    "unknown_activation": (_variant("activation: relu", "activation: rleu"),
                           r"\.yaml:13:\d+: layers\[1\]\.activation: unknown activation 'rleu' "
                           r"\(did you mean 'relu'\?\)"),
    "shape_mismatch": (_variant("weights: -5", "weights: [[-5, 2]]"),
                       r"\.yaml:\d+:\d+: layers\[2\]\.weights: expected 1 column .* got a 1×2 matrix"),
    "ragged_rows": ("input: [1, 2]\ntarget: 1\nlayers:\n  - weights: [[1, 2], [3]]\n    activation: identity\n",
                    r"layers\[1\]\.weights\[1\]: expected 2 numbers like the first row, got 1"),
    "target_size": (_variant("target: 1", "target: [1, 0]"),
                    r"target: expected 1 target value .*, got 2"),
    "empty_examples": ("examples: []\nlayers:\n  - weights: 1\n    activation: identity\n",
                       r"\.yaml:1:\d+: examples: expected at least one example, got an empty list"),
    "unknown_top_key": (_variant("learning_rate: 0.1", "learnig_rate: 0.1"),
                        r"\.yaml:11:\d+: learnig_rate: unknown key 'learnig_rate' "
                        r"\(did you mean 'learning_rate'\?\)"),
    "unknown_layer_key": (_variant("activation: sigmoid", "activaton: sigmoid"),
                          r"layers\[2\]\.activaton: unknown key 'activaton' \(did you mean 'activation'\?\)"),
    "nan_input": (_variant("input: 3", "input: .nan"), r"\.yaml:8:\d+: input: expected a finite number"),
    "inf_weight": (_variant("weights: 0.01", "weights: .inf"),
                   r"layers\[1\]\.weights: expected a finite number"),
    "overflowing_literal": (_variant("bias: -1", "bias: 1e999"),
                            r"layers\[2\]\.bias: expected a finite number"),
    "not_a_number": (_variant("input: 3", "input: three"), r"input: expected a number, got 'three'"),
    "yes_no": (_variant("input: 3", "input: yes"), r"input: expected a number, got 'yes'"),   # YAML 1.2: yes is text
    "empty_file": ("", r": the file is empty"),
    "top_level_list": ("- 1\n- 2\n", r"expected a problem \(a mapping"),
    "duplicate_key": ("input: 1\ninput: 2\ntarget: 1\nlayers: [{weights: 1}]\n", r":2:1: (input: )?duplicate key 'input'"),
    "missing_layers": ("input: 1\ntarget: 1\n", r"missing key 'layers'"),
    "negative_learning_rate": (_variant("learning_rate: 0.1", "learning_rate: -0.1"),
                               r"learning_rate: expected a positive number"),
    "softmax_hidden": ("input: 1\ntarget: 1\nlayers: [{weights: [1, 2], activation: softmax}, "
                       "{weights: [[1, 1]]}]\n", r"softmax is only supported on the last"),
    "loss_domain": ("input: 1\ntarget: [1, 0]\nloss: cross_entropy\n"
                    "layers: [{weights: [5, 1], activation: relu}]\n",
                    r"loss cross_entropy needs outputs between 0 and 1"),
    "overflow": ("input: 1\ntarget: 1\nlayers:\n  - weights: 1e300\n    activation: identity\n  - weights: 1e300\n    activation: identity\n",
                 r"infinite|overflows"),
    "not_utf8": (b"\xff\xfe\x00input", r"is not UTF-8 text"),
}


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_on_stderr(tmp_path, case, fmt):
    content, pattern = BAD_INPUTS[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    result = bpcalc("solve", str(path), "--format", fmt)
    assert not crashed(result), repr(result.exception)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert result.stderr.endswith("\n")
    assert lines[0].startswith("bpcalc: error: ")
    assert str(path) in lines[0]
    assert re.search(pattern, lines[0]), lines[0]


def test_solve_a_directory_is_bad_input(tmp_path):
    result = bpcalc("solve", str(tmp_path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"bpcalc: error: {tmp_path}: is a directory, expected a YAML problem file\n"


def test_bad_input_in_verify_is_reported_per_file(tmp_path, monkeypatch):
    # the same broken files through `verify`: a BROKEN entry, the error on stderr, exit 2
    monkeypatch.chdir(tmp_path)
    for case in ("unknown_activation", "shape_mismatch", "unknown_top_key", "nan_input", "empty_examples"):
        content, pattern = BAD_INPUTS[case]
        path = pathlib.Path(f"{case}.yaml")
        path.write_text(content, encoding="utf-8")
        result = bpcalc("verify", str(path))
        assert not crashed(result), repr(result.exception)
        assert result.exit_code == 2, case
        assert f"{path}: BROKEN" in result.stdout
        [line] = result.stderr.splitlines()
        assert line.startswith(f"bpcalc: error: {path}") and re.search(pattern, line), line


def test_unknown_format_is_a_usage_error():
    result = bpcalc("solve", REFERENCE, "--format", "xml")
    assert result.exit_code == 2 and result.stdout == ""
    assert "'xml' is not one of" in result.stderr


# ------------------------------------------------------------------ README

def _readme_commands() -> list[str]:
    readme = ROOT / "README.md"
    if not readme.exists():
        return []
    commands, fence = [], None
    for line in readme.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = None if fence else stripped[:3]
            continue
        if fence:
            stripped = stripped.removeprefix("$ ")
            if stripped.startswith("bpcalc "):
                commands.append(stripped)
    return commands


README_COMMANDS = _readme_commands()


def _argv(command: str) -> list[str]:
    """The arguments of a README command line, up to a redirect, pipe or &&."""
    words = shlex.split(command, comments=True)[1:]
    for index, word in enumerate(words):
        if word in ("|", "||", "&&", ";", ">", ">>", "<", "2>") or word.startswith((">", "|")):
            return words[:index]
    return words


@pytest.mark.parametrize(
    "command",
    README_COMMANDS or [pytest.param("", marks=pytest.mark.skip(reason="README.md is absent or shows no "
                                                                  "`bpcalc ...` command lines"))])
def test_readme_commands_run(command, tmp_path, monkeypatch):
    # In a copy of the shipped folders, so commands that write (grade --output) leave the repo clean.
    for folder in ("problems", "examples"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    result = bpcalc(*_argv(command))
    assert not crashed(result), repr(result.exception)
    assert result.exit_code in (0, 1), f"{command!r} exited {result.exit_code}: {result.stderr}"


# ------------------------------------------------------------------ regressions
# Each of these was a bug or a poor message when the test was written (first as an
# xfail(strict=True)); the input and the old output are in the comment.

def test_bias_count_message_spelling(tmp_path):
    # was: "layers[2].bias: expected 2 biass (one per neuron of this layer), got 1"
    path = tmp_path / "biases.yaml"
    path.write_text(_variant("weights: -5", "weights: [-5, 2]"), encoding="utf-8")
    result = bpcalc("solve", str(path))
    assert result.exit_code == 2
    assert "layers[2].bias: expected 2 biases (one per neuron of this layer), got 1" in result.stderr


def test_verify_summary_singular(tmp_path):
    # was: "13 answers in 1 files: 1 wrong." and "1 files broken"
    one = tmp_path / "one.yaml"
    one.write_text(shipped_reference_keys_only(), encoding="utf-8")
    assert "13 answers in 1 file: all correct." in bpcalc("verify", str(one)).stdout
    (tmp_path / "two.yaml").write_text("input: [1\n", encoding="utf-8")
    assert "in 2 files: 1 file broken." in bpcalc("verify", str(tmp_path)).stdout


def test_verify_does_not_split_long_paths(tmp_path):
    # was: the heading soft-wrapped at 80 columns: ".../unknown_activation." / "yaml: BROKEN"
    deep = tmp_path / "a_rather_long_folder_name_for_the_course" / "week_05_backpropagation"
    deep.mkdir(parents=True)
    path = deep / "homework_question_3.yaml"
    path.write_text(_variant("activation: relu", "activation: rleu"), encoding="utf-8")
    result = bpcalc("verify", str(path))
    assert f"{path}: BROKEN" in result.stdout


def test_unknown_key_points_at_the_key(tmp_path):
    # was: "key.yaml:11:15: learnig_rate: unknown key ..." (the column of the value)
    path = tmp_path / "key.yaml"
    path.write_text(_variant("learning_rate: 0.1", "learnig_rate: 0.1"), encoding="utf-8")
    assert f"{path}:11:1: learnig_rate: unknown key" in bpcalc("solve", str(path)).stderr


# was: solve said "bpcalc: error: the input is nested too deeply to read" (no file name);
# verify died with a RecursionError traceback and exit code 1.
NESTING_BOMBS = {
    "recursive_alias": "a: &a [*a]\n",
    "deep_nesting": "input: " + "[" * 2000 + "]" * 2000 + "\n",
}
# was: a traceback and exit code 1 from yaml.ConstructorError (unknown tag) and
# OverflowError (a 401-digit integer), in solve and verify alike.
CRASHING_INPUTS = {
    "unknown_tag": "input: !foo 1\ntarget: 1\nlayers: [{weights: 1}]\n",
    "python_tag": "input: !!python/object:os.system 1\ntarget: 1\nlayers: [{weights: 1}]\n",
    "huge_integer": "input: 1" + "0" * 400 + "\ntarget: 1\nlayers: [{weights: 1}]\n",
}


@pytest.mark.parametrize("case", [*NESTING_BOMBS, *CRASHING_INPUTS])
def test_hostile_yaml_is_bad_input(tmp_path, case):
    path = tmp_path / f"{case}.yaml"
    path.write_text({**NESTING_BOMBS, **CRASHING_INPUTS}[case], encoding="utf-8")
    result = bpcalc("solve", str(path))
    assert not crashed(result), repr(result.exception)
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bpcalc: error: {path}")
    # verify: the file is BROKEN, the others are still checked, exit 2
    good = tmp_path / "good.yaml"
    good.write_text(REFERENCE_TEXT, encoding="utf-8")
    result = bpcalc("verify", str(path), str(good))
    assert not crashed(result), repr(result.exception)
    assert result.exit_code == 2
    assert f"{path}: BROKEN" in result.stdout and f"{good} (Simple network): ok" in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bpcalc: error: {path}")


BASE = "input: 1\ntarget: 1\nlayers: [{weights: 1, activation: identity}]\nexpected:\n"
# key text -> what the Result column must say. Each used to crash the text renderer
# (a mapping, a ragged list: traceback) or to say "FAIL: the solver gives 0" /
# "the solver gives np.float64(nan)", which blames the solver for a bad key.
ODD_KEYS = {
    "mapping": ("  loss: {a: 1}\n", "not a number"),
    "ragged": ("  layers[1].z: [[1], [1, 2]]\n", "not a number"),
    "text": ("  gradients.w1_11: abc\n", "not a number"),
    "empty": ("  loss:\n", "empty"),
    "missing_bias": ("  layers[1].dC_db: 1\n", "no value there"),
}


@pytest.mark.parametrize("case", list(ODD_KEYS))
def test_verify_odd_keys(tmp_path, case):
    key, said = ODD_KEYS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(BASE + key, encoding="utf-8")
    result = bpcalc("verify", str(path))
    assert not crashed(result), repr(result.exception)
    assert result.exit_code in (1, 2)
    assert "FAIL" in result.stdout or "BROKEN" in result.stdout
    assert said in result.stdout
    assert "the solver gives" not in result.stdout
    assert "nan" not in result.stdout and "np." not in result.stdout
    document = json.loads(bpcalc("verify", str(path), "-f", "json").stdout)
    assert document["passed"] is False


def test_verify_json_message_has_no_numpy_repr(tmp_path):
    # was: "message": "the solver gives np.float64(-0.004161833124340909)"
    altered = _copy_with(tmp_path, "altered.yaml", "gradients.w2: -0.0041618331", "gradients.w2: -0.0041")
    document = json.loads(bpcalc("verify", str(altered), "-f", "json").stdout)
    [message] = [c["message"] for c in document["files"][0]["checks"] if not c["passed"]]
    assert "np." not in message and "-0.00416183" in message


def test_verify_fail_message_honours_precision(tmp_path):
    altered = _copy_with(tmp_path, "altered.yaml", "gradients.w2: -0.0041618331", "gradients.w2: -0.0041")
    result = bpcalc("verify", str(altered), "--precision", "3")
    assert result.exit_code == 1
    [row] = [line for line in result.stdout.splitlines() if "gradients.w2" in line]
    assert "-0.00416" in row and "-0.004161833" not in row
