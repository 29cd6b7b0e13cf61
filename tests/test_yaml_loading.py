"""Reading problem files: the YAML 1.2 core schema, libyaml and its fallback, limits.

Values are checked against what the YAML 1.2 core schema says they are (written out
here by hand), for libyaml (PyYAML's C loader) and the pure-Python loader alike.
"""

from __future__ import annotations

import math
import os
import textwrap
import time

import numpy as np
import pytest
import yaml

from bpcalc import problem as problem_module
from bpcalc.errors import ProblemFileError
from bpcalc.problem import WrittenNumber, load, parse_yaml

LOADERS = [pytest.param(False, id="libyaml"), pytest.param(True, id="pure-python")]
if not yaml.__with_libyaml__:                                   # pragma: no cover
    LOADERS[0] = pytest.param(False, id="libyaml", marks=pytest.mark.skip("no libyaml"))


def value(text: str, pure_python: bool):
    document, _lines = parse_yaml(f"v: {text}\n", "t.yaml", pure_python=pure_python)
    return document["v"]


# text -> the value the YAML 1.2 core schema gives (numbers as float64 here)
CORE_SCHEMA = [
    ("010", 10.0), ("0o10", 8.0), ("0x1F", 31.0), ("-0", -0.0), ("+4", 4.0), ("007", 7.0),
    ("1e3", 1000.0), ("1E-3", 0.001), (".5", 0.5), ("5.", 5.0), ("-2.5e+2", -250.0),
    (".inf", math.inf), ("-.Inf", -math.inf), ("+.INF", math.inf),
    ("1:30", "1:30"), ("1_000", "1_000"), ("0b11", "0b11"), ("12:30:00", "12:30:00"),
    ("yes", "yes"), ("No", "No"), ("on", "on"), ("OFF", "OFF"), ("y", "y"), ("n", "n"),
    ("true", True), ("False", False), ("TRUE", True),
    ("null", None), ("~", None), ("", None), ("Null", None),
    ("2024-01-01", "2024-01-01"), ('"3"', "3"), ("'010'", "010"), ("0x", "0x"), ("1.2.3", "1.2.3"),
]


@pytest.mark.parametrize("pure_python", LOADERS)
@pytest.mark.parametrize("text, expected", CORE_SCHEMA, ids=[t or "empty" for t, _ in CORE_SCHEMA])
def test_core_schema(text, expected, pure_python):
    got = value(text, pure_python)
    assert type(got) is (WrittenNumber if isinstance(expected, float) else type(expected))
    assert got == expected or (isinstance(expected, float) and math.isnan(expected))
    if isinstance(expected, float):
        assert math.copysign(1, got) == math.copysign(1, expected)
        assert got.text == text                     # the digits as written, for answer keys


@pytest.mark.parametrize("pure_python", LOADERS)
def test_nan(pure_python):
    assert math.isnan(value(".nan", pure_python)) and math.isnan(value(".NaN", pure_python))


@pytest.mark.parametrize("pure_python", LOADERS)
def test_choice_options_stay_words(pure_python):
    document, _ = parse_yaml("choice: [yes, no, on, off]\n", "t.yaml", pure_python=pure_python)
    assert document["choice"] == ["yes", "no", "on", "off"]


@pytest.mark.parametrize("pure_python", LOADERS)
@pytest.mark.parametrize("text, message", [
    ("!!int 1.5", "expected an integer, got '1.5'"),
    ("!!float abc", "expected a number, got 'abc'"),
    ("!!bool yes", "expected true or false, got 'yes'"),
    ("!!binary aGk=", "the tag !!binary is not allowed"),
    ("!!set {a}", "the tag !!set is not allowed"),
])
def test_explicit_tags(text, message, pure_python):
    with pytest.raises(ProblemFileError) as info:
        value(text, pure_python)
    assert message in str(info.value) and info.value.line == 1 and info.value.key == "v"


@pytest.mark.parametrize("pure_python", LOADERS)
def test_explicit_number_tags_read_numbers(pure_python):
    assert value("!!int 0x10", pure_python) == 16 and value("!!float 3", pure_python) == 3.0


@pytest.mark.parametrize("pure_python", LOADERS)
@pytest.mark.parametrize("digits", [401, 5_000, 100_000])
def test_long_numbers_are_refused_with_the_key_path(digits, pure_python):
    """Python's int() refuses more than 4,300 digits with a ValueError; the loader never
    hands it such a number, and says where it is."""
    text = f"input: 1\ntarget: 1\nlayers:\n  - weights: [[0.5, 1{'0' * (digits - 1)}]]\n"
    with pytest.raises(ProblemFileError) as info:
        parse_yaml(text, "t.yaml", pure_python=pure_python)
    error = info.value
    assert error.key == "layers[1].weights[0][1]" and (error.line, error.column) == (4, 21)
    assert f"got one of {digits:,} digits" in str(error) and len(str(error)) < 200


@pytest.mark.parametrize("pure_python", LOADERS)
def test_numbers_up_to_the_limit_are_read(pure_python):
    tiny = "0." + "0" * 300 + "1"                                # a subnormal float64
    assert value(tiny, pure_python) == float(tiny) and value("9" * 400, pure_python) == float("9" * 400)


def test_huge_integer_in_a_file_is_not_finite(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("input: 1" + "0" * 399 + "\ntarget: 1\nlayers:\n  - weights: 1\n", encoding="utf-8")
    with pytest.raises(ProblemFileError, match=r"p\.yaml:1:8: input: expected a finite number"):
        load(path)


@pytest.mark.parametrize("text", [
    "a: [1, 2\n", "input: 1\n\ttarget: 1\n", "a: 1\na: 2\n", "a: *nope\n", "a: &x [*x]\n",
    "a:\n  - 1\n - 2\n", "a: !!merge {b: 1}\n", "? [1]\n: 2\n", "a: 1\n---\nb: 2\n",
])
def test_both_loaders_locate_errors_alike(text):
    """The same line and column, whichever loader reads the file."""
    located = []
    for pure_python in (False, True):
        with pytest.raises(ProblemFileError) as info:
            parse_yaml(text, "t.yaml", pure_python=pure_python)
        message = str(info.value)
        assert "\n" not in message and message.startswith("t.yaml")
        located.append((info.value.line, info.value.column))
    assert located[0] == located[1]


def test_both_loaders_give_the_same_document_and_positions():
    text = textwrap.dedent("""
        title: Two layers          # a comment
        input: &x [1.0, 2]
        target: 1
        layers:
          - activation: tanh
            weights: [[0.1, 0.2], [0.3, 0.4]]
            bias: [0, -0]
          - {activation: sigmoid, weights: [[1, -1]]}
        expected: {"layers[1].z": [0.5, 1.1], loss: .5}
        """).lstrip()
    c_document, c_lines = parse_yaml(text, "t.yaml")
    py_document, py_lines = parse_yaml(text, "t.yaml", pure_python=True)
    assert c_document == py_document and c_lines == py_lines
    assert c_lines[("layers", 0, "weights", 1, 0)] == (6, 28)
    assert c_lines[("expected", "loss", problem_module.KEY)] == (9, 39)


def test_the_loader_class_is_made_once():
    """verify reads many files: the loader class (and its resolvers) is shared."""
    parse_yaml("a: 1\n", "t.yaml")
    first = problem_module._loader()
    parse_yaml("b: 2\n", "u.yaml")
    assert problem_module._loader() is first
    assert problem_module._loader() is not problem_module._loader(pure_python=True)


def test_without_libyaml_the_pure_python_loader_is_used(monkeypatch):
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    monkeypatch.setattr(problem_module, "_LOADERS", {})
    document, lines = parse_yaml("a: [010, yes]\n", "t.yaml")
    assert document == {"a": [10.0, "yes"]} and lines[("a", 1)] == (1, 10)
    assert issubclass(problem_module._loader(), yaml.SafeLoader)


def test_merge_keys_are_plain_keys_in_yaml_1_2(tmp_path):
    """YAML 1.2 has no merge keys: << is a key like any other, so a layer that uses one
    is refused as having an unknown key, never silently merged."""
    document, _ = parse_yaml("a: {<<: {b: 1}}\n", "t.yaml")
    assert document == {"a": {"<<": {"b": 1.0}}}
    path = tmp_path / "p.yaml"
    path.write_text("input: 1\ntarget: 1\nlayers:\n  - &l {activation: relu, weights: 1}\n  - {<<: *l}\n", encoding="utf-8")
    with pytest.raises(ProblemFileError, match=r"p\.yaml:5:\d+: layers\[2\]\.<<: unknown key '<<'"):
        load(path)


def test_aliases_are_shared_not_copied():
    document, _ = parse_yaml("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n", "t.yaml")
    assert document["b"] is document["a"] and document["c"][1] is document["a"]


def test_expanded_size_counts_aliases(monkeypatch):
    monkeypatch.setattr(problem_module, "MAX_VALUES", 100)
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b [*a, *a, *a, *a, *a]\nc: [*b, *b]\n"
    with pytest.raises(ProblemFileError, match="more than 100 values"):
        parse_yaml(text, "t.yaml")
    monkeypatch.setattr(problem_module, "MAX_VALUES", 200)
    parse_yaml(text, "t.yaml")


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, "- " * 5000 + "1\n",
                                  "".join(" " * i + "a:\n" for i in range(1500))])
def test_deep_nesting_is_refused(text):
    start = time.perf_counter()
    with pytest.raises(ProblemFileError, match="nested too deeply") as info:
        parse_yaml(text, "t.yaml")
    assert time.perf_counter() - start < 2 and info.value.line is not None


def test_a_300_by_300_matrix_loads_quickly(tmp_path):
    """The benchmark (benchmarks/loading_speed.py) measures ~0.5 s; this only guards
    against a return of the pure-Python loader's ~5 s (and checks the numbers)."""
    weights = np.random.default_rng(0).normal(size=(300, 300))
    rows = "\n".join("    - [" + ", ".join(map(repr, row.tolist())) + "]" for row in weights)
    values = ", ".join(["0.5"] * 300)
    path = tmp_path / "big.yaml"
    path.write_text(f"input: [{values}]\ntarget: [{values}]\nlayers:\n  - activation: identity\n    weights:\n{rows}\n",
                    encoding="utf-8")
    start = time.process_time()
    problem = load(path)
    assert time.process_time() - start < 3.0
    assert np.array_equal(problem.layers[0].weights, weights)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "nul", "not-utf8", "too-big"])
def test_only_small_regular_text_files_are_read(kind, tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    expected = {"fifo": "is a FIFO", "device": "is a character device", "directory": "is a directory",
                "nul": "line 2: contains a NUL byte", "not-utf8": "is not UTF-8 text",
                "too-big": "is larger than 100 bytes"}[kind]
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)                         # no writer: opening it normally would block
    elif kind == "device":
        path = "/dev/zero"
        if not os.path.exists(path):
            pytest.skip("no /dev/zero")
    elif kind == "directory":
        path = tmp_path
    elif kind == "nul":
        path.write_bytes(b"input: 1\ntarget: \x001\n")
    elif kind == "not-utf8":
        path.write_bytes(b"title: caf\xe9\n")
    else:
        monkeypatch.setattr(problem_module, "MAX_FILE_BYTES", 100)
        path.write_text("# padding\n" * 20, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ProblemFileError) as info:
        load(path)
    assert time.perf_counter() - start < 2
    message = str(info.value)
    assert expected in message and "\n" not in message and message.startswith(str(path))
    assert info.value.source == str(path)
