"""CRL datasets: multimodal, multi-measurement arrays with optional ground truth.

On disk a CRL dataset is an ``.npz`` file (INTERFACES.md "Level II"): keys ``<modality>.<k>``
hold the k-th measurement of that modality as an ``n × d`` float array (k = 0, 1, ... without
gaps); optional keys ``latents`` (``n × L``), ``latent_names`` (L strings), ``graph``
(``L × L``, entry ``[i, j] = 1`` when latent j causes latent i). personax also reads and writes
two optional keys of its own: ``latent_modalities`` (L strings: the modality a latent belongs
to, or ``shared``) and ``ids`` (n strings).
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from personax.atomic import atomic_path
from personax.errors import BadInput

if TYPE_CHECKING:  # pandas is only needed by crl_dataset_from_table
    import pandas as pd

    from personax.crl.config import CRLConfig

MODALITY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
MEASUREMENT_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\.(0|[1-9][0-9]*)$")
OPTIONAL_KEYS = ("latents", "latent_names", "graph", "latent_modalities", "ids")
SHARED_BLOCK = "shared"
"""The `latent_modalities` entry of a latent that every modality shares."""

# The fewest rows whose train/val/test split leaves validation and test 2 rows each: a
# validation batch of one row is skipped (no finite loss), and a correlation needs 2 rows.
# Kept here, not in crl.train, so that making tabular data does not import torch.
MIN_ROWS = 12

# Fixed timestamp of every member of a written .npz, so that equal data give equal bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CRLDataset:
    """Measurements per modality plus optional ground truth.

    ``measurements[m][k]`` is the k-th measurement of modality ``m``: an ``n × d_mk`` float32
    array (the dimension may differ between measurements). Construction validates shapes and
    values and raises :class:`~personax.errors.BadInput` with one sentence.
    """

    measurements: dict[str, list[np.ndarray]]
    latents: np.ndarray | None = None
    latent_names: list[str] | None = None
    graph: np.ndarray | None = None
    ids: np.ndarray | None = None
    latent_modalities: list[str] | None = None

    def __post_init__(self) -> None:
        measurements = _checked_measurements(self.measurements, source="CRL dataset")
        object.__setattr__(self, "measurements", measurements)
        n = next(iter(measurements.values()))[0].shape[0]
        latents, names, graph, blocks = _checked_ground_truth(
            n,
            self.latents,
            self.latent_names,
            self.graph,
            self.latent_modalities,
            first_key=f"{next(iter(measurements))}.0",
        )
        object.__setattr__(self, "latents", latents)
        object.__setattr__(self, "latent_names", names)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "latent_modalities", blocks)
        # A block that names no modality would silently drop its latents from every per-block
        # score (bench crl's mcc_modalities, the recovery diagnosis).
        known = [*measurements, SHARED_BLOCK]
        for i, block in enumerate(blocks or []):
            if block not in known:
                raise BadInput(
                    f"latent_modalities entry {i} is '{block}', which is neither a modality of "
                    f"the dataset nor '{SHARED_BLOCK}' (expected one of {', '.join(known)})."
                )
        if self.ids is not None:
            ids = np.asarray(self.ids).astype(str)
            if ids.shape != (n,):
                raise BadInput(f"ids has shape {ids.shape} but the dataset has {n} rows.")
            _unique_or_raise(ids.tolist(), "ids", "rows")
            object.__setattr__(self, "ids", ids)

    @property
    def n(self) -> int:
        """Number of rows (people / samples)."""
        return int(next(iter(self.measurements.values()))[0].shape[0])

    @property
    def modalities(self) -> list[str]:
        """Modality names in dataset order."""
        return list(self.measurements)

    @property
    def keys(self) -> list[str]:
        """Measurement keys ``<modality>.<k>`` in dataset order."""
        return [f"{m}.{k}" for m, arrays in self.measurements.items() for k in range(len(arrays))]

    def measurement(self, key: str) -> np.ndarray:
        """The array of one measurement key, e.g. ``"digit.1"``."""
        match = MEASUREMENT_KEY_RE.match(key)
        if not match or match.group(1) not in self.measurements:
            raise BadInput(
                f"no measurement '{key}' in this dataset (keys: {', '.join(self.keys)})."
            )
        arrays = self.measurements[match.group(1)]
        k = int(match.group(2))
        if k >= len(arrays):
            raise BadInput(
                f"no measurement '{key}' in this dataset (keys: {', '.join(self.keys)})."
            )
        return arrays[k]

    def latent_blocks(self) -> dict[str, list[int]]:
        """Latent column indices per block (modality name or ``shared``), in latent order.

        Empty when the dataset has no ``latent_modalities``.
        """
        blocks: dict[str, list[int]] = {}
        for i, block in enumerate(self.latent_modalities or []):
            blocks.setdefault(block, []).append(i)
        return blocks

    def in_modality_order(self, order: list[str]) -> CRLDataset:
        """The same dataset with its modalities in ``order`` (every modality once). The model's
        causal order follows the modalities' order, so it is the user's (``--latent-dims``),
        not the order in which a file happens to store its keys."""
        if sorted(order) != sorted(self.measurements):
            raise BadInput(
                f"modality order {', '.join(order)} does not name each of "
                f"{', '.join(self.measurements)} once."
            )
        if list(order) == list(self.measurements):
            return self
        return dataclasses.replace(self, measurements={m: self.measurements[m] for m in order})

    def subset(self, rows: np.ndarray) -> CRLDataset:
        """The dataset restricted to ``rows`` (integer indices or a boolean mask)."""
        return CRLDataset(
            measurements={m: [a[rows] for a in arrs] for m, arrs in self.measurements.items()},
            latents=None if self.latents is None else self.latents[rows],
            latent_names=self.latent_names,
            graph=self.graph,
            ids=None if self.ids is None else self.ids[rows],
            latent_modalities=self.latent_modalities,
        )


def _finite_or_raise(array: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise BadInput(f"{what} has a NaN or infinite value in row {row}.")


def _as_float_matrix(value: object, what: str, ground_truth: bool = False) -> np.ndarray:
    """A checked 2-D float array: float32 for measurements (what the networks read), float64
    for ground truth — a latent such as 1e8 + noise would turn constant in float32."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise BadInput(f"{what} must hold numbers, not {array.dtype} values.")
    if array.ndim != 2:
        raise BadInput(f"{what} must be a 2-D array (rows × features), got shape {array.shape}.")
    if ground_truth:
        return np.ascontiguousarray(array, dtype=np.float64)
    # Values are stored as float32: a finite value beyond its range would become inf in the
    # cast (with a RuntimeWarning) and then be reported as if the file held an infinity.
    limit = np.finfo(np.float32).max
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:
        too_big = np.isfinite(array) & (np.abs(array) > limit)
        if too_big.any():
            row, column = (int(i) for i in np.argwhere(too_big)[0])
            raise BadInput(
                f"{what} has the value {array[row, column]:g} in row {row}, column {column}, "
                f"beyond the float32 range (±{limit:.3g}) measurements are stored in."
            )
    return np.ascontiguousarray(array, dtype=np.float32)


def _checked_measurements(
    measurements: dict[str, list[np.ndarray]], source: str
) -> dict[str, list[np.ndarray]]:
    if not isinstance(measurements, dict) or not measurements:
        raise BadInput(f"{source} has no measurements (keys '<modality>.<k>', e.g. 'digit.0').")
    checked: dict[str, list[np.ndarray]] = {}
    first_key, first_rows = None, None
    for modality, arrays in measurements.items():
        if not isinstance(modality, str) or not MODALITY_RE.match(modality):
            raise BadInput(
                f"{source}: modality name {modality!r} is invalid; use letters, digits, '_' or "
                "'-', starting with a letter."
            )
        if modality == SHARED_BLOCK:
            raise BadInput(
                f"{source}: the modality name '{SHARED_BLOCK}' is reserved for the shared latents "
                "(--shared-dims); rename that modality's keys."
            )
        if isinstance(arrays, np.ndarray) or not arrays:
            raise BadInput(f"{source}: modality '{modality}' needs a list of 1 or more arrays.")
        checked[modality] = []
        for k, array in enumerate(arrays):
            key = f"{modality}.{k}"
            matrix = _as_float_matrix(array, f"{source}: '{key}'")
            if first_rows is None:
                first_key, first_rows = key, matrix.shape[0]
            elif matrix.shape[0] != first_rows:
                raise BadInput(
                    f"{source}: '{key}' has {matrix.shape[0]} rows but '{first_key}' has "
                    f"{first_rows}; every measurement needs one row per sample."
                )
            _finite_or_raise(matrix, f"{source}: '{key}'")
            checked[modality].append(matrix)
    if first_rows == 0:
        raise BadInput(f"{source}: '{first_key}' has no rows.")
    return checked


def _checked_ground_truth(
    n: int,
    latents: object,
    names: object,
    graph: object,
    blocks: object,
    first_key: str,
) -> tuple[np.ndarray | None, list[str] | None, np.ndarray | None, list[str] | None]:
    size: int | None = None
    if latents is not None:
        latents = _as_float_matrix(latents, "latents", ground_truth=True)
        if latents.shape[0] != n:
            raise BadInput(
                f"latents has {latents.shape[0]} rows but '{first_key}' has {n}; "
                "they must match row for row."
            )
        _finite_or_raise(latents, "latents")
        size = latents.shape[1]
    name_list = _checked_names(names, "latent_names", size)
    if name_list is not None:
        _unique_or_raise(name_list, "latent_names", "entries")
    size = size if size is not None else (None if name_list is None else len(name_list))
    block_list = _checked_names(blocks, "latent_modalities", size)
    size = size if size is not None else (None if block_list is None else len(block_list))
    if graph is not None:
        graph = np.asarray(graph)
        size = size if size is not None or graph.ndim != 2 else graph.shape[0]
    if size == 0:
        # Training would run to the end and only then find nothing to score.
        empty = next(
            key
            for key, value in (("latents", latents), ("latent_names", name_list),
                               ("latent_modalities", block_list), ("graph", graph))
            if value is not None
        )  # fmt: skip
        raise BadInput(
            f"{empty} holds no latents (0 columns); leave the ground-truth keys out of a "
            "dataset without ground truth, or give at least one latent."
        )
    if graph is not None:
        if graph.dtype.kind not in "biuf" or graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
            raise BadInput(f"graph must be a square numeric L × L array, got shape {graph.shape}.")
        if size is not None and graph.shape[0] != size:
            raise BadInput(
                f"graph has shape {graph.shape} but there are {size} latents; it must be "
                f"{size} × {size}."
            )
        graph = np.ascontiguousarray(graph, dtype=np.float64)
        _finite_or_raise(graph, "graph")
        _check_graph_is_a_dag(graph, name_list)
    if latents is not None and n > 1:
        # Checked after the shapes. A constant true latent scores MCC and R² 0 whatever the
        # model does, dragging every score down; most likely a latent was dropped or mis-written.
        constant = np.flatnonzero(np.all(latents == latents[:1], axis=0))
        if constant.size:
            k = int(constant[0])
            name = f" ('{name_list[k]}')" if name_list is not None else ""
            raise BadInput(
                f"latents column {k}{name} is constant ({latents[0, k]:g}); a constant true "
                "latent can be neither recovered nor scored, so leave it out of latents."
            )
    return latents, name_list, graph, block_list


def _check_graph_is_a_dag(graph: np.ndarray, names: list[str] | None) -> None:
    """BadInput unless ``graph`` is a 0/1 adjacency of a DAG: other entries (0.5, 2, −1) were
    all scored as edges, a self-loop was dropped without a word and a cycle scored as edges
    that no latent causal model here can hold."""
    label = (lambda k: f"'{names[k]}'") if names is not None else (lambda k: f"latent {k}")
    odd = np.argwhere((graph != 0) & (graph != 1))
    if odd.size:
        i, j = (int(v) for v in odd[0])
        raise BadInput(f"graph[{i}, {j}] is {graph[i, j]:g}; entries must be 0 or 1.")
    loops = np.flatnonzero(np.diag(graph))
    if loops.size:
        k = int(loops[0])
        raise BadInput(f"graph[{k}, {k}] is 1: {label(k)} cannot cause itself.")
    # Peel off latents without remaining causes; whatever is left lies on a cycle.
    remaining = list(range(graph.shape[0]))
    while remaining:
        roots = [i for i in remaining if not any(graph[i, j] for j in remaining)]
        if not roots:
            # Latents that only follow the cycle (no remaining latent they cause) are not on it.
            while sinks := [
                i for i in remaining if not any(graph[k, i] for k in remaining if k != i)
            ]:
                remaining = [i for i in remaining if i not in sinks]
            involved = ", ".join(label(k) for k in remaining[:5])
            raise BadInput(
                f"graph has a cycle (among {involved}); the latent causal graph must be acyclic."
            )
        remaining = [i for i in remaining if i not in roots]


def _unique_or_raise(values: list[str], what: str, unit: str) -> None:
    """BadInput naming the first repeated value of ``what`` and the two positions holding it."""
    first_seen: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first_seen:
            raise BadInput(
                f"{what} repeats '{value}' ({unit} {first_seen[value]} and {i}); each must be "
                "unique."
            )
        first_seen[value] = i


def _checked_names(values: object, what: str, size: int | None) -> list[str] | None:
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != 1:
        raise BadInput(f"{what} must be a 1-D list of strings, got shape {array.shape}.")
    names = [str(v) for v in array.tolist()]
    if size is not None and len(names) != size:
        raise BadInput(f"{what} has {len(names)} entries but there are {size} latents.")
    return names


def _read_array(npz: Any, key: str, path: Path) -> np.ndarray:
    """One array of an open .npz, or BadInput naming the key that cannot be read.

    By hand rather than ``npz[key]``: numpy reads exactly the bytes the header announces, so
    zip's CRC-32 is never checked and a damaged member could load as wrong numbers.
    ``ZipFile.read`` reads the whole member and checks it.
    """
    names = npz.zip.namelist()
    member = f"{key}.npy" if f"{key}.npy" in names else key
    try:
        raw = npz.zip.read(member)
        if not raw.startswith(np.lib.format.MAGIC_PREFIX):
            raise ValueError("not a .npy array")
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # object arrays need pickle, which is never allowed
            raise BadInput(
                f"{path}: array '{key}' holds Python objects; store numbers or strings."
            ) from exc
        raise BadInput(f"{path}: array '{key}' is damaged ({exc}).") from exc
    # Damaged bytes surface from numpy's .npy reader as many types (EOFError, zlib.error,
    # BadZipFile, SyntaxError or tokenize.TokenError from the header literal, ...); each
    # one is this member's damage, not a defect of ours.
    except Exception as exc:
        reason = "corrupt compressed data" if isinstance(exc, zlib.error) else str(exc)
        raise BadInput(
            f"{path}: array '{key}' is damaged ({reason or type(exc).__name__})."
        ) from exc


def load_crl_dataset(path: str | os.PathLike[str]) -> CRLDataset:
    """Read and validate a CRL dataset ``.npz`` (INTERFACES.md); BadInput names what is wrong."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: no such file.")
    if p.is_dir():
        raise BadInput(f"{p}: is a folder, expected a CRL dataset .npz file.")
    if p.suffix.lower() in (".parquet", ".pq", ".csv", ".tsv"):
        # A PersonaX table is the likeliest wrong input here; say how to get from one to the other.
        raise BadInput(
            f"{p}: is a table, expected a CRL dataset .npz file; make one from the table's "
            "embedding columns with personax.crl.dataset.crl_dataset_from_table and "
            'save_crl_dataset (README, "CRL datasets"), or run `personax demo --data TABLE`.'
        )
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInput(f"{p}: not a readable .npz file ({type(exc).__name__}).") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # a plain .npy gives one array
        raise BadInput(f"{p}: is a single .npy array, not an .npz archive of named arrays.")
    # A zip may hold one name twice; numpy would silently keep the last copy.
    # numpy names a member 'a.0.npy' and one called 'a.0' both 'a.0'.
    names = [name.removesuffix(".npy") for name in loaded.zip.namelist()]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        loaded.close()
        raise BadInput(f"{p}: holds the array '{twice[0]}' twice.")
    contents: dict[str, np.ndarray] = {}
    with loaded as npz:
        for key in npz.files:
            contents[key] = _read_array(npz, key, p)
    by_modality: dict[str, dict[int, np.ndarray]] = {}
    for key, array in contents.items():
        if key in OPTIONAL_KEYS:
            continue
        match = MEASUREMENT_KEY_RE.match(key)
        if not match:
            raise BadInput(
                f"{p}: key '{key}' is neither '<modality>.<k>' (e.g. 'digit.0') nor one of "
                f"{', '.join(OPTIONAL_KEYS)}."
            )
        by_modality.setdefault(match.group(1), {})[int(match.group(2))] = array
    if not by_modality:
        raise BadInput(
            f"{p}: has no measurement keys '<modality>.<k>' (found: "
            f"{', '.join(contents) or 'nothing'})."
        )
    measurements: dict[str, list[np.ndarray]] = {}
    for modality, arrays in by_modality.items():
        expected = list(range(len(arrays)))
        if sorted(arrays) != expected:
            missing = sorted(set(range(max(arrays) + 1)) - set(arrays))
            raise BadInput(
                f"{p}: modality '{modality}' has a gap in its measurements: "
                f"'{modality}.{missing[0]}' is missing (k must run 0, 1, 2, ...)."
            )
        measurements[modality] = [arrays[k] for k in expected]
    try:
        return CRLDataset(
            measurements=measurements,
            latents=contents.get("latents"),
            latent_names=_string_array(contents.get("latent_names")),
            graph=contents.get("graph"),
            ids=_string_array(contents.get("ids")),
            latent_modalities=_string_array(contents.get("latent_modalities")),
        )
    except BadInput as exc:
        message = str(exc).removeprefix("CRL dataset: ")
        raise BadInput(f"{p}: {message}") from exc


def _string_array(value: np.ndarray | None) -> np.ndarray | None:
    return None if value is None else np.asarray(value).astype(str)


def save_crl_dataset(ds: CRLDataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a compressed ``.npz``, atomically; equal datasets give equal bytes."""
    arrays: dict[str, np.ndarray] = {}
    for modality, measurement_list in ds.measurements.items():
        for k, array in enumerate(measurement_list):
            arrays[f"{modality}.{k}"] = array
    if ds.latents is not None:
        arrays["latents"] = ds.latents
    if ds.latent_names is not None:
        arrays["latent_names"] = np.asarray(ds.latent_names, dtype=str)
    if ds.latent_modalities is not None:
        arrays["latent_modalities"] = np.asarray(ds.latent_modalities, dtype=str)
    if ds.graph is not None:
        arrays["graph"] = ds.graph
    if ds.ids is not None:
        arrays["ids"] = np.asarray(ds.ids, dtype=str)
    target = Path(path)
    with atomic_path(target) as tmp:
        # np.savez stamps members with the current time; writing the zip ourselves with a
        # fixed timestamp keeps the bytes a function of the data only.
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for key, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buffer.getvalue(), compresslevel=6)
    return target


def split_indices(
    n: int, seed: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> dict[str, np.ndarray]:
    """Deterministic random train / val / test row indices (each sorted ascending).

    Sizes are ``round(fraction * n)`` for train and val, the rest for test; each split gets
    at least one row.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise BadInput(f"split fractions {fractions} must be three positive numbers summing to 1.")
    if n < 3:
        raise BadInput(f"cannot split {n} rows into train, val and test; need at least 3.")
    n_train = min(max(1, round(fractions[0] * n)), n - 2)
    n_val = min(max(1, round(fractions[1] * n)), n - n_train - 1)
    order = np.random.default_rng(seed).permutation(n)
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def rows_for_test_rows(test_rows: int) -> int:
    """The fewest rows from which on every row count's :func:`split_indices` test split has at
    least ``test_rows`` rows (the sizes depend on the row count only, not on the seed). Not
    simply the first count that has them: with rounding, a larger count can hold one row fewer
    (195 rows hold 30 test rows, 197 hold 29), and advice to give "at least" that many must
    hold for every larger count too."""

    def test_size(n: int) -> int:
        return len(split_indices(n, 0)["test"])

    # Past this count the test split (about 15 %, rounding moves it by at most one row) always
    # has enough, so the last count short of them lies below it.
    beyond = math.ceil((test_rows + 2) / 0.15) + 3
    short = [n for n in range(3, beyond) if test_size(n) < test_rows]
    return max(short, default=2) + 1


def parse_latent_dims(text: str) -> dict[str, int]:
    """Parse ``"digit=2,fashion=2"`` into ``{"digit": 2, "fashion": 2}``."""
    dims: dict[str, int] = {}
    tokens = [t.strip() for t in str(text).split(",")]
    if not any(tokens):
        raise BadInput("--latent-dims is empty; give sizes like 'digit=2,fashion=2'.")
    for token in tokens:
        name, sep, value = token.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not MODALITY_RE.match(name) or not value.isdigit() or int(value) < 1:
            raise BadInput(
                f"--latent-dims token '{token}' is not '<modality>=<positive integer>' "
                "(e.g. 'digit=2')."
            )
        if name in dims:
            raise BadInput(f"--latent-dims names modality '{name}' twice.")
        dims[name] = int(value)
    return dims


def in_latent_dims_order(ds: CRLDataset, dims: dict[str, int]) -> tuple[CRLDataset, dict[str, int]]:
    """``dims`` checked (:func:`check_latent_dims`) and ``ds`` with its modalities in their
    order: the model's index causal order follows it, so a file's key order (``m2.*`` stored
    before ``m1.*``) does not decide which edges can exist."""
    dims = check_latent_dims(ds, dims)
    return ds.in_modality_order(list(dims)), dims


def check_latent_dims(ds: CRLDataset, dims: dict[str, int]) -> dict[str, int]:
    """Check that ``dims`` gives a size for exactly the dataset's modalities, each a positive
    integer no larger than the width of that modality's narrowest measurement (a latent wider
    than what is measured cannot be recovered from it); returns it in the order given, which
    is the model's causal order of the modalities (see :meth:`CRLDataset.in_modality_order`)."""
    for name in dims:
        if name not in ds.measurements:
            raise BadInput(
                f"--latent-dims names modality '{name}', which the dataset does not have "
                f"(modalities: {', '.join(ds.modalities)})."
            )
    for name in ds.modalities:
        if name not in dims:
            raise BadInput(
                f"--latent-dims gives no size for modality '{name}' "
                f"(modalities: {', '.join(ds.modalities)})."
            )
        size = dims[name]
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise BadInput(
                f"--latent-dims gives modality '{name}' the size {size!r}; "
                "it must be a positive integer."
            )
        width = min(int(x.shape[1]) for x in ds.measurements[name])
        if size > width:
            raise BadInput(
                f"--latent-dims gives modality '{name}' {size} latent dimensions, more than "
                f"the width {width} of its narrowest measurement."
            )
    return {name: dims[name] for name in dims}


def check_code_sizes(ds: CRLDataset, shared_dims: int, config: CRLConfig) -> None:
    """Refuse codes wider than the measurements they are read from: an η wider than its
    measurement, or more shared latents than the widest measurement has columns, cannot be
    told apart from the rest and only costs memory (``--noise-dims 100000`` ran out of it).
    Sizes up to the defaults always pass: an η a little wider than a narrow measurement is
    redundant but harmless, and such data train with the defaults."""
    from personax.crl.config import CRLConfig

    defaults = CRLConfig()
    widest = max(int(x.shape[1]) for xs in ds.measurements.values() for x in xs)
    if shared_dims > widest:
        raise BadInput(
            f"--shared-dims {shared_dims} is more than the width {widest} of the widest "
            "measurement; shared latents cannot outnumber what is measured."
        )
    for name, xs in ds.measurements.items():
        # η of a multi-measurement modality is --noise-dims; of a single one, single_noise_dims.
        field, option = (
            ("noise_dims", "--noise-dims") if len(xs) > 1 else ("single_noise_dims",) * 2
        )
        size, width = getattr(config, field), min(int(x.shape[1]) for x in xs)
        if size > max(width, getattr(defaults, field)):
            raise BadInput(
                f"{option} {size} is more than the width {width} of the narrowest measurement "
                f"of modality '{name}'; η cannot carry more than a measurement holds."
            )
    check_network_memory(ds, config)


# float32 weights, their gradients and Adam's two moment estimates
BYTES_PER_TRAINED_WEIGHT = 4 * 4


def check_network_memory(ds: CRLDataset, config: CRLConfig) -> None:
    """Refuse network sizes whose weights alone cannot fit in memory (``hidden: 10000000``
    failed with an allocation error, exit 1). The bound holds for every method of the
    harness: each reads all measurements through at least one layer of width ``hidden`` and
    then ``layers - 1`` square ones (MCL, with no decoder, is the smallest)."""
    from personax.memory import check_memory

    total_width = sum(int(x.shape[1]) for xs in ds.measurements.values() for x in xs)
    weights = total_width * config.hidden + (config.layers - 1) * config.hidden**2
    check_memory(
        weights * BYTES_PER_TRAINED_WEIGHT,
        f"hidden {config.hidden} with {config.layers} layers over {total_width} input columns",
    )


def crl_dataset_from_table(
    df: pd.DataFrame,
    modalities: dict[str, list[str]],
    latents: pd.DataFrame | None = None,
    drop_missing: bool = False,
    id_column: str = "id",
) -> CRLDataset:
    """Build a CRL dataset from list-of-float embedding columns of a PersonaX table.

    ``modalities`` maps a modality to its measurement columns, e.g.
    ``{"face": ["face_emb"], "text": ["chatgpt_text_emb", "gemini_text_emb", "llama_text_emb"]}``.
    ``latents`` (optional) holds ground-truth columns aligned row for row with ``df``. A row
    with any missing or malformed embedding raises BadInput, or is dropped when
    ``drop_missing`` is true.
    """
    if not modalities:
        raise BadInput("no modalities given; map each modality to its embedding columns.")
    columns = [c for cols in modalities.values() for c in cols]
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise BadInput(
            f"embedding column(s) {', '.join(absent)} not in the table "
            f"(columns: {', '.join(map(str, df.columns))})."
        )
    if latents is not None and len(latents) != len(df):
        raise BadInput(f"latents have {len(latents)} rows but the table has {len(df)}.")
    n = len(df)
    if n == 0:
        raise BadInput("the table has no rows.")
    present = np.ones(n, dtype=bool)
    dims: dict[str, int] = {}
    for column in columns:
        lengths = np.array([_embedding_length(v) for v in df[column].tolist()])
        valid = lengths > 0
        if not valid.any():
            raise BadInput(f"embedding column '{column}' has no usable row.")
        common = int(np.bincount(lengths[valid]).argmax())
        wrong = valid & (lengths != common)
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            raise BadInput(
                f"embedding column '{column}' has length {lengths[row]} in row {row} but "
                f"{common} in most rows; embeddings of one column must have one length."
            )
        dims[column] = common
        present &= valid
    if not present.all():
        missing = int((~present).sum())
        if not drop_missing:
            raise BadInput(
                f"{missing} of {n} rows have a missing or non-finite embedding in "
                f"{', '.join(columns)} (first: row {int(np.flatnonzero(~present)[0])}); "
                "drop them with drop_missing=True."
            )
    if not present.any():
        raise BadInput("every row has a missing embedding; nothing is left.")
    keep = np.flatnonzero(present)
    measurements = {
        modality: [
            np.stack([np.asarray(v, dtype=np.float32) for v in df[c].iloc[keep].tolist()])
            for c in cols
        ]
        for modality, cols in modalities.items()
    }
    latent_array, latent_names = None, None
    if latents is not None:
        non_numeric = [c for c in latents.columns if latents[c].dtype.kind not in "biuf"]
        if non_numeric:
            raise BadInput(f"latent column(s) {', '.join(map(str, non_numeric))} are not numeric.")
        latent_array = latents.to_numpy(dtype=np.float64)[keep]
        latent_names = [str(c) for c in latents.columns]
    ids = df[id_column].astype(str).to_numpy()[keep] if id_column in df.columns else None
    return CRLDataset(
        measurements=measurements, latents=latent_array, latent_names=latent_names, ids=ids
    )


def _embedding_length(value: object) -> int:
    """Length of a usable embedding cell; 0 when missing, not a flat list, or not finite."""
    if value is None or isinstance(value, (str, bytes)):
        return 0
    if isinstance(value, float) and np.isnan(value):
        return 0
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return 0
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        return 0
    return int(array.size)
