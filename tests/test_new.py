"""`bpcalc new`: every file it writes solves as written and validates against the schema.

The written file is read back by the loader and compared with what was asked for (sizes,
activations, loss), not with earlier output; the graph template's gradients are compared
with CS231n's sigmoid-neuron example worked by hand.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import tempfile

import jsonschema
import numpy as np
import pytest
from clitools import bpcalc
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import templates
from bpcalc.activations import ACTIVATIONS, REGISTERED
from bpcalc.errors import BpcalcError
from bpcalc.losses import LOSSES
from bpcalc.problem import load, parse_yaml
from bpcalc.schema import MODELINE, problem_schema

VALIDATOR = jsonschema.Draft202012Validator(problem_schema())
ACTIVATION_NAMES = sorted(ACTIVATIONS)            # aliases too (linear)
LOSS_NAMES = sorted(LOSSES)
_PROBE = np.array([[-1000.0, -3.0, 0.0, 3.0, 1000.0]])
# activations whose outputs stay in [0, 1], found by probing (not by name)
PROBABILITIES = {a.name for a in REGISTERED if np.all((a(_PROBE) >= 0) & (a(_PROBE) <= 1))}


def expected_refusal(sizes, activation, loss, output=None) -> str | None:
    """Why a combination cannot be a problem file at all, by the loader's rules, or None."""
    hidden = len(sizes) > 2
    if hidden and not ACTIVATIONS[activation].elementwise:
        return "only supported on the output layer"
    if loss == "cross_entropy" and sizes[-1] == 1:
        return "binary_cross_entropy"
    if output is not None and LOSSES[loss].probabilities and ACTIVATIONS[output].name not in PROBABILITIES:
        return "between 0 and 1"
    return None


def write_and_solve(folder, sizes, activation, loss, output=None):
    """`bpcalc new` then `bpcalc solve`, in a folder of their own; the loaded problem."""
    path = os.path.join(folder, "problem.yaml")
    args = ["new", path, "--layers", "-".join(map(str, sizes)), "--activation", activation, "--loss", loss]
    if output is not None:
        args += ["--output-activation", output]
    result = bpcalc(*args)
    return path, result


def check_written(path, sizes, activation, loss, output=None):
    """The file solves, validates, and is the network asked for."""
    solved = bpcalc("solve", path, "--format", "json")
    assert solved.exit_code == 0, solved.stderr
    json.loads(solved.stdout)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text.splitlines()[0] == MODELINE
    doc, _lines = parse_yaml(text, path)
    assert list(VALIDATOR.iter_errors(doc)) == []
    problem = load(path)
    assert problem.inputs.shape == (1, sizes[0])
    assert [layer.weights.shape for layer in problem.layers] == [
        (sizes[l], sizes[l - 1]) for l in range(1, len(sizes))]
    assert all(layer.bias is not None and layer.bias.shape == (layer.size,) for layer in problem.layers)
    assert problem.loss.name == LOSSES[loss].name
    hidden = ACTIVATIONS[activation].name
    for layer in problem.layers[:-1]:
        assert layer.activation.name == hidden
    final = problem.layers[-1].activation.name
    if output is not None:
        assert final == ACTIVATIONS[output].name
    elif LOSSES[loss].fused:                # the output the loss is paired with (δ^L = a − t)
        assert final in LOSSES[loss].fused
    else:
        assert final == hidden or (LOSSES[loss].probabilities and final == "sigmoid")
    # small, deterministic numbers: tenths from the fixed pattern, never more than 0.7
    weights = np.concatenate([layer.weights.ravel() for layer in problem.layers])
    assert np.all(np.abs(weights) <= 0.7 + 1e-12) and np.allclose(weights * 10, np.round(weights * 10))
    targets = problem.targets[0]
    if final == "softmax" or LOSSES[loss].name == "cross_entropy":
        assert sorted(targets) == [0.0] * (len(targets) - 1) + [1.0]      # one-hot
    if LOSSES[loss].probabilities:
        assert set(targets) <= {0.0, 1.0}
    return text


SIZES = st.lists(st.integers(1, 6), min_size=2, max_size=5)     # 1 to 4 layers after the input


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@settings(max_examples=4)
@given(sizes=SIZES)
def test_every_activation_and_loss_writes_a_file_that_solves(activation, loss, sizes):
    why = expected_refusal(sizes, activation, loss)
    with tempfile.TemporaryDirectory() as folder:
        path, result = write_and_solve(folder, sizes, activation, loss)
        if why is not None:
            assert result.exit_code == 2 and why in result.stderr
            assert result.stderr.count("\n") == 1 and not os.path.exists(path)
            return
        assert result.exit_code == 0, result.stderr
        check_written(path, sizes, activation, loss)


@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("output", ACTIVATION_NAMES)
@settings(max_examples=3)
@given(sizes=SIZES, hidden=st.sampled_from(sorted(n for n, a in ACTIVATIONS.items() if a.elementwise)))
def test_every_output_activation_writes_a_file_that_solves(output, loss, sizes, hidden):
    why = expected_refusal(sizes, hidden, loss, output)
    with tempfile.TemporaryDirectory() as folder:
        path, result = write_and_solve(folder, sizes, hidden, loss, output)
        if why is not None:
            assert result.exit_code == 2 and why in result.stderr
            return
        assert result.exit_code == 0, result.stderr
        check_written(path, sizes, hidden, loss, output)


def test_the_same_options_write_the_same_file(tmp_path):
    texts = []
    for name in ("a.yaml", "b.yaml"):
        assert bpcalc("new", str(tmp_path / name), "--layers", "3-4-2", "--activation", "tanh").exit_code == 0
        texts.append((tmp_path / name).read_text(encoding="utf-8").replace(name, "FILE"))
    assert texts[0] == texts[1]


def test_the_briefs_example_and_its_message(tmp_path):
    path = tmp_path / "hw.yaml"
    result = bpcalc("new", str(path), "--layers", "2-3-1", "--activation", "sigmoid",
                    "--loss", "binary_cross_entropy")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert f"Wrote {path}" in result.stdout and f"bpcalc solve {path}" in result.stdout
    text = check_written(str(path), (2, 3, 1), "sigmoid", "binary_cross_entropy")
    # Nielsen's notation is explained where the weights are
    assert "row j = the weights into neuron j (w^1_jk: neuron j, input k)" in text
    assert "weights: 3×2" in text and "weights: 1×3" in text


def test_names_in_any_case_and_an_explicit_softmax_output(tmp_path):
    path = tmp_path / "classify.yaml"
    result = bpcalc("new", str(path), "--layers", "4-5-3", "--activation", "ReLU",
                    "--output-activation", "SoftMax", "--loss", "Cross_Entropy")
    assert result.exit_code == 0, result.stderr
    check_written(str(path), (4, 5, 3), "relu", "cross_entropy", "softmax")


def test_a_probability_loss_gets_its_output_and_says_so(tmp_path):
    path = tmp_path / "p.yaml"
    result = bpcalc("new", str(path), "--layers", "2-2-1", "--activation", "relu", "--loss",
                    "binary_cross_entropy")
    assert result.exit_code == 0
    assert "the output layer uses sigmoid" in result.stdout
    assert load(path).layers[-1].activation.name == "sigmoid"


def test_the_closing_comment_names_commands_that_work(tmp_path, monkeypatch):
    """Every command the file's closing comment suggests runs as written (from the folder
    the file was written in, and then the editor line finds the schema)."""
    monkeypatch.chdir(tmp_path)
    for options in ([], ["--graph"]):
        os.makedirs("work", exist_ok=True)
        path = os.path.join("work", "my problem.yaml")
        assert bpcalc("new", path, "--force", *options).exit_code == 0
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        steps = [line[1:].strip() for line in lines[lines.index("# Next:") + 1:]]
        assert steps and all(step.startswith("bpcalc ") for step in steps)
        for step in steps:
            words = shlex.split(step, comments=False)
            words = words[1:words.index("(your")] if "(your" in words else words[1:]
            result = bpcalc(*words)
            assert result.exit_code == 0, (step, result.stderr)
        schema = tmp_path / "work" / "bpcalc.schema.json"
        assert lines[0].endswith("$schema=./bpcalc.schema.json") and schema.exists()
    solve = [line for line in lines if "bpcalc solve" in line]
    assert solve and "'work/my problem.yaml'" in solve[0]


# ------------------------------------------------------------------ the graph template

def test_the_graph_template_solves_to_cs231ns_numbers(tmp_path):
    path = tmp_path / "neuron.yaml"
    result = bpcalc("new", str(path), "--graph")
    assert result.exit_code == 0, result.stderr
    doc, _lines = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    assert list(VALIDATOR.iter_errors(doc)) == []
    problem = load(path)
    assert problem.kind == "graph"
    solved = bpcalc("solve", str(path), "--format", "json")
    assert solved.exit_code == 0, solved.stderr
    answer = json.loads(solved.stdout)
    # CS231n: w = (2, −3, −3), x = (−1, −2); f = σ(w0 x0 + w1 x1 + w2) = σ(1), and
    # ∂f/∂dot = f(1 − f); the notes print x's gradient [0.39, −0.59], w's [−0.2, −0.39, 0.2].
    f = 1 / (1 + math.exp(-1.0))
    slope = f * (1 - f)
    want = {"x0": 2 * slope, "x1": -3 * slope, "w0": -1 * slope, "w1": -2 * slope, "w2": slope}
    assert answer["value"] == pytest.approx(f, rel=1e-12)
    for name, value in want.items():
        assert answer["gradients"][name] == pytest.approx(value, rel=1e-12), name
    assert [round(answer["gradients"][n], 2) for n in ("x0", "x1", "w0", "w1", "w2")] == \
        [0.39, -0.59, -0.2, -0.39, 0.2]
    assert answer["updated"]["w0"] == pytest.approx(2 - 0.1 * want["w0"], rel=1e-12)


def test_graph_with_layered_options_is_refused(tmp_path):
    result = bpcalc("new", str(tmp_path / "g.yaml"), "--graph", "--layers", "2-1")
    assert result.exit_code == 2 and "--layers" in result.stderr and "--graph" in result.stderr
    assert not (tmp_path / "g.yaml").exists()


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("options, words", [
    (["--layers", "2-x-1"], "expected sizes joined by '-'"),
    (["--layers", "0-1"], "at least one neuron"),
    (["--layers", "3"], "expected sizes joined by '-'"),
    (["--layers", "2--1"], "expected sizes joined by '-'"),
    (["--layers", "2-1000"], "at most 64 neurons"),
    (["--activation", "sigmod"], "did you mean 'sigmoid'?"),
    (["--output-activation", "softmx"], "did you mean 'softmax'?"),
    (["--loss", "crossentropy"], "did you mean 'cross_entropy'?"),
    (["--loss", "cross_entropy", "--layers", "2-3-1"], "use --loss binary_cross_entropy"),
    (["--activation", "softmax", "--layers", "2-3-2"], "--output-activation softmax"),
    (["--output-activation", "relu", "--loss", "binary_cross_entropy"], "between 0 and 1"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, options, words):
    path = tmp_path / "p.yaml"
    result = bpcalc("new", str(path), *options)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("bpcalc: error: ") and result.stderr.count("\n") == 1
    assert words in result.stderr
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_without_force(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("my homework\n", encoding="utf-8")
    result = bpcalc("new", str(path))
    assert result.exit_code == 2 and "already exists" in result.stderr and "--force" in result.stderr
    assert result.stderr.count("\n") == 1
    assert path.read_text(encoding="utf-8") == "my homework\n"
    os.chmod(path, 0o640)
    assert bpcalc("new", str(path), "--force").exit_code == 0
    assert path.read_text(encoding="utf-8").startswith(MODELINE)
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)          # an overwritten file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]   # no temporary file left


def test_a_directory_or_a_missing_folder_is_refused(tmp_path):
    result = bpcalc("new", str(tmp_path), "--force")
    assert result.exit_code == 2 and "is not a regular file" in result.stderr
    result = bpcalc("new", str(tmp_path / "no" / "p.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_a_file_name_with_a_newline_still_gives_a_file_that_solves(tmp_path):
    """The name appears in the closing comment, escaped, so it cannot end the comment."""
    path = tmp_path / "odd\nname\u2028x.yaml"
    assert bpcalc("new", str(path)).exit_code == 0
    assert bpcalc("solve", str(path)).exit_code == 0
    assert bpcalc("new", str(tmp_path / "graph\n.yaml"), "--graph").exit_code == 0
    assert bpcalc("solve", str(tmp_path / "graph\n.yaml")).exit_code == 0


def test_an_unwritable_folder_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    os.chmod(tmp_path, 0o500)
    try:
        result = bpcalc("new", str(tmp_path / "p.yaml"))
    finally:
        os.chmod(tmp_path, 0o700)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_help_has_examples():
    result = bpcalc("new", "--help")
    assert result.exit_code == 0
    assert "bpcalc new homework.yaml --layers 2-3-1 --activation sigmoid --loss binary_cross_entropy" \
        in result.stdout
    assert "--graph" in result.stdout and "--force" in result.stdout


def test_build_reports_a_template_that_does_not_solve():
    broken = templates.Template("input: 1\ntarget: 1\nlayers: []\n", "broken")
    with pytest.raises(BpcalcError, match="does not solve"):
        templates.build(broken, "x.yaml")


@pytest.mark.parametrize("sizes", ["7-7-7", "14-3-1", "2-7-7-1", "1-1"])
def test_no_two_neurons_of_a_layer_are_alike(tmp_path, sizes):
    """Identical rows would make identical neurons (and identical gradients): a poor example.
    (Up to 7 neurons a layer, the length of the pattern; wider layers repeat it.)"""
    path = tmp_path / "p.yaml"
    assert bpcalc("new", str(path), "--layers", sizes).exit_code == 0
    problem = load(path)
    assert problem.layers[0].weights[0, :2].tolist() == [0.1, -0.2][:problem.layers[0].weights.shape[1]]
    for layer in problem.layers:
        rows = {tuple(row) for row in layer.weights.tolist()}
        assert len(rows) == layer.size
