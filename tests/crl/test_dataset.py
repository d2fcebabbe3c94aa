from __future__ import annotations

import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.crl.dataset import (
    CRLDataset,
    check_latent_dims,
    crl_dataset_from_table,
    load_crl_dataset,
    parse_latent_dims,
    save_crl_dataset,
    split_indices,
)
from personax.errors import BadInput


def _small(n: int = 20, seed: int = 0) -> CRLDataset:
    rng = np.random.default_rng(seed)
    return CRLDataset(
        measurements={
            "digit": [rng.standard_normal((n, 5)) for _ in range(3)],
            "fashion": [rng.standard_normal((n, 4))],
        },
        latents=rng.standard_normal((n, 4)),
        latent_names=["z11", "z12", "z21", "z22"],
        graph=np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]),
        latent_modalities=["digit", "digit", "fashion", "fashion"],
    )


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_properties_and_dtype():
    ds = _small()
    assert ds.n == 20
    assert ds.modalities == ["digit", "fashion"]
    assert ds.keys == ["digit.0", "digit.1", "digit.2", "fashion.0"]
    assert all(a.dtype == np.float32 for arrs in ds.measurements.values() for a in arrs)
    assert ds.latent_blocks() == {"digit": [0, 1], "fashion": [2, 3]}
    np.testing.assert_array_equal(ds.measurement("digit.2"), ds.measurements["digit"][2])
    with pytest.raises(BadInput, match="digit.3"):
        ds.measurement("digit.3")


def test_round_trip_and_deterministic_bytes(tmp_path):
    ds = _small()
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_crl_dataset(ds, a)
    save_crl_dataset(_small(), b)
    assert a.read_bytes() == b.read_bytes()
    back = load_crl_dataset(a)
    assert back.keys == ds.keys and back.latent_names == ds.latent_names
    assert back.latent_modalities == ds.latent_modalities
    for key in ds.keys:
        np.testing.assert_array_equal(back.measurement(key), ds.measurement(key))
    np.testing.assert_array_equal(back.latents, ds.latents)
    np.testing.assert_array_equal(back.graph, ds.graph)
    # numpy itself reads the file (the INTERFACES format is a plain .npz)
    with np.load(a) as npz:
        assert set(npz.files) >= {"digit.0", "fashion.0", "latents", "latent_names", "graph"}


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "d.npz"
    save_crl_dataset(_small(), target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(RuntimeError):
        save_crl_dataset(_small(seed=1), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_crl_dataset(tmp_path / "absent.npz")


def test_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(BadInput, match="not a readable .npz"):
        load_crl_dataset(path)


@pytest.mark.parametrize("name", ["table.parquet", "table.csv"])
def test_a_table_in_place_of_a_crl_dataset_says_how_to_make_one(tmp_path, name):
    # it said "not a readable .npz file (ValueError)", with no way forward
    path = tmp_path / name
    path.write_text("id\np1\n")
    with pytest.raises(BadInput, match="is a table, expected a CRL dataset .npz.*crl_dataset_from"):
        load_crl_dataset(path)


def test_no_measurement_keys(tmp_path):
    path = _write_npz(tmp_path / "x.npz", latents=np.zeros((3, 2)))
    with pytest.raises(BadInput, match="no measurement keys"):
        load_crl_dataset(path)


@pytest.mark.parametrize("key", ["digit", "digit.a", "digit.01", "1digit.0", "di git.0"])
def test_bad_key_names(tmp_path, key):
    path = _write_npz(tmp_path / "x.npz", **{"ok.0": np.zeros((3, 2)), key: np.zeros((3, 2))})
    with pytest.raises(BadInput, match="neither"):
        load_crl_dataset(path)


def test_gap_in_measurements(tmp_path):
    path = _write_npz(tmp_path / "x.npz", **{"m.0": np.zeros((3, 2)), "m.2": np.zeros((3, 2))})
    with pytest.raises(BadInput, match=r"'m\.1' is missing"):
        load_crl_dataset(path)


def test_unequal_rows_names_keys_and_counts(tmp_path):
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.zeros((5, 2)), "b.0": np.zeros((4, 2))})
    with pytest.raises(BadInput) as info:
        load_crl_dataset(path)
    message = str(info.value)
    assert "'b.0' has 4 rows" in message and "'a.0' has 5" in message and "x.npz" in message


def test_non_2d(tmp_path):
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.zeros(5)})
    with pytest.raises(BadInput, match="2-D"):
        load_crl_dataset(path)


def test_nan_names_key_and_row(tmp_path):
    x = np.zeros((5, 2))
    x[3, 1] = np.nan
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.zeros((5, 2)), "a.1": x})
    with pytest.raises(BadInput, match=r"'a\.1' has a NaN or infinite value in row 3"):
        load_crl_dataset(path)


def test_finite_value_beyond_float32_is_named_not_called_infinite(tmp_path):
    x = np.zeros((5, 2))
    x[2, 1] = -1e40
    path = _write_npz(tmp_path / "x.npz", **{"a.0": x})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflowing cast warned before it was refused
        with pytest.raises(BadInput, match=r"'a\.0' has the value -1e\+40 in row 2, column 1"):
            load_crl_dataset(path)


def test_inf_latents(tmp_path):
    latents = np.zeros((5, 2))
    latents[4, 0] = np.inf
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.zeros((5, 2))}, latents=latents)
    with pytest.raises(BadInput, match="latents has a NaN or infinite value in row 4"):
        load_crl_dataset(path)


def test_constant_true_latent_is_refused(tmp_path):
    # it used to be accepted, and scored MCC 0 whatever the model learned
    latents = np.column_stack([np.arange(5.0), np.full(5, 3.0)])
    path = _write_npz(
        tmp_path / "x.npz",
        **{"a.0": np.arange(10.0).reshape(5, 2)},
        latents=latents,
        latent_names=np.array(["z1", "z2"]),
    )
    with pytest.raises(BadInput, match=r"latents column 1 \('z2'\) is constant \(3\)"):
        load_crl_dataset(path)


def test_latent_rows_mismatch(tmp_path):
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.zeros((5, 2))}, latents=np.zeros((4, 2)))
    with pytest.raises(BadInput, match="latents has 4 rows"):
        load_crl_dataset(path)


def test_graph_shape_mismatch(tmp_path):
    path = _write_npz(
        tmp_path / "x.npz",
        **{"a.0": np.zeros((5, 2))},
        latents=np.zeros((5, 2)),
        graph=np.zeros((3, 3)),
    )
    with pytest.raises(BadInput, match="graph has shape"):
        load_crl_dataset(path)


def test_latent_names_length_mismatch(tmp_path):
    path = _write_npz(
        tmp_path / "x.npz",
        **{"a.0": np.zeros((5, 2))},
        latents=np.zeros((5, 2)),
        latent_names=np.array(["a", "b", "c"]),
    )
    with pytest.raises(BadInput, match="latent_names has 3 entries"):
        load_crl_dataset(path)


def test_string_measurement_rejected(tmp_path):
    path = _write_npz(tmp_path / "x.npz", **{"a.0": np.array([["x", "y"]])})
    with pytest.raises(BadInput, match="numbers"):
        load_crl_dataset(path)


def test_empty_rows_rejected():
    with pytest.raises(BadInput, match="no rows"):
        CRLDataset(measurements={"a": [np.zeros((0, 3))]})


def test_split_indices_deterministic_and_disjoint():
    a, b = split_indices(1000, seed=3), split_indices(1000, seed=3)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a[name], b[name])
    assert [len(a[s]) for s in ("train", "val", "test")] == [700, 150, 150]
    joined = np.concatenate([a["train"], a["val"], a["test"]])
    np.testing.assert_array_equal(np.sort(joined), np.arange(1000))
    c = split_indices(1000, seed=4)
    assert not np.array_equal(a["test"], c["test"])


def test_split_indices_small_and_bad():
    tiny = split_indices(3, seed=0)
    assert all(len(v) == 1 for v in tiny.values())
    with pytest.raises(BadInput):
        split_indices(2, seed=0)
    with pytest.raises(BadInput):
        split_indices(100, seed=0, fractions=(0.5, 0.5, 0.5))


def test_parse_latent_dims():
    assert parse_latent_dims("digit=2, fashion=3") == {"digit": 2, "fashion": 3}
    for bad in ("digit2", "digit=0", "digit=x", "=2", "digit=2,,fashion=2"):
        with pytest.raises(BadInput, match="token"):
            parse_latent_dims(bad)
    with pytest.raises(BadInput, match="twice"):
        parse_latent_dims("a=1,a=2")
    with pytest.raises(BadInput, match="empty"):
        parse_latent_dims("")


def test_check_latent_dims():
    ds = _small()
    assert check_latent_dims(ds, {"fashion": 2, "digit": 1}) == {"digit": 1, "fashion": 2}
    with pytest.raises(BadInput, match="'face'"):
        check_latent_dims(ds, {"digit": 2, "fashion": 2, "face": 2})
    with pytest.raises(BadInput, match="no size for modality 'fashion'"):
        check_latent_dims(ds, {"digit": 2})
    assert check_latent_dims(ds, {"digit": 5, "fashion": 4}) == {"digit": 5, "fashion": 4}
    with pytest.raises(BadInput, match="'fashion' 20 latent dimensions.*width 4"):
        check_latent_dims(ds, {"digit": 2, "fashion": 20})
    for bad in (0, -1, 1.5, True):
        with pytest.raises(BadInput, match=f"'digit' the size {bad!r}"):
            check_latent_dims(ds, {"digit": bad, "fashion": 2})


def test_latent_dims_wider_than_the_narrowest_measurement():
    rng = np.random.default_rng(1)
    ds = CRLDataset(
        measurements={"m1": [rng.standard_normal((6, 10)), rng.standard_normal((6, 3))]}
    )
    assert check_latent_dims(ds, {"m1": 3}) == {"m1": 3}
    with pytest.raises(BadInput, match="'m1' 4 latent dimensions.*width 3"):
        check_latent_dims(ds, {"m1": 4})


def _table():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(6)],
            "face_emb": [list(rng.standard_normal(4)) for _ in range(6)],
            "chatgpt_text_emb": [list(rng.standard_normal(3)) for _ in range(6)],
            "gemini_text_emb": [list(rng.standard_normal(3)) for _ in range(6)],
        }
    )


def test_from_table():
    df = _table()
    latents = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) ** 2})
    ds = crl_dataset_from_table(
        df, {"face": ["face_emb"], "text": ["chatgpt_text_emb", "gemini_text_emb"]}, latents
    )
    assert ds.keys == ["face.0", "text.0", "text.1"]
    assert ds.measurement("face.0").shape == (6, 4)
    np.testing.assert_allclose(ds.measurement("text.1")[2], df["gemini_text_emb"][2], rtol=1e-6)
    assert ds.latent_names == ["a", "b"] and list(ds.ids) == list(df["id"])


def test_from_table_missing_rows():
    df = _table()
    df.loc[2, "face_emb"] = None
    df.loc[4, "gemini_text_emb"] = [np.nan, 1.0, 2.0]
    modalities = {"face": ["face_emb"], "text": ["chatgpt_text_emb", "gemini_text_emb"]}
    with pytest.raises(BadInput, match="2 of 6 rows"):
        crl_dataset_from_table(df, modalities)
    ds = crl_dataset_from_table(df, modalities, drop_missing=True)
    assert ds.n == 4 and list(ds.ids) == ["p0", "p1", "p3", "p5"]


def test_from_table_bad_columns_and_lengths():
    df = _table()
    with pytest.raises(BadInput, match="llama_text_emb"):
        crl_dataset_from_table(df, {"text": ["llama_text_emb"]})
    df.at[1, "face_emb"] = [1.0, 2.0]
    with pytest.raises(BadInput, match="length 2 in row 1"):
        crl_dataset_from_table(df, {"face": ["face_emb"]})


def test_plain_npy_and_object_arrays(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((3, 2)))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(BadInput, match="single .npy array"):
        load_crl_dataset(tmp_path / "one.npz")
    np.savez(tmp_path / "obj.npz", **{"a.0": np.array([[{"x": 1}]], dtype=object)})
    with pytest.raises(BadInput, match="Python objects"):
        load_crl_dataset(tmp_path / "obj.npz")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 5000), seed=st.integers(0, 2**32 - 1))
def test_split_indices_partition_property(n, seed):
    splits = split_indices(n, seed)
    joined = np.concatenate([splits["train"], splits["val"], splits["test"]])
    assert len(joined) == n and len(np.unique(joined)) == n
    assert all(len(v) >= 1 and (np.diff(v) > 0).all() for v in splits.values())


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 30),
    widths=st.lists(st.lists(st.integers(1, 6), min_size=1, max_size=3), min_size=1, max_size=3),
    seed=st.integers(0, 1000),
)
def test_round_trip_property(tmp_path_factory, n, widths, seed):
    rng = np.random.default_rng(seed)
    measurements = {
        f"mod{i}": [rng.standard_normal((n, w)) for w in ws] for i, ws in enumerate(widths)
    }
    ds = CRLDataset(measurements=measurements, latents=rng.standard_normal((n, 2)))
    path = tmp_path_factory.mktemp("rt") / "d.npz"
    save_crl_dataset(ds, path)
    back = load_crl_dataset(path)
    assert back.keys == ds.keys and back.n == n
    for key in ds.keys:
        np.testing.assert_array_equal(back.measurement(key), ds.measurement(key))
    np.testing.assert_array_equal(back.latents, ds.latents)


def test_cli_train_refuses_latents_wider_than_the_measurements(cli, tmp_path, capsys):
    npz = tmp_path / "tab.npz"
    assert cli("data", "crl-synthetic", "--benchmark", "tabular", "--n", "60", "--out", npz) == 0
    capsys.readouterr()
    code = cli("crl", "train", npz, "--latent-dims", "m1=20,m2=2", "--out", tmp_path / "o")
    err = capsys.readouterr().err
    assert code == 2 and "'m1'" in err and "20" in err and "width 10" in err
    assert not (tmp_path / "o").exists()


def test_an_array_stored_twice_in_the_archive_is_refused(tmp_path):
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        for value in (0.0, 1.0):
            with archive.open("m1.0.npy", "w") as member:
                np.save(member, np.full((4, 2), value))
    with pytest.raises(BadInput, match="holds the array 'm1.0' twice"):
        load_crl_dataset(path)


def test_repeated_latent_names_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(BadInput, match=r"latent_names repeats 'a' \(entries 0 and 2\)"):
        CRLDataset(
            measurements={"m": [rng.standard_normal((6, 2))]},
            latents=rng.standard_normal((6, 3)),
            latent_names=["a", "b", "a"],
        )


def test_repeated_ids_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    ids = np.array(["p0", "p1", "p2", "p1", "p4"])
    path = _write_npz(tmp_path / "x.npz", **{"a.0": rng.standard_normal((5, 2))}, ids=ids)
    with pytest.raises(BadInput, match=r"ids repeats 'p1' \(rows 1 and 3\)"):
        load_crl_dataset(path)


def test_latent_modalities_must_name_a_modality_or_shared():
    rng = np.random.default_rng(0)
    common = {
        "measurements": {"m1": [rng.standard_normal((6, 2))], "m2": [rng.standard_normal((6, 2))]},
        "latents": rng.standard_normal((6, 3)),
    }
    ok = CRLDataset(**common, latent_modalities=["shared", "m1", "m2"])
    assert ok.latent_blocks() == {"shared": [0], "m1": [1], "m2": [2]}
    with pytest.raises(BadInput, match="entry 2 is 'm3'.*expected one of m1, m2, shared"):
        CRLDataset(**common, latent_modalities=["m1", "m2", "m3"])


def test_an_array_stored_under_two_spellings_is_refused(tmp_path):
    # numpy reads both 'm1.0.npy' and 'm1.0' as the key 'm1.0' and keeps the last one.
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in (("m1.0.npy", 0.0), ("m1.0", 100.0)):
            with archive.open(name, "w") as member:
                np.save(member, np.full((4, 2), value))
    with pytest.raises(BadInput, match="holds the array 'm1.0' twice"):
        load_crl_dataset(path)


def test_the_modality_name_shared_is_reserved(tmp_path):
    # It was accepted, then training crashed (exit 1) on the clash with the shared latents.
    rng = np.random.default_rng(0)
    path = _write_npz(
        tmp_path / "x.npz",
        **{"shared.0": rng.normal(size=(20, 3)), "b.0": rng.normal(size=(20, 3))},
    )
    with pytest.raises(BadInput, match="modality name 'shared' is reserved"):
        load_crl_dataset(path)


def test_ground_truth_latents_keep_float64(tmp_path):
    # Cast through float32, 1e8 + noise became constant and was refused as such.
    rng = np.random.default_rng(0)
    latents = np.column_stack([1e8 + 0.5 * rng.normal(size=50), rng.normal(size=50)])
    path = _write_npz(tmp_path / "x.npz", **{"a.0": rng.normal(size=(50, 2))}, latents=latents)
    loaded = load_crl_dataset(path)
    assert loaded.latents.dtype == np.float64
    np.testing.assert_array_equal(loaded.latents, latents)


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ([[0, 0.5], [0, 0]], r"graph\[0, 1\] is 0.5; entries must be 0 or 1"),
        ([[0, 0], [-1, 0]], r"graph\[1, 0\] is -1"),
        ([[1, 0], [0, 0]], r"graph\[0, 0\] is 1: 'z1' cannot cause itself"),
        ([[0, 1], [1, 0]], r"graph has a cycle \(among 'z1', 'z2'\)"),
    ],
)
def test_a_true_graph_must_be_a_zero_one_dag(tmp_path, graph, message):
    rng = np.random.default_rng(0)
    path = _write_npz(
        tmp_path / "x.npz",
        **{"a.0": rng.normal(size=(20, 2))},
        latents=rng.normal(size=(20, 2)),
        latent_names=np.array(["z1", "z2"]),
        graph=np.array(graph, dtype=float),
    )
    with pytest.raises(BadInput, match=message):
        load_crl_dataset(path)


@pytest.mark.parametrize(
    ("truth", "key"),
    [
        ({"latents": np.zeros((20, 0))}, "latents"),
        ({"graph": np.zeros((0, 0))}, "graph"),
        ({"latent_names": np.array([], dtype=str)}, "latent_names"),
    ],
)
def test_ground_truth_without_latents_is_refused_when_loaded(tmp_path, truth, key):
    # an n × 0 latents array was accepted; crl train then trained to the end and failed
    x = np.random.default_rng(0).standard_normal((20, 3))
    path = _write_npz(tmp_path / "d.npz", **{"a.0": x, "b.0": x}, **truth)
    with pytest.raises(BadInput, match=f"d.npz: {key} holds no latents"):
        load_crl_dataset(path)


def _npz_with_member(tmp_path, name, edit) -> Path:
    """A compressed CRL .npz whose member ``name`` has its stored bytes edited by ``edit``."""
    arrays = {"m1.0": np.arange(600.0).reshape(100, 6), "m2.0": np.ones((100, 3))}
    source = tmp_path / "good.npz"
    np.savez_compressed(source, **arrays)
    out = tmp_path / f"bad_{name}.npz"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            dst.writestr(info.filename, edit(payload) if info.filename == name else payload)
    return out


def test_a_damaged_member_is_named_with_its_reason(tmp_path):
    # A half-length member (truncated data) and a bad .npy header used to be reported as
    # "Python objects"; the message now names the array and says it is damaged.
    short = _npz_with_member(tmp_path, "m2.0.npy", lambda b: b[: len(b) // 2])
    with pytest.raises(BadInput, match=r"array 'm2\.0' is damaged \(.*expected"):
        load_crl_dataset(short)
    header = _npz_with_member(tmp_path, "m1.0.npy", lambda b: b[:10] + b"garbage!" + b[18:])
    with pytest.raises(BadInput, match=r"array 'm1\.0' is damaged"):
        load_crl_dataset(header)


@pytest.mark.parametrize(
    ("values", "offset", "reason"),
    [
        (np.tile(np.arange(8.0), (200, 1)), 10, "corrupt compressed data"),
        # Random numbers deflate to literal blocks: flipped bytes still decompress, and only
        # zip's CRC-32 (which numpy never checked) tells the numbers are wrong.
        (np.random.default_rng(0).random((200, 8)), 100, "Bad CRC-32"),
    ],
)
def test_a_corrupt_deflate_stream_is_bad_input_naming_the_array(tmp_path, values, offset, reason):
    # Flipping bytes inside a member's compressed data raised zlib.error (exit 1) or loaded.
    source = tmp_path / "good.npz"
    np.savez_compressed(source, **{"m1.0": values, "m2.0": np.ones((200, 2))})
    data = bytearray(source.read_bytes())
    info = zipfile.ZipFile(source).getinfo("m1.0.npy")
    # The local header's name and extra lengths (its extra field differs from the central one).
    name_length, extra_length = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_length + extra_length + offset
    for k in range(8):
        data[start + k] ^= 0xFF
    broken = tmp_path / "corrupt.npz"
    broken.write_bytes(bytes(data))
    with pytest.raises(BadInput, match=rf"array 'm1\.0' is damaged \({reason}"):
        load_crl_dataset(broken)
