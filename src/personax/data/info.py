"""A summary of a PersonaX table: shape, column groups, missingness, trait-level distributions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personax.data.table import column_groups, read_table_with_aliases

SCORE_LEVELS = (0, 1, 2, 3)


@dataclass(frozen=True)
class AttributeInfo:
    name: str
    kind: str  # "numeric" | "categorical"
    distinct: int
    missing: int


@dataclass(frozen=True)
class TraitLevels:
    """Counts of the levels 0..3 of one per-LLM trait column (``other`` = anything else)."""

    column: str
    counts: dict[int, int]
    missing: int
    other: int


@dataclass(frozen=True)
class FinalSummary:
    column: str
    present: int
    missing: int
    mean: float | None
    median: float | None
    counts: dict[str, int]  # value (as text, e.g. "2.5") -> rows


@dataclass(frozen=True)
class EmbeddingInfo:
    column: str
    dims: tuple[int, ...]  # distinct lengths (one when the column is consistent)
    missing: int


@dataclass(frozen=True)
class TableInfo:
    source: str
    n_rows: int
    n_columns: int
    id_column: str | None
    attributes: tuple[AttributeInfo, ...]
    llms: tuple[str, ...]
    llm_traits: tuple[TraitLevels, ...]
    final_traits: tuple[FinalSummary, ...]
    embeddings: tuple[EmbeddingInfo, ...]
    missing: dict[str, int]
    renamed: dict[str, str]
    unrecognised: tuple[str, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "column_groups": {
                "id": self.id_column,
                "attributes": [a.name for a in self.attributes],
                "llm_traits": [t.column for t in self.llm_traits],
                "final_traits": [f.column for f in self.final_traits],
                "embeddings": [e.column for e in self.embeddings],
                "llms": list(self.llms),
            },
            "attributes": [
                {"name": a.name, "kind": a.kind, "distinct": a.distinct, "missing": a.missing}
                for a in self.attributes
            ],
            "llm_trait_levels": {
                t.column: {
                    **{str(k): v for k, v in t.counts.items()},
                    "missing": t.missing,
                    "other": t.other,
                }
                for t in self.llm_traits
            },
            "final_traits": {
                f.column: {
                    "present": f.present,
                    "missing": f.missing,
                    "mean": f.mean,
                    "median": f.median,
                    "counts": f.counts,
                }
                for f in self.final_traits
            },
            "embeddings": {
                e.column: {"dims": list(e.dims), "missing": e.missing} for e in self.embeddings
            },
            "missing": self.missing,
            "renamed": self.renamed,
            "unrecognised": list(self.unrecognised),
        }


def _missing_cells(series: pd.Series) -> int:
    return int(
        sum(
            1
            for v in series
            if not isinstance(v, (list, tuple, np.ndarray)) and (v is None or bool(pd.isna(v)))
        )
    )


def table_info(path: str | os.PathLike[str]) -> TableInfo:
    """Summarise the table at ``path`` (CSV, Parquet or dataset folder). BadInput if unreadable."""
    df, aliased = read_table_with_aliases(path)
    groups = column_groups(df)
    missing = {str(c): _missing_cells(df[c]) for c in df.columns}
    attributes = []
    for name in groups.attributes:
        series = df[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        try:
            distinct = int(series.nunique(dropna=True))
        except TypeError:  # unhashable cells
            distinct = int(series.astype(str).nunique(dropna=True))
        attributes.append(
            AttributeInfo(name, "numeric" if numeric else "categorical", distinct, missing[name])
        )
    llm_traits = []
    for name in groups.llm_traits:
        values = pd.to_numeric(df[name], errors="coerce")
        counts = {level: int((values == level).sum()) for level in SCORE_LEVELS}
        present = int(values.notna().sum())
        llm_traits.append(TraitLevels(name, counts, missing[name], present - sum(counts.values())))
    finals = []
    for name in groups.final_traits:
        values = pd.to_numeric(df[name], errors="coerce").dropna()
        counts = {f"{v:g}": int(c) for v, c in values.value_counts().sort_index().items()}
        finals.append(
            FinalSummary(
                name,
                present=len(values),
                missing=len(df) - len(values),
                mean=float(values.mean()) if len(values) else None,
                median=float(values.median()) if len(values) else None,
                counts=counts,
            )
        )
    embeddings = []
    for name in groups.embeddings:
        dims = sorted({len(v) for v in df[name] if isinstance(v, (list, tuple, np.ndarray))})
        embeddings.append(EmbeddingInfo(name, tuple(dims), missing[name]))
    return TableInfo(
        source=str(path),
        n_rows=len(df),
        n_columns=df.shape[1],
        id_column=groups.id,
        attributes=tuple(attributes),
        llms=groups.llms,
        llm_traits=tuple(llm_traits),
        final_traits=tuple(finals),
        embeddings=tuple(embeddings),
        missing=missing,
        renamed=dict(aliased.renamed),
        unrecognised=tuple(aliased.unrecognised),
    )
