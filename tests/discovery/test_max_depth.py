"""`max_depth` / `--max-depth`: PC's conditioning sets are bounded, as causal-learn's ``max_k``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personax.cli.main import main
from personax.discovery import discover
from personax.discovery.knowledge import Knowledge
from personax.discovery.pc import pc
from personax.discovery.simulate import random_dag, simulate
from personax.errors import BadInput

causallearn_pc = pytest.importorskip("causallearn.search.ConstraintBased.PC").pc


def _chain(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """a → b → c and a lone d: a and c are dependent, and independent only given b."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = 0.8 * a + 0.6 * rng.standard_normal(n)
    c = 0.8 * b + 0.6 * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": rng.standard_normal(n)})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_depth", [0, 1, 2])
def test_bounded_skeleton_equals_causallearns_max_k(seed, max_depth):
    rng = np.random.default_rng(seed)
    dag = random_dag(9, 0.4, rng)
    data = simulate(dag, 300, rng)
    names = list(dag.nodes)
    ours = discover(pd.DataFrame(data, columns=names), alpha=0.05, max_depth=max_depth)
    cg = causallearn_pc(
        data, alpha=0.05, indep_test="fisherz", stable=True, show_progress=False, max_k=max_depth
    )
    theirs = {
        frozenset((names[i], names[j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if cg.G.graph[i, j] != 0 or cg.G.graph[j, i] != 0
    }
    assert ours.skeleton() == theirs


def test_depth_zero_keeps_the_edge_only_a_conditioning_set_removes():
    full = discover(_chain())
    bounded = discover(_chain(), max_depth=0)
    assert frozenset(("a", "c")) not in full.skeleton()
    assert frozenset(("a", "c")) in bounded.skeleton()
    assert any("at most 0 variable(s) (--max-depth)" in note for note in bounded.notes)
    assert not any("--max-depth" in note for note in full.notes)


def test_a_bound_the_search_never_reaches_changes_nothing_and_says_nothing():
    full = discover(_chain())
    loose = discover(_chain(), max_depth=10)
    assert loose.edges == full.edges
    assert not any("(--max-depth)" in note for note in loose.notes)
    assert "conditioning sets of at most 10" in loose.notes[0]  # the summary names the bound


class _AlwaysDependent:
    """A CI test that finds every pair dependent and records the conditioning sizes asked."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def p_value(self, i: int, j: int, cond: tuple[int, ...]) -> float:
        self.sizes.append(len(cond))
        return 0.0


@pytest.mark.parametrize("max_depth", [None, 0, 2])
def test_the_bound_caps_the_search_for_pairs_knowledge_removed(max_depth):
    # Nothing is removed, so only the pair knowledge forbade is non-adjacent; its separating
    # set is searched over the whole neighbourhood (six others) unless the bound stops it.
    names = [f"v{k}" for k in range(8)]
    ci = _AlwaysDependent()
    knowledge = Knowledge.build(names, forbid=[("v0", "v1"), ("v1", "v0")])
    pc(names, ci, knowledge=knowledge, max_depth=max_depth)
    assert max(ci.sizes) == (6 if max_depth is None else max_depth)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_a_bad_bound_is_refused(bad):
    with pytest.raises(BadInput, match="--max-depth"):
        discover(_chain(), max_depth=bad)


def test_cli_max_depth(tmp_path, capsys):
    table = tmp_path / "chain.csv"
    _chain().to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["discover", str(table), "--max-depth", "0", "--out", str(out)]) == 0
    graph = json.loads((out / "graph.json").read_text())
    assert {"a", "c"} in [{e["source"], e["target"]} for e in graph["edges"]]
    assert "--max-depth" in capsys.readouterr().out
    code = main(["discover", str(table), "--max-depth", "-1", "--out", str(tmp_path / "bad")])
    assert code == 2
    assert "--max-depth must be a whole number >= 0, got -1." in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
