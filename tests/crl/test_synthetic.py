from __future__ import annotations

import numpy as np
import pytest

from personax.crl.dataset import load_crl_dataset
from personax.data.crl_synthetic import apply_mlp, make_tabular, random_invertible_mlp
from personax.errors import BadInput


def test_tabular_shapes_and_ground_truth():
    ds = make_tabular(n=500, seed=0)
    assert ds.keys == ["m1.0", "m1.1", "m1.2", "m2.0"]
    assert all(a.shape == (500, 10) for a in (ds.measurement(k) for k in ds.keys))
    assert ds.latents.shape == (500, 4)
    assert ds.latent_names == ["z11", "z12", "z21", "z22"]
    expected = np.zeros((4, 4))
    expected[1, 0] = expected[2, 0] = expected[3, 2] = 1
    np.testing.assert_array_equal(ds.graph, expected)
    assert ds.latent_blocks() == {"m1": [0, 1], "m2": [2, 3]}


def test_tabular_deterministic_and_seed_dependent():
    a, b, c = make_tabular(n=300, seed=5), make_tabular(n=300, seed=5), make_tabular(n=300, seed=6)
    for key in a.keys:
        np.testing.assert_array_equal(a.measurement(key), b.measurement(key))
    np.testing.assert_array_equal(a.latents, b.latents)
    assert not np.array_equal(a.measurement("m1.0"), c.measurement("m1.0"))


def test_tabular_measurements_differ_but_share_latents():
    ds = make_tabular(n=2000, seed=1)
    x0, x1 = ds.measurement("m1.0"), ds.measurement("m1.1")
    assert not np.allclose(x0, x1)
    # each measurement is an invertible map of [z_m, eta]: a linear read-out of z11 from the
    # measurement is already informative, and m2 carries z11 only through the causal edge
    z11 = ds.latents[:, 0]
    fit = np.linalg.lstsq(np.c_[x0, np.ones(2000)], z11, rcond=None)[0]
    assert np.corrcoef(np.c_[x0, np.ones(2000)] @ fit, z11)[0, 1] > 0.5


def test_tabular_causal_mechanisms_are_dependent_where_the_graph_says():
    ds = make_tabular(n=5000, seed=2)
    corr = np.abs(np.corrcoef(ds.latents.T))
    assert corr[0, 1] > 0.3 and corr[0, 2] > 0.3  # z11 → z12, z11 → z21
    assert corr[0, 3] < 0.1  # z22 depends on z11 only through z21 (and nonlinearly)


def test_tabular_shared_latents():
    ds = make_tabular(n=400, seed=0, shared_dims=2, obs_dim=8)
    assert ds.latent_names[-2:] == ["s1", "s2"] and ds.latents.shape == (400, 6)
    assert ds.graph.shape == (6, 6) and ds.graph[:, 4:].sum() == 0 and ds.graph[4:].sum() == 0
    assert ds.latent_modalities[-2:] == ["shared", "shared"]


def test_tabular_round_trip(tmp_path):
    ds = make_tabular(n=100, seed=0, shared_dims=1)
    from personax.crl.dataset import save_crl_dataset

    save_crl_dataset(ds, tmp_path / "t.npz")
    back = load_crl_dataset(tmp_path / "t.npz")
    assert back.keys == ds.keys and back.latent_names == ds.latent_names


def test_tabular_bad_arguments():
    with pytest.raises(BadInput, match="obs-dim"):
        make_tabular(n=10, obs_dim=3, shared_dims=2)
    with pytest.raises(BadInput, match="--n"):
        make_tabular(n=2)
    with pytest.raises(BadInput, match="shared-dims"):
        make_tabular(n=10, shared_dims=-1)


def test_random_mlp_is_invertible():
    rng = np.random.default_rng(0)
    weights = random_invertible_mlp(6, rng)
    for w in weights:
        singular = np.linalg.svd(w, compute_uv=False)
        assert singular.min() >= 0.5 - 1e-9 and singular.max() <= 1.5 + 1e-9
    x = rng.standard_normal((50, 6))
    y = apply_mlp(x, weights)
    # invert layer by layer
    for i, w in reversed(list(enumerate(weights))):
        if i < len(weights) - 1:
            y = np.where(y > 0, y, y / 0.2)
        y = np.linalg.solve(w, y.T).T
    np.testing.assert_allclose(y, x, atol=1e-9)
