"""Random DAGs and data for the discovery tests and benchmarks."""

from __future__ import annotations

import networkx as nx
import numpy as np


def random_dag(n_nodes: int, edge_prob: float, rng: np.random.Generator) -> nx.DiGraph:
    """A DAG whose causal order is the node index order (names v0, v1, ...)."""
    dag = nx.DiGraph()
    names = [f"v{i}" for i in range(n_nodes)]
    dag.add_nodes_from(names)
    for i in range(n_nodes):
        for j in range(i + 1, n_nodes):
            if rng.random() < edge_prob:
                dag.add_edge(names[i], names[j])
    return dag


def linear_gaussian(dag: nx.DiGraph, n: int, rng: np.random.Generator) -> np.ndarray:
    names = list(dag.nodes)
    data = np.zeros((n, len(names)))
    for j, name in enumerate(names):
        value = rng.standard_normal(n)
        for parent in dag.predecessors(name):
            weight = rng.uniform(0.5, 1.5) * rng.choice([-1, 1])
            value = value + weight * data[:, names.index(parent)]
        data[:, j] = value
    return data
