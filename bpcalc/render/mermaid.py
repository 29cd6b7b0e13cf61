"""A :class:`bpcalc.picture.Picture` as a Mermaid flowchart (GitHub renders it in Markdown).

Node ids are made here (``n_`` and the picture's id with anything outside
``[A-Za-z0-9_]`` replaced, made unique), so no id is a Mermaid keyword such as
``end``. Every label is a quoted string ``["…"]`` in which the characters that
act in Mermaid or in the HTML it writes are entity codes (``"`` is ``#quot;``,
``<`` is ``#60;``, ``#`` itself is ``#35;``; ``*``, backticks and the like too,
which GitHub would read as Markdown), after control characters are shown as escapes
(:func:`bpcalc.usertext.visible`): a title or a name cannot close a label, add an
edge (``-->``), or inject HTML. Lines are joined with ``<br/>``. The title is the
front matter's ``title``, a YAML double-quoted string with the same care.
"""

from __future__ import annotations

import re

from ..picture import Picture
from ..usertext import visible

# Acting characters: HTML's, Mermaid's (quotes, #, |), GitHub's Markdown in labels
# (* ` ~ \ and $ for math; the ( of a link's "](", so a list [1, 2] stays readable),
# and an underscore that could open emphasis (one inside a name such as w2_11 cannot:
# it follows a letter or digit).
_ACTIVE = re.compile(r'[#"&<>*`|\\~$]|(?<=\])\(|(?<![A-Za-z0-9])_')
_NAMED = {'"': "#quot;"}
_CLASSES = {
    "input": "fill:#dbeafe,stroke:#1e3a8a",
    "parameter": "fill:#fef3c7,stroke:#92400e",
    "node": "fill:#ffffff,stroke:#374151",
    "neuron": "fill:#f3f4f6,stroke:#374151",
    "layer": "fill:#f3f4f6,stroke:#374151",
    "output": "fill:#fce7f3,stroke:#9d174d,stroke-width:3px",
    "cost": "fill:#fce7f3,stroke:#9d174d,stroke-width:3px",
}


def text(value: str) -> str:
    """Text safe inside a quoted Mermaid label: every acting character an entity code."""
    return _ACTIVE.sub(lambda m: _NAMED.get(m.group(), f"#{ord(m.group())};"), visible(value))


def label(lines: tuple[str, ...] | list[str]) -> str:
    return '"' + "<br/>".join(text(line) for line in lines) + '"'


def _front_matter_title(title: str) -> str:
    """A YAML double-quoted scalar: ``\\`` and ``"`` escaped, and ``<``, ``>``, ``&`` as
    ``\\u`` escapes (YAML decodes them; Mermaid then shows the title as text)."""
    escaped = visible(title).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[<>&]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def node_ids(picture: Picture) -> dict[str, str]:
    """The picture's ids as Mermaid ids: ``n_`` + [A-Za-z0-9_], unique."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node in picture.nodes:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node.id)
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}_{number}"
        taken.add(candidate)
        ids[node.id] = candidate
    return ids


def to_mermaid(picture: Picture) -> str:
    ids = node_ids(picture)
    direction = picture.direction if picture.direction in ("LR", "RL", "TB", "BT", "TD") else "LR"
    out = ["---", f"title: {_front_matter_title(picture.title)}", "---", f"flowchart {direction}"]
    for number, (cluster, members) in enumerate(picture.grouped()):
        if cluster:
            out.append(f"  subgraph cluster_{number} [{label([cluster.title])}]")
        indent = "    " if cluster else "  "
        out.extend(f"{indent}{ids[node.id]}[{label(node.label_lines)}]" for node in members)
        if cluster:
            out.append("  end")
    for edge in picture.edges:
        arrow = f" -->|{label(edge.label_lines)}| " if edge.label_lines else " --> "
        out.append(f"  {ids[edge.source]}{arrow}{ids[edge.target]}")
    used = [kind for kind in _CLASSES if any(node.kind == kind for node in picture.nodes)]
    for kind in used:
        out.append(f"  classDef {kind} {_CLASSES[kind]}")
        members = ",".join(ids[node.id] for node in picture.nodes if node.kind == kind)
        out.append(f"  class {members} {kind}")
    return "\n".join(out) + "\n"


def to_markdown(picture: Picture) -> str:
    """A fenced ```mermaid block (GitHub, GitLab and many editors draw it)."""
    return "```mermaid\n" + to_mermaid(picture) + "```\n"
