"""Random background knowledge is never violated, whatever the data say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personax.discovery import Knowledge, discover
from personax.discovery.simulate import random_dag, simulate
from personax.errors import BadInput


@st.composite
def problems(draw):
    n_nodes = draw(st.integers(3, 7))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    dag = random_dag(n_nodes, draw(st.floats(0.1, 0.7)), rng)
    data = simulate(dag, draw(st.integers(60, 300)), rng)
    names = list(dag.nodes)
    # Consistent knowledge: a hidden order; tiers and required edges follow it.
    order = draw(st.permutations(names))
    position = {name: k for k, name in enumerate(order)}
    cuts = sorted(draw(st.lists(st.integers(0, n_nodes), max_size=3)))
    tier_of = {name: sum(position[name] >= c for c in cuts) for name in names}
    use_tiers = draw(st.booleans())
    tiers = None
    if use_tiers:
        tiers = [[n for n in order if tier_of[n] == t] for t in sorted(set(tier_of.values()))]
    pairs = [(a, b) for a in names for b in names if a != b]
    required = [
        (a, b)
        for a, b in draw(st.lists(st.sampled_from(pairs), max_size=3))
        if position[a] < position[b]
    ]
    targets = {b for _, b in required}
    roots = [r for r in draw(st.lists(st.sampled_from(names), max_size=2)) if r not in targets]
    forbidden = [p for p in draw(st.lists(st.sampled_from(pairs), max_size=6)) if p not in required]
    alpha = draw(st.sampled_from([0.01, 0.05, 0.3]))
    return data, names, roots, forbidden, required, tiers, alpha


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_knowledge_always_holds(problem):
    data, names, roots, forbidden, required, tiers, alpha = problem
    df = pd.DataFrame(data, columns=names)
    graph = discover(df, roots=roots, forbid=forbidden, require=required, tiers=tiers, alpha=alpha)
    knowledge = Knowledge.build(names, roots, forbidden, required, tiers)
    assert knowledge.violations(graph) == []
    # The promise spelled out once more, independently of Knowledge.violations:
    for e in graph.edges:
        if e.type in ("directed", "bidirected"):
            assert e.target not in roots
        if e.type in ("undirected", "bidirected"):
            assert e.source not in roots
        if e.type == "directed":
            assert (e.source, e.target) not in forbidden
        if e.type == "undirected":
            assert (e.source, e.target) not in forbidden
            assert (e.target, e.source) not in forbidden
    assert set(required) <= graph.directed()


def test_forbid_both_ways_removes_adjacency():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500)
    df = pd.DataFrame({"x": x, "y": x + 0.1 * rng.standard_normal(500)})
    assert len(discover(df).edges) == 1
    assert discover(df, forbid=[("x", "y"), ("y", "x")]).edges == ()


def test_forbidden_direction_is_reversed():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500)
    df = pd.DataFrame({"x": x, "y": x + 0.1 * rng.standard_normal(500)})
    (edge,) = discover(df, forbid=[("x", "y")]).edges
    assert (edge.source, edge.target, edge.type) == ("y", "x", "directed")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"roots": ["nope"]}, "'nope' is not one of the columns"),
        ({"require": [("a", "b")], "roots": ["b"]}, "root 'b'"),
        ({"require": [("a", "b")], "forbid": [("a", "b")]}, "forbidden edge 'a>b'"),
        ({"require": [("a", "b"), ("b", "c"), ("c", "a")]}, "cycle"),
        ({"tiers": [["a"], ["a", "b"]]}, "tier 0 and tier 1"),
        ({"require": [("b", "a")], "tiers": [["a"], ["b"]]}, "tiers"),
        ({"forbid": [("a", "a")]}, "same column twice"),
    ],
)
def test_contradictory_knowledge_is_bad_input(kwargs, fragment):
    with pytest.raises(BadInput, match=fragment):
        Knowledge.build(["a", "b", "c"], **kwargs)


def test_final_check_raises_on_violation():
    from personax.discovery import CausalGraph, Edge, KnowledgeViolation

    knowledge = Knowledge.build(["a", "b"], roots=["a"])
    bad = CausalGraph(nodes=("a", "b"), edges=(Edge("b", "a", "directed"),))
    with pytest.raises(KnowledgeViolation, match="root"):
        knowledge.check(bad)
    undirected = CausalGraph(nodes=("a", "b"), edges=(Edge("a", "b", "undirected"),))
    assert knowledge.violations(undirected)
