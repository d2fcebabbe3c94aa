"""Conditional independence tests over the columns of one data matrix, as PC calls them.

Each tester answers ``p_value(i, j, cond)`` for column indices and caches answers (PC asks the
same question from both ends of an edge). The statistics themselves live in
:mod:`personax.independence.conditional`; this module only indexes columns and subsamples.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence

import networkx as nx
import numpy as np

from personax.errors import BadInput

KCI_MAX_ROWS = 1500
"""Conditional KCI costs O(n³) time and O(n²) memory; above this many rows PC runs it on a
seeded random subsample of this size (the notes of the graph say so)."""


class _Cached(ABC):
    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def p_value(self, i: int, j: int, cond: tuple[int, ...]) -> float:
        key = (min(i, j), max(i, j), tuple(sorted(cond)))
        if key not in self._cache:
            self._cache[key] = float(self._compute(*key))
        return self._cache[key]

    @abstractmethod
    def _compute(self, i: int, j: int, cond: tuple[int, ...]) -> float:
        """The p-value of column i independent of column j given the columns in cond."""


class FisherZTester(_Cached):
    """Fisher-z partial-correlation test on the full correlation matrix (linear-Gaussian)."""

    def __init__(
        self, data: np.ndarray, columns: Sequence[str] | None = None, source: str = "table"
    ) -> None:
        super().__init__()
        data = np.asarray(data, dtype=float)
        names = list(columns) if columns is not None else [str(i) for i in range(data.shape[1])]
        self.n = data.shape[0]
        from personax.independence.conditional import scaled_correlation

        self.correlation = scaled_correlation(data)
        bad = (~np.isfinite(self.correlation)).sum(axis=0)
        if bad.any():
            # the culprit spoils its whole row; the others only their entry with it
            raise BadInput(
                f"{source}: the correlation of column '{names[int(np.argmax(bad))]}' "
                "with the others is not finite, so the Fisher-z test cannot use it."
            )
        # An exactly collinear set makes every partial correlation given part of it undefined
        # (0/0); a pseudo-inverse would hide that behind arbitrary p-values. causal-learn
        # refuses such data too.
        eigenvalues, eigenvectors = np.linalg.eigh(self.correlation)
        if eigenvalues[0] <= len(names) * np.finfo(float).eps * max(eigenvalues[-1], 1.0):
            involved = np.flatnonzero(np.abs(eigenvectors[:, 0]) > 1e-6)
            listed = ", ".join(f"'{names[k]}'" for k in involved)
            raise BadInput(
                f"{source}: columns {listed} are exactly collinear (one is a linear function "
                "of the others), so Fisher-z partial correlations are undefined; drop one."
            )

    def _compute(self, i, j, cond):
        from personax.independence.conditional import fisherz_from_correlation

        variables = [i, j, *cond]
        sub = self.correlation[np.ix_(variables, variables)]
        return fisherz_from_correlation(sub, self.n).p_value


class KCITester(_Cached):
    """Conditional KCI (kernel test, any dependence shape). The O(n³) residual operator of
    each conditioning set is kept for the next questions (up to ``cache_bytes`` of them)."""

    def __init__(
        self, data: np.ndarray, cache_bytes: int = 256 * 2**20, compat: str | None = None
    ) -> None:
        super().__init__()
        self.data = np.asarray(data, dtype=float)
        self.compat = compat
        self._operators: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()
        # As many n × n operators as fit in cache_bytes (at least 4), least recently used out.
        self._operators_kept = max(4, cache_bytes // (8 * self.data.shape[0] ** 2))

    def _residual_operator(self, cond: tuple[int, ...]) -> np.ndarray:
        from personax.independence.conditional import kci_residual_operator

        if cond in self._operators:
            self._operators.move_to_end(cond)
        else:
            self._operators[cond] = kci_residual_operator(
                self.data[:, list(cond)], compat=self.compat
            )
            if len(self._operators) > self._operators_kept:
                self._operators.popitem(last=False)
        return self._operators[cond]

    def _compute(self, i, j, cond):
        from personax.independence.conditional import kci_ci

        if not cond:
            return kci_ci(self.data[:, i], self.data[:, j], compat=self.compat).p_value
        return kci_ci(
            self.data[:, i],
            self.data[:, j],
            self.data[:, list(cond)],
            residual_operator=self._residual_operator(cond),
            compat=self.compat,
        ).p_value


class RCITTester(_Cached):
    """Conditional RCIT/RCoT (random Fourier features; linear in n). Seeded per question, and
    the question put in one canonical form (x and y, then the conditioning columns, each in
    the order of their names), so the answer depends neither on the order in which PC asks
    nor on the order of the columns (their positions gave another seed and another feature
    draw for the same question)."""

    def __init__(self, data: np.ndarray, seed: int = 0, names: Sequence[str] | None = None) -> None:
        super().__init__()
        self.data = np.asarray(data, dtype=float)
        self.seed = seed
        names = [str(k) for k in range(self.data.shape[1])] if names is None else list(names)
        # A name's seed word: stable across runs and platforms (hash() is salted per process).
        self._words = [zlib.crc32(name.encode("utf-8")) for name in names]
        self._names = names

    def _compute(self, i, j, cond):
        from personax.independence.conditional import rcit_ci

        x, y = sorted((i, j), key=lambda k: self._names[k])
        cond = sorted(cond, key=lambda k: self._names[k])
        z = self.data[:, cond] if cond else None
        question_seed = [self.seed, *(self._words[k] for k in (x, y, *cond))]
        return rcit_ci(self.data[:, x], self.data[:, y], z, seed=question_seed).p_value


class OracleTester(_Cached):
    """Exact answers from d-separation in a known DAG (for tests): p = 1 when d-separated."""

    def __init__(self, dag: nx.DiGraph, nodes: Sequence[str]) -> None:
        super().__init__()
        self.dag = dag
        self.nodes = list(nodes)

    def _compute(self, i, j, cond):
        separated = nx.is_d_separator(
            self.dag, {self.nodes[i]}, {self.nodes[j]}, {self.nodes[c] for c in cond}
        )
        return 1.0 if separated else 0.0
