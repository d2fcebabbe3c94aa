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


def causallearn_kci_skeleton(data, names, alpha):
    cg = causallearn_pc(data, alpha=alpha, indep_test="kci", stable=True, show_progress=False)
    g = cg.G.graph
    return {
        frozenset((names[i], names[j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if g[i, j] != 0 or g[j, i] != 0
    }


@pytest.mark.parametrize("seed", range(2))
def test_kci_compat_paper_same_skeleton_as_causallearn(seed):
    rng = np.random.default_rng(100 + seed)
    dag = random_dag(5, 0.4, rng)
    data = simulate(dag, 120, rng, kind="nonlinear")
    names = list(dag.nodes)
    ours = discover(pd.DataFrame(data, columns=names), test="kci", compat="paper")
    assert ours.skeleton() == causallearn_kci_skeleton(data, names, 0.05)


def test_kci_compat_paper_p_values_match_causallearn():
    from causallearn.utils.cit import CIT

    from personax.independence.conditional import kci_ci

    rng = np.random.default_rng(7)
    z = rng.standard_normal((150, 2))
    x = np.tanh(z[:, 0]) + 0.5 * rng.standard_normal(150)
    y = z[:, 1] ** 2 + z[:, 0] + 0.5 * rng.standard_normal(150) + 0.2 * x
    data = np.column_stack([x, y, z])
    reference = CIT(data, "kci")
    for cond in ([2], [2, 3]):
        ours = kci_ci(x, y, data[:, cond], compat="paper").p_value
        assert ours == pytest.approx(reference(0, 1, cond), rel=1e-3)
