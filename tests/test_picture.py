"""``bpcalc graph``: pictures of every shipped problem, their numbers, escaping, and files.

Numbers in the pictures are compared with values derived here by hand or by central
finite differences of formulas written in this file (never with bpcalc's own output
copied in); DOT is read back by Graphviz itself where it is installed.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
from itertools import pairwise
from xml.etree import ElementTree

import numpy as np
import pytest
from clitools import PROBLEMS, ROOT, crashed
from clitools import bpcalc as run_bpcalc

import bpcalc
from bpcalc.picture import (
    Cluster,
    PicEdge,
    PicNode,
    Picture,
    graph_picture,
    layered_picture,
    picture,
)
from bpcalc.render import dot as dot_renderer
from bpcalc.render.dot import to_dot
from bpcalc.render.mermaid import to_markdown, to_mermaid
from bpcalc.usertext import visible

pytestmark = pytest.mark.usefixtures("from_repo_root")

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed")
QUOTED = r'"(?:[^"\\]|\\.)*"'
HOSTILE = 'Evil "title" \\ back\\slash\nnew line ] --> x[<script>alert(1)</script>] end; #35; `*_x_*` $$'

STAGED = """\
title: Staged computation (cs231n)
inputs: {x: 3, y: -4}
nodes:
  sigy: sigma(y)
  num: x + sigy
  sigx: sigma(x)
  xpy: x + y
  xpysqr: xpy^2
  den: sigx + xpysqr
  invden: 1/den
  f: num * invden
"""

NEURON_EXAMPLES = """\
title: A sigmoid neuron over two examples
inputs: {x1: -2}
parameters: {w0: 2, w1: -3, w2: -3}
nodes:
  s: w0*x0 + w1*x1 + w2
  f: sigma(s)
learning_rate: 0.1
examples:
  - {inputs: {x0: -1}}
  - {inputs: {x0: 1}}
"""


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def central(f, point: dict, name: str, h: float = 1e-6) -> float:
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    return (f(**up) - f(**down)) / (2 * h)


def shown(value: float, digits: int = 4) -> str:
    """How a number reads at 4 significant digits (independent of bpcalc's formatter)."""
    return f"{value:.{digits}g}"


def graph_file(tmp_path, text: str, name: str = "graph.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def solved(path) -> object:
    return bpcalc.solve(bpcalc.load(path))


# ------------------------------------------------------------------ structure of the output

def dot_structure(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Declared node ids and edges of DOT written by bpcalc; braces balance outside strings."""
    outside = re.sub(QUOTED, '""', text)
    assert outside.count("{") == outside.count("}") and outside.strip().endswith("}")
    assert outside.startswith("digraph bpcalc {")
    nodes = re.findall(rf"^\s*({QUOTED}) \[label=", text, re.MULTILINE)
    edges = re.findall(rf"^\s*({QUOTED}) -> ({QUOTED})", text, re.MULTILINE)
    return nodes, edges


def mermaid_structure(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    lines = text.splitlines()
    assert lines[:1] == ["---"] and lines[2] == "---" and lines[3].startswith("flowchart ")
    body = lines[4:]
    assert sum(line.strip().startswith("subgraph ") for line in body) == sum(line.strip() == "end" for line in body)
    nodes, edges = [], []
    for line in body:
        stripped = line.strip()
        for label in re.findall(r'"([^"]*)"', stripped):
            assert not re.search(r'[<>]', label.replace("<br/>", "")), label
        assert stripped.count('"') % 2 == 0, stripped
        if match := re.fullmatch(r'(\w+)\["[^"]*"\]', stripped):
            nodes.append(match.group(1))
        elif match := re.fullmatch(r'(\w+) -->(?:\|"[^"]*"\|)? (\w+)', stripped):
            edges.append((match.group(1), match.group(2)))
        else:
            assert re.fullmatch(r'subgraph \w+ \["[^"]*"\]|end|classDef \w+ [\w:#,.-]+|class [\w,]+ \w+',
                                stripped), stripped
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", node) for node in nodes)
    return nodes, edges


def graphviz_json(text: str) -> dict:
    result = subprocess.run([DOT, "-Tjson"], input=text.encode("utf-8"), capture_output=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


SHIPPED = [pytest.param(path, id=path.name) for path in PROBLEMS]


@pytest.mark.parametrize("path", SHIPPED)
def test_every_shipped_problem_draws_as_dot_and_mermaid(path):
    drawing = picture(solved(path))
    ids = {node.id for node in drawing.nodes}
    assert len(ids) == len(drawing.nodes)
    assert all(edge.source in ids and edge.target in ids for edge in drawing.edges)
    nodes, edges = dot_structure(to_dot(drawing))
    assert sorted(nodes) == sorted(f'"{id}"' for id in ids)
    assert all(a in nodes and b in nodes for a, b in edges) and len(edges) == len(drawing.edges)
    m_nodes, m_edges = mermaid_structure(to_mermaid(drawing))
    assert len(m_nodes) == len(set(m_nodes)) == len(drawing.nodes)
    assert all(a in m_nodes and b in m_nodes for a, b in m_edges) and len(m_edges) == len(drawing.edges)
    for fmt in ("dot", "mermaid", "markdown"):
        result = run_bpcalc("graph", str(path), "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip()


@needs_dot
@pytest.mark.parametrize("path", SHIPPED)
def test_every_shipped_problem_parses_in_graphviz_and_renders_svg(path, tmp_path):
    drawing = picture(solved(path))
    parsed = graphviz_json(to_dot(drawing))
    names = [o["name"] for o in parsed["objects"] if not o["name"].startswith("cluster_")]
    assert sorted(names) == sorted(node.id for node in drawing.nodes)
    assert len(parsed.get("edges", [])) == len(drawing.edges)
    target = tmp_path / "picture.svg"
    result = run_bpcalc("graph", str(path), "--output", str(target))
    assert result.exit_code == 0, result.stderr
    root = ElementTree.fromstring(target.read_bytes())
    assert root.tag.endswith("svg")


# ------------------------------------------------------------------ the numbers in the labels

def reference_homework() -> dict:
    """The reference homework by hand: x = 3, t = 1, w1 = 0.01, w2 = −5, b = −1, η = 0.1."""
    x, t, w1, w2, b = 3.0, 1.0, 0.01, -5.0, -1.0
    z1 = w1 * x
    a1 = max(z1, 0.0)
    z2 = w2 * a1 + b
    y = sigmoid(z2)
    delta2 = (y - t) * y * (1 - y)
    delta1 = w2 * delta2 * (1.0 if z1 > 0 else 0.0)
    return {"z1": z1, "a1": a1, "z2": z2, "y": y, "delta2": delta2, "delta1": delta1,
            "dw1": delta1 * x, "dw2": delta2 * a1, "db": delta2, "C": 0.5 * (y - t) ** 2,
            "new_w1": w1 - 0.1 * delta1 * x}


def test_reference_homework_numbers_sit_on_their_edges_and_neurons():
    hand = reference_homework()
    assert abs(hand["dw1"] - 2.0809166) < 1e-6                # the course's accepted ≈ 2.081
    drawing = layered_picture(solved("problems/simple_network.yaml"), 4)
    edges = {(edge.source, edge.target): edge.label_lines for edge in drawing.edges}
    assert edges[("x1", "L1_1")] == ("w1 = 0.01", f"∂C/∂w1 = {shown(hand['dw1'])}",
                                     f"new w1 = {shown(hand['new_w1'])}")
    assert "∂C/∂w1 = 2.081" in edges[("x1", "L1_1")]
    assert f"∂C/∂w2 = {shown(hand['dw2'])}" in edges[("L1_1", "L2_1")]
    output = drawing.node("L2_1").label_lines
    assert f"z = {shown(hand['z2'])}" in output and f"a = {shown(hand['y'])}" in output
    assert f"δ = {shown(hand['delta2'])}" in output
    assert f"b = -1, ∂C/∂b = {shown(hand['db'])}" in output
    assert f"δ = {shown(hand['delta1'])}" in drawing.node("L1_1").label_lines
    assert drawing.node("cost").label_lines[0] == f"C = {shown(hand['C'])}"


def test_mazur_published_gradient_and_update_on_the_edge_of_w5():
    # Mazur (2015) prints ∂E/∂w5 = 0.082167041 and w5⁺ = 0.35891648; w5 is h1 → o1.
    drawing = layered_picture(solved("problems/mazur_2_2_2.yaml"), 4)
    (edge,) = [e for e in drawing.edges if (e.source, e.target) == ("L1_1", "L2_1")]
    assert edge.label_lines == ("w5 = 0.4", "∂C/∂w5 = 0.08217", "new w5 = 0.3589")
    assert "b1_1 fixed: not updated" in drawing.node("L1_1").label_lines


def test_graph_nodes_carry_value_and_gradient_checked_by_finite_differences(tmp_path):
    def f(x, y):
        return (x + sigmoid(y)) / (sigmoid(x) + (x + y) ** 2)

    point = {"x": 3.0, "y": -4.0}
    drawing = graph_picture(solved(graph_file(tmp_path, STAGED)), 4)
    assert drawing.node("x").label_lines == ("x (input)", "value = 3", f"∂f/∂x = {shown(central(f, point, 'x'))}")
    assert drawing.node("y").label_lines[2] == f"∂f/∂y = {shown(central(f, point, 'y'))}"
    output = drawing.node("f")
    assert output.kind == "output" and output.label_lines == (
        "f = num * invden (output)", f"value = {shown(f(3.0, -4.0))}", "∂f/∂f = 1")
    # ∂f/∂den = −num/den², by hand, and the local derivative ∂invden/∂den = −1/den² on its edge
    num, den = 3 + sigmoid(-4), sigmoid(3) + 1
    assert drawing.node("den").label_lines[2] == f"∂f/∂den = {shown(-num / den ** 2)}"
    (edge,) = [e for e in drawing.edges if (e.source, e.target) == ("den", "invden")]
    assert edge.label_lines == (f"∂invden/∂den = {shown(-1 / den ** 2)}",)
    # x fans out to three nodes: one edge each
    assert sorted(e.target for e in drawing.edges if e.source == "x") == ["num", "sigx", "xpy"]
    assert {node.kind for node in drawing.nodes} == {"input", "node", "output"}


def test_graph_with_examples_lists_each_example_and_reduces_parameter_gradients(tmp_path):
    def f(w0, w1, w2, x0, x1=-2.0):
        return sigmoid(w0 * x0 + w1 * x1 + w2)

    drawing = graph_picture(solved(graph_file(tmp_path, NEURON_EXAMPLES)), 4)
    point = {"w0": 2.0, "w1": -3.0, "w2": -3.0}
    for name, value in point.items():
        mean = np.mean([central(lambda x0=x0, **p: f(**p, x0=x0), point, name) for x0 in (-1.0, 1.0)])
        lines = drawing.node(name).label_lines
        assert lines[0] == f"{name} (parameter)" and lines[2] == f"∂f/∂{name} = {shown(mean)}"
        assert lines[3] == f"new {name} = {shown(value - 0.1 * mean)}"
    assert drawing.node("x0").label_lines[1] == "value = [-1, 1]"
    assert drawing.node("f").label_lines[1] == f"value = [{shown(sigmoid(1))}, {shown(sigmoid(5))}]"
    assert "mean over 2 examples" in drawing.title and "listed" in drawing.title


def test_more_examples_than_listed_show_the_first_and_say_so(tmp_path):
    examples = "".join(f"  - {{inputs: {{x: {k}}}}}\n" for k in range(1, 6))
    path = graph_file(tmp_path, f"nodes:\n  f: x^2\nexamples:\n{examples}")
    drawing = graph_picture(solved(path), 4)
    assert "example 1 of 5" in drawing.title
    assert drawing.node("f").label_lines[1:] == ("value = 1", "∂f/∂f = 1")
    assert drawing.node("x").label_lines[2] == "∂f/∂x = 2"            # 2x at x = 1, example 1


def test_mini_batch_lists_the_three_examples_per_neuron():
    drawing = layered_picture(solved("problems/mini_batch_mean.yaml"), 4)
    assert drawing.node("x1").label_lines == ("x1 = [0, 1, 1]",)
    z = [0.5 * x1 - 0.4 * x2 + 0.1 for x1, x2 in ((0, 1), (1, 0), (1, 1))]      # neuron 1 of layer 1
    assert f"z = [{', '.join(shown(v) for v in z)}]" in drawing.node("L1_1").label_lines
    assert "listed for the 3 examples" in drawing.title
    assert "the mean over 3 examples" in drawing.node("cost").label_lines


# ------------------------------------------------------------------ wide layers

def wide_document(hidden: int = 7) -> dict:
    rng = np.random.default_rng(11)
    return {"title": "Wide", "input": [0.5, -1.0], "target": [1.0],
            "layers": [{"activation": "sigmoid", "weights": rng.normal(size=(hidden, 2)).round(3).tolist(),
                        "bias": rng.normal(size=hidden).round(3).tolist()},
                       {"activation": "sigmoid", "weights": rng.normal(size=(1, hidden)).round(3).tolist()}]}


def wide_cost(doc: dict, w1: np.ndarray) -> float:
    """C = ½(y − t)² of the 2-7-1 sigmoid net, in NumPy, with the first weight matrix given."""
    x = np.array(doc["input"])
    hidden = 1 / (1 + np.exp(-(w1 @ x + np.array(doc["layers"][0]["bias"]))))
    y = 1 / (1 + np.exp(-(np.array(doc["layers"][1]["weights"]) @ hidden)))
    return float(0.5 * (y[0] - doc["target"][0]) ** 2)


def test_a_layer_wider_than_five_neurons_is_one_box_with_its_shape_and_largest_gradient():
    doc = wide_document()
    drawing = layered_picture(bpcalc.solve(bpcalc.Problem.from_dict(doc)), 4)
    assert [node.kind for node in drawing.nodes] == ["input", "layer", "layer", "cost"]
    assert drawing.node("layer1").label_lines[0] == "layer 1: 7 neurons, sigmoid"
    assert drawing.node("layer2").label_lines[0] == "layer 2: 1 neuron, sigmoid"
    w1 = np.array(doc["layers"][0]["weights"])
    h = 1e-6
    numeric = np.zeros_like(w1)
    for index in np.ndindex(w1.shape):
        up, down = w1.copy(), w1.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (wide_cost(doc, up) - wide_cost(doc, down)) / (2 * h)
    j, k = np.unravel_index(np.argmax(np.abs(numeric)), numeric.shape)
    (edge,) = [e for e in drawing.edges if e.target == "layer1"]
    assert edge.label_lines[0] == "w¹ 7×2"
    assert edge.label_lines[2] == f"largest |∂C/∂w|: ∂C/∂w1_{j + 1}{k + 1} = {shown(numeric[j, k])}"
    assert "one box per layer" in drawing.title
    assert not drawing.clusters
    dot_structure(to_dot(drawing))
    mermaid_structure(to_mermaid(drawing))


def test_five_neurons_are_still_drawn_one_by_one():
    drawing = layered_picture(bpcalc.solve(bpcalc.Problem.from_dict(wide_document(5))), 4)
    assert sum(node.kind == "neuron" for node in drawing.nodes) == 6
    assert len([e for e in drawing.edges if e.label_lines]) == 5 * 2 + 5


# ------------------------------------------------------------------ hostile text

def hostile_picture() -> Picture:
    ids = ['a"b', "end", "x --> y", "c\\d", "n\ne"]
    nodes = tuple(PicNode(id, (id, HOSTILE), kind) for id, kind in zip(ids, ("input", "node", "node", "output",
                                                                               "parameter")))
    edges = tuple(PicEdge(a, b, (HOSTILE,)) for a, b in pairwise(ids))
    return Picture(HOSTILE, nodes, edges, (Cluster("c", HOSTILE, (ids[0], ids[1])),))


def test_dot_escaping_keeps_hostile_text_inside_its_strings():
    text = to_dot(hostile_picture())
    nodes, edges = dot_structure(text)
    assert len(nodes) == 5 and len(edges) == 4
    assert "\n" not in visible(HOSTILE)
    for line in text.splitlines():            # every quote inside a label is escaped
        assert re.fullmatch(rf'(?:[^"\\]|{QUOTED})*', line), line


@needs_dot
def test_graphviz_reads_hostile_text_back_as_typed():
    parsed = graphviz_json(to_dot(hostile_picture()))
    # Graphviz drops the escape of a quote in a name but keeps a doubled backslash as written
    names = sorted(o["name"].replace("\\\\", "\\") for o in parsed["objects"]
                   if not o["name"].startswith("cluster_"))
    assert names == sorted(visible(id) for id in ('a"b', "end", "x --> y", "c\\d", "n\ne"))
    assert len(parsed["edges"]) == 4
    # Graphviz keeps a label's escapes (its \\n, \\\\) for drawing: undo DOT's two
    title = parsed["label"].replace("\\\\", "\0").replace("\\n", "\n").replace("\0", "\\")
    assert title == visible(HOSTILE)


def test_mermaid_escaping_keeps_hostile_text_inert():
    text = to_mermaid(hostile_picture())
    nodes, edges = mermaid_structure(text)
    assert len(nodes) == 5 and len(edges) == 4
    assert "end" not in nodes and all(node.startswith("n_") for node in nodes)
    body = "\n".join(text.splitlines()[4:])
    for raw in ("<script", "`", "*", "$"):
        assert raw not in body
    assert body.count("-->") == 4                      # the four edges; the title's --> is #62;
    assert "#quot;title#quot;" in body and "#60;script#62;" in body
    title = text.splitlines()[1]
    assert title.startswith('title: "') and "<" not in title and '\\"title\\"' in title
    import yaml

    assert yaml.safe_load(title)["title"] == visible(HOSTILE)
    assert to_markdown(hostile_picture()) == f"```mermaid\n{text}```\n"


def test_hostile_title_of_a_problem_file(tmp_path):
    doc = STAGED.replace("title: Staged computation (cs231n)", "title: " + json.dumps(HOSTILE))
    path = graph_file(tmp_path, doc)
    for fmt, check in (("dot", dot_structure), ("mermaid", mermaid_structure)):
        result = run_bpcalc("graph", path, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        nodes, edges = check(result.stdout)
        assert len(nodes) == 10 and len(edges) == 12


# ------------------------------------------------------------------ the command

@needs_dot
def test_png_and_svg_to_a_pipe_and_to_files(tmp_path):
    result = run_bpcalc("graph", "problems/simple_network.yaml", "--format", "png")
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    result = run_bpcalc("graph", "problems/simple_network.yaml", "--format", "svg")
    assert ElementTree.fromstring(result.stdout_bytes).tag.endswith("svg")
    assert "2.081" in result.stdout                     # ∂C/∂w1, drawn as SVG text
    target = tmp_path / "net.png"
    assert run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(target)).exit_code == 0
    assert target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_missing_graphviz_is_one_line_and_exit_2(monkeypatch, fmt, tmp_path):
    monkeypatch.setattr(dot_renderer.shutil, "which", lambda name: None)
    target = tmp_path / f"net.{fmt}"
    result = run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(target))
    assert result.exit_code == 2 and not crashed(result)
    assert result.stderr.count("\n") == 1
    assert f"rendering {fmt.upper()} needs Graphviz's dot program: install graphviz" in result.stderr
    assert "--format dot|mermaid" in result.stderr
    assert not target.exists() and os.listdir(tmp_path) == []


def test_output_extension_picks_the_format(tmp_path):
    for name, start in (("a.dot", "digraph"), ("a.gv", "digraph"), ("a.mmd", "---\ntitle"),
                        ("a.mermaid", "---\ntitle"), ("a.md", "```mermaid")):
        target = tmp_path / name
        result = run_bpcalc("graph", "problems/tanh_2_3_1.yaml", "--output", str(target))
        assert result.exit_code == 0 and result.stdout == ""
        assert target.read_text(encoding="utf-8").startswith(start)


@pytest.mark.parametrize("args, message", [
    (["-o", "x.svg", "--format", "dot"], "is a .svg file (svg), but --format is dot"),
    (["-o", "x.txt"], "cannot tell the format from the name"),
    (["--format", "gif"], "'gif' is not one of"),
])
def test_bad_format_choices_are_usage_errors(tmp_path, args, message):
    result = run_bpcalc("graph", "problems/simple_network.yaml", *[str(tmp_path / a) if a.startswith("x.") else a
                                                                  for a in args])
    assert result.exit_code == 2 and message in result.stderr and not crashed(result)


def test_explicit_format_with_an_unknown_extension_is_fine(tmp_path):
    target = tmp_path / "picture.txt"
    assert run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(target), "-f", "mermaid").exit_code == 0
    assert "flowchart LR" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_images_are_not_written_to_a_terminal(monkeypatch, fmt):
    import bpcalc.cli

    monkeypatch.setattr(bpcalc.cli, "_stdout_is_terminal", lambda: True)
    result = run_bpcalc("graph", "problems/simple_network.yaml", "--format", fmt)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"--output picture.{fmt}" in result.stderr


def test_output_replaces_a_file_atomically_and_keeps_its_mode(tmp_path, monkeypatch):
    target = tmp_path / "net.dot"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    assert run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("digraph")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["net.dot"]

    def broken(*args):
        raise bpcalc.BpcalcError("Graphviz's dot failed (exit code 1)")

    monkeypatch.setattr(dot_renderer, "render_image", broken)
    image = tmp_path / "net.svg"
    image.write_text("old picture", encoding="utf-8")
    result = run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(image))
    assert result.exit_code == 2 and image.read_text(encoding="utf-8") == "old picture"
    assert sorted(os.listdir(tmp_path)) == ["net.dot", "net.svg"]


def test_output_never_overwrites_the_problem_file(tmp_path):
    problem = tmp_path / "homework.md"                      # an odd name, but a valid problem
    problem.write_text((ROOT / "problems" / "simple_network.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    before = problem.read_bytes()
    result = run_bpcalc("graph", str(problem), "-o", str(problem))
    assert result.exit_code == 2 and "that is the input file" in result.stderr
    assert problem.read_bytes() == before


def test_output_into_a_missing_folder_is_one_line(tmp_path):
    result = run_bpcalc("graph", "problems/simple_network.yaml", "-o", str(tmp_path / "no" / "net.dot"))
    assert result.exit_code == 2 and "does not exist" in result.stderr and not crashed(result)


def test_a_broken_problem_file_is_exit_2(tmp_path):
    path = graph_file(tmp_path, "nodes:\n  f: x +\ninputs: {x: 1}\n")
    result = run_bpcalc("graph", path)
    assert result.exit_code == 2 and result.stderr.startswith("bpcalc: error: ") and not crashed(result)


def test_precision_sets_the_digits():
    result = run_bpcalc("graph", "problems/simple_network.yaml", "--precision", "8")
    assert f"∂C/∂w1 = {reference_homework()['dw1']:.8g}" in result.stdout


def test_help_has_examples():
    result = run_bpcalc("graph", "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and "--output" in result.stdout


def test_colah_fan_out_published_gradients_and_a_node_named_e(tmp_path):
    # Colah, "Calculus on Computational Graphs": e = (a + b)(b + 1) at a = 2, b = 1 gives
    # ∂e/∂a = 2 and ∂e/∂b = 5 (b fans out to both factors); `e` shadows Euler's number.
    path = graph_file(tmp_path, "inputs: {a: 2, b: 1}\nnodes:\n  c: a + b\n  d: b + 1\n  e: c*d\n")
    drawing = graph_picture(solved(path), 4)
    assert drawing.node("a").label_lines[2] == "∂e/∂a = 2" and drawing.node("b").label_lines[2] == "∂e/∂b = 5"
    assert drawing.node("e").label_lines == ("e = c*d (output)", "value = 6", "∂e/∂e = 1")
    assert sorted(e.target for e in drawing.edges if e.source == "b") == ["c", "d"]
    result = run_bpcalc("graph", path, "--format", "mermaid")
    assert 'n_e["e = c#42;d (output)<br/>value = 6<br/>∂e/∂e = 1"]' in result.stdout
