"""The result of causal discovery: a partially directed graph over named columns.

``graph.json`` (INTERFACES.md) is ``{"nodes": [...], "edges": [{"source", "target", "type"}]}``
with ``type`` one of ``directed`` (source → target), ``undirected`` (source — target, the
direction is not identified) or ``bidirected`` (source ↔ target: conflicting collider evidence,
read as a hidden common cause). We add ``notes`` and ``knowledge`` keys; readers may ignore them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EdgeType = Literal["directed", "undirected", "bidirected"]
EDGE_TYPES: tuple[str, ...] = ("directed", "undirected", "bidirected")


@dataclass(frozen=True)
class Edge:
    """One edge. For ``undirected`` and ``bidirected`` the order of the ends carries no meaning
    (we store them in node order)."""

    source: str
    target: str
    type: EdgeType

    def as_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "type": self.type}


@dataclass(frozen=True)
class CausalGraph:
    """Nodes (column names), edges, human-readable notes and the knowledge that was applied."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    notes: tuple[str, ...] = ()
    knowledge: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes),
            "edges": [e.as_dict() for e in self.edges],
            "notes": list(self.notes),
            "knowledge": self.knowledge,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CausalGraph:
        nodes = tuple(str(n) for n in data["nodes"])
        edges = tuple(Edge(str(e["source"]), str(e["target"]), e["type"]) for e in data["edges"])
        for e in edges:
            if e.type not in EDGE_TYPES or e.source not in nodes or e.target not in nodes:
                raise ValueError(f"graph edge {asdict(e)} is not valid for nodes {list(nodes)}.")
        return cls(
            nodes=nodes,
            edges=edges,
            notes=tuple(data.get("notes", ())),
            knowledge=dict(data.get("knowledge", {})),
        )

    def skeleton(self) -> set[frozenset[str]]:
        """Adjacencies, ignoring edge marks."""
        return {frozenset((e.source, e.target)) for e in self.edges}

    def directed(self) -> set[tuple[str, str]]:
        return {(e.source, e.target) for e in self.edges if e.type == "directed"}

    def edge_between(self, a: str, b: str) -> Edge | None:
        for e in self.edges:
            if {e.source, e.target} == {a, b}:
                return e
        return None

    def to_dot(self) -> str:
        """Graphviz DOT text (directed → with an arrow, undirected without, bidirected both)."""
        lines = ["digraph causal_graph {", "  rankdir=LR;", "  node [shape=ellipse];"]
        lines += [f"  {_dot_id(n)};" for n in self.nodes]
        style = {
            "directed": "",
            "undirected": " [dir=none]",
            "bidirected": " [dir=both, style=dashed]",
        }
        for e in self.edges:
            lines.append(f"  {_dot_id(e.source)} -> {_dot_id(e.target)}{style[e.type]};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
