"""The PC algorithm with background knowledge applied at every stage.

Hand-written rather than wrapping causal-learn's ``pc`` because causal-learn's PC has open bugs
where forbidden edges still appear in the output and tiers are not enforced. Here knowledge is
applied (1) before the skeleton search (adjacencies forbidden in both directions are removed,
required adjacencies are never tested), (2) before collider orientation (edges whose direction
knowledge fixes are oriented first and never reversed), (3) during collider orientation
(arrowheads knowledge forbids are dropped, with a note) and (4) Meek's rules only orient edges
that are still undirected, i.e. edges knowledge leaves open both ways. The caller checks the
result once more (``Knowledge.check``) and raises if it is violated.

The skeleton is "stable PC" (Colombo & Maathuis 2014): within one conditioning-set size, the
neighbour sets are frozen, so the skeleton does not depend on the column order. Without
knowledge it equals causal-learn's stable skeleton on the same data and test.

Colliders: every unshielded triple ``x — z — y`` with ``z`` outside the separating set of
(x, y) asks for arrowheads at ``z``. All requests are collected first and applied at once, so
the result does not depend on the order of the triples; an edge that receives requests at both
ends becomes ``bidirected`` (the data disagree about its direction). A pair that knowledge made
non-adjacent has no separating set from the skeleton; one is searched for, and its triples are
left undecided when none is found (never read as separated by the empty set).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import numpy as np

from personax.discovery.graph import CausalGraph, Edge
from personax.discovery.knowledge import Knowledge
from personax.errors import BadInput

# Endpoint marks: marks[i, j] is the mark at the j end of the edge between i and j.
NONE, TAIL, ARROW = 0, 1, 2

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): e.g. ("skeleton, conditioning sets of size 1", 12, 40)."""


class CITest(Protocol):
    """A conditional independence test on the columns of one data set (by index)."""

    def p_value(self, i: int, j: int, cond: tuple[int, ...]) -> float: ...


@dataclass(frozen=True)
class PCResult:
    graph: CausalGraph
    sepsets: dict[frozenset[int], tuple[int, ...]]
    n_tests: int


def skeleton(
    start: np.ndarray,
    ci: CITest,
    alpha: float,
    removable: np.ndarray,
    progress: Progress | None = None,
    max_depth: int | None = None,
) -> tuple[np.ndarray, dict[frozenset[int], tuple[int, ...]], bool]:
    """Stable PC skeleton from the adjacency matrix ``start`` (pairs absent there are never
    tested). ``removable[i, j]`` False keeps (i, j) without testing it (required edges).
    ``max_depth``: the largest conditioning set tried (None: as large as the neighbourhoods).

    Returns (adjacency bool matrix, separating sets, whether ``max_depth`` cut the search
    short). The number of tests is the CI tester's to count (it asks each distinct test once).
    """
    adj = start.copy()
    n_nodes = adj.shape[0]
    sepsets: dict[frozenset[int], tuple[int, ...]] = {}
    depth = 0
    while True:
        neighbours = [tuple(np.flatnonzero(adj[x])) for x in range(n_nodes)]
        if all(len(nb) - 1 < depth for nb in neighbours):
            return adj, sepsets, False
        if max_depth is not None and depth > max_depth:
            return adj, sepsets, True
        removals: dict[frozenset[int], tuple[int, ...]] = {}
        stage = f"skeleton, conditioning sets of size {depth}"
        for x in range(n_nodes):
            if progress is not None:
                progress(stage, x, n_nodes)
            for y in neighbours[x]:
                pair = frozenset((x, y))
                if pair in removals or not removable[x, y]:
                    continue
                others = [v for v in neighbours[x] if v != y]
                for cond in combinations(others, depth):
                    p = ci.p_value(min(x, y), max(x, y), tuple(cond))
                    if p > alpha:
                        removals[pair] = tuple(int(c) for c in cond)
                        break
        if progress is not None:
            progress(stage, n_nodes, n_nodes)
        for pair, cond in removals.items():
            x, y = tuple(pair)
            adj[x, y] = adj[y, x] = False
            sepsets[pair] = cond
        depth += 1


def pc(
    nodes: Sequence[str],
    ci: CITest,
    alpha: float = 0.05,
    knowledge: Knowledge | None = None,
    progress: Progress | None = None,
    colliders: str = "sepset",
    max_depth: int | None = None,
) -> PCResult:
    """Run PC over ``nodes`` (names of the columns ``ci`` tests, in index order).

    ``colliders``: how an unshielded triple x – z – y is judged. ``"sepset"`` (PC's rule, the one
    the paper used): a collider when z is not in the separating set the skeleton found first —
    which set is found first depends on the column order (causal-learn's stable search keeps
    every separating set of the removal depth instead; see the README). ``"majority"`` (Colombo &
    Maathuis, 2014): x and y are tested given every subset of their neighbours (up to the
    largest conditioning size the skeleton used); a collider when z is in fewer than half of
    the separating subsets, undecided (left unoriented) at exactly half — the orientations then
    do not depend on the column order.
    """
    if colliders not in ("sepset", "majority"):
        raise BadInput(f"--colliders must be 'sepset' or 'majority', got {colliders!r}.")
    if max_depth is not None and (
        isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
    ):
        raise BadInput(f"--max-depth must be a whole number >= 0, got {max_depth!r}.")
    names = tuple(nodes)
    knowledge = knowledge or Knowledge()
    n = len(names)
    notes: list[str] = []

    # Stage 1: knowledge before the skeleton.
    start = ~np.eye(n, dtype=bool)
    removable = np.ones((n, n), dtype=bool)
    for i, j in combinations(range(n), 2):
        required = knowledge.is_required(names[i], names[j]) or knowledge.is_required(
            names[j], names[i]
        )
        if required:
            removable[i, j] = removable[j, i] = False
        elif knowledge.adjacency_forbidden(names[i], names[j]):
            start[i, j] = start[j, i] = False
    # Pairs knowledge removed were never tested: the skeleton holds no separating set for
    # them, and an empty one read in its place would call every triple around them a collider.
    untested = {frozenset((i, j)) for i, j in combinations(range(n), 2) if not start[i, j]}
    # Every test is asked once: the skeleton meets a pair from both of its ends and the
    # majority rule asks again for sets the skeleton already tried (KCI is costly).
    ci = _MemoisedCI(ci)
    adj, sepsets, cut = skeleton(start, ci, alpha, removable, progress, max_depth)
    if knowledge.required:
        notes.append("Required edges are kept without testing them.")
    if cut:
        notes.append(
            f"The skeleton tried conditioning sets of at most {max_depth} variable(s) "
            "(--max-depth): some edges a larger set would remove may remain."
        )

    # Stage 2: orientations fixed by knowledge.
    marks = np.where(adj, TAIL, NONE).astype(np.int8)
    fixed = np.zeros((n, n), dtype=bool)
    for i, j in combinations(range(n), 2):
        if not adj[i, j]:
            continue
        a, b = names[i], names[j]
        if knowledge.is_required(a, b) or (
            knowledge.direction_forbidden(b, a) and not knowledge.direction_forbidden(a, b)
        ):
            _orient(marks, i, j)
            fixed[i, j] = fixed[j, i] = True
        elif knowledge.is_required(b, a) or knowledge.direction_forbidden(a, b):
            _orient(marks, j, i)
            fixed[i, j] = fixed[j, i] = True

    # Stage 3: colliders, requests collected first, knowledge wins over data.
    wants_arrow = np.zeros((n, n), dtype=bool)  # wants_arrow[i, j]: an arrowhead at j on i—j
    max_size = max((len(c) for c in sepsets.values()), default=0)
    separating: dict[frozenset[int], list[tuple[int, ...]]] = {}
    undecided: set[tuple[frozenset[int], int]] = set()  # (x, y), z: x — z — y left open
    for z in range(n):
        around = np.flatnonzero(adj[z])
        for x, y in combinations(around, 2):
            if adj[x, y]:
                continue
            pair = frozenset((int(x), int(y)))
            if colliders == "majority" or pair in untested:
                if pair not in separating:
                    # An untested pair had no search at all: it gets the one the skeleton
                    # would have made, up to its whole neighbourhood (the skeleton's own
                    # depth is no guide when knowledge removed the pairs that needed depth).
                    size = max_size if pair not in untested else n - 2
                    if max_depth is not None:
                        size = min(size, max_depth)
                    separating[pair] = _separating_subsets(adj, int(x), int(y), ci, alpha, size)
                found = separating[pair]
                if not found:
                    # No tested set separates x and y: whether z does is unknown. The
                    # skeleton's first-found set would make the answer depend on the column
                    # order; an untested pair has none.
                    undecided.add((pair, int(z)))
                    continue
                containing = sum(z in cond for cond in found)
                if 2 * containing >= len(found):  # in half or more: not a collider (or undecided)
                    if 2 * containing == len(found):
                        undecided.add((pair, int(z)))
                    continue
            elif z in sepsets.get(pair, ()):
                continue
            wants_arrow[x, z] = wants_arrow[y, z] = True
    if undecided:
        notes.append(
            f"{len(undecided)} unshielded triple(s) left undecided (neither collider nor "
            "non-collider): no tested set, or exactly half of them, separates the ends; "
            "Meek's rules do not build on them."
        )
    for i, j in zip(*np.nonzero(wants_arrow), strict=True):
        if fixed[i, j]:
            if marks[i, j] != ARROW:
                notes.append(
                    f"The data suggest a collider at {names[j]} ({names[i]} → {names[j]}), "
                    f"but background knowledge fixes {names[j]} → {names[i]}; knowledge kept."
                )
            continue
        if wants_arrow[j, i]:
            marks[i, j] = marks[j, i] = ARROW
        else:
            _orient(marks, i, j)
    n_bidirected = int(np.sum(np.triu((marks == ARROW) & (marks.T == ARROW))))
    if n_bidirected:
        notes.append(
            f"{n_bidirected} edge(s) are bidirected: colliders found at both ends disagree on "
            "the direction (a hint of a hidden common cause or of test errors)."
        )

    # Stage 4: Meek's rules on the edges that remain undirected.
    meek(marks, undecided)

    edges = []
    for i, j in combinations(range(n), 2):
        if not adj[i, j]:
            continue
        if marks[i, j] == ARROW and marks[j, i] == TAIL:
            edges.append(Edge(names[i], names[j], "directed"))
        elif marks[j, i] == ARROW and marks[i, j] == TAIL:
            edges.append(Edge(names[j], names[i], "directed"))
        elif marks[i, j] == ARROW:
            edges.append(Edge(names[i], names[j], "bidirected"))
        else:
            edges.append(Edge(names[i], names[j], "undirected"))
    graph = CausalGraph(
        nodes=names, edges=tuple(edges), notes=tuple(notes), knowledge=knowledge.as_dict()
    )
    return PCResult(graph=graph, sepsets=sepsets, n_tests=ci.evaluations)


def _separating_subsets(
    adj: np.ndarray, x: int, y: int, ci: CITest, alpha: float, max_size: int
) -> list[tuple[int, ...]]:
    """Every subset (up to ``max_size``) of x's or y's other neighbours given which x and y
    test independent."""
    found: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    for pool in (np.flatnonzero(adj[x]), np.flatnonzero(adj[y])):
        pool = [int(v) for v in pool if v not in (x, y)]
        for size in range(min(max_size, len(pool)) + 1):
            for cond in combinations(sorted(pool), size):
                if cond in seen:
                    continue
                seen.add(cond)
                if ci.p_value(min(x, y), max(x, y), cond) > alpha:
                    found.append(cond)
    return found


class _MemoisedCI:
    """A CI test that remembers its p-values; ``evaluations`` counts the distinct tests."""

    def __init__(self, ci: CITest) -> None:
        self._ci = ci
        self._cache: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def p_value(self, i: int, j: int, cond: tuple[int, ...]) -> float:
        key = (i, j, tuple(cond))
        if key not in self._cache:
            self._cache[key] = self._ci.p_value(i, j, tuple(cond))
        return self._cache[key]

    @property
    def evaluations(self) -> int:
        return len(self._cache)


def _orient(marks: np.ndarray, i: int, j: int) -> None:
    """Make the edge i → j."""
    marks[i, j] = ARROW
    marks[j, i] = TAIL


def meek(marks: np.ndarray, undecided: set[tuple[frozenset[int], int]] = frozenset()) -> None:
    """Apply Meek's rules R1–R4 in place until nothing changes. Only undirected edges
    (tail marks at both ends) are oriented; bidirected edges count as adjacencies only.
    ``undecided``: unshielded triples ((x, y), z) not known to be non-colliders, which R1, R3
    and R4 would otherwise take as such (conservative PC, Ramsey et al. 2006)."""
    n = marks.shape[0]

    def non_collider(x: int, z: int, y: int) -> bool:
        return (frozenset((x, y)), z) not in undecided

    def directed(a: int, b: int) -> bool:
        return marks[a, b] == ARROW and marks[b, a] == TAIL

    def undirected(a: int, b: int) -> bool:
        return marks[a, b] == TAIL and marks[b, a] == TAIL

    def adjacent(a: int, b: int) -> bool:
        return marks[a, b] != NONE

    # Each sweep decides on a snapshot and applies its orientations together (an edge that the
    # rules would orient both ways stays undirected), so the result does not depend on the
    # order of the nodes. On a consistent pattern this is the usual unique Meek closure; with
    # bidirected edges in the graph, orienting one edge at a time could depend on the order.
    while True:
        implied = {
            (a, b)
            for a in range(n)
            for b in range(n)
            if a != b
            and undirected(a, b)
            and _meek_orients(a, b, n, directed, undirected, adjacent, non_collider)
        }
        chosen = [(a, b) for a, b in implied if (b, a) not in implied]
        if not chosen:
            return
        for a, b in chosen:
            _orient(marks, a, b)


def _meek_orients(a, b, n, directed, undirected, adjacent, non_collider) -> bool:
    """Does one of R1–R4 force the undirected edge a — b into a → b?"""
    others = [c for c in range(n) if c not in (a, b)]
    # R1: c → a — b, c and b not adjacent (c — a — b a known non-collider).
    if any(directed(c, a) and not adjacent(c, b) and non_collider(c, a, b) for c in others):
        return True
    # R2: a → c → b.
    if any(directed(a, c) and directed(c, b) for c in others):
        return True
    # R3: a — c → b, a — d → b, c and d not adjacent (c — a — d a known non-collider).
    parents = [c for c in others if undirected(a, c) and directed(c, b)]
    for c, d in combinations(parents, 2):
        if not adjacent(c, d) and non_collider(c, a, d):
            return True
    # R4: a — c → d → b, a adjacent to d, c and b not adjacent (c — a — b a known
    # non-collider).
    for c in others:
        if not undirected(a, c) or adjacent(c, b) or not non_collider(c, a, b):
            continue
        for d in others:
            if d != c and directed(c, d) and directed(d, b) and adjacent(a, d):
                return True
    return False
