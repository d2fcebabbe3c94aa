"""Keyed, invertible privacy transforms for published embeddings and ids.

Every embedding column is multiplied by a random orthogonal matrix derived from the secret key
and the column name, so Euclidean distances and inner products — and with them every
distance- or kernel-based analysis (Level I kernel tests, Level II on distances) — are exactly
preserved, while the coordinates themselves no longer match any public encoder's output. Ids
are replaced by a keyed hash (HMAC-SHA256), so the owner of the key (and of the roster) can map
them back, and nobody else can.

What this protects against, and what it does not (also written in the dataset card):
an attacker without the key cannot match a published vector to an embedding they computed
themselves by nearest neighbour — measured by :func:`reidentification_accuracy`, which is at
chance. A rotation keeps the geometry, so an attacker who already knows the true embedding of
about ``dim`` published people (matched pairs) can estimate the rotation by least squares;
the card forbids re-identification for that reason, and the key must stay secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist, squareform

from personax.errors import BadInput

MIN_KEY_BYTES = 16
PSEUDONYM_HEX_CHARS = 16  # 64 bits: collisions are negligible below billions of people
KEY_HINT = "create one with `head -c 32 /dev/urandom > KEY` and keep it secret"


def read_key(path: str | os.PathLike[str]) -> bytes:
    """Read the secret key file as raw bytes; never echo its content."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: key file not found; {KEY_HINT}.")
    key = p.read_bytes()
    if not key:
        raise BadInput(f"{p}: key file is empty; {KEY_HINT}.")
    if len(key) < MIN_KEY_BYTES:
        raise BadInput(
            f"{p}: key file holds {len(key)} bytes, at least {MIN_KEY_BYTES} are needed; {KEY_HINT}."
        )
    return key


def _derive(key: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose, so ids, fingerprints and matrices never share a hash input."""
    return hmac.new(key, purpose.encode("utf-8"), hashlib.sha256).digest()


def key_fingerprint(key: bytes) -> str:
    """A short public check value: lets `reveal` reject a wrong key instead of returning noise."""
    return _derive(key, "personax/fingerprint")[:8].hex()


def pseudonym(key: bytes, person_id: str) -> str:
    """The published id of ``person_id``: HMAC-SHA256 under the key, truncated to 64 bits."""
    digest = hmac.new(
        _derive(key, "personax/id"), str(person_id).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return "p" + digest[:PSEUDONYM_HEX_CHARS]


def pseudonyms(key: bytes, person_ids: list[str]) -> list[str]:
    """Pseudonyms of several ids; raises BadInput on the (astronomically rare) collision."""
    out = [pseudonym(key, pid) for pid in person_ids]
    if len(set(out)) != len(set(map(str, person_ids))):
        raise BadInput("two ids map to the same pseudonym under this key; choose another key.")
    return out


def orthogonal_matrix(key: bytes, column: str, dim: int) -> np.ndarray:
    """The ``dim × dim`` orthogonal matrix of ``column`` under ``key`` (Haar-distributed).

    Seed = SHA-256 HMAC of the key with the column name and dimension; matrix = Q of the QR
    decomposition of a Gaussian matrix, with the signs fixed by diag(R) so the result is
    uniformly distributed over the orthogonal group (numpy's QR alone is not).
    """
    if dim < 1:
        raise BadInput(f"embedding column '{column}' has dimension {dim}; expected at least 1.")
    seed = int.from_bytes(_derive(key, f"personax/rotation/{column}/{dim}"), "big")
    rng = np.random.default_rng(seed)
    gaussian = rng.standard_normal((dim, dim))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))


def obfuscate(matrix: np.ndarray, key: bytes, column: str) -> np.ndarray:
    """Rotate each row of ``matrix`` (n × d) with the key's matrix for ``column``."""
    x = np.asarray(matrix, dtype=np.float64)
    q = orthogonal_matrix(key, column, x.shape[1])
    return x @ q.T


def reveal(matrix: np.ndarray, key: bytes, column: str) -> np.ndarray:
    """Invert :func:`obfuscate` (Q is orthogonal, so its inverse is its transpose)."""
    y = np.asarray(matrix, dtype=np.float64)
    q = orthogonal_matrix(key, column, y.shape[1])
    return y @ q


# ---------------------------------------------------------------------------------------------
# Measuring the protection and the utility.


@dataclass(frozen=True)
class PrivacyCheck:
    """Numbers of one privacy / utility check on one embedding matrix."""

    n: int
    dim: int
    reid_top1_right_key: float
    reid_top1_wrong_key: float
    reid_top1_no_key: float
    chance: float
    max_distance_error: float
    statistic_original: float
    statistic_published: float

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def reidentification_accuracy(original: np.ndarray, candidates: np.ndarray) -> float:
    """Top-1 accuracy of the nearest-neighbour attack.

    The attacker holds the true embeddings ``original`` (row i = person i) and a list of
    vectors ``candidates`` in the same row order (the published ones, perhaps "revealed" with a
    guessed key); person i counts as re-identified when candidate i is the nearest one to
    original i. Chance is 1/n.
    """
    d = _sq_distances(np.asarray(original, float), np.asarray(candidates, float))
    return float(np.mean(np.argmin(d, axis=1) == np.arange(len(d))))


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Sample distance correlation (Székely) between rows of ``x`` and of ``y``.

    A distance-based dependence statistic used here only to show that a statistic computed on
    published embeddings equals the one on the originals. Hand-written: ten lines of numpy,
    and no dependency of ours ships it.
    """

    def centred(m: np.ndarray) -> np.ndarray:
        d = squareform(pdist(np.asarray(m, float).reshape(len(m), -1)))
        return d - d.mean(0)[None, :] - d.mean(1)[:, None] + d.mean()

    a, b = centred(x), centred(y)
    dcov = (a * b).mean()
    denom = np.sqrt((a * a).mean() * (b * b).mean())
    return float(np.sqrt(max(dcov, 0.0) / denom)) if denom > 0 else 0.0


def privacy_check(
    embeddings: np.ndarray,
    scores: np.ndarray,
    key: bytes,
    wrong_key: bytes,
    column: str = "emb",
) -> PrivacyCheck:
    """Re-identification and utility numbers for one embedding matrix under ``key``.

    ``scores`` is a per-person variable (e.g. a trait score) used for the dependence statistic.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if len(np.asarray(scores)) != len(x):
        raise BadInput(f"privacy check: {len(x)} embeddings but {len(np.asarray(scores))} scores.")
    published = obfuscate(x, key, column).astype(np.float32)
    d_orig = pdist(x)
    d_pub = pdist(published.astype(np.float64))
    return PrivacyCheck(
        n=len(x),
        dim=x.shape[1],
        reid_top1_right_key=reidentification_accuracy(x, reveal(published, key, column)),
        reid_top1_wrong_key=reidentification_accuracy(x, reveal(published, wrong_key, column)),
        reid_top1_no_key=reidentification_accuracy(x, published),
        chance=1.0 / len(x),
        max_distance_error=float(np.max(np.abs(d_orig - d_pub))),
        statistic_original=distance_correlation(x, scores),
        statistic_published=distance_correlation(published, scores),
    )


def procrustes_attack_accuracy(
    original: np.ndarray, published: np.ndarray, known: int, seed: int = 0
) -> float:
    """Top-1 re-identification of an attacker who already knows ``known`` matched pairs.

    The attacker fits the best orthogonal map from the original to the published space on
    the known pairs (orthogonal Procrustes, scipy), then matches everyone else by nearest
    neighbour. This is the documented limit of a rotation: with about ``dim`` known pairs it
    succeeds. Accuracy is over the people the attacker did not know (chance 1/(n - known)).
    """
    from scipy.linalg import orthogonal_procrustes

    x = np.asarray(original, dtype=np.float64)
    y = np.asarray(published, dtype=np.float64)
    n = len(x)
    if not 0 < known < n:
        raise BadInput(f"known pairs must be between 1 and {n - 1}, got {known}.")
    perm = np.random.default_rng(seed).permutation(n)
    known_rows, unknown_rows = perm[:known], perm[known:]
    rotation, _ = orthogonal_procrustes(x[known_rows], y[known_rows])
    return reidentification_accuracy(x[unknown_rows] @ rotation, y[unknown_rows])
