"""`personax data reveal`: undo a build's privacy transforms with its key.

The key holder gets the original (un-rotated) embeddings back; given the roster too, the
pseudonyms are mapped back to the roster's ids. Without the right key this refuses to run
(the build stores a key check value), rather than returning rotated noise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from personax.build.export import BUILD_FILE
from personax.build.privacy import key_fingerprint, pseudonym
from personax.build.privacy import reveal as unrotate
from personax.data import read_table
from personax.data.table import read_raw_table, roster_ids
from personax.errors import BadInput


def _build_info(folder: Path) -> dict:
    path = folder / BUILD_FILE
    if not path.is_file():
        raise BadInput(
            f"{folder}: not a dataset folder written by `personax build` (no {BUILD_FILE})."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: unreadable build description ({type(exc).__name__}).") from exc


def _unrotate_column(values: pd.Series, key: bytes, column: str, dim: int) -> list:
    present = values.map(lambda v: v is not None and not (isinstance(v, float) and np.isnan(v)))
    out: list = [None] * len(values)
    rows = np.flatnonzero(present.to_numpy())
    if len(rows) == 0:
        return out
    matrix = np.stack([np.asarray(values.iloc[i], dtype=np.float64) for i in rows])
    if matrix.shape[1] != dim:
        raise BadInput(
            f"column '{column}' has vectors of length {matrix.shape[1]}, expected {dim}."
        )
    original = unrotate(matrix, key, column).astype(np.float32)
    for j, i in enumerate(rows):
        out[i] = original[j]
    return out


def reveal_dataset(
    folder: str | os.PathLike[str],
    key: bytes,
    roster: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The dataset with original embeddings (and, with ``roster``, original ids)."""
    root = Path(folder)
    if not root.is_dir():
        raise BadInput(f"{root}: dataset folder not found.")
    info = _build_info(root)
    if key_fingerprint(key) != info.get("key_fingerprint"):
        raise BadInput(f"{root}: the key does not match the key this dataset was built with.")
    df = read_raw_table(root)
    for column, dim in sorted(info.get("embedding_columns", {}).items()):
        if column not in df.columns:
            raise BadInput(f"{root}: embedding column '{column}' is missing from the data.")
        df[column] = _unrotate_column(df[column], key, column, int(dim))
    if roster is not None:
        people = read_table(roster)
        if "id" not in people.columns:
            raise BadInput(f"{roster}: roster lacks the column id.")
        # The build's own reading of roster ids (stripped text): " p000" was built as "p000".
        ids = roster_ids(people["id"], roster)
        back = {pseudonym(key, pid): pid for pid in ids}
        df.insert(0, "pseudonym", df["id"])
        df["id"] = df["pseudonym"].map(back)
        if len(df) and df["id"].isna().all():
            raise BadInput(
                f"{roster}: none of its {len(ids)} ids is a person of {root}; give the roster "
                "the dataset was built from."
            )
    return df
