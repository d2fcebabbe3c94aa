"""`personax data fetch`: the released PersonaX datasets, from the hub or from a local copy.

Online, ``huggingface_hub.snapshot_download`` downloads (and caches) the dataset repository;
offline (``HF_HUB_OFFLINE=1`` or no connection) a cached snapshot is used if there is one, and
otherwise the call fails at once with a sentence saying how to point personax at a local
snapshot folder. Released column names are mapped onto personax's through the alias table of
:mod:`personax.data.aliases`, then the table is validated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from personax.data import read_table
from personax.data.validate import ValidationReport, validate_table
from personax.errors import BadInput

RELEASED = {
    "athlepersona": "Persona-X/athlepersona",
    "celebpersona": "Persona-X/celebpersona",
}


@dataclass(frozen=True)
class FetchResult:
    """A released dataset as a PersonaX table (canonical column names)."""

    name: str
    repo_id: str
    snapshot: Path
    files: tuple[str, ...]
    frame: pd.DataFrame
    validation: ValidationReport


def _offline() -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes", "on")


def _local_hint(name: str) -> str:
    return (
        f"download the {name} snapshot elsewhere (the hub repository {RELEASED[name]}, with its "
        f"README.md and data files) and run `personax data fetch {name} --local DIR`"
    )


def download_snapshot(name: str, timeout: float = 10.0) -> Path:
    """The local folder of the hub snapshot (downloaded, or from the cache)."""
    repo_id = RELEASED[name]
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise BadInput(
            f"fetching {name} needs huggingface_hub (pip install 'personax[build]'), or "
            f"{_local_hint(name)}."
        ) from exc
    offline = _offline()
    try:
        folder = snapshot_download(
            repo_id=repo_id,
            repo_type="dataset",
            etag_timeout=timeout,
            local_files_only=offline,
        )
    except Exception as exc:  # connection refused, DNS, offline mode, missing repo: one sentence
        why = "offline mode (HF_HUB_OFFLINE) is on" if offline else f"{type(exc).__name__}"
        raise BadInput(
            f"cannot fetch dataset {name} ({why}) and no cached copy exists; {_local_hint(name)}."
        ) from exc
    return Path(folder)


def _data_files(folder: Path) -> list[Path]:
    """The table files of a hub-layout folder: Parquet first (data/ or anywhere), else CSV."""
    for pattern in ("data/**/*.parquet", "*.parquet", "**/*.parquet", "data/**/*.csv", "**/*.csv"):
        files = sorted(p for p in folder.glob(pattern) if p.is_file() and ".cache" not in p.parts)
        if files:
            return files
    return []


def fetch_dataset(
    name: str,
    local: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
) -> FetchResult:
    """Load a released dataset (``athlepersona`` or ``celebpersona``) with canonical columns.

    ``local``: a folder holding a snapshot in hub layout (``README.md`` + ``data/*.parquet``
    or CSV files); when given, nothing is downloaded.
    """
    key = str(name).strip().lower()
    if key not in RELEASED:
        raise BadInput(f"unknown dataset '{name}'; choose one of {', '.join(sorted(RELEASED))}.")
    if local is not None:
        folder = Path(local).expanduser()
        if not folder.is_dir():
            raise BadInput(f"{folder}: local snapshot folder of {key} not found.")
    else:
        folder = download_snapshot(key, timeout=timeout)
    files = _data_files(folder)
    if not files:
        raise BadInput(f"{folder}: no Parquet or CSV data files in this {key} snapshot.")
    parts = [read_table(f) for f in files]
    for path, part in zip(files[1:], parts[1:], strict=True):
        # Shards of one table; a union would fill the columns one file lacks with NaN silently.
        differ = sorted(set(part.columns) ^ set(parts[0].columns))
        if differ:
            raise BadInput(
                f"{path}: its columns differ from those of {files[0]} ({', '.join(differ[:5])} "
                "in only one of them); the snapshot's data files must be shards of one table."
            )
    frame = pd.concat(parts, ignore_index=True)
    return FetchResult(
        name=key,
        repo_id=RELEASED[key],
        snapshot=folder,
        files=tuple(str(f.relative_to(folder)) for f in files),
        frame=frame,
        validation=validate_table(frame, source=f"{key} ({folder})"),
    )
