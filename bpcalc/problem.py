"""Problem files: YAML (or a dict) in, a validated :class:`Problem` out.

Validation happens once, here, so the solver can trust shapes and numbers.
Every error names the file, the line and column where the YAML has them, and
the key path (``layers[2].weights``: layers are numbered from 1 as in the
course, every other list from 0), and says what was expected.

A file is read only if it is a regular file of at most MAX_FILE_BYTES (so a FIFO
or /dev/zero cannot block or fill memory). YAML is composed into nodes by libyaml
(PyYAML's C loader; the pure-Python loader when libyaml is missing), with the YAML
1.2 core schema's numbers, booleans and null, and converted by hand (no object
construction), which keeps the line of every value and refuses alias bombs,
gigantic documents and numbers of hundreds of digits with a located message.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .activations import ACTIVATIONS, Activation
from .errors import BpcalcError, FileError, ProblemFileError
from .files import MAX_PROBLEM_BYTES
from .files import read_text as read_regular_file
from .losses import LOSSES, Loss
from .numbers import counted, format_number
from .usertext import visible

MAX_FILE_BYTES = MAX_PROBLEM_BYTES   # a problem file is read whole, at most this many bytes
MAX_VALUES = 2_000_000          # scalars and containers, aliases expanded
MAX_NUMBER_DIGITS = 400         # a float64 needs at most ~17 significant digits (and 324 zeros)
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
PARAMETER_KINDS = ("weights", "bias")

TOP_KEYS = ("title", "description", "input", "target", "examples", "loss", "reduction",
            "learning_rate", "layers", "expected", "questions", "activations", "regularization", "train")
REGULARIZATION_KEYS = ("l2",)
ACTIVATION_PARAMETERS = tuple(sorted({p for a in ACTIVATIONS.values() for p in a.params}))
LAYER_KEYS = ("activation", "weights", "bias", "names", "fixed", *ACTIVATION_PARAMETERS)
LOSS_KEYS = ("name", "cost", "per_output", *sorted({p for loss in LOSSES.values() for p in loss.params}))
REDUCTIONS = ("mean", "sum")
# Keys a newcomer writes that mean something else here, and what to write instead.
_KEY_HINTS = {
    "inputs": "for several examples write examples: [{input: …, target: …}, …]; for one, input: …",
    "targets": "for several examples write examples: [{input: …, target: …}, …]; for one, target: …",
}
_NO_BIAS_WORDS = {"none", "no", "nil", "nothing", "false", "off"}

Path = tuple[str | int, ...]


class WrittenNumber(float):
    """A number from a YAML file that remembers how it was written ("2.0810"),
    so an answer key is compared to the digits its author gave."""

    __slots__ = ("text",)

    def __new__(cls, value: float, text: str) -> "WrittenNumber":
        number = super().__new__(cls, value)
        number.text = text
        return number


@dataclass(frozen=True)
class Names:
    """The names of one layer's weights (2-D) or biases (1-D).

    Names the problem gives are kept; the rest are the course-style defaults
    ``w{l}_{jk}`` / ``b{l}_{j}`` (1-based), made on demand so a layer of a
    million weights does not build a million strings unless they are shown.
    ``names[j][k]`` (weights) and ``names[j]`` (biases) read like a grid.
    """

    prefix: str                                   # "w" or "b"
    layer: int                                    # 1-based
    shape: tuple[int, ...]
    given: Mapping[tuple[int, ...], str] = field(default_factory=dict)

    def name(self, *index: int) -> str:
        given = self.given.get(index)
        if given is not None:
            return given
        numbers = [i + 1 for i in index]
        joiner = "_" if max(self.shape) > 9 else ""
        return f"{self.prefix}{self.layer}_" + joiner.join(map(str, numbers))

    def __getitem__(self, j: int) -> Any:
        if len(self.shape) == 1:
            return self.name(j)
        return tuple(self.name(j, k) for k in range(self.shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        return (self[j] for j in range(self.shape[0]))

    def flat(self) -> list[str]:
        """Every name in row-major order (the order of ``values.ravel()``)."""
        head = f"{self.prefix}{self.layer}_"
        joiner = "_" if max(self.shape) > 9 else ""
        rows = [head + str(j + 1) for j in range(self.shape[0])]
        if len(self.shape) == 1:
            names = rows
        else:
            columns = [joiner + str(k + 1) for k in range(self.shape[1])]
            names = [row + column for row in rows for column in columns]
        width = self.shape[1] if len(self.shape) == 2 else 1
        for index, name in self.given.items():
            names[index[0] * width + (index[1] if len(index) == 2 else 0)] = name
        return names


@dataclass(frozen=True)
class Layer:
    """One layer l: z^l = w^l a^{l−1} + b^l, a^l = f(z^l)."""

    activation: Activation
    weights: np.ndarray                       # (n_l, n_{l−1})
    bias: np.ndarray | None                   # (n_l,), or None: the layer has no bias
    weight_names: Names
    bias_names: Names | None
    fixed: frozenset[str] = frozenset()       # subset of {"weights", "bias"}
    params: Mapping[str, float] = field(default_factory=dict)   # e.g. {"slope": 0.01}

    @property
    def size(self) -> int:
        return self.weights.shape[0]


@dataclass(frozen=True)
class Problem:
    """A network, its training data, a loss and a learning rate: one homework question."""

    layers: tuple[Layer, ...]
    inputs: np.ndarray                        # (examples, n_0)
    targets: np.ndarray                       # (examples, n_L)
    loss: Loss
    reduction: str = "mean"
    learning_rate: float | None = None
    single: bool = True                       # given as input/target, not examples
    l2: float = 0.0                           # λ of C = C0 + λ/(2n)·Σw² (weights only)
    title: str | None = None
    description: str | None = None
    expected: Mapping[str, Any] = field(default_factory=dict)
    questions: tuple[Any, ...] = ()
    train: Any = None                         # bpcalc.training.TrainSettings, from ``train:``
    source: str | None = None
    lines: Mapping[Path, tuple[int, int]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.inputs.shape[1], *(layer.size for layer in self.layers)])
        title = f" {self.title!r}" if self.title else ""
        return f"<Problem{title}: {sizes} network, loss {self.loss.name}, {len(self.inputs)} example(s)>"

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, source: str | None = None) -> "Problem":
        """Validate a problem given as a dict (the YAML schema; lists or arrays)."""
        return _Validator(source, {}).problem(document)

    def error(self, path: Path, message: str) -> ProblemFileError:
        """A located error about a key of this problem's file (used by later checks,
        such as the questions, that the loader leaves to their own modules)."""
        return _Validator(self.source, self.lines).fail(path, message)


def load(path: str | os.PathLike[str]) -> Problem:
    """Read, parse and validate a YAML problem file."""
    source = os.fspath(path)
    text = read_text(source)
    document, lines = parse_yaml(text, source)
    return _Validator(source, lines).problem(document)


def read_text(source: str, *, limit: int | None = None) -> str:
    """The file's text (a regular file of at most ``limit`` bytes, UTF-8, no NUL byte),
    or a one-line ProblemFileError. A FIFO, a device or a directory is refused without
    waiting on it (see :mod:`bpcalc.files`)."""
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        return read_regular_file(source, "a YAML problem file", limit)
    except FileError as error:
        message, prefix = str(error), f"{visible(source)}: "
        detail = message[len(prefix):] if message.startswith(prefix) else message
        raise ProblemFileError(detail, source=source) from None


def parse_yaml(text: str, source: str, *, pure_python: bool = False) -> tuple[Any, dict[Path, tuple[int, int]]]:
    """Safe-compose YAML into plain values, and the (line, column) of every key path.

    libyaml (PyYAML's C loader) composes the nodes when it is installed, the pure-Python
    loader otherwise (or with ``pure_python``); both read numbers, booleans and null by
    the YAML 1.2 core schema (:func:`_loader`). Positions of values are stored under
    their path; positions of keys under ``(*path, KEY)``, so an unknown key is pointed
    at itself, not its value."""
    import yaml  # only the commands that read problem files pay for PyYAML

    try:
        node = yaml.compose(text, Loader=_loader(pure_python))
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(error, source) from None
    except yaml.YAMLError as error:
        raise ProblemFileError(f"not valid YAML: {error}", source=source) from None
    except RecursionError:
        raise ProblemFileError("is nested too deeply to read; refusing it", source=source) from None
    if node is None:
        raise ProblemFileError("the file is empty; expected a mapping with 'layers' and "
                               "'input'/'target' (or 'examples')", source=source)
    return _NodeConverter(source).convert(node)


def _yaml_error(error: Any, source: str) -> ProblemFileError:
    """A parser error as one located line (libyaml and PyYAML word them alike)."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    problem = (error.problem or error.context or "invalid YAML").strip()
    if "maximum nesting depth" in problem:
        return ProblemFileError("is nested too deeply to read (libyaml stops at 1,000 levels); "
                                "refusing it", source=source, line=line, column=column)
    context = error.context_mark if error.problem_mark and error.context else None
    if context is not None and (context.line, context.column) != (mark.line, mark.column):
        problem += (f" ({error.context.strip()} that starts at line {context.line + 1}, "
                    f"column {context.column + 1})")
    return ProblemFileError(f"not valid YAML: {problem}", source=source, line=line, column=column)


# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), instead of
# PyYAML's YAML 1.1 rules: 1:30 is text (not 90), 010 is 10 (not octal 8), 0o10 is 8,
# yes/no/on/off/y/n are text (not booleans), 1e-3 is a number (PyYAML 1.1 wants a dot).
_CORE_SCHEMA = (
    ("null", r"(?:~|null|Null|NULL|)", ["~", "n", "N", ""]),
    ("bool", r"(?:true|True|TRUE|false|False|FALSE)", list("tTfF")),
    # Core-schema integers (decimal, 0o, 0x) and floats, in one pattern: each becomes a
    # float64 here, so one regular expression a scalar is enough (an explicit !!int is
    # still checked to be an integer).
    ("float", r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))", list("-+0123456789.")),
)
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?[0-9]+\Z")
_DECIMAL = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
_LOADERS: dict[bool, type] = {}


def _loader(pure_python: bool = False) -> type:
    """PyYAML's safe loader class (libyaml's when available) with the core-schema
    resolvers; made once per process and shared by every file read."""
    if pure_python not in _LOADERS:
        import yaml

        base = yaml.SafeLoader if pure_python else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader = type("CoreSchemaLoader", (base,), {"yaml_implicit_resolvers": {}})
        for name, pattern, first in _CORE_SCHEMA:
            loader.add_implicit_resolver(_TAG + name, re.compile(f"^{pattern}$"), first)
        _LOADERS[pure_python] = loader
    return _LOADERS[pure_python]


KEY = "<key>"   # marks the position of a key itself in the positions map
_PLAIN_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}


class _NodeConverter:
    """YAML nodes -> Python values, in one pass. Only plain tags are allowed (no
    ``!!python/…``). A node reached again through an alias is not rebuilt: its value is
    shared and its expanded size counted, so an alias bomb is refused once the document
    would hold more than MAX_VALUES values, before anything downstream walks it."""

    def __init__(self, source: str) -> None:
        import yaml

        self.source = source
        self.lines: dict[Path, tuple[int, int]] = {}
        self.scalar_node, self.sequence_node = yaml.ScalarNode, yaml.SequenceNode
        self.built: dict[int, tuple[Any, int]] = {}     # id(node) -> (value, expanded size)
        self.active: set[int] = set()                   # containers being built (recursion check)

    def convert(self, node: Any) -> tuple[Any, dict[Path, tuple[int, int]]]:
        try:
            value, _size = self._value(node, ())
        except RecursionError:
            raise ProblemFileError("is nested too deeply to read; refusing it", source=self.source) from None
        return value, self.lines

    def _fail(self, node: Any, message: str, path: Path = ()) -> ProblemFileError:
        return ProblemFileError(message, source=self.source, key=display_path(path) or None,
                                line=node.start_mark.line + 1, column=node.start_mark.column + 1)

    def _too_big(self, node: Any, size: int) -> None:
        if size > MAX_VALUES:
            raise self._fail(node, f"has more than {MAX_VALUES:,} values (or aliases that expand "
                             "to that); refusing it")

    def _value(self, node: Any, path: Path) -> tuple[Any, int]:
        """The node's value and how many values it expands to (itself included)."""
        mark = node.start_mark
        self.lines.setdefault(path, (mark.line + 1, mark.column + 1))
        if type(node) is self.scalar_node:
            return self._scalar(node, path), 1
        key = id(node)
        if key in self.built:
            return self.built[key]
        if key in self.active:
            raise self._fail(node, "an alias refers to itself; refusing a recursive document", path)
        if node.tag not in _PLAIN_TAGS:
            raise self._fail(node, self._tag_message(node.tag), path)
        self.active.add(key)
        if type(node) is self.sequence_node:
            value, size = self._sequence(node, path)
        else:
            value, size = self._mapping(node, path)
        self.active.discard(key)
        self._too_big(node, size)
        self.built[key] = (value, size)
        return value, size

    def _sequence(self, node: Any, path: Path) -> tuple[list, int]:
        items, size, lines = [], 1, self.lines
        for index, item in enumerate(node.value):
            if type(item) is self.scalar_node:      # the common case, kept tight for big matrices
                mark = item.start_mark
                here = (*path, index)
                lines.setdefault(here, (mark.line + 1, mark.column + 1))
                items.append(self._scalar(item, here))
                size += 1
            else:
                value, count = self._value(item, (*path, index))
                items.append(value)
                size += count
                self._too_big(node, size)
        return items, size

    def _mapping(self, node: Any, path: Path) -> tuple[dict, int]:
        result: dict[Any, Any] = {}
        size = 1
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise self._fail(key_node, "merge keys (<<) are not supported; write the keys out", path)
            if type(key_node) is not self.scalar_node:
                raise self._fail(key_node, "expected a plain key", path)
            key = self._scalar(key_node, path)
            if isinstance(key, float):
                key = key.text
            if key in result:
                raise self._fail(key_node, f"duplicate key {key!r}", (*path, key))
            self.lines[(*path, key, KEY)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key], count = self._value(value_node, (*path, key))
            size += 1 + count
            self._too_big(node, size)
        return result, size

    def _scalar(self, node: Any, path: Path) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
            return node.value                  # a date is just text here
        if tag == "tag:yaml.org,2002:float" or tag == "tag:yaml.org,2002:int":
            return self._number(node, path)
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            word = node.value.lower()
            if word not in ("true", "false"):
                raise self._fail(node, f"expected true or false, got {node.value[:40]!r}", path)
            return word == "true"
        raise self._fail(node, self._tag_message(tag), path)

    def _number(self, node: Any, path: Path) -> WrittenNumber:
        """A number as the core schema reads it, read as float64 (a decimal integer too:
        ``float(text)`` has no digit limit, so a 5,000-digit integer cannot crash ``int``)."""
        text = node.value.strip()
        if len(text) > MAX_NUMBER_DIGITS:
            digits = sum(ch.isdigit() for ch in text)
            if digits > MAX_NUMBER_DIGITS:
                raise self._fail(node, f"expected a finite number of at most {MAX_NUMBER_DIGITS} "
                                 f"digits, got one of {digits:,} digits", path)
        integer = node.tag == "tag:yaml.org,2002:int"
        try:
            if _DECIMAL.match(text) and (not integer or _INT.match(text)):
                value = float(text)
            elif text[:2] in ("0x", "0o"):
                value = float(int(text[2:], 16 if text[1] == "x" else 8))
            elif text.lower() in _SPECIAL_FLOATS and not integer:
                value = _SPECIAL_FLOATS[text.lower()]
            else:
                raise ValueError(text)
        except OverflowError:
            value = math.inf                    # refused as "not finite" where a number is read
        except ValueError:
            what = "an integer" if integer else "a number"
            raise self._fail(node, f"expected {what}, got {text[:40]!r}", path) from None
        return WrittenNumber(value, text)

    @staticmethod
    def _tag_message(tag: str) -> str:
        return (f"the tag {tag.replace(_TAG, '!!')} is not allowed: problem files hold plain "
                "numbers, text, lists and mappings")


def display_path(path: Path) -> str:
    """``("layers", 1, "weights", 0)`` -> ``layers[2].weights[0]`` (layers count from 1).
    A key of more than 60 characters (any text can be a key) is shortened with "…"."""
    text = ""
    for position, part in enumerate(path):
        if isinstance(part, int):
            number = part + 1 if position == 1 and path[0] == "layers" else part
            text += f"[{number}]"
        else:
            name = str(part)
            text += ("." if text else "") + (name if len(name) <= 60 else name[:59] + "…")
    return text


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Validator:
    """Checks a plain document and builds the Problem, with located errors."""

    def __init__(self, source: str | None, lines: Mapping[Path, tuple[int, int]]) -> None:
        self.source = source or "<problem>"
        self.lines = lines
        self.custom: dict[str, Activation] = {}

    # -- errors ---------------------------------------------------------------
    def fail(self, path: Path, message: str) -> ProblemFileError:
        line = None
        for depth in range(len(path), -1, -1):      # nearest located ancestor
            if path[:depth] in self.lines:
                line = self.lines[path[:depth]]
                break
        if path and path[-1] == KEY:
            path = path[:-1]
        return ProblemFileError(message, source=self.source, key=display_path(path) or None,
                                line=line[0] if line else None, column=line[1] if line else None)

    def keys(self, mapping: Any, path: Path, allowed: Sequence[str], what: str) -> dict:
        if not isinstance(mapping, Mapping):
            raise self.fail(path, f"expected {what} (a mapping of keys to values), got {describe(mapping)}")
        for key in mapping:
            if key not in allowed:
                hint = _KEY_HINTS.get(key) if isinstance(key, str) and not path else None
                where = (*path, key, KEY) if isinstance(key, str) else path
                if hint:
                    raise self.fail(where, f"unknown key {key!r}: {hint}")
                raise self.fail(where, f"unknown key {key!r}{did_you_mean(key, allowed)}; "
                                f"expected one of: {', '.join(allowed)}")
        return dict(mapping)

    # -- scalars --------------------------------------------------------------
    def number(self, value: Any, path: Path) -> float:
        if isinstance(value, (bool, np.bool_)) or value is None:
            raise self.fail(path, f"expected a number, got {describe(value)}")
        if isinstance(value, str):
            try:
                value = float(value.strip())        # YAML 1.1 reads 1e-3 as a string
            except ValueError:
                raise self.fail(path, f"expected a number, got {describe(value)}") from None
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise self.fail(path, f"expected a number, got {describe(value)}") from None
        if not np.isfinite(result):
            raise self.fail(path, f"expected a finite number, got {value}")
        return result

    def vector(self, value: Any, path: Path, what: str) -> np.ndarray:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            if not value:
                raise self.fail(path, f"expected {what}, got an empty list")
            fast = _plain_numbers(value, 1)
            if fast is not None:
                return fast
            return np.array([self.number(item, (*path, i)) for i, item in enumerate(value)])
        return np.array([self.number(value, path)])

    def matrix(self, value: Any, path: Path, columns: int, feeding: str) -> np.ndarray:
        """Weights: a number, a list of rows, or a flat list (see :func:`_flat_shape`).
        ``feeding`` says what the columns count, for the shape message."""
        if isinstance(value, np.ndarray):
            value = value.tolist()
        fast = _plain_numbers(value, 2) if isinstance(value, (list, tuple)) and value else None
        if fast is not None:
            matrix = fast
        elif not isinstance(value, (list, tuple)):
            matrix = np.array([[self.number(value, path)]])
        elif not value:
            raise self.fail(path, "expected weights, got an empty list")
        elif all(isinstance(row, (list, tuple)) for row in value):
            width = len(value[0])
            rows = []
            for j, row in enumerate(value):
                if len(row) != width:
                    raise self.fail((*path, j), f"expected {counted(width, 'number')} like "
                                    f"the first row, got {len(row)}")
                rows.append([self.number(item, (*path, j, k)) for k, item in enumerate(row)])
            matrix = np.array(rows, dtype=np.float64).reshape(len(rows), width)
        elif any(isinstance(row, (list, tuple)) for row in value):
            raise self.fail(path, "expected a list of rows (lists) or a list of numbers, not a mix")
        else:
            flat = np.array([self.number(item, (*path, i)) for i, item in enumerate(value)])
            matrix = flat.reshape(_flat_shape(len(flat), columns))
        if matrix.shape[1] != columns:
            hint = ""
            if matrix.shape[0] == columns:
                hint = ("; rows are this layer's neurons and columns its inputs (w^l_jk: neuron j, "
                        "input k): did you write it transposed?")
            raise self.fail(path, f"expected {counted(columns, 'column')} (one per input "
                            f"of this layer: {feeding}), got a {matrix.shape[0]}×{matrix.shape[1]} matrix{hint}")
        return matrix

    # -- the document ---------------------------------------------------------
    def problem(self, document: Any) -> Any:
        if isinstance(document, Mapping) and "nodes" in document:     # a computation graph
            from .graph import read_graph

            return read_graph(self, document)
        if isinstance(document, Mapping) and "layers" not in document and \
                ("inputs" in document or "parameters" in document):
            close = difflib.get_close_matches("nodes", [str(k) for k in document], n=1, cutoff=0.6)
            typo = f" (is {close[0]!r} meant to be 'nodes'?)" if close else ""
            raise self.fail((), "missing key 'nodes': a computation graph (inputs, parameters) needs "
                            f"its nodes, formulas in order, e.g. nodes: {{q: x + y, f: q*z}}{typo}; "
                            "a layered network needs 'layers'")
        doc = self.keys(document, (), TOP_KEYS, "a problem")
        if "layers" not in doc:
            raise self.fail((), "missing key 'layers': the list of layers, from the first hidden layer "
                            "to the output layer (or, for a computation graph, 'nodes': formulas "
                            "in order)")
        inputs, targets, single = self.data(doc)
        self.custom = self.custom_activations(doc.get("activations"))
        layers = self.layers(doc["layers"], inputs.shape[1])
        output_size = layers[-1].size
        target_path: Path = ("target",) if single else ("examples",)
        if targets.shape[1] != output_size:
            where = target_path if single else ("examples", 0, "target")
            raise self.fail(where, f"expected {counted(output_size, 'target value')} (the output "
                            f"layer has {counted(output_size, 'neuron')}), got {targets.shape[1]}"
                            + _one_hot_hint(targets, output_size))
        loss = self.loss(doc.get("loss", "half_squared_error"), output_size)
        self.loss_fits(loss, layers[-1], targets, doc, single)
        reduction = doc.get("reduction", "mean")
        if isinstance(reduction, str):
            reduction = reduction.strip().lower()
        if reduction not in REDUCTIONS:
            raise self.fail(("reduction",), f"expected one of: {', '.join(REDUCTIONS)}; got "
                            f"{describe(reduction)}{did_you_mean(reduction, REDUCTIONS)}")
        rate = doc.get("learning_rate")
        if rate is not None:
            rate = self.number(rate, ("learning_rate",))
            if rate <= 0:
                raise self.fail(("learning_rate",), f"expected a positive number (η), got {rate:g}")
        self.names_are_unique(layers)
        l2 = self.regularization(doc.get("regularization"))
        expected = doc.get("expected") or {}
        if not isinstance(expected, Mapping):
            raise self.fail(("expected",), "expected a mapping from answer paths (like gradients.w1) "
                            f"to values, got {describe(expected)}")
        questions = doc.get("questions") or []
        if not isinstance(questions, list):
            raise self.fail(("questions",), f"expected a list of questions, got {describe(questions)}")
        train = None
        if doc.get("train") is not None:
            from .training import read_settings

            train = read_settings(self, doc["train"], len(inputs))
        problem = Problem(
            layers=tuple(layers), inputs=inputs, targets=targets, loss=loss, reduction=reduction,
            learning_rate=rate, single=single, l2=l2, title=self.text(doc, "title"),
            description=self.text(doc, "description"), expected=dict(expected),
            questions=tuple(questions), train=train, source=self.source, lines=dict(self.lines),
        )
        if questions:           # validated now, so every command reports a broken question
            from .grading import parse_questions

            problem = dataclasses.replace(problem, questions=parse_questions(problem, self))
        return problem

    def regularization(self, value: Any) -> float:
        """``regularization: {l2: λ}``: λ ≥ 0 (absent or empty: no penalty)."""
        if value is None:
            return 0.0
        entry = self.keys(value, ("regularization",), REGULARIZATION_KEYS, "a regularization ({l2: 0.1})")
        if "l2" not in entry:
            return 0.0
        l2 = self.number(entry["l2"], ("regularization", "l2"))
        if l2 < 0:
            raise self.fail(("regularization", "l2"), f"expected a number ≥ 0 (λ), got {l2:g}")
        return l2

    def custom_activations(self, value: Any) -> dict[str, Activation]:
        """``activations: {swish: {f: z*sigma(z)}}``: activations defined by a formula in z,
        differentiated symbolically, usable by name in the layers."""
        if value is None:
            return {}
        path: Path = ("activations",)
        if not isinstance(value, Mapping):
            raise self.fail(path, "expected a mapping from names to {f: <a formula in z>}, e.g. "
                            "activations: {swish: {f: z*sigma(z)}}")
        from . import activations

        custom: dict[str, Activation] = {}
        for name, spec in value.items():
            where: Path = (*path, name)
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise self.fail((*where, KEY), f"expected a name made of a letter then letters, digits or _, "
                                f"got {describe(name)}")
            if name.lower() in ACTIVATIONS:
                raise self.fail((*where, KEY), f"{name!r} is a built-in activation; give yours another name")
            entry = self.keys(spec, where, ("f",), "an activation ({f: <a formula in z>})")
            if "f" not in entry:
                raise self.fail(where, "missing key 'f': the activation as a formula in z, e.g. f: z*sigma(z)")
            tree = self.formula(entry["f"], (*where, "f"), ["z"])
            try:
                from .calculus import d

                d(tree, "z")
            except BpcalcError as error:
                raise self.fail((*where, "f"), f"cannot differentiate {entry['f']!r}: {error}") from None
            custom[name.lower()] = activations.custom(name, tree, where=f"{self.source}: activations.{name}")
        return custom

    def formula(self, text: Any, path: Path, variables: Sequence[str]) -> Any:
        """A formula in the course grader's syntax, with only ``variables`` as names."""
        from .errors import FormulaError
        from .formula import parse

        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = getattr(text, "text", str(text))
        if not isinstance(text, str):
            raise self.fail(path, f"expected a formula (text such as z*sigma(z)), got {describe(text)}")
        try:
            return parse(text, allowed=list(variables))
        except FormulaError as error:
            raise self.fail(path, f"the formula does not parse: {error}") from None

    def loss(self, value: Any, outputs: int) -> Loss:
        """``loss: huber``, ``loss: {name: huber, delta: 0.5}``, or the problem's own
        ``loss: {cost: (a - t)^4/4}`` (per output; ``per_output: false`` for a formula in
        a_1 … a_n, t_1 … t_n)."""
        if not isinstance(value, Mapping):
            return self.choice(value, ("loss",), LOSSES, "loss")
        entry = self.keys(value, ("loss",), LOSS_KEYS, "a loss")
        if ("name" in entry) == ("cost" in entry):
            raise self.fail(("loss",), "expected either name: (a built-in loss, with its parameters) or "
                            "cost: (a formula in a and t), e.g. loss: {cost: (a - t)^4/4}")
        if "cost" in entry:
            from . import losses

            per_output = entry.get("per_output", True)
            if not isinstance(per_output, bool):
                raise self.fail(("loss", "per_output"), f"expected true or false, got {describe(per_output)}")
            variables = ["a", "t", "n"] if per_output else (
                [f"a_{j + 1}" for j in range(outputs)] + [f"t_{j + 1}" for j in range(outputs)] + ["n"])
            tree = self.formula(entry["cost"], ("loss", "cost"), variables)
            extra = [key for key in entry if key not in ("cost", "per_output")]
            if extra:
                raise self.fail(("loss", extra[0], KEY), f"'{extra[0]}' is a parameter of a built-in loss, "
                                "not of a cost formula")
            return losses.custom(tree, per_output=per_output, outputs=outputs)
        loss = self.choice(entry["name"], ("loss", "name"), LOSSES, "loss")
        params = dict(loss.params)
        for key in entry:
            if key in ("name",):
                continue
            if key not in loss.params:
                raise self.fail(("loss", key, KEY), f"'{key}' is not a parameter of {loss.name}"
                                + (f" (it takes {', '.join(loss.params)})" if loss.params else " (it takes none)"))
            params[key] = self.number(entry[key], ("loss", key))
            if not params[key] > 0:
                raise self.fail(("loss", key), f"expected a positive number, got {format_number(params[key])}")
        return loss.with_params(params) if params != dict(loss.params) else loss

    def loss_fits(self, loss: Loss, output: Layer, targets: np.ndarray, doc: Mapping, single: bool) -> None:
        """A cross-entropy needs probabilities as targets, and more than one output: on a
        single output −t ln a silently drops the (1 − t) ln(1 − a) term."""
        if loss.name == "cross_entropy" and output.size == 1:
            raise self.fail(("loss",), "cross_entropy −Σ t ln a on a single output neuron leaves out "
                            "the (1 − t) ln(1 − a) term: use loss: binary_cross_entropy")
        if loss.domain(np.full((1, 1), 0.5), np.full((1, 1), 0.5)) is not None or \
                loss.domain(np.full((1, 1), 2.0), np.full((1, 1), 0.5)) is None:
            return                                     # not a loss of probabilities
        outside = np.argwhere((targets < 0) | (targets > 1))
        if outside.size:
            example, j = (int(i) for i in outside[0])
            if single:
                path: Path = ("target", j) if isinstance(doc.get("target"), list) else ("target",)
            else:
                given = doc["examples"][example].get("target")
                path = ("examples", example, "target") + ((j,) if isinstance(given, list) else ())
            raise self.fail(path, f"expected a target between 0 and 1 for {loss.name} (a probability, "
                            f"or a one-hot class such as [0, 1, 0]), got {format_number(targets[example, j])}")

    def text(self, doc: Mapping, key: str) -> str | None:
        value = doc.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise self.fail((key,), f"expected text, got {describe(value)}")
        return None if value is None else str(value)

    def choice(self, name: Any, path: Path, registry: Mapping[str, Any], what: str) -> Any:
        """A registry entry by name; names are case-insensitive (Sigmoid, ReLU)."""
        if isinstance(name, str) and name.strip().lower() in registry:
            return registry[name.strip().lower()]
        if not isinstance(name, str) or name not in registry:
            valid = sorted(registry)
            raise self.fail(path, f"unknown {what} {describe(name)}{did_you_mean(name, valid)}; "
                            f"expected one of: {', '.join(valid)}")
        return registry[name]

    def data(self, doc: Mapping) -> tuple[np.ndarray, np.ndarray, bool]:
        if "examples" in doc:
            for key in ("input", "target"):
                if key in doc:
                    raise self.fail((key,), "give either 'input' and 'target', or 'examples', not both")
            examples = doc["examples"]
            if not isinstance(examples, (list, tuple)):
                raise self.fail(("examples",), "expected a list of {input: ..., target: ...} mappings, "
                                f"got {describe(examples)}")
            if not examples:
                raise self.fail(("examples",), "expected at least one example, got an empty list")
            rows_in, rows_out = [], []
            for i, example in enumerate(examples):
                entry = self.keys(example, ("examples", i), ("input", "target"), "an example")
                for key in ("input", "target"):
                    if key not in entry:
                        raise self.fail(("examples", i), f"missing key {key!r}")
                rows_in.append(self.vector(entry["input"], ("examples", i, "input"), "an input"))
                rows_out.append(self.vector(entry["target"], ("examples", i, "target"), "a target"))
                for key, rows in (("input", rows_in), ("target", rows_out)):
                    if len(rows[-1]) != len(rows[0]):
                        raise self.fail(("examples", i, key), f"expected {len(rows[0])} values like "
                                        f"the first example's {key}, got {len(rows[-1])}")
            return np.array(rows_in), np.array(rows_out), False
        for key in ("input", "target"):
            if key not in doc:
                raise self.fail((), f"missing key {key!r} (or give 'examples': a list of "
                                "{input: ..., target: ...})")
        inputs = self.vector(doc["input"], ("input",), "an input")
        targets = self.vector(doc["target"], ("target",), "a target")
        return inputs[None, :], targets[None, :], True

    def layers(self, value: Any, input_size: int) -> list[Layer]:
        if not isinstance(value, (list, tuple)) or not value:
            raise self.fail(("layers",), "expected a non-empty list of layers, got "
                            f"{describe(value)}")
        layers: list[Layer] = []
        previous = input_size
        for index, spec in enumerate(value):
            path: Path = ("layers", index)
            layer = self.layer(spec, path, previous, number=index + 1,
                               last=index == len(value) - 1)
            layers.append(layer)
            previous = layer.size
        return layers

    def layer(self, spec: Any, path: Path, columns: int, *, number: int, last: bool) -> Layer:
        entry = self.keys(spec, path, LAYER_KEYS, "a layer")
        if "weights" not in entry:
            raise self.fail(path, "missing key 'weights'")
        if "activation" not in entry:
            raise self.fail(path, "missing key 'activation': every layer names its activation "
                            "(write activation: identity for a linear layer); one of: "
                            + ", ".join(sorted(ACTIVATIONS)))
        registry = {**ACTIVATIONS, **self.custom} if self.custom else ACTIVATIONS
        activation = self.choice(entry["activation"], (*path, "activation"), registry, "activation")
        if not activation.elementwise and not last:
            raise self.fail((*path, "activation"), f"{activation.name} is only supported on the "
                            "last (output) layer")
        feeding = (f"the input has {counted(columns, 'value')}" if number == 1 else
                   f"layer {number - 1} has {counted(columns, 'neuron')}")
        weights = self.matrix(entry["weights"], (*path, "weights"), columns, feeding)
        size = weights.shape[0]
        bias = None
        given_bias = entry.get("bias")
        if given_bias is False or (isinstance(given_bias, str) and given_bias.strip().lower() in _NO_BIAS_WORDS):
            raise self.fail((*path, "bias"), f"expected a number or a list of numbers, got "
                            f"{describe(given_bias)}: for a layer without bias omit 'bias' or write bias: null")
        if entry.get("bias") is not None:
            bias = self.vector(entry["bias"], (*path, "bias"), "biases")
            if len(bias) != size:
                raise self.fail((*path, "bias"), f"expected {counted(size, 'bias')} (one per "
                                f"neuron of this layer), got {len(bias)}")
        params = dict(activation.params)
        for key in ACTIVATION_PARAMETERS:
            if key not in entry:
                continue
            if key not in activation.params:
                owners = ", ".join(sorted({a.name for a in ACTIVATIONS.values() if key in a.params}))
                raise self.fail((*path, key), f"'{key}' only applies to {owners}, not {activation.name}")
            params[key] = self.number(entry[key], (*path, key))
        names = self.keys(entry.get("names") or {}, (*path, "names"), PARAMETER_KINDS, "names")
        weight_names = Names("w", number, weights.shape,
                             self.given_names(names.get("weights"), (*path, "names", "weights"), weights.shape))
        bias_names = None
        if bias is not None:
            given = self.given_names(names.get("bias"), (*path, "names", "bias"), (size, 1))
            bias_names = Names("b", number, (size,), {(j,): name for (j, _k), name in given.items()})
        elif names.get("bias") is not None:
            raise self.fail((*path, "names", "bias"), "names a bias, but this layer has no 'bias'")
        return Layer(activation, weights, bias, weight_names, bias_names,
                     self.fixed(entry.get("fixed"), (*path, "fixed")), params)

    def given_names(self, value: Any, path: Path, shape: tuple[int, int]) -> dict[tuple[int, int], str]:
        """The names a problem gives for a grid of parameters, by (j, k); null keeps the default."""
        if value is None:
            return {}
        if isinstance(value, (list, tuple)) and all(isinstance(row, (list, tuple)) for row in value):
            grid = [list(row) for row in value]
        elif isinstance(value, (list, tuple)):
            rows, columns = _flat_shape(len(value), shape[1])
            grid = [list(value[j * columns:(j + 1) * columns]) for j in range(rows)]
        else:
            grid = [[value]]
        if len(grid) != shape[0] or any(len(row) != shape[1] for row in grid):
            got = f"{len(grid)}×{len(grid[0]) if grid else 0}"
            raise self.fail(path, f"expected names in the shape of the values ({shape[0]}×{shape[1]}), got {got}")
        given = {}
        for j, row in enumerate(grid):
            for k, name in enumerate(row):
                if name is None:
                    continue
                if not isinstance(name, str) or not NAME_PATTERN.match(name):
                    raise self.fail(path, f"expected a name made of a letter then letters, digits or _ "
                                    f"(like w1 or b_2), got {describe(name)}")
                given[(j, k)] = name
        return given

    def fixed(self, value: Any, path: Path) -> frozenset[str]:
        if value is None:
            return frozenset()
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if item not in PARAMETER_KINDS:
                raise self.fail(path, f"expected 'weights', 'bias' or a list of them, got "
                                f"{describe(item)}{did_you_mean(item, PARAMETER_KINDS)}")
        return frozenset(items)

    def names_are_unique(self, layers: Sequence[Layer]) -> None:
        """Given names must differ from each other and from every default name in use.
        Without given names the defaults are unique by construction: nothing to do."""
        if not any(layer.weight_names.given or (layer.bias_names and layer.bias_names.given)
                   for layer in layers):
            return
        seen: dict[str, int] = {}
        for number, layer in enumerate(layers, start=1):
            for name in [*layer.weight_names.flat(), *(layer.bias_names.flat() if layer.bias_names else ())]:
                if name in seen:
                    raise self.fail(("layers", number - 1, "names"),
                                    f"the name {name!r} is used twice (also in layer {seen[name]}); "
                                    "each parameter needs its own name")
                seen[name] = number


def _plain_numbers(values: Sequence[Any], ndim: int) -> np.ndarray | None:
    """Fast path for big weight matrices: a list (ndim 1) or list of rows (ndim 2) of
    plain finite numbers, converted at C speed. Anything else returns None and takes
    the slow path, which finds the offending entry and names it."""
    rows = values if ndim == 2 else [values]
    if not all(isinstance(row, (list, tuple)) for row in rows):
        return None
    if any(type(item) not in _PLAIN for row in rows for item in row):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if array.ndim != ndim or not np.all(np.isfinite(array)):
        return None
    return array


_PLAIN = (float, int, WrittenNumber, np.float64)


def _one_hot_hint(targets: np.ndarray, outputs: int) -> str:
    """A class index written as the target of a multi-output network: show its one-hot list."""
    if targets.shape[1] != 1 or outputs < 2:
        return ""
    index = float(targets[0, 0])
    if index.is_integer() and 0 <= index < outputs:
        one_hot = ", ".join("1" if j == int(index) else "0" for j in range(outputs))
        return f"; for class {int(index)} write a one-hot list such as [{one_hot}]"
    return f"; for a class write a one-hot list such as [{', '.join(['1'] + ['0'] * (outputs - 1))}]"


def _flat_shape(length: int, columns: int) -> tuple[int, int]:
    """A flat list of weights is one neuron's row, or one weight per neuron when the
    previous layer has a single neuron."""
    if columns == 1:
        return (length, 1)
    return (1, length)


def describe(value: Any) -> str:
    """A value as a user would recognise it in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, WrittenNumber):
        return value.text
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return repr(value)
