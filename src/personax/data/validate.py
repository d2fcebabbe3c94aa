"""Validation of PersonaX tables: every problem found (up to a limit), each with row and column.

Rows are numbered from 1 over the data rows (the CSV header is not a row).  Errors make a
table unusable for analysis; warnings are worth a look (e.g. ``final_*`` that disagrees with
the median of the non-zero per-LLM scores, or a column the alias table does not know).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from personax import TRAITS
from personax.data.schema import FACE_ATTRIBUTES, NUMERIC_ATTRIBUTES, RANGES
from personax.errors import BadInput

Severity = Literal["error", "warning"]

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Issue:
    """One problem of a table. ``row`` counts data rows from 1; None for whole-table issues."""

    severity: Severity
    row: int | None
    column: str | None
    message: str

    def location(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def sentence(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class ValidationReport:
    """All problems found in a table (the first ``limit`` kept, all counted)."""

    source: str
    n_rows: int
    n_columns: int
    issues: tuple[Issue, ...]
    n_errors: int
    n_warnings: int
    limit: int = DEFAULT_LIMIT

    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def truncated(self) -> bool:
        return self.n_errors + self.n_warnings > len(self.issues)

    def summary(self) -> str:
        """One sentence: the file, the first error (or warning) and the counts."""
        counts = f"{plural(self.n_errors, 'error')}, {plural(self.n_warnings, 'warning')}"
        first = self.errors[0] if self.errors else (self.issues[0] if self.issues else None)
        if first is None:
            return f"{self.source}: valid PersonaX table ({self.n_rows} rows, {self.n_columns} columns)."
        text = first.sentence().rstrip(".")
        return f"{self.source}: {text} ({counts} in total)."

    def to_json_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "ok": self.ok,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "truncated": self.truncated,
            "issues": [
                {"severity": i.severity, "row": i.row, "column": i.column, "message": i.message}
                for i in self.issues
            ],
        }


def plural(count: int, word: str) -> str:
    """``'1 error'``, ``'2 errors'``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class _Collector:
    limit: int
    issues: list[Issue] = field(default_factory=list)
    n_errors: int = 0
    n_warnings: int = 0
    errors_only: bool = False  # keep no warnings (they would take the places of errors)

    def add(self, severity: Severity, row: int | None, column: str | None, message: str) -> None:
        if severity == "error":
            self.n_errors += 1
        else:
            self.n_warnings += 1
            if self.errors_only:
                return
        if len(self.issues) < self.limit:
            self.issues.append(Issue(severity, row, column, message))

    def add_rows(
        self,
        severity: Severity,
        rows: Iterable[int],
        column: str | None,
        describe,
    ) -> None:
        """One issue per offending row (0-based positions); ``describe(pos)`` gives the text."""
        for pos in rows:
            self.add(severity, int(pos) + 1, column, describe(int(pos)))


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_table(
    table: str | os.PathLike[str] | pd.DataFrame,
    *,
    limit: int = DEFAULT_LIMIT,
    source: str | None = None,
    aliases: bool = True,
) -> ValidationReport:
    """Check a PersonaX table (file, dataset folder or DataFrame) and report every problem.

    Never raises for a bad table: unreadable files, ambiguous columns etc. are reported as
    errors.  ``limit`` caps the number of issues kept (all are counted). ``aliases=False``
    checks the column names as they are (see :func:`personax.data.table.read_table`).
    """
    from personax.data.aliases import canonicalize_columns, normalize_name
    from personax.data.table import read_raw_table

    if limit < 1:
        raise BadInput(f"the issue limit must be at least 1 (got {limit}).")
    found = _Collector(limit)
    if isinstance(table, pd.DataFrame):
        name = source or "table"
        raw = table
    else:
        name = source or str(table)
        try:
            raw = read_raw_table(table)
        except BadInput as exc:
            message = str(exc)
            prefix = f"{Path(table)}: "
            found.add(
                "error",
                None,
                None,
                message[len(prefix) :] if message.startswith(prefix) else message,
            )
            return _report(name, 0, 0, found)
    if aliases:
        try:
            aliased = canonicalize_columns(raw, source=name)
        except BadInput as exc:
            message = str(exc)
            found.add(
                "error",
                None,
                None,
                message[len(name) + 2 :] if message.startswith(name) else message,
            )
            return _report(name, len(raw), raw.shape[1], found)
        df, unrecognised = aliased.frame, aliased.unrecognised
    else:
        df, unrecognised = raw, []
    if df.shape[1] == 0:
        found.add("error", None, None, "the table has no columns.")
        return _report(name, len(df), 0, found)
    if len(df) == 0:
        found.add("error", None, None, "the table has no rows (header only).")
        return _report(name, 0, df.shape[1], found)

    _check_id(df, found)
    llm_columns = _llm_trait_columns(df)
    for col in llm_columns:
        _check_scores(df, col, found)
    final_columns = [f"final_{t}" for t in TRAITS if f"final_{t}" in df.columns]
    for col in final_columns:
        _check_final(df, col, llm_columns, found)
    for col in df.columns:
        if col in NUMERIC_ATTRIBUTES:
            _check_numeric(df, col, found)
        elif col in FACE_ATTRIBUTES:
            _check_face(df, col, found)
    embeddings = [c for c in df.columns if c.endswith("_emb") or _holds_lists(df[c])]
    for col in embeddings:
        _check_embedding(df, col, found)
    checked = {"id", *llm_columns, *final_columns, *NUMERIC_ATTRIBUTES, *FACE_ATTRIBUTES}
    for col in df.columns:
        if col not in checked and col not in embeddings:
            _check_finite(df, col, found)
    for col in unrecognised:
        found.add(
            "warning",
            None,
            col,
            f"not a known PersonaX column (normalised '{normalize_name(col)}'); kept as an attribute.",
        )
    for col in df.columns:
        if col != "id" and df[col].isna().all():
            found.add("warning", None, col, "every value is missing.")
    return _report(name, len(df), df.shape[1], found)


def refuse_bad_ids_and_scores(df: pd.DataFrame, source: str = "table") -> None:
    """BadInput naming the first empty or duplicated id, or trait score outside its range —
    the errors of :func:`validate_table` that would silently change a test's result (a person
    counted twice, a score no LLM can give). A table without an ``id`` column passes here:
    the analyses do not need one."""
    found = _Collector(1, errors_only=True)
    if "id" in df.columns:
        _check_id(df, found)
    llm_columns = _llm_trait_columns(df)
    for col in llm_columns:
        _check_scores(df, col, found)
    for col in (f"final_{t}" for t in TRAITS):
        if col in df.columns:
            _check_final(df, col, llm_columns, found)
    if found.issues:
        more = f" ({plural(found.n_errors, 'such problem')}; 'personax data validate' lists all)"
        raise BadInput(
            f"{source}: {found.issues[0].sentence().rstrip('.')}"
            f"{more if found.n_errors > 1 else ''}."
        )


def _report(source: str, n_rows: int, n_columns: int, found: _Collector) -> ValidationReport:
    return ValidationReport(
        source=source,
        n_rows=n_rows,
        n_columns=n_columns,
        issues=tuple(found.issues),
        n_errors=found.n_errors,
        n_warnings=found.n_warnings,
        limit=found.limit,
    )


def _is_blank(value: object) -> bool:
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        return False
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return True
    return isinstance(value, str) and value.strip() == ""


def _check_id(df: pd.DataFrame, found: _Collector) -> None:
    if "id" not in df.columns:
        shown = ", ".join(map(str, df.columns[:6])) + (", ..." if df.shape[1] > 6 else "")
        found.add("error", None, "id", f"required column is missing (the table has: {shown}).")
        return
    kind = df["id"].dtype.kind
    if kind in "iuf":  # INTERFACES: id is a string
        reads = "7.0 (so it matches no id '7' of a roster)" if kind == "f" else "'7'"
        found.add(
            "warning",
            None,
            "id",
            f"ids are stored as numbers ({df['id'].dtype}), not text; personax reads 7 as "
            f"{reads}; store the ids as text.",
        )
    values = df["id"].tolist()
    blank = [i for i, v in enumerate(values) if _is_blank(v)]
    found.add_rows("error", blank, "id", lambda pos: "empty id.")
    first_seen: dict[str, int] = {}
    for pos, value in enumerate(values):
        if _is_blank(value):
            continue
        key = str(value).strip()
        if key in first_seen:
            found.add(
                "error",
                pos + 1,
                "id",
                f"duplicated id {_show(key)} (first in row {first_seen[key] + 1}).",
            )
        else:
            first_seen[key] = pos


def _llm_trait_columns(df: pd.DataFrame) -> list[str]:
    """``<llm>_<t>`` columns checked as scores: those analysis reads as scores
    (``table.score_columns``), and, whatever they hold, those whose names make them scores
    (``table.score_prefixes``: a paper LLM's ``chatgpt_o`` holding text is an error)."""
    from personax.data.table import LLM_TRAIT_RE, score_columns, score_prefixes

    named = score_prefixes(df.columns)
    scores = set(score_columns(df))
    return [
        str(c)
        for c in df.columns
        if str(c) in scores
        or (
            (m := LLM_TRAIT_RE.match(str(c)))
            and not str(c).endswith("_emb")
            and m.group(1) in named
        )
    ]


def _as_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values, mask of cells that are present but not numbers)."""
    if series.dtype == bool:
        return series.to_numpy(dtype=float), np.zeros(len(series), dtype=bool)
    present = ~series.isna().to_numpy()
    try:
        numbers = pd.to_numeric(series, errors="coerce")
    except (TypeError, ValueError):  # e.g. cells holding lists
        numbers = pd.Series([_to_float(v) for v in series], index=series.index, dtype=float)
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    bad = present & np.isnan(values)
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        bool_cells = np.array([isinstance(v, (bool, np.bool_)) for v in series], dtype=bool)
        bad |= bool_cells
        values = np.where(bool_cells, np.nan, values)
    return values, bad


def _to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _check_scores(df: pd.DataFrame, col: str, found: _Collector) -> None:
    values = _numbers(df, col, found, what="trait score ")
    finite = np.isfinite(values)
    outside = finite & ((values < 0) | (values > 3))
    found.add_rows(
        "error",
        np.flatnonzero(outside),
        col,
        lambda p: f"trait score {_num(values[p])} is outside 0..3 (0 = insufficient information).",
    )
    fractional = finite & ~outside & (values != np.round(values))
    found.add_rows(
        "error",
        np.flatnonzero(fractional),
        col,
        lambda p: f"trait score {_num(values[p])} is not an integer 0..3.",
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_final(df: pd.DataFrame, col: str, llm_columns: list[str], found: _Collector) -> None:
    values = _numbers(df, col, found, what="aggregated score ")
    bad = _as_numbers(df[col])[1]
    finite = np.isfinite(values)
    zero = finite & (values == 0)
    found.add_rows(
        "warning",
        np.flatnonzero(zero),
        col,
        lambda p: "aggregated score 0; expected missing (NaN) when every LLM answered 0.",
    )
    outside = finite & ~zero & ((values < 1) | (values > 3))
    found.add_rows(
        "error",
        np.flatnonzero(outside),
        col,
        lambda p: f"aggregated score {_num(values[p])} is outside 1..3.",
    )
    differ, expected, per_llm = final_score_mismatches(df, col, llm_columns)
    differ &= ~bad
    found.add_rows(
        "warning",
        np.flatnonzero(differ),
        col,
        lambda p: (
            f"{_num(values[p]) if np.isfinite(values[p]) else 'missing'} differs from the median of the "
            f"non-zero scores of {', '.join(per_llm)} "
            f"({_num(expected[p]) if np.isfinite(expected[p]) else 'missing'}); analysis reads "
            "it as it is, but `personax build` refuses it."
        ),
    )


def final_score_mismatches(
    df: pd.DataFrame, col: str, llm_columns: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows where ``final_<t>`` is not the median of the non-zero per-LLM scores of its trait
    (rows with an unusable per-LLM score are not judged), the expected values, and the
    per-LLM columns compared. No per-LLM column of that trait: no row differs."""
    from personax.data.sample import median_of_nonzero

    values = _as_numbers(df[col])[0]
    per_llm = [c for c in llm_columns if c.endswith(f"_{col[-1]}")]
    if not per_llm:
        return np.zeros(len(df), dtype=bool), np.full(len(df), np.nan), per_llm
    scores = np.column_stack([_as_numbers(df[c])[0] for c in per_llm])
    # A missing per-LLM score (a model without an answer) is skipped, as the median skips it.
    level = np.isfinite(scores) & (scores >= 0) & (scores <= 3) & (scores == np.round(scores))
    usable = np.all(level | np.isnan(scores), axis=1)
    expected = median_of_nonzero(np.where(usable[:, None], scores, 0.0))
    both_nan = np.isnan(expected) & np.isnan(values)
    differ = usable & ~both_nan & ~np.isclose(values, expected, equal_nan=False)
    return differ, expected, per_llm


def _numbers(df: pd.DataFrame, col: str, found: _Collector, what: str = "") -> np.ndarray:
    """The column as floats, reporting cells that are not numbers or not finite."""
    series = df[col]
    values, bad = _as_numbers(series)
    found.add_rows(
        "error",
        np.flatnonzero(bad),
        col,
        lambda p: f"{what}{_show(series.iloc[p])} is not a number.",
    )
    found.add_rows(
        "error",
        np.flatnonzero(np.isinf(values)),
        col,
        lambda p: f"non-finite {what or 'value '}{values[p]}.",
    )
    return values


def _check_numeric(df: pd.DataFrame, col: str, found: _Collector) -> None:
    values = _numbers(df, col, found)
    finite = np.isfinite(values)
    if col in RANGES:
        low, high = RANGES[col]
        outside = finite & ((values < low) | (values > high))
        found.add_rows(
            "error",
            np.flatnonzero(outside),
            col,
            lambda p: f"{_num(values[p])} is outside {_num(low)}..{_num(high)}.",
        )
    if col in ("height", "weight"):
        found.add_rows(
            "error",
            np.flatnonzero(finite & (values <= 0)),
            col,
            lambda p: f"{_num(values[p])} is not positive.",
        )


def _check_face(df: pd.DataFrame, col: str, found: _Collector) -> None:
    values = _numbers(df, col, found)
    odd = np.isfinite(values) & ~np.isin(values, (-1.0, 1.0))
    found.add_rows(
        "warning",
        np.flatnonzero(odd),
        col,
        lambda p: f"{_num(values[p])} is not a CelebA code (-1 or 1).",
    )


def _check_finite(df: pd.DataFrame, col: str, found: _Collector) -> None:
    series = df[col]
    if pd.api.types.is_bool_dtype(series):
        return
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
    elif series.dtype == object:
        values = np.array(
            [float(v) if isinstance(v, (float, np.floating)) else np.nan for v in series],
            dtype=float,
        )
    else:
        return
    found.add_rows(
        "error", np.flatnonzero(np.isinf(values)), col, lambda p: f"non-finite value {values[p]}."
    )


def _holds_lists(series: pd.Series) -> bool:
    if series.dtype != object:
        return False
    first = series.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], (list, tuple, np.ndarray))


def _embedding_length(value: object) -> tuple[int | None, str | None]:
    """(length, problem) of one embedding cell; (None, None) when missing."""
    from personax.data.table import is_number_list  # table imports this module

    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None, f"{_show(value)} is not a list of numbers."
        # As reading does (parse_csv_embeddings): "2" and true in the list are no numbers.
        if not is_number_list(decoded):
            return None, f"{_show(value)} is not a non-empty list of numbers."
        value = decoded
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) == 0:
            return None, "the embedding is empty (a list of no numbers)."
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None, "the embedding holds values that are not numbers."
        if arr.ndim != 1:
            return None, f"the embedding has shape {arr.shape}; expected a flat list."
        if not np.all(np.isfinite(arr)):
            return None, "the embedding holds non-finite numbers."
        return len(arr), None
    if _is_blank(value):
        return None, None
    return None, f"{_show(value)} is not a list of numbers."


def _check_embedding(df: pd.DataFrame, col: str, found: _Collector) -> None:
    lengths: list[int | None] = []
    for pos, value in enumerate(df[col]):
        length, problem = _embedding_length(value)
        if problem is not None:
            found.add("error", pos + 1, col, problem)
        lengths.append(length)
    known = [n for n in lengths if n is not None]
    if not known:
        return
    common = pd.Series(known).mode().iloc[0]
    for pos, length in enumerate(lengths):
        if length is not None and length != common:
            found.add(
                "error", pos + 1, col, f"embedding has length {length}; most rows have {common}."
            )
