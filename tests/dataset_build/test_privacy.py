"""Keyed rotations and pseudonyms: invertible with the key, useless without it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.build.privacy import (
    MIN_KEY_BYTES,
    distance_correlation,
    key_fingerprint,
    obfuscate,
    orthogonal_matrix,
    privacy_check,
    pseudonym,
    pseudonyms,
    read_key,
    reidentification_accuracy,
    reveal,
)
from personax.errors import BadInput

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


@settings(max_examples=20, deadline=None)
@given(dim=st.integers(1, 40), column=st.text(min_size=1, max_size=12))
def test_matrix_is_orthogonal_and_deterministic(dim, column):
    q = orthogonal_matrix(KEY, column, dim)
    assert np.allclose(q @ q.T, np.eye(dim), atol=1e-10)
    assert np.array_equal(q, orthogonal_matrix(KEY, column, dim))


def test_matrix_depends_on_key_and_column():
    a = orthogonal_matrix(KEY, "face_emb", 16)
    assert not np.allclose(a, orthogonal_matrix(OTHER, "face_emb", 16))
    assert not np.allclose(a, orthogonal_matrix(KEY, "chatgpt_text_emb", 16))


def test_reveal_inverts_obfuscate_and_keeps_distances():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 24)).astype(np.float32)
    y = obfuscate(x, KEY, "face_emb").astype(np.float32)
    assert np.max(np.abs(reveal(y, KEY, "face_emb") - x)) < 1e-6
    assert np.max(np.abs(reveal(y, OTHER, "face_emb") - x)) > 0.1
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dy = np.linalg.norm(y[:, None] - y[None], axis=-1)
    assert np.max(np.abs(d - dy)) < 1e-5


def test_reidentification_right_key_perfect_wrong_key_at_chance():
    rng = np.random.default_rng(1)
    n = 400
    x = rng.standard_normal((n, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scores = rng.integers(1, 4, n).astype(float)
    check = privacy_check(x, scores, KEY, OTHER, column="chatgpt_text_emb")
    assert check.reid_top1_right_key == 1.0
    assert check.chance == pytest.approx(1 / n)
    # At chance: under 5 hits expected by chance 1 — allow a generous binomial margin (p<1e-6).
    assert check.reid_top1_wrong_key <= 9 / n
    assert check.reid_top1_no_key <= 9 / n
    assert check.max_distance_error < 1e-6
    assert abs(check.statistic_original - check.statistic_published) < 1e-6


def test_reidentification_detects_a_leak():
    # The attack must be able to succeed: unrotated vectors are found every time.
    x = np.random.default_rng(2).standard_normal((30, 8))
    assert reidentification_accuracy(x, x + 1e-3) == 1.0


def test_distance_correlation_edges():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 3))
    assert distance_correlation(x, np.ones(60)) == 0.0  # constant variable
    assert distance_correlation(x, x) == pytest.approx(1.0)
    assert distance_correlation(x[:, 0], 2 * x[:, 0] + 1) == pytest.approx(1.0)


def test_pseudonyms_keyed_and_stable():
    ids = ["a", "b", "ath001"]
    assert pseudonyms(KEY, ids) == pseudonyms(KEY, ids)
    assert set(pseudonyms(KEY, ids)).isdisjoint(pseudonyms(OTHER, ids))
    assert all(p.startswith("p") and len(p) == 17 for p in pseudonyms(KEY, ids))
    assert pseudonym(KEY, "a") != pseudonym(KEY, "A")
    assert key_fingerprint(KEY) != key_fingerprint(OTHER)
    assert KEY.hex()[:16] not in key_fingerprint(KEY)


def test_read_key(tmp_path):
    good = tmp_path / "key"
    good.write_bytes(b"\x00" * 32)
    assert read_key(good) == b"\x00" * 32
    with pytest.raises(BadInput, match="not found.*head -c 32 /dev/urandom"):
        read_key(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(BadInput, match="empty"):
        read_key(empty)
    short = tmp_path / "short"
    short.write_bytes(b"secretsecret")
    with pytest.raises(BadInput, match=f"at least {MIN_KEY_BYTES}") as err:
        read_key(short)
    assert "secretsecret" not in str(err.value)
    with pytest.raises(BadInput):
        read_key(tmp_path)  # a folder is not a key file


def test_zero_dimension_rejected():
    with pytest.raises(BadInput, match="dimension 0"):
        orthogonal_matrix(KEY, "face_emb", 0)


def test_procrustes_attack_limit_is_real():
    # With fewer known pairs than dimensions the attacker is near chance; with 2*dim, perfect.
    from personax.build.privacy import procrustes_attack_accuracy

    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 16))
    y = obfuscate(x, KEY, "face_emb")
    assert procrustes_attack_accuracy(x, y, known=32) == 1.0
    assert procrustes_attack_accuracy(x, y, known=2) < 0.2
    with pytest.raises(BadInput, match="known pairs"):
        procrustes_attack_accuracy(x, y, known=300)


def test_privacy_check_rejects_mismatched_lengths():
    with pytest.raises(BadInput, match="10 embeddings but 9 scores"):
        privacy_check(np.zeros((10, 3)), np.zeros(9), KEY, OTHER)
