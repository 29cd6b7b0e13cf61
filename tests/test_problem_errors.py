"""Bad problem files: every one gives a ProblemFileError with a one-line message.

The message must name the file, the line:column where YAML has them, the key
path (``layers[2].weights``: layers count from 1, other lists from 0) and what
was expected. Each bad file is written out in full below, to ``tmp_path``.

"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass

import pytest

from bpcalc import problem as problem_module
from bpcalc.activations import ACTIVATIONS
from bpcalc.errors import BpcalcError, ProblemFileError
from bpcalc.losses import LOSSES
from bpcalc.problem import Problem, load


def write(tmp_path, text: str, name: str = "problem.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_for(path) -> ProblemFileError:
    with pytest.raises(ProblemFileError) as info:
        load(path)
    error = info.value
    message = str(error)
    assert isinstance(error, BpcalcError)
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert message.startswith(str(path)), f"does not start with the file name: {message!r}"
    assert "Traceback" not in message and "<unicode string>" not in message
    return error


@dataclass
class Case:
    id: str
    text: str
    line: int | None                  # the line the message must point at (0: some line; None: no line)
    key: str | None                   # the key path the message must name
    expect: tuple[str, ...]           # what must be said about what was expected

    def check(self, tmp_path) -> str:
        path = write(tmp_path, self.text)
        error = error_for(path)
        message = str(error)
        if self.line == 0:
            assert re.match(re.escape(str(path)) + r":\d+:\d+: ", message), f"no line:column in {message!r}"
        elif self.line is not None:
            assert re.match(re.escape(str(path)) + rf":{self.line}:\d+: ", message), \
                f"expected {path}:{self.line}:<column>: in {message!r}"
            assert error.line == self.line and error.column is not None
        if self.key is not None:
            assert f": {self.key}: " in message, f"expected the key path {self.key!r} in {message!r}"
            assert error.key == self.key
        for phrase in self.expect:
            assert phrase in message, f"expected {phrase!r} in {message!r}"
        return message


GOOD = """
    input: [1.0, 2.0]
    target: [1.0]
    learning_rate: 0.1
    layers:
      - activation: sigmoid
        weights: [[0.1, 0.2], [0.3, 0.4]]
        bias: [0.1, 0.2]
      - activation: sigmoid
        weights: [[0.5, 0.6]]
        bias: [0.3]
"""

CASES = [
    # ---------------------------------------------------------- YAML and the top
    Case("not-yaml", "a: [1, 2\n", 0, None, ("not valid YAML", "expected ',' or ']'")),
    Case("tab-indent", "input: 1\n\ttarget: 1\n", 2, None, ("not valid YAML",)),
    Case("empty", "", None, None, ("empty", "layers")),
    Case("only-comments", "# a problem, some day\n", None, None, ("empty",)),
    Case("top-level-list", "- input: 1\n- target: 1\n", 1, None, ("expected a problem", "mapping", "a list")),
    Case("top-level-number", "42\n", 1, None, ("expected a problem", "mapping")),
    Case("unknown-top-key", """
        input: 1
        target: 1
        learning_rat: 0.1
        layers:
          - weights: 1
            activation: identity
        """, 3, "learning_rat", ("unknown key 'learning_rat'", "did you mean 'learning_rate'?", "expected one of")),
    Case("unknown-top-key-no-suggestion", """
        input: 1
        target: 1
        zzz: 0.1
        layers:
          - weights: 1
            activation: identity
        """, 3, "zzz", ("unknown key 'zzz'", "learning_rate", "layers")),
    Case("duplicate-top-key", """
        input: 1
        target: 1
        learning_rate: 0.1
        learning_rate: 0.2
        layers:
          - weights: 1
            activation: identity
        """, 4, None, ("duplicate key 'learning_rate'",)),
    Case("missing-layers", """
        input: 1
        target: 1
        """, 1, None, ("missing key 'layers'",)),
    Case("missing-input", """
        target: 1
        layers:
          - weights: 1
            activation: identity
        """, 1, None, ("missing key 'input'", "examples")),
    Case("missing-target", """
        input: 1
        layers:
          - weights: 1
            activation: identity
        """, 1, None, ("missing key 'target'",)),
    Case("layers-empty", """
        input: 1
        target: 1
        layers: []
        """, 3, "layers", ("non-empty list of layers",)),
    Case("layers-a-mapping", """
        input: 1
        target: 1
        layers: {weights: 1}
        """, 3, "layers", ("list of layers", "a mapping")),
    # ---------------------------------------------------------------- layers
    Case("unknown-layer-key", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - activation: sigmoid
            weights: [[0.1, 0.2], [0.3, 0.4]]
          - activation: sigmoid
            weight: [[0.5, 0.6]]
        """, 7, "layers[2].weight", ("unknown key 'weight'", "did you mean 'weights'?")),
    Case("layer-not-a-mapping", """
        input: 1
        target: 1
        layers:
          - 3
        """, 4, "layers[1]", ("expected a layer", "mapping")),
    Case("missing-weights", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
          - activation: sigmoid
            bias: 0.5
        """, 6, "layers[2]", ("missing key 'weights'",)),
    Case("unknown-activation", """
        input: 1
        target: 1
        layers:
          - activation: relu
            weights: 1
          - activation: sigmod
            weights: 1
        """, 6, "layers[2].activation",
         ("unknown activation 'sigmod'", "did you mean 'sigmoid'?", *sorted(ACTIVATIONS))),
    Case("softmax-hidden", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - activation: softmax
            weights: [[0.1, 0.2], [0.3, 0.4]]
          - weights: [[0.5, 0.6]]
            activation: identity
        """, 4, "layers[1].activation", ("softmax", "last (output) layer")),
    Case("slope-on-sigmoid", """
        input: 1
        target: 1
        layers:
          - activation: sigmoid
            weights: 1
            slope: 0.1
        """, 6, "layers[1].slope", ("'slope' only applies to leaky_relu", "sigmoid")),
    Case("slope-not-a-number", """
        input: 1
        target: 1
        layers:
          - activation: leaky_relu
            weights: 1
            slope: steep
        """, 6, "layers[1].slope", ("expected a number", "'steep'")),
    Case("fixed-misspelt", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            fixed: weight
        """, 6, "layers[1].fixed", ("expected 'weights', 'bias' or a list of them", "did you mean 'weights'?")),
    Case("fixed-in-a-list", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            bias: 0
            fixed: [weights, biass]
        """, 7, "layers[1].fixed", ("'biass'", "did you mean 'bias'?")),
    Case("fixed-a-mapping", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            fixed: {weights: true}
        """, 6, "layers[1].fixed", ("expected 'weights', 'bias'", "a mapping")),
    # ------------------------------------------------------------- shapes
    Case("weights-shape-vs-previous-layer", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
          - weights: [[0.5, 0.6, 0.7]]
            activation: identity
        """, 6, "layers[2].weights", ("expected 2 columns", "layer 1 has 2 neurons", "1×3")),
    Case("weights-shape-vs-input", """
        input: [1.0, 2.0, 3.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2]]
            activation: identity
        """, 4, "layers[1].weights", ("expected 3 columns", "1×2")),
    Case("ragged-weight-rows", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2],
                      [0.3]]
            activation: identity
          - weights: [[0.5, 0.6]]
            activation: identity
        """, 5, "layers[1].weights[1]", ("expected 2 numbers like the first row, got 1",)),
    Case("weights-rows-and-numbers", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], 0.3]
            activation: identity
        """, 4, "layers[1].weights", ("list of rows", "not a mix")),
    Case("weights-empty", """
        input: 1
        target: 1
        layers:
          - weights: []
            activation: identity
        """, 4, "layers[1].weights", ("empty list",)),
    Case("bias-too-long", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
            bias: [0.1, 0.2, 0.3]
          - weights: [[0.5, 0.6]]
            activation: identity
        """, 6, "layers[1].bias", ("expected 2", "one per neuron", "got 3")),
    Case("scalar-bias-for-two-neurons", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
            bias: 0.1
          - weights: [[0.5, 0.6]]
            activation: identity
        """, 6, "layers[1].bias", ("expected 2", "one per neuron", "got 1")),
    Case("target-length", """
        input: [1.0, 2.0]
        target: [1.0, 0.0]
        layers:
          - weights: [[0.1, 0.2]]
            activation: identity
        """, 2, "target", ("expected 1 target value", "output layer has 1 neuron", "got 2")),
    Case("example-target-length", """
        examples:
          - {input: 1, target: [1.0, 0.0]}
        layers:
          - weights: 1
            activation: identity
        """, 2, "examples[0].target", ("expected 1 target value", "got 2")),
    # ----------------------------------------------------------- examples
    Case("examples-empty", """
        examples: []
        layers:
          - weights: 1
            activation: identity
        """, 1, "examples", ("at least one example",)),
    Case("examples-not-a-list", """
        examples: {input: 1, target: 1}
        layers:
          - weights: 1
            activation: identity
        """, 1, "examples", ("expected a list", "a mapping")),
    Case("input-and-examples", """
        input: 1
        target: 1
        examples:
          - {input: 1, target: 1}
        layers:
          - weights: 1
            activation: identity
        """, 1, "input", ("either 'input' and 'target', or 'examples', not both",)),
    Case("example-without-target", """
        examples:
          - {input: 1, target: 1}
          - {input: 2}
        layers:
          - weights: 1
            activation: identity
        """, 3, "examples[1]", ("missing key 'target'",)),
    Case("example-unknown-key", """
        examples:
          - {input: 1, targte: 1}
        layers:
          - weights: 1
            activation: identity
        """, 2, "examples[0].targte", ("unknown key 'targte'", "did you mean 'target'?")),
    Case("example-ragged-inputs", """
        examples:
          - {input: [1, 2], target: 1}
          - {input: [1], target: 1}
        layers:
          - weights: [[1, 1]]
            activation: identity
        """, 3, "examples[1].input", ("expected 2 values like the first example's input, got 1",)),
    # ------------------------------------------------ loss, reduction, rate
    Case("unknown-loss", """
        input: 1
        target: 1
        loss: cross_entropie
        layers:
          - weights: 1
            activation: identity
        """, 3, "loss", ("unknown loss 'cross_entropie'", "did you mean 'cross_entropy'?", *sorted(LOSSES))),
    Case("unknown-reduction", """
        input: 1
        target: 1
        reduction: average
        layers:
          - weights: 1
            activation: identity
        """, 3, "reduction", ("expected one of: mean, sum", "'average'")),
    Case("learning-rate-zero", """
        input: 1
        target: 1
        learning_rate: 0
        layers:
          - weights: 1
            activation: identity
        """, 3, "learning_rate", ("expected a positive number",)),
    Case("learning-rate-negative", """
        input: 1
        target: 1
        learning_rate: -0.5
        layers:
          - weights: 1
            activation: identity
        """, 3, "learning_rate", ("expected a positive number", "-0.5")),
    Case("learning-rate-text", """
        input: 1
        target: 1
        learning_rate: fast
        layers:
          - weights: 1
            activation: identity
        """, 3, "learning_rate", ("expected a number", "'fast'")),
    Case("learning-rate-infinite", """
        input: 1
        target: 1
        learning_rate: .inf
        layers:
          - weights: 1
            activation: identity
        """, 3, "learning_rate", ("expected a finite number",)),
    # ---------------------------------------------------------------- names
    Case("duplicate-names-across-layers", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            names: {weights: w}
          - weights: 1
            activation: identity
            names: {weights: w}
        """, 9, "layers[2].names", ("the name 'w' is used twice", "layer 1")),
    Case("duplicate-names-in-a-layer", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[1.0, 2.0]]
            activation: identity
            names: {weights: [[a, a]]}
        """, 6, "layers[1].names", ("the name 'a' is used twice",)),
    Case("name-clashes-with-a-default", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            names: {weights: w2_11}
          - weights: 1
            activation: identity
        """, None, "layers[2].names", ("the name 'w2_11' is used twice",)),
    Case("invalid-name", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[1.0, 2.0]]
            activation: identity
            names: {weights: [2w, w3]}
        """, 6, "layers[1].names.weights", ("expected a name made of a letter", "'2w'")),
    Case("names-wrong-shape", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[1.0, 2.0]]
            activation: identity
            names: {weights: [a]}
        """, 6, "layers[1].names.weights", ("shape of the values (1×2)", "1×1")),
    Case("names-unknown-kind", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            names: {weight: w}
        """, 6, "layers[1].names.weight", ("unknown key 'weight'", "did you mean 'weights'?")),
    Case("names-a-missing-bias", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            names: {bias: b}
        """, 6, "layers[1].names.bias", ("no 'bias'",)),
    Case("title-a-list", """
        title: [a, b]
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
        """, 1, "title", ("expected text",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_problem_file(case, tmp_path):
    case.check(tmp_path)


# --------------------------------------------- non-numbers, in every place
BAD_NUMBERS = [
    ("abc", ("expected a number", "'abc'")),
    ("true", ("expected a number", "true")),
    ("yes", ("expected a number", "'yes'")),       # YAML 1.2: yes is text (1.1 made it true)
    ("null", ("expected a number", "null")),
    ("~", ("expected a number", "null")),
    ("[]", ("expected a number", "a list")),
    ("{a: 1}", ("expected a number", "a mapping")),
    (".inf", ("expected a finite number", "inf")),
    ("-.inf", ("expected a finite number", "inf")),
    (".nan", ("expected a finite number", "nan")),
    ("1e400", ("expected a finite number", "inf")),
    ('"nan"', ("expected a finite number", "nan")),
]
PLACES = {   # where the bad value goes, the key path and the line it is on
    "weight": ("input: [1.0, 2.0]\ntarget: 1\nlayers:\n  - weights: [[0.5, {}]]\n    activation: identity\n",
               "layers[1].weights[0][1]", 4),
    "weight-row": ("input: [1.0, 2.0]\ntarget: 1\nlayers:\n  - weights: [[0.5, 0.1], [0.2, {}]]\n    activation: identity\n"
                   "  - weights: [[1, 1]]\n", "layers[1].weights[1][1]", 4),
    "bias": ("input: 1\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n  - weights: 1\n    activation: identity\n    bias: [{}]\n",
             "layers[2].bias[0]", 8),
    "input": ("input: [1.0, {}]\ntarget: 1\nlayers:\n  - weights: [[1, 1]]\n    activation: identity\n", "input[1]", 1),
    "target": ("input: 1\ntarget: [{}]\nlayers:\n  - weights: 1\n    activation: identity\n", "target[0]", 2),
    "example": ("examples:\n  - {{input: [1], target: 1}}\n  - {{input: [{}], target: 1}}\nlayers:\n  - weights: 1\n    activation: identity\n",
                "examples[1].input[0]", 3),
    "learning_rate": ("input: 1\ntarget: 1\nlearning_rate: {}\nlayers:\n  - weights: 1\n    activation: identity\n", "learning_rate", 3),
}


@pytest.mark.parametrize(("place", "value", "expect"), [
    pytest.param(place, value, expect, id=f"{place}:{value}")
    for place in sorted(PLACES) for value, expect in BAD_NUMBERS
    if not (place == "learning_rate" and value in ("null", "~"))   # null there means "no update"
])
def test_non_numbers_are_refused(place, value, expect, tmp_path):
    template, key, line = PLACES[place]
    Case(f"{place}-{value}", template.format(value), line, key, expect).check(tmp_path)


@pytest.mark.parametrize("text, value", [
    ("1e-3", 0.001), ("1E-3", 0.001), ("2e+2", 200.0), ("1.5e3", 1500.0), ("-3e-1", -0.3), (".5", 0.5),
    ("7", 7.0), ("-0.25", -0.25), ("+4", 4.0),
])
def test_numbers_without_a_dot_or_with_exponents_are_numbers(text, value, tmp_path):
    """YAML 1.1 reads 1e-3 (no dot) as a string; a problem file means the number."""
    path = write(tmp_path, f"""
        input: {text}
        target: [{text}]
        learning_rate: {text.lstrip('-')}
        layers:
          - weights: [[{text}]]
            bias: {text}
            activation: leaky_relu
            slope: {text}
        """)
    problem = load(path)
    assert problem.inputs[0, 0] == value and problem.targets[0, 0] == value
    assert problem.learning_rate == abs(value)
    layer = problem.layers[0]
    assert layer.weights[0, 0] == value and layer.bias[0] == value and layer.params["slope"] == value
    assert problem.inputs.dtype.name == "float64"


# ------------------------------------------------------------- the file itself
def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    error = error_for(path)
    assert "no such file" in str(error)


def test_directory(tmp_path):
    error = error_for(tmp_path)
    assert "is a directory" in str(error) and "YAML problem file" in str(error)


def test_not_utf8(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"input: \xff\xfe\x00\x01\n")
    assert "not UTF-8" in str(error_for(path))


def test_file_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setitem(problem_module.read_text.__kwdefaults__, "limit", 100)
    path = write(tmp_path, GOOD + "# padding\n" * 20)
    assert path.stat().st_size > 100
    message = str(error_for(path))
    assert "larger than 100 bytes" in message


def test_file_at_the_size_limit_is_read(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setitem(problem_module.read_text.__kwdefaults__, "limit", path.stat().st_size)
    load(path)


def test_size_limit_follows_the_module_constant(tmp_path, monkeypatch):
    monkeypatch.setattr(problem_module, "MAX_FILE_BYTES", 100)
    path = write(tmp_path, GOOD + "# padding\n" * 20)
    assert "larger than" in str(error_for(path))


def test_error_attributes(tmp_path):
    path = write(tmp_path, """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
          - weights: [[0.5, 0.6, 0.7]]
            activation: identity
        """)
    error = error_for(path)
    assert (error.source, error.key, error.line, error.column) == (str(path), "layers[2].weights", 6, 14)
    assert str(error) == f"{path}:6:14: layers[2].weights: {error.detail}"


def test_from_dict_errors_name_the_key_path_without_a_line():
    with pytest.raises(ProblemFileError) as info:
        Problem.from_dict({"input": [1.0, 2.0], "target": 1,
                           "layers": [{"activation": "identity", "weights": [[1, 2]]},
                                      {"activation": "identity", "weights": [[1, 2]]}]})
    message = str(info.value)
    assert message.startswith("<problem>: layers[2].weights: expected 1 column")
    assert "\n" not in message


def test_good_file_loads(tmp_path):
    problem = load(write(tmp_path, GOOD))
    assert [layer.weights.shape for layer in problem.layers] == [(2, 2), (1, 2)]


# ------------------------------------------------------------ hostile YAML
def _billion_laughs() -> str:
    """9 levels of lists of 10 aliases: 10⁹ values once expanded."""
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\ninput: *a9\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n"


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the body with TimeoutError after ``seconds`` (Unix, main thread)."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("needs signal.setitimer")

    def interrupt(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_alias_expansion_is_counted_and_refused(tmp_path, monkeypatch):
    """The counting mechanism, with a small limit so the test is fast."""
    monkeypatch.setattr(problem_module, "MAX_VALUES", 10_000)
    path = write(tmp_path, _billion_laughs())
    with _time_limit(5.0):
        message = str(error_for(path))
    assert "more than 10,000 values" in message and "aliases" in message


def test_alias_bomb_is_refused_quickly(tmp_path):
    path = write(tmp_path, _billion_laughs())
    start = time.perf_counter()
    with _time_limit(1.5):
        message = str(error_for(path))
    assert time.perf_counter() - start < 1.0
    assert "aliases" in message


def test_small_aliases_are_fine(tmp_path):
    path = write(tmp_path, """
        input: &x [1.0, 2.0]
        target: 1
        layers:
          - weights: [*x]
            activation: identity
        """)
    problem = load(path)
    assert problem.layers[0].weights.tolist() == [[1.0, 2.0]]


PYTHON_TAG = '!!python/object/apply:os.system ["true"]'
TAGGED = {
    # where a python tag sits -> the document
    "unknown-top-key": f"input: 1\ntarget: 1\nrun: {PYTHON_TAG}\nlayers:\n  - weights: 1\n    activation: identity\n",
    "title": f"title: {PYTHON_TAG}\ninput: 1\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n",
    "input-list": "input: !!python/object/apply:os.system [3]\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n",
    "layer-mapping": "input: 1\ntarget: 1\nlayers:\n  - !!python/object/apply:os.system {weights: 1}\n",
    "scalar": "input: !!python/name:os.system\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n",
    "unknown-tag": "input: !custom 1\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n",
    "merge-key": "input: 1\ntarget: 1\nlayers:\n  - &l {weights: 1}\n  - {<<: *l}\n",
}


@pytest.fixture
def no_execution(monkeypatch, tmp_path):
    """Record any attempt to run a command while loading."""
    calls = []

    def record(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"a command was run: {args}")

    monkeypatch.setattr(os, "system", record)
    monkeypatch.setattr(subprocess, "Popen", record)
    return calls


@pytest.mark.parametrize("where", sorted(TAGGED))
def test_python_tags_never_execute(where, tmp_path, no_execution):
    sentinel = tmp_path / "ran"
    text = TAGGED[where].replace('["true"]', f'["touch {sentinel}"]')
    path = write(tmp_path, text)
    with contextlib.suppress(Exception):
        load(path)
    assert no_execution == [] and not sentinel.exists()


@pytest.mark.parametrize("where", sorted(TAGGED))
def test_python_tags_are_refused_with_a_problem_file_error(where, tmp_path, no_execution):
    path = write(tmp_path, TAGGED[where])
    error = error_for(path)
    assert error.line is not None


# --------------------------------------------------- message quality
def test_bias_count_message_is_good_english(tmp_path):
    message = Case("bias", """
        input: [1.0, 2.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2], [0.3, 0.4]]
            activation: identity
            bias: [0.1, 0.2, 0.3]
        """, 6, "layers[1].bias", ()).check(tmp_path)
    assert "expected 2 biases" in message


def test_numbers_are_quoted_as_written(tmp_path):
    message = Case("fixed-3", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
            fixed: 3
        """, 6, "layers[1].fixed", ()).check(tmp_path)
    assert "got 3" in message and "3.0" not in message


def test_duplicate_key_in_a_layer_names_the_layer(tmp_path):
    Case("dup-layer-key", """
        input: 1
        target: 1
        layers:
          - weights: 1
            activation: identity
          - weights: 2
            activation: identity
            weights: 3
        """, 8, "layers[2].weights", ("duplicate key 'weights'",)).check(tmp_path)


def test_first_layer_shape_message_mentions_the_input(tmp_path):
    message = Case("l1", """
        input: [1.0, 2.0, 3.0]
        target: 1
        layers:
          - weights: [[0.1, 0.2]]
            activation: identity
        """, 4, "layers[1].weights", ("expected 3 columns",)).check(tmp_path)
    assert "input" in message.split("layers[1].weights:")[1].replace("one per input of this layer", "")


def test_huge_integer_is_refused(tmp_path):
    Case("huge-int", "input: 1" + "0" * 400 + "\ntarget: 1\nlayers:\n  - weights: 1\n    activation: identity\n",
         1, "input", ("finite",)).check(tmp_path)


def test_every_activation_and_loss_is_listed_when_unknown(tmp_path):
    message = Case("act", "input: 1\ntarget: 1\nlayers:\n  - activation: nope\n    weights: 1\n",
                   4, "layers[1].activation", ()).check(tmp_path)
    listed = message.split("expected one of: ")[1].split(", ")
    assert set(listed) == set(ACTIVATIONS)
    message = Case("loss", "input: 1\ntarget: 1\nloss: nope\nlayers:\n  - weights: 1\n    activation: identity\n",
                   3, "loss", ()).check(tmp_path)
    assert set(message.split("expected one of: ")[1].split(", ")) == set(LOSSES)


# --------------------------------------------------- problem files that cannot silently change the maths
MATHS = [
    Case("activation-missing", """
        input: 1
        target: 1
        layers:
          - weights: 1
        """, 4, "layers[1]", ("missing key 'activation'", "activation: identity", "sigmoid")),
    Case("bce-target-above-1", """
        input: 1
        target: 2
        loss: binary_cross_entropy
        layers:
          - activation: sigmoid
            weights: 1
        """, 2, "target", ("between 0 and 1", "binary_cross_entropy", "got 2")),
    Case("ce-target-negative", """
        examples:
          - {input: 1, target: [0.5, 0.5]}
          - {input: 2, target: [1.5, -0.5]}
        loss: cross_entropy
        layers:
          - activation: softmax
            weights: [1, 2]
        """, 3, "examples[1].target[0]", ("between 0 and 1", "got 1.5")),
    Case("ce-on-one-sigmoid-output", """
        input: 1
        target: 1
        loss: cross_entropy
        layers:
          - activation: sigmoid
            weights: 1
        """, 3, "loss", ("single output", "(1 − t)", "binary_cross_entropy")),
    Case("weights-transposed", """
        input: [1, 2, 3]
        target: [1, 0]
        layers:
          - activation: sigmoid
            weights: [[1, 2], [3, 4], [5, 6]]
        """, 5, "layers[1].weights", ("expected 3 columns", "3×2", "did you write it transposed?")),
    Case("class-index-target", """
        input: [1, 2]
        target: 1
        loss: cross_entropy
        layers:
          - activation: softmax
            weights: [[1, 2], [3, 4], [5, 6]]
        """, 2, "target", ("expected 3 target values", "one-hot", "[0, 1, 0]")),
    Case("bias-none", """
        input: 1
        target: 1
        layers:
          - activation: sigmoid
            weights: 1
            bias: none
        """, 6, "layers[1].bias", ("'none'", "omit 'bias' or write bias: null")),
    Case("inputs-plural", """
        inputs: [[1], [2]]
        targets: [1, 2]
        layers:
          - activation: sigmoid
            weights: 1
        """, 1, "inputs", ("unknown key 'inputs'", "examples: [{input: …, target: …}, …]")),
    Case("question-broken-at-load", """
        input: 1
        target: 1
        layers:
          - activation: sigmoid
            weights: 1
        questions:
          - id: q
            numeric: gradients.w9
        """, 8, "questions[0].numeric", ("gradients.w9",)),
]


@pytest.mark.parametrize("case", MATHS, ids=[c.id for c in MATHS])
def test_problem_files_cannot_silently_change_the_maths(case, tmp_path):
    case.check(tmp_path)


@pytest.mark.parametrize("activation, loss", [("Sigmoid", "Half_Squared_Error"), ("RELU", "squared_error"),
                                              ("Tanh ", "MEAN_SQUARED_ERROR"), ("Linear", "half_squared_error")])
def test_activation_and_loss_names_are_case_insensitive(activation, loss, tmp_path):
    path = write(tmp_path, f"""
        input: 1
        target: 1
        loss: {loss}
        layers:
          - activation: "{activation}"
            weights: 0.5
        """)
    problem = load(path)
    assert problem.layers[0].activation is ACTIVATIONS[activation.strip().lower()]
    assert problem.loss is LOSSES[loss.lower()]


def test_targets_0_and_1_are_fine_for_cross_entropies(tmp_path):
    load(write(tmp_path, """
        input: 1
        target: [0, 1, 0]
        loss: cross_entropy
        layers:
          - activation: softmax
            weights: [1, 2, 3]
        """))
