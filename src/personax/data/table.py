"""Reading and writing PersonaX tables (CSV, Parquet, Hugging Face-style dataset folders).

Column conventions (INTERFACES.md): ``id``; attribute columns; per-LLM trait scores
``<llm>_<t>`` (integers 0..3, 0 = insufficient information); aggregated ``final_<t>``;
embedding columns holding fixed-length float lists.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from personax import TRAITS
from personax.atomic import atomic_path
from personax.errors import BadInput

FINAL_TRAIT_RE = re.compile(r"^final_([ocean])$")
LLM_TRAIT_RE = re.compile(r"^(?!final_)([a-z0-9][a-z0-9\-]*)_([ocean])$")
EMBEDDING_SUFFIX = "_emb"


@dataclass(frozen=True)
class ColumnGroups:
    """The role of every column of a PersonaX table."""

    id: str | None
    attributes: tuple[str, ...]
    llm_traits: tuple[str, ...]
    final_traits: tuple[str, ...]
    embeddings: tuple[str, ...]

    @property
    def llms(self) -> tuple[str, ...]:
        """LLM prefixes of the per-LLM trait columns, in order of first appearance."""
        seen: dict[str, None] = {}
        for col in self.llm_traits:
            seen.setdefault(LLM_TRAIT_RE.match(col).group(1), None)  # type: ignore[union-attr]
        return tuple(seen)


def _is_embedding(series: pd.Series) -> bool:
    if series.name is not None and str(series.name).endswith(EMBEDDING_SUFFIX):
        return True
    first = series.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], (list, tuple, np.ndarray))


def column_groups(df: pd.DataFrame) -> ColumnGroups:
    """Classify the columns of ``df`` (canonical names) into ids, attributes, traits, embeddings."""
    id_col = "id" if "id" in df.columns else None
    attributes, llm_traits, final_traits, embeddings = [], [], [], []
    for col in df.columns:
        name = str(col)
        if name == id_col:
            continue
        if FINAL_TRAIT_RE.match(name):
            final_traits.append(name)
        elif _is_embedding(df[col]):
            embeddings.append(name)
        elif LLM_TRAIT_RE.match(name) and _looks_like_scores(df[col]):
            llm_traits.append(name)
        else:
            attributes.append(name)
    order = {t: i for i, t in enumerate(TRAITS)}
    final_traits.sort(key=lambda c: order[c[-1]])
    return ColumnGroups(
        id=id_col,
        attributes=tuple(attributes),
        llm_traits=tuple(llm_traits),
        final_traits=tuple(final_traits),
        embeddings=tuple(embeddings),
    )


def _looks_like_scores(series: pd.Series) -> bool:
    # A column like `birth_o` that holds free text is an attribute, not a trait score.
    return pd.api.types.is_numeric_dtype(series) or series.dropna().empty


def _format_of(path: Path) -> str:
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    raise BadInput(
        f"{path}: unknown table format '{suffix or '(none)'}'; use .csv, .parquet or a dataset folder."
    )


def read_raw_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table exactly as stored (no renaming). Raises BadInput on unreadable input."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: no such file or folder.")
    fmt = _format_of(p)
    try:
        if fmt == "folder":
            files = sorted((p / "data").glob("*.parquet")) if (p / "data").is_dir() else []
            if not files:
                files = sorted(p.glob("*.parquet"))
            if not files:
                raise BadInput(f"{p}: dataset folder has no data/*.parquet files.")
            return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        if fmt == "parquet":
            return pd.read_parquet(p)
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
        return pd.read_csv(p, sep=sep, dtype={"id": str}, keep_default_na=True)
    except BadInput:
        raise
    except pd.errors.EmptyDataError as exc:
        raise BadInput(f"{p}: the file is empty.") from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        kind = {"parquet": "a Parquet", "csv": "a CSV", "folder": "a Parquet"}[fmt]
        raise BadInput(f"{p}: cannot be read as {kind} file ({type(exc).__name__}).") from exc
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise BadInput(f"{p}: cannot be read ({type(exc).__name__}: {exc}).") from exc


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PersonaX table and return it with canonical column names.

    Column names are mapped through the alias table of :mod:`personax.data.aliases` when it
    is available; ``id`` is returned as strings.
    """
    df = read_raw_table(path)
    try:
        from personax.data.aliases import canonicalize_columns
    except ImportError:  # pragma: no cover - the alias table is part of the foundation
        canonicalize_columns = None
    if canonicalize_columns is not None:
        df = canonicalize_columns(df, source=str(path)).frame
    if "id" in df.columns:
        df["id"] = df["id"].astype("string")
    return df


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` atomically as CSV or Parquet (by suffix). Deterministic bytes for equal data."""
    p = Path(path)
    fmt = _format_of(p) if p.suffix else "parquet"
    with atomic_path(p) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        elif fmt == "csv":
            df.to_csv(tmp, index=False, lineterminator="\n")
        else:
            raise BadInput(
                f"{p}: cannot write a table to a folder path; give a .csv or .parquet file."
            )
    return p
