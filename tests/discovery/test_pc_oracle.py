"""PC with the d-separation oracle recovers the textbook CPDAGs exactly."""

from __future__ import annotations

import networkx as nx
import pytest

from personax.discovery.citests import OracleTester
from personax.discovery.knowledge import Knowledge
from personax.discovery.pc import pc


def run_oracle(edges, nodes=None, knowledge=None):
    dag = nx.DiGraph(edges)
    nodes = nodes or sorted(dag.nodes)
    dag.add_nodes_from(nodes)
    if knowledge is not None:
        knowledge = Knowledge.build(nodes, **knowledge)
    return pc(nodes, OracleTester(dag, nodes), alpha=0.05, knowledge=knowledge).graph


def marks(graph):
    out = set()
    for e in graph.edges:
        if e.type == "directed":
            out.add((e.source, e.target, "->"))
        else:
            sym = "--" if e.type == "undirected" else "<>"
            a, b = sorted((e.source, e.target))
            out.add((a, b, sym))
    return out


def test_chain_is_undirected():
    g = run_oracle([("a", "b"), ("b", "c")])
    assert marks(g) == {("a", "b", "--"), ("b", "c", "--")}


def test_fork_is_undirected():
    g = run_oracle([("b", "a"), ("b", "c")])
    assert marks(g) == {("a", "b", "--"), ("b", "c", "--")}


def test_collider_is_oriented():
    g = run_oracle([("a", "b"), ("c", "b")])
    assert marks(g) == {("a", "b", "->"), ("c", "b", "->")}


def test_five_node_dag_cpdag():
    # a → c ← b, c → d, c → e, d → e : collider at c, then Meek R1 orients c → d, c → e;
    # d — e stays undirected (c → d → e and c → e → d are Markov equivalent).
    g = run_oracle([("a", "c"), ("b", "c"), ("c", "d"), ("c", "e"), ("d", "e")])
    assert marks(g) == {
        ("a", "c", "->"),
        ("b", "c", "->"),
        ("c", "d", "->"),
        ("c", "e", "->"),
        ("d", "e", "--"),
    }


def test_meek_rule_3():
    # Classic R3 pattern: c → b ← d collider, a adjacent to c, d, b; a — b gets oriented.
    edges = [("c", "b"), ("d", "b"), ("a", "c"), ("a", "d"), ("a", "b")]
    g = run_oracle(edges)
    m = marks(g)
    assert ("a", "b", "->") in m
    assert ("c", "b", "->") in m and ("d", "b", "->") in m
    assert ("a", "c", "--") in m and ("a", "d", "--") in m


def test_sprinkler_cpdag():
    edges = [
        ("season", "rain"),
        ("season", "sprinkler"),
        ("rain", "wet"),
        ("sprinkler", "wet"),
        ("wet", "slippery"),
    ]
    g = run_oracle(edges)
    assert marks(g) == {
        ("rain", "season", "--"),
        ("season", "sprinkler", "--"),
        ("rain", "wet", "->"),
        ("sprinkler", "wet", "->"),
        ("wet", "slippery", "->"),
    }


def test_roots_orient_chain():
    g = run_oracle([("a", "b"), ("b", "c")], knowledge={"roots": ["a"]})
    assert marks(g) == {("a", "b", "->"), ("b", "c", "->")}


def test_knowledge_wins_over_collider():
    # Data say a → b ← c; knowledge says b is a root. Knowledge holds, note explains.
    g = run_oracle([("a", "b"), ("c", "b")], knowledge={"roots": ["b"]})
    assert marks(g) == {("b", "a", "->"), ("b", "c", "->")}
    assert any("knowledge kept" in n for n in g.notes)
    Knowledge.build(list(g.nodes), roots=["b"]).check(g)


def test_required_edge_kept_and_forbidden_adjacency_removed():
    g = run_oracle(
        [("a", "b"), ("b", "c")],
        nodes=["a", "b", "c", "d"],
        knowledge={"require": [("d", "a")], "forbid": [("a", "b"), ("b", "a")]},
    )
    m = marks(g)
    assert ("d", "a", "->") in m
    assert not any({x, y} == {"a", "b"} for x, y, _ in m)


@pytest.mark.parametrize("rule", ["sepset", "majority"])
@pytest.mark.parametrize(
    "knowledge",
    [{"forbid": [("a", "c"), ("c", "a")]}, {"roots": ["a"], "tiers": [["c"], ["a"]]}],
)
def test_a_pair_knowledge_removes_is_no_collider_evidence(rule, knowledge):
    # a → b → c with a — c forbidden both ways: the pair is never tested by the skeleton,
    # and reading its missing separating set as empty made b a collider (a → b ← c).
    nodes = ["a", "b", "c"]
    dag = nx.DiGraph([("a", "b"), ("b", "c")])
    graph = pc(
        nodes,
        OracleTester(dag, nodes),
        knowledge=Knowledge.build(nodes, **knowledge),
        colliders=rule,
    ).graph
    m = marks(graph)
    assert ("c", "b", "->") not in m and ("a", "c", "--") not in m
    if "roots" not in knowledge:
        assert m == {("a", "b", "--"), ("b", "c", "--")}


def test_an_unresolvable_triple_is_left_undecided_and_meek_does_not_build_on_it():
    # False knowledge: a → b → c and a → c, but a — c forbidden. No tested set separates a
    # and c, so a — b — c is neither a known collider nor a known non-collider, and R1 must
    # not orient b → c from a → b.
    nodes = ["a", "b", "c"]
    dag = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c")])
    knowledge = Knowledge.build(nodes, forbid=[("a", "c"), ("c", "a")], roots=["a"])
    graph = pc(nodes, OracleTester(dag, nodes), knowledge=knowledge).graph
    assert marks(graph) == {("a", "b", "->"), ("b", "c", "--")}
    assert any("undecided" in note for note in graph.notes)


def test_tiers_forbid_backwards():
    g = run_oracle([("a", "b"), ("b", "c")], knowledge={"tiers": [["c"], ["b"], ["a"]]})
    assert marks(g) == {("b", "a", "->"), ("c", "b", "->")}


@pytest.mark.parametrize("n_nodes", [6, 8])
def test_oracle_skeleton_equals_true_skeleton(n_nodes):
    import numpy as np

    rng = np.random.default_rng(n_nodes)
    nodes = [f"v{i}" for i in range(n_nodes)]
    edges = [
        (nodes[i], nodes[j])
        for i in range(n_nodes)
        for j in range(i + 1, n_nodes)
        if rng.random() < 0.35
    ]
    g = run_oracle(edges, nodes=nodes)
    assert g.skeleton() == {frozenset(e) for e in edges}
