"""The Level I battery: every trait × every attribute × every test, BH-corrected per test."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from personax.data.table import (
    FINAL_TRAIT_RE,
    LLM_TRAIT_RE,
    category_codes,
    column_groups,
    is_score_column,
    refuse_stray_text,
)
from personax.data.validate import refuse_bad_ids_and_scores
from personax.errors import BadInput
from personax.independence.contingency import chisq, gsq
from personax.independence.hsic import PAPER_SIGMA as PAPER_HSIC_SIGMA
from personax.independence.hsic import hsic
from personax.independence.kci import kci
from personax.independence.kernels import (
    SMALL_SIDE,
    CentredGramSums,
    DeltaKernel,
    Factorised,
    GaussianKernel,
    Kernel,
    centred_gram_sums_shared_y,
    check_kernel_range,
    complete_pairs,
    factorise,
    median_sigma,
    paper_kci_sigma,
    sample_std,
)
from personax.independence.rcit import rcit
from personax.independence.result import TestResult

TESTS = ("kci", "rcit", "hsic", "chisq", "gsq")
CONTINGENCY_TESTS = ("chisq", "gsq")
MAX_DISCRETE_VALUES = 40  # INTERFACES.md: discrete = categorical or at most 40 distinct values
RESULT_COLUMNS = [
    "trait",
    "attribute",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "significant",
    "n",
    "effect_size",
    "null",
    "group",
    "params",
    "note",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Column:
    """A column prepared for testing: float values (NaN = missing) and how it was coded."""

    name: str
    values: np.ndarray
    categorical: bool
    distinct: int
    categories: tuple[str, ...] = ()

    @cached_property
    def factorised(self) -> Factorised:
        # once per column; each pair then restricts it to its rows in O(n + k)
        return factorise(self.values)

    @cached_property
    def median_sigma(self) -> float:
        # the default kernel width is a property of the variable: computed once, on all its rows
        return median_sigma(self.factorised.values, self.factorised.counts)

    @property
    def discrete(self) -> bool:
        return self.categorical or self.distinct <= MAX_DISCRETE_VALUES


@dataclass(frozen=True)
class BatteryResult:
    """Long results table plus what is needed to draw and reproduce it."""

    results: pd.DataFrame
    traits: tuple[str, ...]
    attributes: tuple[str, ...]
    tests: tuple[str, ...]
    alpha: float
    compat: str | None
    seed: int
    groups: dict[str, str] = field(default_factory=dict)  # trait column → "final" / LLM name

    def pvalue_matrix(self, test: str, adjusted: bool = False) -> pd.DataFrame:
        """Traits × attributes matrix of (adjusted) p-values of one test."""
        sub = self.results[self.results["test"] == test]
        column = "p_adjusted" if adjusted else "p_value"
        wide = sub.pivot(index="trait", columns="attribute", values=column)
        return wide.reindex(index=list(self.traits), columns=list(self.attributes))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values; NaN entries stay NaN and do not count as tests."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    values = np.empty(m)
    values[order] = adjusted
    out[ok] = values
    return out


def prepare_column(df: pd.DataFrame, name: str, *, trait: bool, source: str = "table") -> Column:
    """Numeric values of a column: categorical text → sorted category codes (as the paper did)."""
    series = df[name]
    if (
        series.dtype == object
        and series.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any()
    ):
        raise BadInput(f"{source}: column '{name}' holds embeddings (lists), not scalar values.")
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        # Read as text categories, every date became its own level (297 "categories" of 300
        # rows) and chi-square / G-square ran on them; the functions refuse dates too.
        raise BadInput(
            f"{source}: column '{name}' holds dates or durations; convert it to numbers "
            "(e.g. a year, or days since a reference date) to test it."
        )
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("float")
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce").astype(float).to_numpy(copy=True)
        values[~np.isfinite(values)] = np.nan
        # as a trait or as an attribute; a height_c's 0 is a height
        if FINAL_TRAIT_RE.match(name) or is_score_column(df, name):
            values[values == 0] = np.nan  # 0 = "insufficient information"
        distinct = int(pd.Series(values).nunique())
        return Column(name, values, categorical=False, distinct=distinct)
    refuse_stray_text(series, name, source, "fix it, or leave the column out of the test.")
    if trait:
        example = str(series.dropna().iloc[0]) if series.notna().any() else ""
        raise BadInput(
            f"{source}: column '{name}' must be numeric but holds the text value {example!r}."
        )
    codes, cats = category_codes(series)
    return Column(name, codes, categorical=True, distinct=len(cats), categories=cats)


def default_columns(df: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Traits = every final_* column; attributes = every other non-id, non-trait, non-embedding."""
    groups = column_groups(df)
    return groups.final_traits, groups.attributes


def _trait_group(name: str) -> str:
    if FINAL_TRAIT_RE.match(name):
        return "final"
    match = LLM_TRAIT_RE.match(name)
    return match.group(1) if match else "traits"


def _bin(values: np.ndarray, bins: int) -> np.ndarray:
    present = np.isfinite(values)
    out = np.full(values.shape, np.nan)
    codes = pd.qcut(values[present], q=bins, labels=False, duplicates="drop")
    out[present] = np.asarray(codes, dtype=float)
    return out


def _kernel_of(column: Column) -> Kernel:
    return DeltaKernel() if column.categorical else GaussianKernel(column.median_sigma)


def _pair_kernels(test: str, trait: Column, attribute: Column, compat: str | None):
    """The (x, y) kernels the test will use on this pair, so a shared pass can match them."""
    if compat is None:
        return _kernel_of(trait), _kernel_of(attribute)
    if test == "hsic":
        paper = GaussianKernel(PAPER_HSIC_SIGMA, single_precision_cross=True)
        return paper, paper
    fx, fy = complete_pairs(trait.factorised, attribute.factorised)
    width = paper_kci_sigma(fx.codes.size)
    return (
        GaussianKernel(width * sample_std(fx.values, fx.counts)),
        GaussianKernel(width * sample_std(fy.values, fy.counts)),
    )


def _usable(kernel: Kernel) -> bool:
    return isinstance(kernel, DeltaKernel) or bool(np.isfinite(kernel.sigma) and kernel.sigma > 0)


def _shared_sums(
    attribute: Column, traits: Sequence[Column], tests: Sequence[str], compat: str | None
) -> dict[tuple[str, str], CentredGramSums]:
    """Attributes with more than SMALL_SIDE distinct values: one blockwise pass over the
    attribute's kernel serves every trait whose pair uses the same attribute kernel (exact;
    the per-pair route would repeat the pass for each trait and test)."""
    kernel_tests = [t for t in ("kci", "hsic") if t in tests]
    if attribute.factorised.values.size <= SMALL_SIDE or not kernel_tests:
        return {}
    small = [t for t in traits if t.factorised.values.size <= SMALL_SIDE]
    # default mode: KCI and HSIC use the same kernels, so one pass (with HSIC's extra
    # moment) serves both; paper mode: the kernels differ per test (and KCI's per pair)
    passes = [tuple(kernel_tests)] if compat is None else [(t,) for t in kernel_tests]
    out: dict[tuple[str, str], CentredGramSums] = {}
    for tests_of_pass in passes:
        groups: dict[Kernel, list[tuple[Column, Kernel]]] = {}
        for trait in small:
            with np.errstate(all="ignore"):
                kx, ky = _pair_kernels(tests_of_pass[0], trait, attribute, compat)
            # A zero or undefined width (a constant trait, too few complete rows) cannot be
            # shared; the test itself answers such a pair with its own degenerate result.
            if _usable(kx) and _usable(ky):
                groups.setdefault(ky, []).append((trait, kx))
        for ky, members in groups.items():
            with np.errstate(all="ignore"):  # degenerate pairs are answered by the tests
                sums = centred_gram_sums_shared_y(
                    [t.factorised for t, _ in members],
                    attribute.factorised,
                    [kx for _, kx in members],
                    ky,
                    fourth="hsic" in tests_of_pass,
                )
            for (trait, _), pair_sums in zip(members, sums, strict=True):
                for test in tests_of_pass:
                    out[(trait.name, test)] = pair_sums
    return out


def _run_one(
    test: str,
    x: Column,
    y: Column,
    y_data: Factorised,
    compat: str | None,
    seed: int,
    approx: str | None = None,
    shared: CentredGramSums | None = None,
) -> TestResult:
    if test in CONTINGENCY_TESTS:
        return (chisq if test == "chisq" else gsq)(x.factorised, y_data, compat=compat)
    widths = {} if compat else {"sigma_x": x.median_sigma, "sigma_y": y.median_sigma}
    nominal = {} if compat else {"nominal_x": x.categorical, "nominal_y": y.categorical}
    if test == "kci":
        return kci(
            x.factorised,
            y_data,
            compat=compat,
            approx=approx,
            precomputed=shared,
            **widths,
            **nominal,
        )
    if test == "rcit":
        return rcit(x.factorised, y_data, seed=seed, compat=compat, **widths, **nominal)
    return hsic(
        x.factorised, y_data, compat=compat, approx=approx, precomputed=shared, **widths, **nominal
    )


def _skipped(trait: str, attribute: str, test: str, note: str) -> dict[str, Any]:
    return {
        "trait": trait,
        "attribute": attribute,
        "test": test,
        "statistic": math.nan,
        "p_value": math.nan,
        "n": 0,
        "effect_size": math.nan,
        "null": "",
        "params": "{}",
        "note": note,
    }


def _attribute_task(
    attribute: Column,
    traits: Sequence[Column],
    tests: Sequence[str],
    compat: str | None,
    seed: int,
    bins: int | None,
    approx: str | None = None,
) -> list[dict[str, Any]]:
    """All tests of one attribute against every trait (one unit of parallel work)."""
    rows = []
    shared = _shared_sums(attribute, traits, tests, compat) if approx is None else {}
    binned, binned_note = None, ""
    if not attribute.discrete and bins:
        binned = factorise(_bin(attribute.values, bins))
        # qcut(duplicates="drop") merges bins whose edges tie: say how many are really used
        used = binned.values.size
        binned_note = f"attribute binned into {used} quantile bins" + (
            f" ({bins} requested; tied quantiles merged the others)" if used != bins else ""
        )
    for trait in traits:
        for test in tests:
            y = attribute.factorised
            extra = ""
            if test in CONTINGENCY_TESTS and not attribute.discrete:
                if binned is None:
                    rows.append(
                        _skipped(
                            trait.name,
                            attribute.name,
                            test,
                            f"skipped: continuous attribute ({attribute.distinct} distinct "
                            f"values > {MAX_DISCRETE_VALUES}); pass --bins to bin it",
                        )
                    )
                    continue
                y, extra = binned, binned_note
            pair_sums = shared.get((trait.name, test))
            result = _run_one(test, trait, attribute, y, compat, seed, approx, pair_sums)
            note = "; ".join(s for s in (extra, result.note) if s)
            if not np.isfinite(result.p_value) and not note:
                note = "no p-value (degenerate null)"
            rows.append(
                {
                    "trait": trait.name,
                    "attribute": attribute.name,
                    "test": test,
                    "statistic": result.statistic,
                    "p_value": result.p_value,
                    "n": result.n,
                    "effect_size": result.effect_size,
                    "null": result.null,
                    "params": params_json(result.params),
                    "note": note,
                }
            )
    return rows


def params_json(params: dict) -> str:
    """A result's parameters as strict JSON: an undefined width (NaN, e.g. for a categorical
    column's Gaussian kernel) is ``null``, which every JSON reader accepts; ``NaN`` is not."""

    def strict(value: object) -> object:
        if isinstance(value, dict):
            return {k: strict(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strict(v) for v in value]
        if isinstance(value, (float, np.floating)):
            return float(value) if np.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
        return value

    return json.dumps(strict(params), sort_keys=True, default=float, allow_nan=False)


def _check_names(df: pd.DataFrame, names: Sequence[str], what: str, source: str) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise BadInput(f"{source}: unknown {what} column(s): {', '.join(missing)}.")
    if "id" in names:
        raise BadInput(f"{source}: 'id' identifies people; it cannot be among the {what}s to test.")


def _no_repeats(names: Sequence[str], what: str) -> None:
    # a repeated name would give duplicate result rows (and crash the p-value matrices)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadInput(f"{what} '{name}' is given more than once.")
        seen.add(name)


def run_battery(
    df: pd.DataFrame,
    traits: Sequence[str] | None = None,
    attributes: Sequence[str] | None = None,
    tests: Sequence[str] = TESTS,
    compat: str | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    bins: int | None = None,
    n_jobs: int = 1,
    progress: Progress | None = None,
    source: str = "table",
    approx: str | None = None,
) -> BatteryResult:
    """Run every test on every (trait, attribute) pair; rows with a missing value are dropped
    per pair; p-values are Benjamini–Hochberg-adjusted within each test.

    ``approx="grid"`` (opt-in) speeds up KCI/HSIC on pairs where *both* columns have many
    distinct values (the exact route costs O(n²) time there); such rows say so in ``note``.
    """
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise BadInput(f"{source}: the table is empty.")
    refuse_bad_ids_and_scores(df, source)
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise BadInput(
            f"unknown test(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TESTS)}."
        )
    _no_repeats(tests, "test")
    if compat not in (None, "paper"):
        raise BadInput(f"unknown --compat mode {compat!r}; the only mode is 'paper'.")
    if not 0 < alpha < 1:
        raise BadInput(f"alpha must lie in (0, 1), got {alpha}.")
    if approx not in (None, "grid"):
        raise BadInput(f"unknown --approx {approx!r}; the only approximation is 'grid'.")
    if bins is not None and bins < 2:
        raise BadInput(f"--bins must be at least 2, got {bins}.")
    default_traits, default_attributes = default_columns(df)
    trait_names = tuple(traits) if traits else default_traits
    if traits:
        _check_names(df, trait_names, "trait", source)
    if not trait_names:
        raise BadInput(f"{source}: no trait columns (final_*) found; pass --traits.")
    if attributes:
        _check_names(df, attributes, "attribute", source)
        attribute_names = tuple(attributes)
    else:
        attribute_names = tuple(a for a in default_attributes if a not in trait_names)
    if not attribute_names:
        raise BadInput(f"{source}: no attribute columns to test; pass --attributes.")
    _no_repeats(trait_names, "trait")
    _no_repeats(attribute_names, "attribute")
    both = [a for a in attribute_names if a in trait_names]
    if both:
        raise BadInput(
            f"{source}: column '{both[0]}' is both a trait and an attribute; a column cannot be "
            "tested against itself."
        )
    trait_cols = [prepare_column(df, t, trait=True, source=source) for t in trait_names]
    attr_cols = [prepare_column(df, a, trait=False, source=source) for a in attribute_names]
    tests = tuple(tests)
    if set(tests) - set(CONTINGENCY_TESTS):  # chi-square / G-square only see categories
        for column in (*trait_cols, *attr_cols):
            check_kernel_range(column.values, column.name, source)

    total = len(attr_cols)
    rows: list[dict[str, Any]] = []
    if progress:
        progress(0, total)
    args = [(a, trait_cols, tests, compat, seed, bins, approx) for a in attr_cols]
    # One task per attribute: more workers than tasks only cost start-up (`--jobs 100000` hung
    # starting processes).
    n_jobs = max(1, min(n_jobs, len(args)))
    if n_jobs == 1:
        outputs = (_attribute_task(*a) for a in args)
    else:
        from joblib import Parallel, delayed

        outputs = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_attribute_task)(*a) for a in args
        )
    for done, chunk in enumerate(outputs, start=1):
        rows.extend(chunk)
        if progress:
            progress(done, total)

    results = pd.DataFrame(rows)
    results["p_adjusted"] = np.nan
    for test in tests:
        mask = (results["test"] == test).to_numpy()
        results.loc[mask, "p_adjusted"] = benjamini_hochberg(
            results.loc[mask, "p_value"].to_numpy()
        )
    results["significant"] = results["p_adjusted"] < alpha
    results["group"] = results["trait"].map(_trait_group)
    order = {t: i for i, t in enumerate(tests)}
    results = results.sort_values(
        ["test", "trait", "attribute"],
        key=lambda s: (
            s.map(order)
            if s.name == "test"
            else s.map(
                {v: i for i, v in enumerate(trait_names if s.name == "trait" else attribute_names)}
            )
        ),
        kind="stable",
    ).reset_index(drop=True)
    return BatteryResult(
        results=results[RESULT_COLUMNS],
        traits=trait_names,
        attributes=attribute_names,
        tests=tests,
        alpha=alpha,
        compat=compat,
        seed=seed,
        groups={t: _trait_group(t) for t in trait_names},
    )
