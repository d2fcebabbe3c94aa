"""Without knowledge, our stable-PC skeleton equals causal-learn's (same data, fisherz)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.discovery import discover
from personax.discovery.simulate import random_dag, simulate

causallearn_pc = pytest.importorskip("causallearn.search.ConstraintBased.PC").pc


def causallearn_skeleton(data: np.ndarray, names: list[str], alpha: float) -> set[frozenset]:
    cg = causallearn_pc(data, alpha=alpha, indep_test="fisherz", stable=True, show_progress=False)
    g = cg.G.graph
    return {
        frozenset((names[i], names[j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if g[i, j] != 0 or g[j, i] != 0
    }


@pytest.mark.parametrize("seed", range(6))
def test_same_skeleton_as_causallearn(seed):
    rng = np.random.default_rng(seed)
    dag = random_dag(8 + seed % 3, 0.3, rng)
    data = simulate(dag, 200 + 100 * seed, rng)
    names = list(dag.nodes)
    for alpha in (0.01, 0.05, 0.2):
        ours = discover(pd.DataFrame(data, columns=names), test="fisherz", alpha=alpha)
        assert ours.skeleton() == causallearn_skeleton(data, names, alpha), alpha
