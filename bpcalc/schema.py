"""A JSON Schema (draft 2020-12) of problem files, layered networks and computation graphs.

Editors that speak the YAML language server validate and complete a problem file
against it (``# yaml-language-server: $schema=./bpcalc.schema.json`` on its first
line). The schema is built from the same registries and key lists the loader reads
(:data:`bpcalc.activations.ACTIVATIONS`, :data:`bpcalc.losses.LOSSES`,
:data:`bpcalc.problem.TOP_KEYS`, :data:`bpcalc.graph.GRAPH_KEYS`,
:data:`bpcalc.grading.QUESTION_KEYS`, the formula language's function table), so an
activation added to the registry is in the schema without touching this file.

The schema is a *necessary* condition: it never refuses a file the loader accepts
(names are case-insensitive there, so they are here; a number may be quoted, as the
loader reads ``'0.5'`` too), and it refuses what it can say in JSON Schema: unknown
keys, unknown activations and losses, text where numbers belong, a question without
an id. What needs the file as a whole (weight shapes against the layer sizes, a
graph node that uses a later one, a cross-entropy target outside [0, 1]) is left to
the loader, whose one-line errors say where.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:bpcalc:problem-file"
SCHEMA_FILE = "bpcalc.schema.json"      # where `bpcalc schema --output` is told to write it
MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"

# What Python's float() reads (the loader's reading of a quoted number, '0.5', ' 1e-3 ',
# '1_000'), as an ECMA-262 pattern, so editors and Python agree on it.
_DIGITS = "[0-9](?:_?[0-9])*"
NUMBER_TEXT = (rf"^\s*[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?\s*$")
POSITIVE_TEXT = NUMBER_TEXT.replace("[+-]?", "[+]?", 1)
NAME = "^[A-Za-z][A-Za-z0-9_]*$"          # bpcalc.problem.NAME_PATTERN, anchored for JSON Schema
LETTER = r"^\s*[A-Za-z]\s*$"


def any_case(words: Iterable[str], *, spaces: bool = True) -> str:
    """A pattern that matches one of ``words`` in any letter case (``[sS][iI]…``: ECMA-262
    patterns have no case-insensitive flag), with the surrounding white space the loader
    strips. Case-insensitive like the loader, which lowercases a name before it looks it up."""
    def letters(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)

    body = "|".join(letters(word) for word in sorted(set(words), key=lambda w: (-len(w), w)))
    pad = r"\s*" if spaces else ""
    return f"^{pad}(?:{body}){pad}$"


def _doc(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {"title": title, "description": description, **schema}


def _ref(name: str, title: str, description: str, **extra: Any) -> dict[str, Any]:
    return _doc({"$ref": f"#/$defs/{name}", **extra}, title, description)


def _one_of_names(names: Iterable[str], what: str) -> dict[str, Any]:
    """A registry name: the lowercase names for completion, any letter case accepted."""
    names = sorted(set(names))
    return {"anyOf": [{"enum": names}, {"type": "string", "pattern": any_case(names)}],
            "description": f"one of: {', '.join(names)} (any letter case: {what})"}


def problem_schema() -> dict[str, Any]:
    """The JSON Schema of a problem file (layered or graph: a file with ``nodes`` is a graph)."""
    from . import __version__
    from .activations import ACTIVATIONS
    from .expr import function_table
    from .grading import QUESTION_KEYS
    from .graph import GRAPH_KEYS
    from .graph import REDUCTIONS as GRAPH_REDUCTIONS
    from .losses import LOSSES
    from .problem import (
        ACTIVATION_PARAMETERS,
        LAYER_KEYS,
        LOSS_KEYS,
        PARAMETER_KINDS,
        REDUCTIONS,
        TOP_KEYS,
    )

    activations = sorted(ACTIVATIONS)
    defs: dict[str, Any] = {
        "number": {
            "title": "A number",
            "description": "A finite number such as 0.5, -3 or 1e-3 (a quoted number, '0.5', is read too).",
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMBER_TEXT}],
        },
        "positive": {
            "title": "A positive number",
            "description": "A number greater than 0.",
            "anyOf": [{"type": "number", "exclusiveMinimum": 0},
                      {"type": "string", "pattern": POSITIVE_TEXT}],
        },
        "numbers": {
            "title": "A number or a list of numbers",
            "description": "One number, or a non-empty list of numbers (one per neuron).",
            "anyOf": [{"$ref": "#/$defs/number"},
                      {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/number"}}],
        },
        "nothing": {
            "title": "Nothing",
            "description": "An empty value (null, false, 0, '', [] or {}): the same as leaving the key out.",
            "enum": [None, False, 0, "", [], {}],
        },
        "text": {
            "title": "Text",
            "description": "Free text (a number is read as its text).",
            "type": ["string", "number", "boolean", "null"],
        },
        "formula": {
            "title": "A formula",
            "description": "A formula in the syntax of `bpcalc formula` (+ - * / ^, sigma, relu, exp, "
                           "ln, …), e.g. z*sigma(z); never evaluated as code.",
            "type": ["string", "number"],
        },
        "name": {
            "title": "A name",
            "description": "A letter, then letters, digits or _ (w1, b_2, h1_2).",
            "type": "string", "pattern": NAME,
        },
        "pathOrNumber": {
            "title": "A path into the solution, or a number",
            "description": "A path such as gradients.w1 or layers[2].delta[0] (nodes.f.grad for a "
                           "graph), or a number.",
            "anyOf": [{"type": "string"}, {"type": "number"}],
        },
        "keyValue": {
            "title": "An expected value",
            "description": "A number, or a (nested) list of numbers, to the digits you trust.",
            "anyOf": [{"type": "number"}, {"type": "array", "items": {"$ref": "#/$defs/keyValue"}}],
        },
        "expected": {
            "title": "Answer keys",
            "description": "Paths into `bpcalc solve --format json` mapped to their values, checked by "
                           "`bpcalc verify`: loss, gradients.NAME, updated.NAME, layers[l].z, … "
                           "(graphs: value, nodes.NAME.value, nodes.NAME.grad, gradients.NAME, "
                           "updated.NAME).",
            "anyOf": [{"$ref": "#/$defs/nothing"}, {
                "type": "object",
                "propertyNames": {"minLength": 1},
                "additionalProperties": {"$ref": "#/$defs/keyValue"}}],
        },
        "questions": {
            "title": "Questions",
            "description": "Questions for `bpcalc check` and `bpcalc grade`: numeric, formula or choice.",
            "anyOf": [{"$ref": "#/$defs/nothing"}, {"type": "array", "items": {"$ref": "#/$defs/question"}}],
        },
        "question": _question_schema(QUESTION_KEYS),
        "reduction": _doc(_one_of_names(REDUCTIONS, "Mean, SUM"), "Reduction over examples",
                          "mean (default): C is the mean of the examples' costs; sum: their sum."),
        "activationName": _doc(_one_of_names(activations, "Sigmoid, ReLU"), "A built-in activation",
                               "One of the registry's activations, in any letter case."),
        "lossName": _doc(_one_of_names(LOSSES, "Binary_Cross_Entropy"), "A built-in loss",
                         "One of the registry's losses, in any letter case."),
        "nameGrid": {
            "title": "Names",
            "description": "A name, a list of names, or a matrix of names in the shape of the values; "
                           "null entries keep the default names (w{l}_{jk}, b{l}_{j}).",
            "anyOf": [
                {"type": "null"}, {"$ref": "#/$defs/name"},
                {"type": "array", "minItems": 1, "items": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/name"}]}},
                {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": {
                    "anyOf": [{"type": "null"}, {"$ref": "#/$defs/name"}]}}},
            ],
        },
        "layer": _layer_schema(ACTIVATIONS, ACTIVATION_PARAMETERS, LAYER_KEYS, PARAMETER_KINDS),
        "loss": _loss_schema(LOSSES, LOSS_KEYS),
        "layered": _layered_schema(TOP_KEYS, ACTIVATIONS),
        "graphName": {
            "title": "A graph name",
            "description": "A letter, then letters, digits or _ (h1_2), not the name of a function of "
                           "the formula language (sigma, max, exp, … in any case); every name distinct.",
            "type": "string", "pattern": NAME,
            "not": {"pattern": any_case(function_table(), spaces=False)},
        },
        "leafValues": {
            "title": "Leaf values",
            "description": "A mapping of names to numbers, e.g. {x: 3, y: -4}.",
            "type": ["object", "null"],
            "propertyNames": {"$ref": "#/$defs/graphName"},
            "additionalProperties": {"$ref": "#/$defs/number"},
        },
        "graph": _graph_schema(GRAPH_KEYS, GRAPH_REDUCTIONS),
    }
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "bpcalc problem file",
        "description": (f"A back-propagation problem for bpcalc {__version__}: a layered network "
                        "(layers:) or a computation graph (nodes:). Run `bpcalc new FILE` for a "
                        "commented example of either, `bpcalc solve FILE` to solve it."),
        "type": "object",
        "if": {"required": ["nodes"]},
        "then": {"$ref": "#/$defs/graph"},
        "else": {"$ref": "#/$defs/layered"},
        "$defs": defs,
    }


def _properties(keys: Iterable[str], known: Mapping[str, Any]) -> dict[str, Any]:
    """Each key of ``keys`` (the loader's list, in its order) with its schema; a key the
    loader reads that has no schema here is a bug, found at once."""
    missing = [key for key in keys if key not in known]
    if missing:
        raise KeyError(f"no schema for the loader's key(s) {', '.join(missing)}")
    return {key: known[key] for key in keys}


def _examples(description: str, item: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A non-empty list of examples, each a mapping with exactly ``properties``."""
    return {"title": "Several examples", "description": description, "type": "array", "minItems": 1,
            "items": {"title": "An example", "description": item, "type": "object",
                      "required": list(properties), "additionalProperties": False, "properties": properties}}


def _train_schema() -> dict[str, Any]:
    from .training import json_schema

    return json_schema()


def _layered_schema(top_keys: Iterable[str], activations: Mapping[str, Any]) -> dict[str, Any]:
    known = {
        "title": _ref("text", "Title", "A short title, shown above the tables."),
        "description": _ref("text", "Description", "Free text: the homework question as given."),
        "input": _ref("numbers", "Input a⁰",
                      "The input: a number or a list, one value per input neuron."),
        "target": _ref("numbers", "Target t",
                       "The target: a number or a list, one per output neuron (a class is a one-hot "
                       "list such as [0, 1, 0]; cross-entropies need values between 0 and 1)."),
        "examples": _examples("Instead of input/target: a list of {input: …, target: …}; the cost is "
                              "their mean or sum (reduction).", "One input and its target.", {
                                  "input": _ref("numbers", "Input", "This example's input a⁰."),
                                  "target": _ref("numbers", "Target", "This example's target t.")}),
        "loss": _ref("loss", "Loss", "The cost C (default half_squared_error): a built-in name, "
                     "{name: huber, delta: 0.5}, or your own {cost: (a - t)^4/4}."),
        "reduction": _ref("reduction", "Reduction", "With examples: mean (default) or sum of the costs."),
        "learning_rate": _doc({"anyOf": [{"$ref": "#/$defs/positive"}, {"type": "null"}]},
                              "Learning rate η", "For the SGD update w ← w − η ∂C/∂w (optional)."),
        "layers": {
            "title": "Layers",
            "description": "From the first hidden layer to the output layer (layers[1] is the first "
                           "after the input). softmax may only be the last layer's activation.",
            "type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"},
        },
        "expected": _ref("expected", "Answer keys", "Checked by `bpcalc verify`."),
        "questions": _ref("questions", "Questions", "Graded by `bpcalc check` and `bpcalc grade`."),
        "train": _train_schema(),
        "activations": {
            "title": "Your own activations",
            "description": "Activations defined by a formula in z, e.g. {swish: {f: z*sigma(z)}}; "
                           "bpcalc derives f′. Use them by name in the layers.",
            "type": ["object", "null"],
            "propertyNames": {"$ref": "#/$defs/name",
                              "not": {"pattern": any_case(activations, spaces=False)}},
            "additionalProperties": {
                "title": "An activation", "description": "{f: <a formula in z>}",
                "type": "object", "required": ["f"], "additionalProperties": False,
                "properties": {"f": _ref("formula", "f(z)", "The activation as a formula in z.")},
            },
        },
        "regularization": {
            "title": "Regularization",
            "description": "{l2: λ}: Nielsen's C = C0 + λ/(2n)·Σw² over the weights (not biases), "
                           "n = number of examples.",
            "type": ["object", "null"], "additionalProperties": False,
            "properties": {"l2": _doc({"anyOf": [{"type": "number", "minimum": 0},
                                                 {"type": "string", "pattern": POSITIVE_TEXT}]},
                                      "L2 strength λ", "λ ≥ 0; ∂C/∂w gains (λ/n)·w.")},
        },
    }
    return {
        "title": "A layered network",
        "description": "input/target (or examples), layers from the first hidden to the output layer, "
                       "a loss and a learning rate.",
        "type": "object",
        "required": ["layers"],
        "additionalProperties": False,
        "properties": _properties(top_keys, known),
        "anyOf": [{"required": ["examples"]}, {"required": ["input", "target"]}],
        "dependentSchemas": {
            "examples": {"not": {"anyOf": [{"required": ["input"]}, {"required": ["target"]}]}},
        },
        # Without activations of its own, a file's layers name built-in activations.
        "if": {"required": ["activations"], "properties": {"activations": {"type": "object", "minProperties": 1}}},
        "else": {"properties": {"layers": {"items": {"properties": {
            "activation": {"$ref": "#/$defs/activationName"}}}}}},
    }


def _layer_schema(activations: Mapping[str, Any], parameters: Iterable[str], layer_keys: Iterable[str],
                  kinds: Iterable[str]) -> dict[str, Any]:
    kinds = list(kinds)
    owners: dict[str, list[Any]] = {}
    for activation in activations.values():
        for parameter in activation.params:
            owners.setdefault(parameter, []).append(activation)
    known: dict[str, Any] = {
        "activation": {
            "title": "Activation f",
            "description": "a = f(z): a built-in activation (any letter case) or one defined under "
                           "activations:; identity for a linear layer.",
            "type": "string", "examples": sorted({a.name for a in activations.values()}),
        },
        "weights": {
            "title": "Weights w^l",
            "description": "Shape (neurons of this layer) × (inputs of this layer): row j holds the "
                           "weights into neuron j (Nielsen's w^l_jk). A number for 1×1, a list of rows, "
                           "or a flat list (one neuron's row, or one weight per neuron when the previous "
                           "layer has one neuron).",
            "anyOf": [
                {"$ref": "#/$defs/number"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/number"}},
                {"type": "array", "minItems": 1,
                 "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/number"}}},
            ],
        },
        "bias": _doc({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/numbers"}]}, "Biases b^l",
                     "One bias per neuron (a number for one neuron); absent or null: no bias."),
        "names": {
            "title": "Names",
            "description": "Your names for this layer's parameters: {weights: …, bias: …}.",
            "anyOf": [{"$ref": "#/$defs/nothing"}, {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "weights": _ref("nameGrid", "Weight names", "A name, or names in the shape of the weights."),
                    "bias": _ref("nameGrid", "Bias names", "A name, or a list with one name per bias."),
                }}],
        },
        "fixed": {
            "title": "Fixed parameters",
            "description": "Kept out of the SGD update (their gradients are still shown): "
                           + ", ".join(kinds) + " or a list of them.",
            "anyOf": [{"type": "null"}, {"enum": kinds}, {"type": "array", "items": {"enum": kinds}}],
        },
    }
    rules = []
    for parameter in parameters:
        names = sorted({a.name for a in owners[parameter]})
        defaults = ", ".join(f"{a.name} {a.params[parameter]:g}" for a in sorted(
            {a.name: a for a in owners[parameter]}.values(), key=lambda a: a.name))
        known[parameter] = _ref("number", f"{parameter} (for {', '.join(names)})",
                                f"The activation's parameter {parameter} (default: {defaults}).")
        spelled = [name for name, a in activations.items() if parameter in a.params]
        rules.append({"if": {"required": [parameter]},
                      "then": {"properties": {"activation": {"pattern": any_case(spelled)}}}})
    return {
        "title": "A layer",
        "description": "z^l = w^l a^{l−1} + b^l, a^l = f(z^l).",
        "type": "object",
        "required": ["activation", "weights"],
        "additionalProperties": False,
        "properties": _properties(layer_keys, known),
        "allOf": rules,
    }


def _loss_schema(losses: Mapping[str, Any], loss_keys: Iterable[str]) -> dict[str, Any]:
    parameters = sorted({p for loss in losses.values() for p in loss.params})
    named = {"name": {"$ref": "#/$defs/lossName", "title": "Loss", "description": "A built-in loss."}}
    for parameter in parameters:
        owners = ", ".join(f"{loss.name} {loss.params[parameter]:g}" for loss in losses.values()
                           if parameter in loss.params)
        named[parameter] = _ref("positive", parameter, f"The loss's parameter (default: {owners}).")
    rules = [{"if": {"properties": {"name": {"pattern": any_case([name])}}},
              "then": {"propertyNames": {"enum": ["name", *loss.params]}}}
             for name, loss in losses.items()]
    custom = {
        "cost": _ref("formula", "Your own cost",
                     "Per output, a formula in a, t and n (the number of outputs), summed over the "
                     "outputs; with per_output: false, a formula in a_1 … a_n, t_1 … t_n."),
        "per_output": {"title": "Per output", "description": "true (default): cost is one output's share.",
                       "type": "boolean"},
    }
    used = {*named, *custom}
    if set(loss_keys) != used:
        raise KeyError(f"loss keys differ from the loader's: {sorted(set(loss_keys) ^ used)}")
    return {
        "title": "A loss",
        "description": "A name, {name: …, its parameters}, or {cost: <formula>, per_output: …}.",
        "anyOf": [
            {"$ref": "#/$defs/lossName"},
            {"title": "A built-in loss with its parameters", "description": "e.g. {name: huber, delta: 0.5}",
             "type": "object", "required": ["name"], "additionalProperties": False,
             "properties": named, "allOf": rules},
            {"title": "Your own loss", "description": "e.g. {cost: (a - t)^4/4}",
             "type": "object", "required": ["cost"], "additionalProperties": False, "properties": custom},
        ],
    }


def _graph_schema(graph_keys: Iterable[str], reductions: Iterable[str]) -> dict[str, Any]:
    known = {
        "title": _ref("text", "Title", "A short title, shown above the tables."),
        "description": _ref("text", "Description", "Free text: the homework question as given."),
        "inputs": _ref("leafValues", "Inputs", "Leaf values SGD does not update, e.g. {x: 3, y: -4}; "
                       "with examples, shared by every example."),
        "parameters": _ref("leafValues", "Parameters", "Leaf values SGD updates, e.g. {w0: 2, w1: -3}."),
        "nodes": {
            "title": "Nodes",
            "description": "In order, NAME: a formula over inputs, parameters and earlier nodes "
                           "(max(a, b) and min(a, b) too). Quote a formula with a comma inside {…}.",
            "type": "object", "minProperties": 1,
            "propertyNames": {"$ref": "#/$defs/graphName"},
            "additionalProperties": {"$ref": "#/$defs/formula"},
        },
        "output": _doc({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/graphName"}]}, "Output",
                       "The node whose gradients are taken (default: the last node)."),
        "learning_rate": _doc({"anyOf": [{"$ref": "#/$defs/positive"}, {"type": "null"}]},
                              "Learning rate η", "For the SGD update of the parameters (optional)."),
        "examples": _examples("Input sets evaluated at once: [{inputs: {x: 1}}, …]; every example gives "
                              "the same names.", "{inputs: {name: number}}", {
                                  "inputs": _doc({"type": "object", "minProperties": 1,
                                                  "propertyNames": {"$ref": "#/$defs/graphName"},
                                                  "additionalProperties": {"$ref": "#/$defs/number"}},
                                                 "Inputs", "This example's values of the inputs that vary.")}),
        "reduction": _doc({"anyOf": [{"enum": list(reductions)},
                                     {"type": "string", "pattern": any_case(reductions)}]},
                          "Reduction", "With examples: mean (default) or sum over the examples."),
        "expected": _ref("expected", "Answer keys", "Checked by `bpcalc verify`."),
        "questions": _ref("questions", "Questions", "Graded by `bpcalc check` and `bpcalc grade`."),
        "train": _train_schema(),
    }
    return {
        "title": "A computation graph",
        "description": "inputs and parameters (leaves), nodes as formulas in order, an output.",
        "type": "object",
        "required": ["nodes"],
        "additionalProperties": False,
        "properties": _properties(graph_keys, known),
        "dependentRequired": {"reduction": ["examples"]},
    }


def _question_schema(question_keys: Iterable[str]) -> dict[str, Any]:
    number = {"$ref": "#/$defs/number"}
    known = {
        "id": {"title": "Id", "description": "What answers are given under (--answer ID=VALUE): "
               "letters, digits and _ . / -, e.g. dC_dw2.",
               "type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"},
        "prompt": _ref("text", "Prompt", "The question as the student reads it."),
        "numeric": _ref("pathOrNumber", "Numeric answer", "A path into the solution (gradients.w1) "
                        "or a number."),
        "key": _doc({"anyOf": [{"type": "null"}, number]}, "Published key",
                    "The answer as published, proved right by `bpcalc verify`."),
        "tolerance": {
            "title": "Tolerance", "description": "{rel: 0.01} (1 %), {abs: 0.001}, rounding: true.",
            "type": ["object", "null"], "minProperties": 1, "additionalProperties": False,
            "properties": {
                "rel": _doc({"anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                                       {"type": "string", "pattern": POSITIVE_TEXT}]},
                            "Relative tolerance", "A fraction of the exact value below 1 (0.01 is 1 %)."),
                "abs": _doc({"anyOf": [{"type": "number", "minimum": 0},
                                       {"type": "string", "pattern": POSITIVE_TEXT}]},
                            "Absolute tolerance", "A distance from the exact value, ≥ 0."),
                "rounding": {"title": "Rounding", "type": "boolean",
                             "description": "Also accept answers correctly rounded to their digits."},
            },
        },
        "formula": _ref("formula", "Formula answer", "The expected formula, e.g. a_k^(l-1)*delta_j^l."),
        "variables": {"title": "Variables", "description": "The formula's variables (default: its names).",
                      "type": ["array", "null"], "items": {"type": "string"}},
        "ranges": {
            "title": "Ranges", "description": "Sample ranges of variables: {l: [1, 3]}.",
            "type": ["object", "null"],
            "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2, "items": number},
        },
        "choice": {"title": "Options", "description": "2 to 26 options, answered by letter (a, b, …).",
                   "type": "array", "minItems": 2, "maxItems": 26,
                   "items": {"type": ["string", "number", "boolean"]}},
        "correct": _doc({"anyOf": [{"type": "string", "pattern": LETTER},
                                   {"type": "array", "minItems": 1,
                                    "items": {"type": "string", "pattern": LETTER}}]},
                        "Correct option(s)", "A letter (a for the first option) or a list of letters."),
        "feedback": {"title": "Feedback", "description": "Option letter → what choosing it means.",
                     "anyOf": [{"$ref": "#/$defs/nothing"},
                               {"type": "object", "propertyNames": {"pattern": "^[A-Za-z]$"}}]},
        "show_expected": {"title": "Show the expected answer", "type": "boolean",
                          "description": "false keeps the answer out of the output (default true)."},
        "mistakes": {
            "title": "Known mistakes", "description": "Wrong formulas and what each means.",
            "anyOf": [{"$ref": "#/$defs/nothing"}, {"type": "array", "items": {
                "title": "A mistake", "description": "{formula: …, message: …}",
                "type": "object", "required": ["formula", "message"], "additionalProperties": False,
                "properties": {
                    "formula": _ref("formula", "Wrong formula", "A formula a student may write."),
                    "message": {"title": "Message", "description": "What the mistake means (text)."},
                }}}],
        },
        "verify": {
            "title": "Verification", "description": "The formula at solution values must give a value: "
            "{values: {a: layers[1].a[0][0], t: 1}, equals: layers[1].delta[0][0]}.",
            "anyOf": [{"$ref": "#/$defs/nothing"}, {
                "type": "object", "additionalProperties": False, "required": ["values", "equals"],
                "properties": {
                    "values": {"title": "Values", "description": "Variable → path or number.",
                               "type": "object", "additionalProperties": {"$ref": "#/$defs/pathOrNumber"}},
                    "equals": _ref("pathOrNumber", "Equals", "The value the formula must give."),
                }}],
        },
    }
    # A key of one kind is ignored by the loader on a question of another kind, whatever
    # its value: its form is checked only where it is read.
    only = {"choice": ("correct", "feedback"), "formula": ("variables", "ranges", "mistakes", "verify")}
    conditions = []
    for kind, keys in only.items():
        conditions.append({"if": {"required": [kind]},
                           "then": {"properties": {key: known[key] for key in keys}}})
        for key in keys:
            known[key] = {"title": known[key]["title"],
                          "description": f"{known[key]['description']} ({kind} questions)"}
    return {
        "title": "A question",
        "description": "id and exactly one of numeric, formula or choice.",
        "type": "object",
        "required": ["id"],
        "additionalProperties": False,
        "allOf": conditions,
        "properties": _properties(question_keys, known),
        "oneOf": [{"required": ["numeric"]}, {"required": ["formula"]}, {"required": ["choice"]}],
        "dependentRequired": {"choice": ["correct"], "tolerance": ["numeric"], "key": ["numeric"]},
    }


__all__ = ["DRAFT", "MODELINE", "NUMBER_TEXT", "SCHEMA_FILE", "SCHEMA_ID", "any_case", "problem_schema"]
