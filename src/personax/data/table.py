"""Reading and writing PersonaX tables (CSV, Parquet, Hugging Face-style dataset folders).

Column conventions (INTERFACES.md): ``id``; attribute columns; per-LLM trait scores
``<llm>_<t>`` (integers 0..3, 0 = insufficient information); aggregated ``final_<t>``;
embedding columns holding fixed-length float lists.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from personax import PAPER_LLMS, TRAITS
from personax.atomic import atomic_path
from personax.data.aliases import AliasResult, canonical_name, canonicalize_columns
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


def score_prefixes(columns) -> set[str]:
    """The ``<llm>`` prefixes whose ``<llm>_<t>`` columns are trait scores by their names
    alone: the paper's LLMs, and any prefix with at least three trait letters (a model's
    answers come five at a time; ``height_c`` alone is a height)."""
    by_prefix: dict[str, set[str]] = {}
    for col in columns:
        match = LLM_TRAIT_RE.match(str(col))
        if match and not str(col).endswith(EMBEDDING_SUFFIX):
            by_prefix.setdefault(match.group(1), set()).add(match.group(2))
    return {p for p, traits in by_prefix.items() if p in PAPER_LLMS or len(traits) >= 3}


def score_columns(df: pd.DataFrame) -> list[str]:
    """The per-LLM score columns of ``df``: numeric (or empty) ``<llm>_<t>`` columns whose
    prefix is one of :func:`score_prefixes`, or of which one column holds levels 0..3 only.

    The rule is per prefix, so a model's columns never split between scores and attributes
    (one stray 9 in ``mistral_o`` beside a ``mistral_c`` of levels keeps both scores, for
    validate to report); a numeric ``height_c`` alone is an attribute (it used to be taken for
    a score and left out of every test)."""
    named = score_prefixes(df.columns)
    prefixes = {m.group(1) for c in df.columns if (m := LLM_TRAIT_RE.match(str(c)))}
    scores = {c for prefix in prefixes for c in _prefix_scores(df, prefix, named)}
    return [str(c) for c in df.columns if str(c) in scores]  # in the table's order


def is_score_column(df: pd.DataFrame, name: str) -> bool:
    """Is ``name`` one of :func:`score_columns` of ``df``? Only its own prefix is looked at."""
    match = LLM_TRAIT_RE.match(name)
    return bool(match) and name in _prefix_scores(df, match.group(1), score_prefixes(df.columns))


def _prefix_scores(df: pd.DataFrame, prefix: str, named: set[str]) -> list[str]:
    """The score columns of one ``<llm>`` prefix (see :func:`score_columns`)."""
    cols = [
        str(c)
        for c in df.columns
        if (m := LLM_TRAIT_RE.match(str(c)))
        and m.group(1) == prefix
        and not _is_embedding(df[c])
        and _looks_like_scores(df[c])
    ]
    if prefix in named or any(_are_levels(_floats(df[c])) for c in cols):
        return cols
    return []


def column_groups(df: pd.DataFrame) -> ColumnGroups:
    """Classify the columns of ``df`` (canonical names) into ids, attributes, traits, embeddings.

    Per-LLM scores are :func:`score_columns`; any other ``<llm>_<t>`` is an attribute."""
    id_col = "id" if "id" in df.columns else None
    scores = set(score_columns(df))
    attributes, llm_traits, final_traits, embeddings = [], [], [], []
    for col in df.columns:
        name = str(col)
        if name == id_col:
            continue
        if FINAL_TRAIT_RE.match(name):
            final_traits.append(name)
        elif _is_embedding(df[col]):
            embeddings.append(name)
        elif name in scores:
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


def is_trait_score(name: str, values: np.ndarray | None = None) -> bool:
    """An ``<llm>_<t>`` or ``final_<t>`` column, where 0 means "insufficient information".
    With ``values``, an ``<llm>_<t>`` column counts only when it holds levels 0..3 (a latent
    or attribute that merely ends in ``_o`` is not a score)."""
    if FINAL_TRAIT_RE.match(name):
        return True
    if not LLM_TRAIT_RE.match(name):
        return False
    return values is None or _are_levels(values)


def _are_levels(values: np.ndarray) -> bool:
    """Every present value is a level 0..3 of the trait scale."""
    present = values[np.isfinite(values)]
    return bool(np.isin(present, (0, 1, 2, 3)).all())


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def category_codes(series: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """A text column as the codes of its sorted distinct values (NaN where missing), and those
    values. Through object first: a pandas category column (Parquet keeps it) would keep its
    declared order, and paper mode's Gaussian kernel on the codes would give other p-values
    for the same labels."""
    categories = series.astype(object).astype("category")
    codes = categories.cat.codes.to_numpy().astype(float, copy=True)
    codes[codes < 0] = np.nan
    return codes, tuple(str(c) for c in categories.cat.categories)


def _looks_like_scores(series: pd.Series) -> bool:
    # A column like `birth_o` that holds free text is an attribute, not a trait score.
    return pd.api.types.is_numeric_dtype(series) or series.dropna().empty


def table_format(path: str | os.PathLike[str], *, allow_folder: bool = True) -> str:
    """``"csv"``, ``"parquet"`` or ``"folder"`` for ``path``; BadInput for anything else."""
    path = Path(path)
    if allow_folder and path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    uses = ".csv, .parquet or a dataset folder" if allow_folder else ".csv or .parquet"
    raise BadInput(f"{path}: unknown table format '{suffix or '(none)'}'; use {uses}.")


def read_raw_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table exactly as stored (no renaming). Raises BadInput on unreadable input.

    CSV columns that the alias table maps to ``id`` are read as strings (so ``007`` stays
    ``007``).
    """
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: no such file or folder.")
    fmt = table_format(p)
    try:
        if fmt == "folder":
            # Ground-truth sidecars of a synthetic sample are not part of the table.
            files = [f for f in sorted((p / "data").glob("*.parquet")) if not _is_sidecar(f)]
            if not files:
                files = [f for f in sorted(p.glob("*.parquet")) if not _is_sidecar(f)]
            if not files:
                raise BadInput(f"{p}: dataset folder has no data/*.parquet files.")
            return _concat_shards(p, files)
        if fmt == "parquet":
            return _read_parquet(p)
        if p.stat().st_size == 0:
            raise BadInput(f"{p}: the file is empty.")
        sep = field_separator(p)
        _refuse_other_separator(p, sep)
        header = _unique_header(p, sep)
        id_columns = {c: str for c in header if canonical_name(c) == "id"}
        return _read_csv_strict(p, sep, id_columns)
    except BadInput:
        raise
    except pd.errors.EmptyDataError as exc:
        raise BadInput(f"{p}: the file is empty.") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{p}: {_first_non_utf8(p)}") from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        kind = {"parquet": "a Parquet", "csv": "a CSV", "folder": "a Parquet"}[fmt]
        raise BadInput(f"{p}: cannot be read as {kind} file ({type(exc).__name__}).") from exc
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise BadInput(f"{p}: cannot be read ({type(exc).__name__}: {exc}).") from exc


def _read_csv_strict(path: Path, sep: str, dtype: dict) -> pd.DataFrame:
    """Read a CSV, refusing a row with more fields than the header.

    pandas silently takes the first column as the row index when the first data row has one
    field too many, shifting every value one column (ids lost); ``index_col=False`` turns that
    into a warning, made an error here with the offending line named.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                path, sep=sep, dtype=dtype, keep_default_na=True, low_memory=False, index_col=False
            )
            if dtype and frame[list(dtype)].isna().any().any():
                # Ids as written: "NA", "null" or "nan" is someone's id, not a missing one; only
                # an empty cell is missing (the other columns keep pandas' missing markers).
                # Read again only then: most tables have no missing-looking id.
                ids = pd.read_csv(
                    path, sep=sep, usecols=list(dtype), dtype=str, keep_default_na=False,
                    na_values=[""], low_memory=False, index_col=False,
                )  # fmt: skip
                for column in dtype:
                    frame[column] = ids[column].to_numpy()
            return frame
        except (pd.errors.ParserWarning, pd.errors.ParserError):
            line = _first_long_line(path, sep)
            if line is None:
                raise
            raise BadInput(
                f"{path}: row {line[0]} has {line[1]} fields but the header names {line[2]} "
                "columns."
            ) from None


def _first_long_line(path: Path, sep: str) -> tuple[int, int, int] | None:
    """(row number, counting data rows from 1; its field count; the header's) of the first row
    longer than the header."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle, delimiter=sep)
        header = next(rows, [])
        for number, row in enumerate(rows, start=1):
            if len(row) > len(header):
                return number, len(row), len(header)
    return None


# Separators a spreadsheet may have written instead of the one the file's suffix asks for.
_OTHER_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _refuse_other_separator(path: Path, sep: str) -> None:
    """BadInput when the file's first lines read as a table by another separator and not by
    ``sep``: with ``sep`` they are one column or ragged, with the other they are several
    columns, the same number on every line (quotes respected).

    Without this a ``;``-separated file (a European spreadsheet's CSV) reads as one column
    named ``id;age;...`` and the error that follows talks about a missing ``id``. Counting the
    separators in the header alone also refused good files whose names hold a ``;``
    (``id,notes (a;b;c)``).
    """
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        head = handle.read(_SEPARATOR_PROBE_CHARS)
        complete = not handle.read(1)
    if not complete:  # the last line may be cut off mid-way
        head = head[: head.rfind("\n") + 1] or head

    def field_counts(separator: str) -> list[int]:
        rows = csv.reader(head.splitlines(), delimiter=separator)
        return [
            len(row) for _, row in zip(range(_SEPARATOR_PROBE_LINES), rows, strict=False) if row
        ]

    def reads_as_table(counts: list[int]) -> bool:
        return bool(counts) and counts[0] > 1 and len(set(counts)) == 1

    if reads_as_table(field_counts(sep)):
        return
    line = head.splitlines()[0] if head else ""
    for other, name in _OTHER_SEPARATORS.items():
        if other != sep and reads_as_table(field_counts(other)):
            expected = "tabs" if sep == "\t" else "commas"
            tip = " or name the file .tsv" if other == "\t" else ""
            tip = " or name the file .csv" if other == "," else tip
            raise BadInput(
                f"{path}: the header {line[:60]!r} looks separated by {name}; personax reads "
                f"{path.suffix or 'this'} files separated by {expected}, so save it with "
                f"{expected}{tip}."
            )


_SEPARATOR_PROBE_CHARS = 65_536  # enough for the header and a few rows of any table
_SEPARATOR_PROBE_LINES = 6  # the header and five rows


def _first_non_utf8(path: Path) -> str:
    """A sentence naming the first byte of ``path`` that is not UTF-8 and its line."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = line[exc.start]
                return (
                    f"line {number} (counting the header as line 1) holds the byte 0x{byte:02x}, "
                    "which is not UTF-8; save the file as UTF-8 (in a spreadsheet: CSV UTF-8)."
                )
    return "the file is not UTF-8 text; save it as UTF-8."


def _unique_header(path: Path, sep: str) -> list[str]:
    """The CSV header's names; BadInput when it names one column twice.

    pandas would rename the second copy (``id`` → ``id.1``), which then passes as an unknown
    attribute: a second id or name column would be carried into a published dataset.
    """
    row = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    seen: dict[str, int] = {}
    for position, name in enumerate(row.iloc[0] if len(row) else ()):
        if name == "":
            continue  # pandas names empty header cells 'Unnamed: N', which never collide
        if name in seen:
            raise BadInput(
                f"{path}: the header names column '{name}' twice (columns {seen[name] + 1} "
                f"and {position + 1}); rename or remove one of them."
            )
        seen[name] = position
    return list(seen)


def _is_sidecar(path: Path) -> bool:
    return path.name.endswith(".latents.parquet")


def _concat_shards(folder: Path, files: list[Path]) -> pd.DataFrame:
    """Shards of one table, stacked; files with different columns are not shards of one table
    (stacking them would fill the gaps with NaN silently), so they are refused."""
    frames = [_read_parquet(f) for f in files]
    first = list(frames[0].columns)
    for f, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first:
            raise BadInput(
                f"{folder}: {f.name} has different columns from {files[0].name}, so they are "
                "not parts of one table; give one file, or a folder whose Parquet files share "
                "their columns."
            )
    return pd.concat(frames, ignore_index=True)


def _read_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: the file is empty.")
    return pd.read_parquet(path)


def read_table(path: str | os.PathLike[str], aliases: bool = True) -> pd.DataFrame:
    """Read a PersonaX table and return it with canonical column names.

    Column names are mapped through the alias table of :mod:`personax.data.aliases` (packed
    per-LLM score columns are expanded); embedding columns stored as JSON text (CSV) become
    float arrays; ``id`` is returned as strings. ``aliases=False`` keeps the names as they are:
    for personax's own files (`infer aggregate`'s traits table), whose ``<llm>`` prefixes are
    the store's model names — a model named ``gpt`` or ``llama4`` must not become ``chatgpt`` /
    ``llama``.
    """
    if aliases:
        return read_table_with_aliases(path)[0]
    df = parse_csv_embeddings(read_raw_table(path), source=str(path))
    if "id" in df.columns:
        df["id"] = df["id"].astype("string")
    return df


def read_table_with_aliases(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, AliasResult]:
    """Like :func:`read_table`, also returning what the alias table renamed and did not know."""
    aliased = canonicalize_columns(read_raw_table(path), source=str(path))
    df = parse_csv_embeddings(aliased.frame, source=str(path))
    if "id" in df.columns:
        df["id"] = df["id"].astype("string")
    return df, aliased


def roster_ids(ids: pd.Series, source: object) -> pd.Series:
    """A roster's ids as stripped text; BadInput for an empty or a repeated id.

    Every reader of a roster calls this, so `" a1"` is the same person `a1` in trait
    inference and in the dataset build (otherwise that person's traits are silently lost).
    """
    text = ids.astype("string")
    stripped = text.str.strip()
    empty = np.flatnonzero((stripped.isna() | (stripped == "")).to_numpy())
    if len(empty):
        # "data row": counted from the first row under the header, as `data validate` counts.
        raise BadInput(f"{source}: data row {int(empty[0]) + 1} has an empty id.")
    repeated = np.flatnonzero(stripped.duplicated().to_numpy())
    if len(repeated):
        row = int(repeated[0])
        first = int(np.flatnonzero((stripped == stripped.iloc[row]).to_numpy())[0])
        same = (
            "" if text.iloc[row] == text.iloc[first] else " (once surrounding spaces are removed)"
        )
        raise BadInput(
            f"{source}: id '{stripped.iloc[row]}' appears more than once{same}: data rows "
            f"{first + 1} and {row + 1}."
        )
    return stripped.astype(str)


def data_row(label: Hashable) -> str:
    """``row N`` for a frame's index label (data rows counted from 1 for a default index)."""
    return f"row {label + 1}" if isinstance(label, (int, np.integer)) else f"row {label}"


def refuse_stray_text(series: pd.Series, name: str, source: str, hint: str) -> None:
    """BadInput naming the first cell that is not a number in a column that is mostly numbers
    (at least half of its present cells); nothing for any other column.

    One typed cell ("oops", "1,5") turns a numeric column into text; such a column is refused
    by name rather than treated as categories or left out silently. ``hint`` says what to do.
    """
    present = series.dropna().astype(str)
    if present.empty:
        return
    failed = pd.to_numeric(present, errors="coerce").isna()
    if failed.any() and failed.mean() <= 0.5:
        label = present.index[int(np.argmax(failed.to_numpy()))]
        raise BadInput(
            f"{source}: column '{name}' holds numbers except the text {present[label]!r} "
            f"(first at data {data_row(label)}); {hint}"
        )


def field_separator(path: str | os.PathLike[str]) -> str:
    """The text-table separator ``path`` asks for: a tab for ``.tsv``, else a comma."""
    return "\t" if Path(path).suffix.lower() == ".tsv" else ","


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, str] | None = None,
    fmt: str | None = None,
    sep: str | None = None,
) -> Path:
    """Write ``df`` atomically as CSV or Parquet. Deterministic bytes for equal data.

    ``fmt`` ("csv" or "parquet") defaults to the suffix of ``path`` (Parquet without a
    suffix). ``metadata`` becomes Parquet key-value metadata (ignored for CSV). Embedding
    columns (float lists) are written to CSV as JSON lists. ``sep`` defaults to the one
    ``path`` asks for (tab for ``.tsv``); pass it when ``path`` is a temporary name.
    """
    p = Path(path)
    if fmt is None:
        fmt = table_format(p, allow_folder=False) if p.suffix else "parquet"
    if fmt not in ("parquet", "csv"):
        raise BadInput(f"{p}: cannot write a table to a folder path; give a .csv or .parquet file.")
    try:
        with atomic_path(p) as tmp:
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(df, preserve_index=False)
                if metadata:
                    merged = dict(table.schema.metadata or {})
                    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
                    table = table.replace_schema_metadata(merged)
                pq.write_table(table, tmp, compression="zstd")
            else:
                _with_json_embeddings(df).to_csv(
                    tmp, index=False, lineterminator="\n", sep=sep or field_separator(p)
                )
    except OSError as exc:
        raise BadInput(f"{p}: cannot write the table ({exc.strerror or exc}).") from exc
    return p


def _with_json_embeddings(df: pd.DataFrame) -> pd.DataFrame:
    out = df
    for col in column_groups(df).embeddings:
        if out is df:
            out = df.copy()
        out[col] = [
            None if _is_missing(v) else json.dumps([round(float(x), 7) for x in v]) for v in df[col]
        ]
    return out


def _is_missing(value: object) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        return False
    return value is None or bool(pd.isna(value))


def is_number_list(value: object) -> bool:
    """Is a decoded embedding cell a non-empty list of JSON numbers (``true`` and ``"2"`` are
    not)? One rule for reading and for ``data validate``."""
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
    )


def parse_csv_embeddings(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Turn ``*_emb`` columns holding JSON lists (as written by ``write_table``) into lists.

    Raises BadInput naming the file, column and row of the first cell that is not a list of
    numbers.
    """
    for col in df.columns:
        name = str(col)
        if not name.endswith(EMBEDDING_SUFFIX) or pd.api.types.is_numeric_dtype(df[col]):
            continue
        parsed: list[object] = []
        for row, value in enumerate(df[col]):
            if isinstance(value, (list, tuple, np.ndarray)):
                parsed.append(value)
                continue
            if _is_missing(value):
                parsed.append(None)
                continue
            try:
                vec = json.loads(str(value))
                if not is_number_list(vec):
                    raise ValueError
            except ValueError as exc:
                raise BadInput(
                    f"{source}: column '{name}', row {row + 1}: expected a non-empty JSON list of "
                    "numbers, "
                    f"got {str(value)[:40]!r}."
                ) from exc
            parsed.append(np.asarray(vec, dtype=float))
        df[col] = pd.Series(parsed, index=df.index, dtype=object)
    return df
