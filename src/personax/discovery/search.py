"""``discover``: PC with background knowledge on the columns of a table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from personax.data.table import data_row, is_trait_score, refuse_stray_text
from personax.discovery.citests import KCI_MAX_ROWS, FisherZTester, KCITester, RCITTester
from personax.discovery.graph import CausalGraph
from personax.discovery.knowledge import Knowledge
from personax.discovery.pc import Progress, pc
from personax.errors import BadInput

TESTS = ("fisherz", "kci", "rcit")
NON_DATA_COLUMNS = ("id", "split")


def default_columns(df: pd.DataFrame, source: str = "table") -> list[str]:
    """Every numeric (non-complex) column except ``id`` and ``split``.

    A text column whose values are mostly numbers is refused rather than skipped: one typed
    cell ("oops", "1,5") turns a numeric column into text, and leaving it out of the graph
    without a word would change the result silently.
    """
    chosen = []
    for c in df.columns:
        name = str(c)
        if name in NON_DATA_COLUMNS:
            continue
        series = df[c]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_complex_dtype(series):
            chosen.append(name)
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            refuse_stray_text(series, name, source, "fix it, or choose the columns with --columns.")
    return chosen


def select_split(df: pd.DataFrame, split: str | None, source: str = "table") -> pd.DataFrame:
    """Rows whose ``split`` column equals ``split`` (all rows when ``split`` is None)."""
    if split is None:
        return df
    if "split" not in df.columns:
        raise BadInput(f"{source}: --split {split} needs a 'split' column, which is missing.")
    # Empty cells are no split at all (astype(str) left them as floats: a TypeError).
    labels = df["split"].map(lambda v: None if pd.isna(v) else str(v))
    kept = df[(labels == split).to_numpy(dtype=bool)]
    if kept.empty:
        present = sorted({v for v in labels if isinstance(v, str)})
        values = ", ".join(present) if present else "none"
        empty = int(labels.isna().sum())
        blank = f"; {empty} row(s) have an empty split" if empty else ""
        raise BadInput(f"{source}: no row has split '{split}' (values present: {values}{blank}).")
    # Keep the original index so that errors name the row of the file, not of the split.
    return kept


def check_options(test: str | None, alpha: float, compat: str | None = None) -> None:
    """BadInput for an unknown test or compat mode, or an alpha outside (0, 1) — callable
    before any expensive step (the real-world recipe trains CRL before it runs PC). ``test``
    None: the caller picks a default later."""
    if test is not None and test not in TESTS:
        raise BadInput(f"unknown test '{test}'; choose one of {', '.join(TESTS)}.")
    if compat not in (None, "paper"):
        raise BadInput(f"unknown compat mode '{compat}'; the only one is 'paper'.")
    if compat == "paper" and test == "rcit":
        raise BadInput("--compat paper applies to the kci and fisherz tests, not rcit.")
    if not 0 < alpha < 1:
        raise BadInput(f"alpha must lie strictly between 0 and 1, got {alpha}.")


def data_matrix(df: pd.DataFrame, columns: Sequence[str], source: str = "table") -> np.ndarray:
    """The chosen columns as a float matrix; BadInput for unknown, non-numeric, missing or
    constant columns."""
    # Checked first: with no rows no column reads as numeric, and "0 columns" would mislead.
    if len(df) == 0:
        raise BadInput(f"{source}: the table has a header but no data rows.")
    if len(columns) < 2:
        raise BadInput(f"{source}: causal discovery needs at least 2 columns, got {len(columns)}.")
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise BadInput(f"{source}: column '{c}' is listed twice.")
        seen.add(c)
        if c not in df.columns:
            available = ", ".join(map(str, df.columns))
            raise BadInput(f"{source}: no column '{c}' (columns: {available}).")
        series = df[c]
        if pd.api.types.is_bool_dtype(series):
            # Checked like numbers: a constant flag made every test NaN, read as dependent.
            series = series.astype("Float64")
        elif not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_complex_dtype(series):
            raise BadInput(
                f"{source}: column '{c}' is not numeric (dtype {series.dtype}); "
                "encode it as numbers first."
            )
        values = series.to_numpy(dtype=float, na_value=np.nan)
        if is_trait_score(str(c), values) and (values == 0).any():
            first = df.index[int(np.flatnonzero(values == 0)[0])]
            raise BadInput(
                f"{source}: column '{c}' holds the score 0 ('insufficient information', missing "
                f"in every analysis) in {int((values == 0).sum())} row(s) (first at data "
                f"{data_row(first)}); drop those rows first."
            )
        bad = ~np.isfinite(values)
        if bad.any():
            first = df.index[int(np.flatnonzero(bad)[0])]
            raise BadInput(
                f"{source}: column '{c}' has {int(bad.sum())} missing or infinite value(s) "
                f"(first at data {data_row(first)}); drop or impute them first."
            )
        if len(values) and np.all(values == values[0]):
            raise BadInput(f"{source}: column '{c}' is constant, so it cannot be tested.")
    matrix = np.column_stack([df[c].astype("float64").to_numpy(dtype=float) for c in columns])
    if matrix.shape[0] < len(columns) + 4:
        raise BadInput(
            f"{source}: {matrix.shape[0]} rows are too few for {len(columns)} columns "
            f"(need at least {len(columns) + 4})."
        )
    return matrix


def discover(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    roots: Iterable[str] = (),
    forbid: Iterable[tuple[str, str]] = (),
    require: Iterable[tuple[str, str]] = (),
    tiers: Iterable[Iterable[str]] | None = None,
    test: str = "fisherz",
    alpha: float = 0.05,
    seed: int = 0,
    max_rows_kci: int = KCI_MAX_ROWS,
    progress: Progress | None = None,
    source: str = "table",
    compat: str | None = None,
    colliders: str = "sepset",
    max_depth: int | None = None,
) -> CausalGraph:
    """PC over ``columns`` of ``df`` with background knowledge that always holds in the output.

    ``test``: ``fisherz`` (linear-Gaussian), ``kci`` (kernel; O(n³), so above ``max_rows_kci``
    rows it runs on a seeded random subsample of that size) or ``rcit`` (RCoT; linear in n,
    seeded). ``columns`` None means every numeric column except ``id`` and ``split``.
    ``compat="paper"``: KCI exactly as causal-learn's ``CIT(data, "kci")`` (Fisher-z is the
    same formula in both modes; RCIT has no such mode here).
    ``colliders``: ``"sepset"`` (PC's rule) or ``"majority"`` (orientations independent of the
    column order, at the cost of extra tests; see :func:`personax.discovery.pc.pc`).
    ``max_depth``: the largest conditioning set PC tries (None: no limit; causal-learn's
    ``max_k``) — it bounds the number of tests, which grows exponentially with the degree.
    Raises BadInput for bad columns, options or contradictory knowledge.
    """
    check_options(test, alpha, compat)
    if not all(isinstance(c, str) for c in df.columns):
        # Node names are text (graph.json, the drawing): a frame built from an array has the
        # column names 0, 1, 2, which the default columns already spell "0", "1", "2".
        df = df.rename(columns=str)
        if df.columns.duplicated().any():
            twice = df.columns[df.columns.duplicated()][0]
            raise BadInput(f"{source}: two columns are both named '{twice}' once read as text.")
        columns = None if columns is None else [str(c) for c in columns]
        roots = [str(r) for r in roots]
        forbid = [(str(a), str(b)) for a, b in forbid]
        require = [(str(a), str(b)) for a, b in require]
        tiers = None if tiers is None else [[str(c) for c in tier] for tier in tiers]
    cols = list(columns) if columns is not None else default_columns(df, source)
    data = data_matrix(df, cols, source)
    knowledge = Knowledge.build(cols, roots=roots, forbid=forbid, require=require, tiers=tiers)
    n_rows = data.shape[0]
    notes = []
    if test == "kci" and n_rows > max_rows_kci:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(n_rows, size=max_rows_kci, replace=False))
        data = data[keep]
        # The constant check ran on every row; a rare value can be left out of the subsample,
        # and a constant column gives NaN p-values, which PC reads as "dependent".
        for k, name in enumerate(cols):
            if np.ptp(data[:, k]) == 0:
                raise BadInput(
                    f"{source}: column '{name}' takes a single value on the seeded KCI "
                    f"subsample of {max_rows_kci} of the {n_rows} rows (seed {seed}); raise "
                    "--max-rows-kci, or use --test rcit, which uses all rows."
                )
        notes.append(
            f"Conditional KCI costs O(n³): it ran on a seeded random subsample of "
            f"{max_rows_kci} of the {n_rows} rows (seed {seed}); use --test rcit to use all rows."
        )
    if test != "fisherz":  # Fisher-z rescales its columns itself; the kernels need the range
        from personax.independence.kernels import check_kernel_range

        for k, name in enumerate(cols):
            check_kernel_range(data[:, k], name, source)
    if test == "fisherz":
        tester = FisherZTester(data, cols, source)
    elif test == "kci":
        tester = KCITester(data, compat=compat)
    else:
        tester = RCITTester(data, seed=seed, names=cols)
    result = pc(
        cols,
        tester,
        alpha=alpha,
        knowledge=knowledge,
        progress=progress,
        colliders=colliders,
        max_depth=max_depth,
    )
    graph = result.graph
    knowledge.check(graph)  # must never fire; raises KnowledgeViolation if it does
    mode = " (causal-learn compatible)" if compat == "paper" and test == "kci" else ""
    rule = "; colliders by the majority rule" if colliders == "majority" else ""
    if max_depth is not None:
        rule += f"; conditioning sets of at most {max_depth} variable(s)"
    summary = (
        f"PC (stable skeleton) with the {test} test{mode} at alpha {alpha} on {data.shape[0]} rows "
        f"and {len(cols)} columns{rule}; {result.n_tests} conditional independence tests."
    )
    return CausalGraph(
        nodes=graph.nodes,
        edges=graph.edges,
        notes=(summary, *notes, *graph.notes),
        knowledge=graph.knowledge,
    )
