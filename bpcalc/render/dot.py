"""A :class:`bpcalc.picture.Picture` as Graphviz DOT, and DOT as SVG or PNG through ``dot``.

Labels are plain quoted strings with ``\\n`` between lines (no records, no HTML
labels), so the only characters that act inside them are ``"`` and ``\\``: both
are escaped, and user text (a title, a name, a formula) has its control
characters shown as escapes first (:func:`bpcalc.usertext.visible`), so no text
can end the string, start a new statement, or use Graphviz's ``\\N``/``\\G``
escapes. Writing DOT needs no Graphviz; SVG and PNG run Graphviz's ``dot``.
"""

from __future__ import annotations

import shutil
import subprocess

from ..errors import BpcalcError
from ..picture import Picture
from ..usertext import visible

IMAGE_FORMATS = ("svg", "png")
DOT_TIMEOUT = 60          # seconds; a picture of a few hundred boxes takes well under one
MISSING_DOT = ("rendering {format} needs Graphviz's dot program: install graphviz (apt install graphviz / "
               "brew install graphviz / conda install graphviz), or use --format dot|mermaid")

_STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    "parameter": 'shape=ellipse, style=filled, fillcolor="#fef3c7"',
    "node": 'shape=box, style="rounded"',
    "neuron": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6"',
    "layer": 'shape=box3d, style=filled, fillcolor="#f3f4f6"',
    "output": 'shape=box, style="rounded,filled,bold", fillcolor="#fce7f3", penwidth=2',
    "cost": 'shape=box, style="rounded,filled,bold", fillcolor="#fce7f3", penwidth=2',
}


def quote(text: str) -> str:
    """A DOT quoted string showing ``text`` as typed (one line: controls become escapes)."""
    return '"' + visible(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def label(lines: tuple[str, ...] | list[str]) -> str:
    """Lines of text as one DOT label, centred lines separated by ``\\n``."""
    return '"' + "\\n".join(quote(line)[1:-1] for line in lines) + '"'


def to_dot(picture: Picture) -> str:
    out = ["digraph bpcalc {",
           (f"  graph [rankdir={picture.direction}, label={quote(picture.title)}, labelloc=t, "
            'fontname="Helvetica", nodesep=0.3, ranksep=0.9];'),
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for number, (cluster, members) in enumerate(picture.grouped()):
        indent = "    " if cluster else "  "
        if cluster:
            out.append(f"  subgraph cluster_{number} {{")
            out.append(f'    label={quote(cluster.title)}; style="rounded,dashed"; color="#9ca3af";')
        out.extend(f"{indent}{quote(node.id)} [label={label(node.label_lines)}, {_STYLE[node.kind]}];"
                   for node in members)
        if cluster:
            out.append("  }")
    for edge in picture.edges:
        attributes = f" [label={label(edge.label_lines)}, decorate=true]" if edge.label_lines else ""
        out.append(f"  {quote(edge.source)} -> {quote(edge.target)}{attributes};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_image(dot_text: str, format: str) -> bytes:
    """SVG or PNG bytes from DOT text, by Graphviz's ``dot`` (a BpcalcError when it is
    missing, fails, or takes longer than :data:`DOT_TIMEOUT` seconds)."""
    if format not in IMAGE_FORMATS:
        raise ValueError(f"not an image format: {format}")
    program = shutil.which("dot")
    if program is None:
        raise BpcalcError(MISSING_DOT.format(format=format.upper()))
    try:
        result = subprocess.run([program, f"-T{format}"], input=dot_text.encode("utf-8"),
                                capture_output=True, timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BpcalcError(f"Graphviz's dot took longer than {DOT_TIMEOUT} s to draw the picture; "
                          "use --format dot or mermaid") from None
    except OSError as error:
        raise BpcalcError(f"Graphviz's dot could not be run ({error.strerror or error})") from None
    if result.returncode != 0 or not result.stdout:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BpcalcError(f"Graphviz's dot failed (exit code {result.returncode})"
                          + (f": {reason[0]}" if reason else ""))
    return result.stdout
