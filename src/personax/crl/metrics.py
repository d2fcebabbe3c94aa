"""How well learned latents and a learned graph match the ground truth.

- :func:`mcc` — mean correlation coefficient: absolute Pearson (or Spearman) correlations
  between every true and every estimated latent, a one-to-one matching that maximises their
  sum (Hungarian algorithm), mean over the matched pairs.
- :func:`r2_kernel` — kernel ridge regression from *all* estimated latents to each true
  latent, hyper-parameters chosen by cross-validation on the training split only, R² scored
  on the test split.
- :func:`shd` / :func:`graph_scores` — structural Hamming distance and edge precision/recall.
- :func:`recovery_by_block` — how much of each true latent each learned block holds at all
  (nearest-neighbour R²), which tells a *mixed* latent (held by its block, poorly matched)
  from a *missing* one (held by no block).

Scores are computed on whatever rows the caller passes: pass the held-out test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from personax.errors import BadInput

MCC_METHODS = ("pearson", "spearman")


@dataclass(frozen=True)
class MCCResult:
    """MCC and how it was obtained.

    ``matching`` is a ``k × 2`` integer array of (true index, estimated index) pairs,
    ``k = min(L_true, L_est)``; ``correlations`` the ``L_true × L_est`` absolute correlations.
    """

    value: float
    matching: np.ndarray
    correlations: np.ndarray
    method: str = "pearson"
    matched: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict[str, object]:
        return {
            "mcc": self.value,
            "method": self.method,
            "matching": [[int(i), int(j)] for i, j in self.matching],
            "matched_correlations": [float(c) for c in self.matched],
        }


def _matrix(values: object, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise BadInput(f"{what} must be a 2-D array (rows × latents), got shape {array.shape}.")
    if array.shape[1] == 0:
        raise BadInput(f"{what} has no latent columns.")
    bad = ~np.isfinite(array)
    if bad.any():
        raise BadInput(f"{what} has a NaN or infinite value in row {int(np.argwhere(bad)[0][0])}.")
    return array


def _paired(true: object, est: object) -> tuple[np.ndarray, np.ndarray]:
    true_m, est_m = _matrix(true, "true latents"), _matrix(est, "estimated latents")
    if true_m.shape[0] != est_m.shape[0]:
        raise BadInput(
            f"true latents have {true_m.shape[0]} rows but estimated latents have "
            f"{est_m.shape[0]}; they must match row for row."
        )
    if true_m.shape[0] < 2:
        raise BadInput("correlations need at least 2 rows.")
    return true_m, est_m


def _standardised(array: np.ndarray) -> np.ndarray:
    """Columns with mean 0 and unit norm; a constant column becomes all zeros."""
    # Each column divided by its largest magnitude first: the norm of values near 1e-200
    # underflows to 0 and a perfect estimate read as constant (correlation is scale-free).
    peak = np.abs(array).max(axis=0) if array.shape[0] else np.ones(array.shape[1])
    array = array / np.where(peak > 0, peak, 1.0)
    centred = array - array.mean(axis=0)
    norms = np.linalg.norm(centred, axis=0)
    # Relative tolerance: a column that is constant up to float rounding counts as constant.
    # A few hundred units of rounding (the mean's pairwise sum errs by about log2(n) units): at
    # 1e-12 a latent with an offset 1e12 times its spread, which float64 still resolves to
    # four digits, was read as constant and scored 0.
    scale = np.abs(array).max(axis=0) * np.sqrt(array.shape[0]) * 256 * np.finfo(float).eps
    constant = norms <= np.maximum(scale, 1e-300)
    return np.where(constant, 0.0, centred / np.where(constant, 1.0, norms))


def abs_correlations(true: object, est: object, method: str = "pearson") -> np.ndarray:
    """``L_true × L_est`` absolute correlations; 0 wherever a column has no variance."""
    if method not in MCC_METHODS:
        raise BadInput(f"unknown correlation method '{method}'; use pearson or spearman.")
    true_m, est_m = _paired(true, est)
    if method == "spearman":
        from scipy.stats import rankdata

        true_m, est_m = rankdata(true_m, axis=0), rankdata(est_m, axis=0)
    corr = _standardised(true_m).T @ _standardised(est_m)
    return np.clip(np.abs(corr), 0.0, 1.0)


def mcc(true: object, est: object, method: str = "pearson") -> MCCResult:
    """Mean absolute correlation over the best one-to-one matching of true and estimated latents.

    When the numbers of latents differ, ``min(L_true, L_est)`` pairs are matched and the mean is
    over the *true* latents: surplus estimated latents are ignored, and a true latent left
    without a partner (fewer estimated than true) counts 0 — a method that models fewer
    latents than the data have has not recovered the rest (read ``matching`` to see which
    were paired). Sign flips and rescaling do not change the value; with
    ``method="spearman"`` neither does any strictly monotone transform.
    """
    from scipy.optimize import linear_sum_assignment

    corr = abs_correlations(true, est, method)
    rows, cols = linear_sum_assignment(corr, maximize=True)
    matched = corr[rows, cols]
    return MCCResult(
        value=float(matched.sum() / max(corr.shape[0], 1)),
        matching=np.stack([rows, cols], axis=1).astype(np.int64),
        correlations=corr,
        method=method,
        matched=matched,
    )


def mcc_ceiling(true_a: object, true_b: object) -> float:
    """The most that ``min(MCC against a, MCC against b)`` (Pearson) can be for *any* estimate
    with at most as many latents as the truths — an upper bound, from the truths alone.

    Two ground truths that explain the same measurements equally well (e.g. a child latent
    and the child plus a function of its parent) cannot both be matched closely by one
    estimate. For standardised columns, ``|corr(u, a)| + |corr(u, b)| ≤ √(2 + 2|corr(a, b)|)``
    (Cauchy–Schwarz on ``a ± b``); with at most as many estimated as true latents each
    estimate is paired at most once under each truth's matching (an unpaired true latent
    counts 0), so the two pairings join latents of ``a`` and ``b`` one to one, and
    ``MCC_a + MCC_b`` is at most the best such join (Hungarian) of those terms over the
    number of latents. The ceiling is half of that: 1 when ``a`` and
    ``b`` are the same latents up to order, sign and scale. It says nothing about estimates
    with more latents than the truths, which can hold both.
    """
    from scipy.optimize import linear_sum_assignment

    a, b = _matrix(true_a, "first truth"), _matrix(true_b, "second truth")
    if a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise BadInput(
            f"the two truths must hold the same rows, at least 2 (got {a.shape[0]} and "
            f"{b.shape[0]})."
        )
    if a.shape[1] != b.shape[1]:
        raise BadInput(
            f"the two truths must have as many latents (got {a.shape[1]} and {b.shape[1]})."
        )
    corr = _standardised(a).T @ _standardised(b)
    weight = np.sqrt(2.0 + 2.0 * np.clip(np.abs(corr), 0.0, 1.0))
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return float(min(1.0, weight[rows, cols].sum() / (2 * a.shape[1])))


def block_mcc(
    true: object,
    est: object,
    true_blocks: dict[str, list[int]],
    est_blocks: dict[str, list[int]],
    method: str = "pearson",
) -> dict[str, MCCResult]:
    """MCC per block (e.g. per modality): block ``b`` matches ``true[:, true_blocks[b]]`` with
    ``est[:, est_blocks[b]]`` only. Blocks present on one side only are skipped."""
    true_m, est_m = _paired(true, est)
    results = {}
    for name, true_cols in true_blocks.items():
        est_cols = est_blocks.get(name)
        if not true_cols or not est_cols:
            continue
        results[name] = mcc(true_m[:, list(true_cols)], est_m[:, list(est_cols)], method)
    return results


def kernel_r2_scores(
    est_train: object,
    true_train: object,
    est_test: object,
    true_test: object,
    seed: int = 0,
    max_train: int = 3000,
    cv_rows: int = 1200,
) -> np.ndarray:
    """Out-of-sample R² of each true latent, predicted from all estimated latents.

    Kernel ridge regression with an RBF kernel (scikit-learn). Both sides are standardised
    with training-split statistics. ``alpha`` in {0.001, 0.01, 0.1, 1} and ``gamma`` in
    {0.2, 1, 5} / (number of estimated latents) are chosen by 3-fold cross-validation on (a deterministic subsample of at most ``cv_rows`` rows of) the
    training split; the final model is fitted on at most ``max_train`` training rows
    (deterministic subsample) and scored on every test row. Raw values: an R² below 0 means
    worse than predicting the training mean.
    """
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import GridSearchCV, KFold

    true_tr, est_tr = _paired(true_train, est_train)
    true_te, est_te = _paired(true_test, est_test)
    if est_tr.shape[1] != est_te.shape[1] or true_tr.shape[1] != true_te.shape[1]:
        raise BadInput(
            "training and test latents must have the same columns "
            f"(estimated {est_tr.shape[1]} vs {est_te.shape[1]}, "
            f"true {true_tr.shape[1]} vs {true_te.shape[1]})."
        )
    if true_tr.shape[0] < 6:
        raise BadInput(f"kernel R² needs at least 6 training rows, got {true_tr.shape[0]}.")
    x_mean, x_std = est_tr.mean(axis=0), _safe_std(est_tr)
    y_mean, y_std = true_tr.mean(axis=0), _safe_std(true_tr)
    x_tr, x_te = (est_tr - x_mean) / x_std, (est_te - x_mean) / x_std
    y_tr = (true_tr - y_mean) / y_std
    y_te = (true_te - y_mean) / y_std

    rng = np.random.default_rng(seed)
    fit_rows = _subsample(len(x_tr), max_train, rng)
    cv_rows_idx = fit_rows[: min(cv_rows, len(fit_rows))]
    d = x_tr.shape[1]
    grid = {
        "alpha": [1e-3, 1e-2, 1e-1, 1.0],
        "gamma": [g / d for g in (0.2, 1.0, 5.0)],
    }
    search = GridSearchCV(
        KernelRidge(kernel="rbf"),
        grid,
        cv=KFold(3, shuffle=True, random_state=seed),
        scoring="r2",
        n_jobs=1,
    )
    search.fit(x_tr[cv_rows_idx], y_tr[cv_rows_idx])
    model = KernelRidge(kernel="rbf", **search.best_params_)
    model.fit(x_tr[fit_rows], y_tr[fit_rows])
    predicted = model.predict(x_te).reshape(len(x_te), -1)
    # A true latent that is constant on the test split has no variance to explain: score 0.
    scores = np.zeros(y_te.shape[1])
    for j in range(y_te.shape[1]):
        if np.ptp(y_te[:, j]) > 0:
            scores[j] = r2_score(y_te[:, j], predicted[:, j])
    return scores


def r2_kernel(
    est_train: object,
    true_train: object,
    est_test: object,
    true_test: object,
    seed: int = 0,
    max_train: int = 3000,
) -> float:
    """Mean over true latents of the out-of-sample kernel-ridge R², each clipped below at 0.

    Clipping keeps one hopeless latent from dragging the mean below what the others explain;
    :func:`kernel_r2_scores` gives the raw per-latent values.
    """
    scores = kernel_r2_scores(est_train, true_train, est_test, true_test, seed, max_train)
    return float(np.clip(scores, 0.0, None).mean())


# A true latent is read as "mixed" when some block holds it at least this well (held-out
# nearest-neighbour R²) while its matched correlation stays below MIXED_MATCH; "missing" when
# no block holds it at MISSING_R2.
HELD_R2, MIXED_MATCH, MISSING_R2 = 0.8, 0.8, 0.5
# The block of every estimated latent together: a name with a space, so that no modality
# (letters, digits, "_", "-") can take it.
ALL_LATENTS = "all latents"


def recovery_by_block(
    true: np.ndarray,
    est: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    est_blocks: dict[str, list[int]],
    matched: dict[int, float],
    names: list[str],
    neighbours: int = 20,
) -> dict:
    """Held-out R² of a ``neighbours``-nearest-neighbour regression of every true latent on
    each block of estimated latents (columns standardised on ``train``, fitted on ``train``,
    scored on ``test``), and each true latent's reading: "recovered", "mixed" (a block holds
    it, the matching does not find it) or "missing" (no block holds it); ``matched`` maps a
    true latent's index to its matched correlation (absent: unmatched, counted as 0).

    Written here because it is a diagnosis, not a score: nonparametric on purpose, so that
    any invertible warp or mixture inside a block still counts as held.
    """
    from sklearn.metrics import r2_score
    from sklearn.neighbors import KNeighborsRegressor

    k = max(1, min(neighbours, len(train)))
    held: dict[str, list[float]] = {}
    for block, columns in est_blocks.items():
        if not columns:
            continue
        features = est[:, columns]
        centre, scale = features[train].mean(axis=0), _safe_std(features[train])
        features = (features - centre) / scale
        knn = KNeighborsRegressor(k).fit(features[train], true[train])
        predicted = knn.predict(features[test]).reshape(len(test), -1)
        held[block] = [
            float(r2_score(true[test, j], predicted[:, j])) if true[test, j].std() > 0 else 0.0
            for j in range(true.shape[1])
        ]
    readings = []
    for j, name in enumerate(names):
        scores = {block: values[j] for block, values in held.items() if block != ALL_LATENTS}
        best = max(scores, key=scores.get) if scores else None
        best_r2 = scores[best] if best is not None else float("nan")
        match = float(matched.get(j, 0.0))
        if match >= MIXED_MATCH:
            reading = "recovered"
        elif best is not None and best_r2 >= HELD_R2:
            reading = "mixed"
        elif best is None or best_r2 < MISSING_R2:
            reading = "missing"
        else:
            reading = "partly held"
        readings.append(
            {"latent": name, "matched": match, "best_block": best, "block_r2": best_r2,
             "reading": reading}
        )  # fmt: skip
    return {"neighbours": k, "r2": held, "latents": readings}


def _safe_std(array: np.ndarray) -> np.ndarray:
    std = array.std(axis=0)
    return np.where(std > 0, std, 1.0)


def _subsample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """A deterministic random order of min(n, limit) row indices."""
    return rng.permutation(n)[: min(n, limit)]


def _adjacency(graph: object, what: str, threshold: float) -> np.ndarray:
    array = np.asarray(graph, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise BadInput(f"{what} must be a square adjacency matrix, got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise BadInput(f"{what} has a NaN or infinite entry.")
    edges = np.abs(array) > threshold
    np.fill_diagonal(edges, False)
    return edges


def _checked_graphs(
    true_graph: object, est_graph: object, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    true_edges = _adjacency(true_graph, "true graph", 0.0)
    est_edges = _adjacency(est_graph, "estimated graph", threshold)
    if true_edges.shape != est_edges.shape:
        raise BadInput(
            f"true graph is {true_edges.shape} but estimated graph is {est_edges.shape}; "
            "they must be over the same latents."
        )
    return true_edges, est_edges


def shd(true_graph: object, est_graph: object, threshold: float = 0.0) -> int:
    """Structural Hamming distance between two directed graphs on the same nodes.

    Adjacency convention of the CRL format: ``[i, j] != 0`` means j → i (only the pattern
    matters, so the transposed convention gives the same distance). An entry of the estimated
    graph is an edge when its absolute value exceeds ``threshold``. Each unordered pair of
    nodes whose edge state differs (missing, extra, reversed, or one-way vs two-way) counts 1.
    The diagonal is ignored.
    """
    true_edges, est_edges = _checked_graphs(true_graph, est_graph, threshold)
    differs = (true_edges != est_edges) | (true_edges.T != est_edges.T)
    return int(np.triu(differs, k=1).sum())


@dataclass(frozen=True)
class GraphScores:
    """A learned graph against the true one (directed edges)."""

    shd: int
    precision: float
    recall: float
    true_edges: int
    est_edges: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "shd": self.shd,
            "precision": self.precision,
            "recall": self.recall,
            "true_edges": self.true_edges,
            "est_edges": self.est_edges,
        }


def graph_scores(true_graph: object, est_graph: object, threshold: float = 0.0) -> GraphScores:
    """SHD plus precision and recall of the directed edges (a reversed edge is wrong in both).

    Precision is 1 when no edge is estimated and recall 1 when the true graph has none
    (nothing claimed, nothing missed).
    """
    true_edges, est_edges = _checked_graphs(true_graph, est_graph, threshold)
    hits = int((true_edges & est_edges).sum())
    n_true, n_est = int(true_edges.sum()), int(est_edges.sum())
    return GraphScores(
        shd=shd(true_graph, est_graph, threshold),
        precision=hits / n_est if n_est else 1.0,
        recall=hits / n_true if n_true else 1.0,
        true_edges=n_true,
        est_edges=n_est,
    )
