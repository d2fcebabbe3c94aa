"""Background knowledge for PC: roots, tiers, forbidden and required edges.

Meaning (and the guarantee :func:`Knowledge.check` enforces on every output):

- ``roots``: nothing points into a root. Every edge at a root is ``root → x``; two roots are
  never adjacent (an edge between them would point into one of them).
- ``forbid (a, b)``: no ``a → b`` and no undirected ``a — b`` (which would allow ``a → b``).
  ``b → a`` is allowed; forbidding both directions removes the adjacency.
- ``tiers``: a list of groups of columns; a column in a later tier never causes one in an
  earlier tier (``later → earlier`` is forbidden). Columns in no tier are unconstrained.
- ``require (a, b)``: the output contains ``a → b``. Required adjacencies are never tested.

Contradictory knowledge (a required edge into a root, a required edge that is also
forbidden, required edges forming a cycle, a column in two tiers, unknown names) is bad input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from personax.discovery.graph import CausalGraph
from personax.errors import BadInput


class KnowledgeViolation(RuntimeError):
    """An output graph breaks the background knowledge. PC must never produce one."""


@dataclass(frozen=True)
class Knowledge:
    roots: tuple[str, ...] = ()
    forbidden: tuple[tuple[str, str], ...] = ()
    required: tuple[tuple[str, str], ...] = ()
    tiers: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def build(
        cls,
        nodes: Sequence[str],
        roots: Iterable[str] = (),
        forbid: Iterable[tuple[str, str]] = (),
        require: Iterable[tuple[str, str]] = (),
        tiers: Iterable[Iterable[str]] | None = None,
    ) -> Knowledge:
        """Validate names and consistency against ``nodes``; raise BadInput on any problem."""
        known = set(nodes)
        listing = ", ".join(nodes)

        def check_name(name: str, what: str) -> str:
            if name not in known:
                raise BadInput(f"{what}: '{name}' is not one of the columns ({listing}).")
            return name

        root_list = tuple(dict.fromkeys(check_name(r, "roots") for r in roots))
        forbidden = tuple(
            dict.fromkeys((check_name(a, "forbid"), check_name(b, "forbid")) for a, b in forbid)
        )
        required = tuple(
            dict.fromkeys((check_name(a, "require"), check_name(b, "require")) for a, b in require)
        )
        tier_list = tuple(
            tuple(dict.fromkeys(check_name(n, "tiers") for n in tier)) for tier in (tiers or ())
        )
        for what, pairs in (("forbid", forbidden), ("require", required)):
            for a, b in pairs:
                if a == b:
                    raise BadInput(f"{what}: '{a}>{b}' names the same column twice.")
        seen_tier: dict[str, int] = {}
        for t, tier in enumerate(tier_list):
            for n in tier:
                if n in seen_tier:
                    raise BadInput(f"tiers: column '{n}' is in tier {seen_tier[n]} and tier {t}.")
                seen_tier[n] = t
        knowledge = cls(root_list, forbidden, required, tier_list)
        for a, b in required:
            reason = knowledge.why_direction_forbidden(a, b)
            if reason:
                raise BadInput(f"require: the edge '{a}>{b}' contradicts {reason}.")
        cycle_finder = nx.DiGraph(list(required))
        if required and not nx.is_directed_acyclic_graph(cycle_finder):
            cycle = nx.find_cycle(cycle_finder)
            raise BadInput(
                "require: the required edges form a cycle ("
                + " > ".join([a for a, _ in cycle] + [cycle[0][0]])
                + ")."
            )
        return knowledge

    @property
    def empty(self) -> bool:
        return not (self.roots or self.forbidden or self.required or self.tiers)

    def _tier_of(self, name: str) -> int | None:
        for t, tier in enumerate(self.tiers):
            if name in tier:
                return t
        return None

    def why_direction_forbidden(self, a: str, b: str) -> str | None:
        """Why ``a → b`` is forbidden (a phrase), or None when it is allowed."""
        if b in self.roots:
            return f"the root '{b}' (nothing may point into a root)"
        if (a, b) in self.forbidden:
            return f"the forbidden edge '{a}>{b}'"
        ta, tb = self._tier_of(a), self._tier_of(b)
        if ta is not None and tb is not None and ta > tb:
            return f"the tiers ('{a}' is in tier {ta}, after '{b}' in tier {tb})"
        return None

    def direction_forbidden(self, a: str, b: str) -> bool:
        return self.why_direction_forbidden(a, b) is not None

    def adjacency_forbidden(self, a: str, b: str) -> bool:
        return self.direction_forbidden(a, b) and self.direction_forbidden(b, a)

    def is_required(self, a: str, b: str) -> bool:
        return (a, b) in self.required

    def as_dict(self) -> dict[str, Any]:
        return {
            "roots": list(self.roots),
            "forbidden": [list(p) for p in self.forbidden],
            "required": [list(p) for p in self.required],
            "tiers": [list(t) for t in self.tiers],
        }

    def violations(self, graph: CausalGraph) -> list[str]:
        """Every way ``graph`` breaks this knowledge (empty when it holds)."""
        problems: list[str] = []
        for e in graph.edges:
            a, b = e.source, e.target
            if e.type == "directed":
                reason = self.why_direction_forbidden(a, b)
                if reason:
                    problems.append(f"{a} → {b} breaks {reason}")
            elif e.type == "undirected":
                for u, v in ((a, b), (b, a)):
                    reason = self.why_direction_forbidden(u, v)
                    if reason:
                        problems.append(f"{a} — {b} leaves {u} → {v} open, which breaks {reason}")
            else:  # bidirected: an arrowhead at each end
                for end in (a, b):
                    if end in self.roots:
                        problems.append(f"{a} ↔ {b} points into the root '{end}'")
            if self.adjacency_forbidden(a, b) and not (
                self.is_required(a, b) or self.is_required(b, a)
            ):
                problems.append(f"{a} and {b} are adjacent although both directions are forbidden")
        directed = graph.directed()
        for a, b in self.required:
            if (a, b) not in directed:
                problems.append(f"the required edge {a} → {b} is missing")
        return problems

    def check(self, graph: CausalGraph) -> None:
        """Raise KnowledgeViolation when ``graph`` breaks this knowledge."""
        problems = self.violations(graph)
        if problems:
            raise KnowledgeViolation("background knowledge violated: " + "; ".join(problems) + ".")


def parse_edge_list(text: str | None, option: str) -> tuple[tuple[str, str], ...]:
    """Parse ``a>b,c>d`` into pairs; raise BadInput naming the malformed token. Not given:
    no pairs; given but blank: BadInput, as for an empty --roots (a lost value, not intent)."""
    if text is None:
        return ()
    if not text.strip():
        raise BadInput(f"{option} is empty; give e.g. 'a>b'.")
    pairs = []
    for token in text.split(","):
        token = token.strip()
        parts = token.split(">")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise BadInput(f"{option}: '{token}' is not of the form a>b.")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return tuple(pairs)
