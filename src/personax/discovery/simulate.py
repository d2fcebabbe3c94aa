"""Random DAGs and data from them, for tests and benchmarks of causal discovery."""

from __future__ import annotations

import networkx as nx
import numpy as np

_NONLINEAR = (np.tanh, np.sin, lambda v: v**2 - 1.0, lambda v: np.abs(v) - 0.8)


def random_dag(n_nodes: int, edge_prob: float, rng: np.random.Generator) -> nx.DiGraph:
    """An Erdős–Rényi DAG whose causal order is the index order (nodes ``v0, v1, ...``)."""
    dag = nx.DiGraph()
    names = [f"v{i}" for i in range(n_nodes)]
    dag.add_nodes_from(names)
    for i in range(n_nodes):
        for j in range(i + 1, n_nodes):
            if rng.random() < edge_prob:
                dag.add_edge(names[i], names[j])
    return dag


def simulate(dag: nx.DiGraph, n: int, rng: np.random.Generator, kind: str = "linear") -> np.ndarray:
    """``n`` rows from a structural model on ``dag`` (nodes in topological order = column order).

    ``linear``: Gaussian noise plus weighted parents (|weight| in [0.5, 1.5]).
    ``nonlinear``: each parent enters through a random tanh / sin / square / abs map, noise is
    Gaussian; every column is standardised so the signal does not blow up along the order.
    """
    if kind not in ("linear", "nonlinear"):
        raise ValueError(f"unknown kind {kind!r}; use 'linear' or 'nonlinear'.")
    names = list(nx.topological_sort(dag))
    index = {name: k for k, name in enumerate(dag.nodes)}
    data = np.zeros((n, len(index)))
    for name in names:
        value = rng.standard_normal(n) * (0.6 if kind == "nonlinear" else 1.0)
        for parent in dag.predecessors(name):
            weight = rng.uniform(0.5, 1.5) * rng.choice([-1, 1])
            cause = data[:, index[parent]]
            if kind == "nonlinear":
                cause = _NONLINEAR[rng.integers(len(_NONLINEAR))](cause)
            value = value + weight * cause
        if kind == "nonlinear":
            value = (value - value.mean()) / value.std()
        data[:, index[name]] = value
    return data
