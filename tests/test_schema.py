"""`bpcalc schema`: a JSON Schema (2020-12) that accepts every file the loader accepts and
refuses clearly broken ones.

The loader (:mod:`bpcalc.problem`, :mod:`bpcalc.graph`) is the judge of what a valid file
is: every file shipped or used by the tests that it loads must validate, every broken file
below must be refused by both, and random mutations of valid files that the loader still
accepts must still validate (the schema may be looser than the loader, never stricter).
"""

from __future__ import annotations

import ast
import json
import re
import textwrap

import jsonschema
import pytest
from clitools import PROBLEMS, ROOT, bpcalc
from hypothesis import given, settings
from hypothesis import strategies as st
from networks import networks

from bpcalc.errors import BpcalcError
from bpcalc.grading import QUESTION_KEYS
from bpcalc.graph import GRAPH_KEYS
from bpcalc.problem import LAYER_KEYS, LOSS_KEYS, TOP_KEYS, _Validator, parse_yaml
from bpcalc.schema import DRAFT, NUMBER_TEXT, any_case, problem_schema

SCHEMA = problem_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def document(text: str):
    return parse_yaml(textwrap.dedent(text).lstrip("\n"), "<test>")


def loads(text: str) -> bool:
    """Does the loader accept the file?"""
    doc, lines = document(text)
    try:
        _Validator("<test>", lines).problem(doc)
    except BpcalcError:
        return False
    return True


# ------------------------------------------------------------------ the schema itself

def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == DRAFT == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"]
    json.dumps(SCHEMA, allow_nan=False)        # plain JSON: editors read it as a file


def _properties(node, path=()):
    """Every (path, schema) under a `properties` keyword, anywhere in the schema."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield (*path, name), sub
        for key, sub in node.items():
            yield from _properties(sub, (*path, key))
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            yield from _properties(sub, (*path, index))


def test_every_property_has_a_title_and_a_description():
    """Editors show them on hover and in completion lists. (Conditions, if/then/else, only
    narrow a property declared elsewhere, such as `activation` to the built-in names.)"""
    found = [(path, sub) for path, sub in _properties(SCHEMA) if not {"if", "then", "else"} & set(path)]
    assert len(found) > 50
    missing = [path for path, sub in found if not (sub.get("title") and sub.get("description"))]
    assert not missing, missing


def test_the_schema_is_built_from_the_registries(monkeypatch):
    """A new activation or loss in the registry is in the schema without touching schema.py."""
    from bpcalc import activations, losses

    monkeypatch.setitem(activations.ACTIVATIONS, "mish", activations.ACTIVATIONS["silu"])
    monkeypatch.setitem(losses.LOSSES, "log_cosh", losses.LOSSES["squared_error"])
    schema = problem_schema()
    assert "mish" in schema["$defs"]["activationName"]["anyOf"][0]["enum"]
    assert "log_cosh" in schema["$defs"]["lossName"]["anyOf"][0]["enum"]
    validator = jsonschema.Draft202012Validator(schema)
    doc = {"input": 1, "target": 1, "loss": "Log_Cosh", "layers": [{"activation": "MISH", "weights": 1}]}
    assert validator.is_valid(doc) and not VALIDATOR.is_valid(doc)


def test_top_level_keys_follow_the_loaders_lists():
    defs = SCHEMA["$defs"]
    assert list(defs["layered"]["properties"]) == list(TOP_KEYS)
    assert list(defs["graph"]["properties"]) == list(GRAPH_KEYS)
    assert list(defs["layer"]["properties"]) == list(LAYER_KEYS)
    assert list(defs["question"]["properties"]) == list(QUESTION_KEYS)


# ------------------------------------------------------------------ valid files validate

@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.name)
def test_every_shipped_problem_validates(path):
    doc, _lines = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    assert errors(doc) == []


def _yaml_fixtures():
    """Every string in the test modules that looks like a problem file and that the loader
    loads (the fixtures of the other tests, found without listing them by hand)."""
    found = []
    for module in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if "layers:" not in node.value and "nodes:" not in node.value:
                continue
            text = textwrap.dedent(node.value).lstrip("\n")
            try:
                doc, lines = parse_yaml(text, module.name)
                _Validator(module.name, lines).problem(doc)
            except (BpcalcError, RecursionError):
                continue
            found.append(pytest.param(doc, id=f"{module.name}:{node.lineno}"))
    return found


FIXTURES = _yaml_fixtures()


def test_the_fixture_sweep_finds_fixtures():
    assert len(FIXTURES) >= 10


@pytest.mark.parametrize("doc", FIXTURES)
def test_every_test_fixture_that_loads_validates(doc):
    assert errors(doc) == []


@settings(max_examples=150)
@given(networks(max_layers=3, max_width=3, max_examples=3))
def test_generated_networks_validate(doc):
    """The property tests' networks (every activation and loss, examples, slopes, fixed
    parameters): each one the loader accepts validates."""
    from bpcalc.problem import Problem

    try:
        Problem.from_dict(doc)
    except BpcalcError:
        return
    assert errors(doc) == []


NAMES_IN_ANY_CASE = """
    input: [1, 2]
    target: 1
    loss: {name: ' Huber ', delta: 0.5}
    learning_rate: '0.1'
    examples_are_not_here: null
    layers:
      - activation: LEAKY_ReLU
        slope: 0.2
        weights: [[0.1, -0.2], ['0.3', 0.4]]
        bias: null
        names: {weights: [[w1, null], [w3, w4]]}
        fixed: [weights]
      - activation: ' Sigmoid '
        weights: [0.1, 0.2]
        bias: '-0.5'
"""


def test_names_in_any_case_and_quoted_numbers_are_accepted_as_the_loader_accepts_them():
    text = NAMES_IN_ANY_CASE.replace("    examples_are_not_here: null\n", "")
    assert loads(text)
    assert errors(document(text)[0]) == []
    for name in ("Sigmoid", "RELU", "tanh", "Linear", "SoftMax"):
        doc = {"input": 1, "target": 1, "layers": [{"activation": name, "weights": 1}]}
        assert errors(doc) == [], name
    doc = {"input": 1, "target": 1, "loss": "Binary_Cross_Entropy", "reduction": "SUM",
           "layers": [{"activation": "sigmoid", "weights": 1}]}
    assert errors(doc) == []


def test_custom_activations_are_accepted_by_name():
    text = """
        activations: {swish: {f: z*sigma(z)}}
        input: 1
        target: 1
        layers: [{activation: Swish, weights: 1}]
    """
    assert loads(text) and errors(document(text)[0]) == []
    without = text.replace("        activations: {swish: {f: z*sigma(z)}}\n", "")
    assert not loads(without) and errors(document(without)[0])


GRAPH = """
    title: staged
    inputs: {x: 3, y: -4}
    parameters: {w0: 2}
    nodes:
      sigy: sigma(y)
      num: x + sigy
      g: 'max(num, w0)'
      f: g / sigy
    output: f
    learning_rate: 0.1
    examples:
      - {inputs: {z: 1}}
      - {inputs: {z: 2}}
    reduction: Sum
    expected: {gradients.z: [0, 0]}
    questions:
      - {id: dfdx, numeric: 'gradients.w0', tolerance: {abs: 0.01}}
"""


def test_a_graph_file_validates():
    assert loads(GRAPH)
    assert errors(document(GRAPH)[0]) == []


# ------------------------------------------------------------------ broken files are refused

BASE = """
    input: [1, 2]
    target: 1
    layers:
      - activation: sigmoid
        weights: [[0.1, 0.2]]
"""

BROKEN = {
    "unknown top key": BASE + "    epochs: 3\n",
    "inputs instead of input": BASE.replace("input: [1, 2]", "inputs: [1, 2]"),
    "no layers": "input: 1\ntarget: 1\n",
    "no target": BASE.replace("    target: 1\n", ""),
    "input and examples": BASE + "    examples: [{input: 1, target: 1}]\n",
    "unknown activation": BASE.replace("sigmoid", "sigmod"),
    "unknown loss": BASE + "    loss: cross_entropi\n",
    "weights as text": BASE.replace("[[0.1, 0.2]]", "'0.1 0.2'"),
    "a weight as text": BASE.replace("[[0.1, 0.2]]", "[[0.1, abc]]"),
    "rows mixed with numbers": BASE.replace("[[0.1, 0.2]]", "[[0.1], 0.2]"),
    "a layer without weights": BASE.replace("        weights: [[0.1, 0.2]]\n", ""),
    "a layer without activation": BASE.replace("      - activation: sigmoid\n        weights",
                                               "      - weights"),
    "an unknown layer key": BASE + "        dropout: 0.5\n",
    "slope on sigmoid": BASE + "        slope: 0.1\n",
    "bias: none": BASE + "        bias: none\n",
    "bias: false": BASE + "        bias: false\n",
    "a bad name": BASE + "        names: {weights: [1w, w2]}\n",
    "fixed: everything": BASE + "        fixed: everything\n",
    "a negative learning rate": BASE + "    learning_rate: -0.1\n",
    "reduction: median": BASE + "    reduction: median\n",
    "huber's delta on mse": BASE + "    loss: {name: mean_squared_error, delta: 1}\n",
    "name and cost": BASE + "    loss: {name: huber, cost: a - t}\n",
    "an example without target": BASE.replace("    input: [1, 2]\n    target: 1\n",
                                              "    examples: [{input: [1, 2]}]\n"),
    "question without id": BASE + "    questions: [{numeric: gradients.w1_11}]\n",
    "question with two kinds": BASE + "    questions: [{id: q, numeric: 1, formula: a}]\n",
    "question with no kind": BASE + "    questions: [{id: q, prompt: what?}]\n",
    "question with an unknown key": BASE + "    questions: [{id: q, numeric: 1, answer: 2}]\n",
    "choice without correct": BASE + "    questions: [{id: q, choice: [a, b]}]\n",
    "choice with one option": BASE + "    questions: [{id: q, choice: [a], correct: a}]\n",
    "tolerance on a formula": BASE + "    questions: [{id: q, formula: a, tolerance: {abs: 1}}]\n",
    "rel of 1": BASE + "    questions: [{id: q, numeric: 1, tolerance: {rel: 1}}]\n",
    "not a mapping": "- input: 1\n",
    "custom activation named like a built-in": BASE + "    activations: {relu: {f: z}}\n",
    # graphs
    "graph: a node named after a function": "inputs: {x: 1}\nnodes: {sigma: x + 1}\n",
    "graph: a leaf value as text": "inputs: {x: one}\nnodes: {f: x + 1}\n",
    "graph: layered keys": "inputs: {x: 1}\nnodes: {f: x}\nlayers: []\n",
    "graph: reduction without examples": "inputs: {x: 1}\nnodes: {f: x}\nreduction: mean\n",
    "graph: an empty nodes mapping": "inputs: {x: 1}\nnodes: {}\n",
    "graph: a node formula that is a list": "inputs: {x: 1}\nnodes: {f: [x]}\n",
    "graph: an example's unknown key": "nodes: {f: x}\nexamples: [{input: {x: 1}}]\n",
    "graph: a bad name": "inputs: {2x: 1}\nnodes: {f: 1}\n",
}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_files_are_refused_by_the_schema_and_by_the_loader(name):
    text = BROKEN[name]
    assert not loads(text), "the loader accepts it, so it is no broken file"
    assert errors(document(text)[0]), "the schema accepts a broken file"


def test_a_key_that_verify_cannot_check_is_refused(tmp_path):
    """The loader leaves answer keys to `bpcalc verify`, which refuses a key that is not a
    number (exit 2); the schema refuses it at once."""
    text = BASE + "    expected: {loss: abc}\n"
    path = tmp_path / "key.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    assert bpcalc("verify", str(path)).exit_code == 2
    assert errors(document(text)[0])


# ------------------------------------------------------------------ the schema is never stricter

_KEYS = sorted({*TOP_KEYS, *LAYER_KEYS, *GRAPH_KEYS, *QUESTION_KEYS, *LOSS_KEYS, "rel", "abs", "rounding"})
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, -0.25, 1e-3, 2.0]),
    st.sampled_from(["0.5", " 2 ", "1_0", "abc", "Sigmoid", "SUM", "mean", "x", "a", "weights",
                     "gradients.w1_11", "HUBER", "relu", "", "none"]),
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3),
                    st.lists(st.lists(st.sampled_from([0.1, -0.2, "0.3"]), min_size=1, max_size=2),
                             min_size=1, max_size=2),
                    st.dictionaries(st.sampled_from(_KEYS), _SCALARS, max_size=2))


def _places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _places(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _places(sub, (*path, index))


def _mutate(doc, data):
    places = list(_places(doc))[1:]
    path = data.draw(st.sampled_from(places))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = data.draw(st.sampled_from(["replace", "delete", "add", "case"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(_KEYS))] = data.draw(_VALUES)
    elif action == "case" and isinstance(parent[last], str):
        parent[last] = data.draw(st.sampled_from([str.upper, str.title, lambda s: f" {s} "]))(parent[last])
    else:
        parent[last] = data.draw(_VALUES)


def _valid_documents():
    from bpcalc.templates import graph, layered

    docs = [parse_yaml(path.read_text(encoding="utf-8"), str(path))[0] for path in PROBLEMS]
    docs.append(document(GRAPH)[0])
    docs.append(parse_yaml(graph().text, "g.yaml")[0])
    docs.append(parse_yaml(layered((2, 3, 2), "leaky_relu", "huber").text, "l.yaml")[0])
    docs.append(document(NAMES_IN_ANY_CASE.replace("    examples_are_not_here: null\n", ""))[0])
    return [json.dumps(doc) for doc in docs]      # plain JSON values (a WrittenNumber is a float)


VALID = _valid_documents()


@settings(max_examples=300)
@given(st.data())
def test_mutated_files_that_still_load_still_validate(data):
    """Random edits of valid files (a value replaced, a key removed or added, a name's case
    changed): whenever the loader still accepts the file, the schema must too."""
    doc = json.loads(VALID[data.draw(st.integers(0, len(VALID) - 1))])
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(doc, data)
    try:
        _Validator("<mutated>", {}).problem(doc)
    except BpcalcError:
        return
    expected = doc.get("expected") or {}
    if not all(_a_key_verify_reads(value) for value in expected.values()):
        return                  # the loader leaves keys to verify, which refuses this one (exit 2)
    assert errors(doc) == []


def _a_key_verify_reads(value) -> bool:
    """A number or a nested list of numbers (not booleans), as `bpcalc verify` reads keys."""
    if isinstance(value, list):
        return all(_a_key_verify_reads(item) for item in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------ patterns

@settings(max_examples=500)
@given(st.text(alphabet="0123456789._eE+- \t", max_size=8))
def test_the_quoted_number_pattern_reads_what_float_reads(text):
    """The loader reads a quoted number with float(): the pattern agrees with it."""
    try:
        float(text)
        readable = True
    except ValueError:
        readable = False
    assert bool(re.search(NUMBER_TEXT, text)) == readable


def test_any_case_patterns_need_no_flags():
    """ECMA-262 (editors) has no inline (?i): letters are spelled as [sS] classes."""
    pattern = any_case(["sigmoid", "leaky_relu"])
    assert "(?i)" not in pattern
    for word in ("sigmoid", "SIGMOID", " Leaky_ReLU ", "leaky_relu"):
        assert re.search(pattern, word), word
    for word in ("sigmoidx", "leaky relu", "relu"):
        assert not re.search(pattern, word), word


# ------------------------------------------------------------------ the command

def test_schema_command_prints_the_schema():
    result = bpcalc("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(SCHEMA))


def test_schema_command_writes_a_file(tmp_path):
    target = tmp_path / "bpcalc.schema.json"
    target.write_text("old", encoding="utf-8")
    result = bpcalc("schema", "--output", str(target))
    assert result.exit_code == 0 and "bpcalc.schema.json" in result.stdout
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(SCHEMA))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bpcalc.schema.json"]   # no temporary left


def test_schema_command_into_a_missing_folder_is_one_line(tmp_path):
    result = bpcalc("schema", "--output", str(tmp_path / "nowhere" / "s.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("bpcalc: error: ") and result.stderr.count("\n") == 1


def test_schema_help_says_how_to_use_it_with_an_editor():
    result = bpcalc("schema", "--help")
    assert result.exit_code == 0
    assert "# yaml-language-server: $schema=./bpcalc.schema.json" in result.stdout
    assert "bpcalc schema --output bpcalc.schema.json" in result.stdout
