"""``bpcalc explain`` end to end: every format on every shipped problem, valid Markdown and
LaTeX (compiled with pdflatex/lualatex when one is installed), ``--step`` that never waits
without a terminal and pages with one (driven through tmux), and one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from rich.cells import cell_len

from bpcalc.problem import load
from clitools import ANSI, PROBLEMS, REFERENCE, ROOT, bpcalc, is_graph

IDS = [p.name for p in PROBLEMS]
FORMATS = ("text", "markdown", "latex", "json")
VARIANTS = ((), ("--no-scalars",), ("--scalars",), ("--concepts",))

pytestmark = pytest.mark.usefixtures("from_repo_root")


def variants_of(problem) -> tuple[tuple[str, ...], ...]:
    """The option sets worth trying on a problem file (a graph has no --concepts)."""
    return VARIANTS if not is_graph(problem) else ((), ("--param", load(problem).leaves[0]))


def ok(*args: str, input: str | None = None) -> str:
    result = bpcalc(*args, input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


# ------------------------------------------------------------------ every format, every problem

@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_of_every_problem(problem, fmt):
    for variant in variants_of(problem):
        out = ok("explain", f"problems/{problem.name}", "--format", fmt, *variant)
        assert out.strip()
        if fmt == "json":
            document = json.loads(out)
            assert [s["number"] for s in document["steps"]] == list(range(1, len(document["steps"]) + 1))


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_param_of_every_parameter(problem):
    names = list(json.loads(ok("solve", f"problems/{problem.name}", "--format", "json"))["gradients"])
    cost = load(problem).output if is_graph(problem) else "C"
    for name in names:
        out = ok("explain", f"problems/{problem.name}", "--param", name)
        assert f"∂{cost}/∂{name}" in out


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_text_fits_80_columns_numbers_every_step_and_has_no_ansi(problem):
    for variant in VARIANTS[1:] if not is_graph(problem) else (("--param", load(problem).leaves[-1]),):
        out = ok("explain", f"problems/{problem.name}", *variant)
        assert not [line for line in out.splitlines() if cell_len(line) > 80 or line != line.rstrip()]
    out = ok("explain", f"problems/{problem.name}")
    too_wide = [line for line in out.splitlines() if cell_len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    assert not [line for line in out.splitlines() if line != line.rstrip()], "trailing spaces"
    assert not ANSI.search(out)
    numbers = [int(n) for n, total in re.findall(r"^Step (\d+)/(\d+) ", out, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers
    assert f"Step {numbers[-1]}/{numbers[-1]} " in out


def test_reference_param_w2_as_a_student_sees_it():
    out = ok("explain", REFERENCE, "--param", "w2")
    assert "∂C/∂w2 = ∂C/∂y·∂y/∂z2·∂z2/∂w2" in out
    assert "= (y − t)·σ′(z2)·a1" in out
    assert "= (0.2405 − 1)·0.18265·0.03" in out      # σ′ needs a 5th digit to redo to −0.004162
    assert "≈ −0.004162" in out
    assert "y = σ(z2) = σ(−1.15) ≈ 0.2405" in out
    assert "σ′(z2) = y·(1 − y) = 0.2405·(1 − 0.2405) ≈ 0.1827" in out
    assert "Step 8/8 " in out
    assert "∂C/∂w1" not in out and "δ₁" not in out          # only the chain ∂C/∂w2 needs


def test_precision_option():
    assert "0.2405" in ok("explain", REFERENCE) and "0.240489" not in ok("explain", REFERENCE)
    six = ok("explain", REFERENCE, "--precision", "6")
    assert "σ(−1.15) ≈ 0.240489" in six
    assert re.search(r"--precision.*\[default:\s+4\b", ok("explain", "--help"), re.DOTALL)


def test_json_has_forms_values_and_warnings():
    document = json.loads(ok("explain", REFERENCE, "--format", "json", "--param", "w2"))
    assert document["param"] == "w2" and document["digits"] == 4
    chain = document["steps"][6]
    assert chain["chain"]["unicode"] == "∂C/∂y·∂y/∂z2·∂z2/∂w2"
    assert chain["substituted"]["unicode"] == "(0.2405 − 1)·0.18265·0.03"
    assert chain["substituted"]["tree"]["type"] == "Mul"
    assert chain["value"] == pytest.approx(-0.0041618331, rel=1e-7)
    assert document["warnings"] == []


# ------------------------------------------------------------------ Markdown

def markdown_problems(text: str) -> list[str]:
    """Why this Markdown would not render as math on GitHub or in Jupyter (empty if fine)."""
    problems = []
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line.strip() == "$$"]
    if len(fences) % 2:
        problems.append("unbalanced $$ display fences")
    inside = set()
    for start, end in zip(fences[::2], fences[1::2]):
        inside.update(range(start, end + 1))
        body = lines[start + 1:end]
        if not body:
            problems.append(f"empty display math at line {start + 1}")
        for line in body:
            if "$" in line.replace(r"\$", ""):
                problems.append(f"a $ inside display math: {line}")
            if "\\\\" in line.rstrip()[:-2]:
                problems.append(f"\\\\ in the middle of a line (GitHub drops it): {line}")
            if not line.strip():
                problems.append("a blank line inside display math ends it in Markdown")
    for number, line in enumerate(lines):
        if number in inside:
            continue
        if "$$" in line:
            problems.append(f"$$ not on its own line: {line}")
        dollars = len(re.findall(r"(?<!\\)\$", line))
        if dollars % 2:
            problems.append(f"unbalanced inline $ on line {number + 1}: {line}")
        for math in re.findall(r"(?<!\\)\$(.+?)(?<!\\)\$", line):
            if math != math.strip():
                problems.append(f"inline math must not start or end with a space: ${math}$")
    if r"\," in text:
        problems.append(r"\, (Markdown reads it as an escaped comma)")
    return problems


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_markdown_math_delimiters_balance(problem):
    for variant in variants_of(problem):
        out = ok("explain", f"problems/{problem.name}", "--format", "markdown", *variant)
        assert not markdown_problems(out), markdown_problems(out)[:5]
        assert out.startswith("## ") and "**Step 1/" in out
        assert not ANSI.search(out)


def test_markdown_checker_catches_broken_math():
    assert markdown_problems("$$\na \\\\ b\n$$\n")
    assert markdown_problems("text $a$ and $b\n")
    assert markdown_problems("$$\n\\,x\n$$\n")
    assert not markdown_problems("$$\na \\\\\nb\n$$\n\nand $x$ here\n")


# ------------------------------------------------------------------ LaTeX

KNOWN_COMMANDS = {
    "documentclass", "usepackage", "begin", "end", "section", "subsection", "noindent", "textbf",
    "small", "frac", "tfrac", "left", "right", "cdot", "approx", "leftarrow", "partial", "sigma",
    "delta", "eta", "alpha", "odot", "mathrm", "mathsf", "operatorname", "exp", "ln", "tanh", "sum",
    "text", "hline", "times", "le", "ge", "ne", "Sigma", "to", "dots", "textbackslash", "infty",
    "max", "min", "erf", "erfc", "sqrt", "lambda", "pi", "sgn",
}
KNOWN_ENVIRONMENTS = {"document", "align*", "bmatrix", "center", "tabular"}


def latex_problems(text: str) -> list[str]:
    """A parser check: ASCII, balanced braces, matched environments, known commands only,
    balanced $ in text mode."""
    problems = []
    if any(ord(c) > 127 for c in text):
        problems.append("non-ASCII characters: " + "".join(sorted({c for c in text if ord(c) > 127})))
    body = "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in text.splitlines())
    depth = 0
    for char, before in zip(body, " " + body):
        if before == "\\":
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            problems.append("a } closes nothing")
            depth = 0
    if depth:
        problems.append(f"{depth} unclosed {{")
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if name not in KNOWN_ENVIRONMENTS:
            problems.append(f"unknown environment {name}")
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            problems.append(f"\\end{{{name}}} does not match")
    if stack:
        problems.append(f"unclosed environments {stack}")
    for command in set(re.findall(r"\\([A-Za-z]+)", body)):
        if command not in KNOWN_COMMANDS:
            problems.append(f"unknown command \\{command}")
    outside = re.sub(r"\\begin\{align\*\}.*?\\end\{align\*\}", "", body, flags=re.DOTALL)
    for paragraph in outside.split("\n\n"):
        if len(re.findall(r"(?<!\\)\$", paragraph)) % 2:
            problems.append(f"unbalanced $ in: {paragraph[:80]}")
    return problems


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_latex_passes_the_parser_check(problem):
    for variant in variants_of(problem):
        body = ok("explain", f"problems/{problem.name}", "--format", "latex", *variant)
        assert not latex_problems(body), latex_problems(body)[:5]
        assert "\\documentclass" not in body and body.count("\\begin{align*}") >= 1
        whole = ok("explain", f"problems/{problem.name}", "--format", "latex", "--standalone", *variant)
        assert whole.startswith("\\documentclass") and whole.rstrip().endswith("\\end{document}")
        assert not latex_problems(whole)


def test_latex_checker_catches_broken_latex():
    assert latex_problems("\\begin{align*} x \\end{aligned}")
    assert latex_problems("\\frac{1}{2")
    assert latex_problems("\\foo{x}")
    assert latex_problems("σ")
    assert not latex_problems("\\begin{align*}\n\\frac{1}{2} &= x\n\\end{align*}\n")


TEX = shutil.which("pdflatex") or shutil.which("lualatex")


@pytest.mark.skipif(TEX is None, reason="no pdflatex or lualatex on PATH")
@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_latex_compiles(problem, tmp_path):
    """The standalone document, and the body pasted into a document with only amsmath."""
    source = f"problems/{problem.name}"
    variants = ((), ("--param", load(source).leaves[0])) if is_graph(source) else \
        ((), ("--no-scalars",), ("--concepts",), ("--param", _first_parameter(source)))
    parts = [ok("explain", source, "--format", "latex", *variant) for variant in variants]
    pasted = ("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
              + "\n".join(parts) + "\\end{document}\n")
    standalone = ok("explain", source, "--format", "latex", "--standalone")
    for name, text in (("pasted", pasted), ("standalone", standalone)):
        (tmp_path / f"{name}.tex").write_text(text)
        run = subprocess.run([TEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL)
        log = (tmp_path / f"{name}.log").read_text(errors="replace")
        assert run.returncode == 0, "\n".join(line for line in log.splitlines() if line.startswith("!"))[:2000]
        assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def _first_parameter(source: str) -> str:
    return next(iter(json.loads(ok("solve", source, "--format", "json"))["gradients"]))


# ------------------------------------------------------------------ --step

def test_step_without_a_terminal_prints_everything_and_never_waits():
    plain = ok("explain", REFERENCE)
    for stdin in (None, "", "q\n", "\n\n\n"):
        out = ok("explain", REFERENCE, "--step", input=stdin)
        assert out == plain
        assert "Step 1/16 " in out and "Step 16/16 " in out and "Enter: next" not in out


def test_step_in_a_pipe_returns_at_once():
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "bpcalc", "explain", REFERENCE, "--step"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, input="")
    assert run.returncode == 0, run.stderr
    assert "Step 16/16 " in run.stdout
    assert time.monotonic() - started < 30


def test_pager_walks_forward_and_back_with_keys():
    from rich.console import Console

    from bpcalc.derivation import derive
    from bpcalc.problem import load
    from bpcalc.render.stepper import page
    from bpcalc.solver import solve

    problem = load(ROOT / REFERENCE)
    derivation = derive(problem, solve(problem))
    keys = iter(["\r", "\r", "b", "x", "q"])
    console = Console(record=True, width=80, force_terminal=False)
    shown = page(derivation, console, read_key=lambda: next(keys))
    text = console.export_text()
    assert shown == 3
    assert text.count("Step 1/16 ") == 1 and text.count("Step 2/16 ") == 2 and text.count("Step 3/16 ") == 1
    assert "Step 4/16 " not in text
    assert "[step 3/16] Enter: next · b: back · q: quit" in text
    everything = iter(["\r"] * 40)
    console = Console(record=True, width=80, force_terminal=False)
    assert page(derivation, console, read_key=lambda: next(everything)) == 16
    assert "[step 16/16] end" in console.export_text()


@pytest.mark.parametrize("bad", [("--format", "json"), ("--format", "markdown")])
def test_step_only_pages_text(bad):
    result = bpcalc("explain", REFERENCE, "--step", *bad)
    assert result.exit_code == 2 and "--step" in result.stderr


TMUX = shutil.which("tmux")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_step_on_a_real_terminal_through_tmux(tmp_path):
    session = f"bpcalc-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "done"
    command = (f"cd {ROOT} && {sys.executable} -m bpcalc explain {REFERENCE} --step; "
               f"echo $? > {done}; sleep 30")

    def tmux(*args: str) -> str:
        return subprocess.run([TMUX, *args], capture_output=True, text=True, timeout=20).stdout

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", session, "-S", "-200")

    def wait_for(text: str) -> str:
        for _ in range(100):
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared:\n{screen()}")

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "100", "-y", "50", command],
                   check=True, env=env, timeout=20)
    try:
        first = wait_for("[step 1/16]")
        assert "Step 1/16 " in first and "Step 2/16 " not in first
        tmux("send-keys", "-t", session, "Enter")
        second = wait_for("[step 2/16]")
        assert "Step 2/16 " in second and "Step 3/16 " not in second
        tmux("send-keys", "-t", session, "q")
        for _ in range(100):
            if done.exists() and done.read_text().strip():
                break
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        assert "Step 3/16 " not in screen()
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True, timeout=20)


# ------------------------------------------------------------------ errors

def test_unknown_param_is_one_line_with_did_you_mean():
    result = bpcalc("explain", REFERENCE, "--param", "w_2")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "did you mean 'w2'?" in lines[0] and "w1, w2, b" in lines[0]


@pytest.mark.parametrize("args", [
    ("--concepts", "--param", "w2"),
    ("--standalone",),
    ("--standalone", "--format", "markdown"),
])
def test_conflicting_options_are_usage_errors(args):
    result = bpcalc("explain", REFERENCE, *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_is_one_line():
    result = bpcalc("explain", "problems/nope.yaml")
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_help_has_examples():
    out = ok("explain", "--help")
    for option in ("--param", "--scalars / --no-scalars", "--step", "--concepts", "--format", "--precision"):
        assert option in out
    assert "bpcalc explain problems/simple_network.yaml --param w2" in out
