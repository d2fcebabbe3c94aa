from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.stats import chi2_contingency

from personax import PAPER_LLMS, TRAITS
from personax.data import column_groups, read_table
from personax.data.sample import (
    FACE_ATTRIBUTES,
    LEAGUES,
    SampleTruth,
    load_truth,
    make_sample,
    median_of_nonzero,
    sidecar_paths,
    write_sample,
)
from personax.errors import BadInput


@pytest.fixture(scope="module")
def athlete():
    return make_sample("athlete", n=300, seed=5)


@pytest.fixture(scope="module")
def celebrity():
    return make_sample("celebrity", n=300, seed=5)


def test_same_seed_equal_tables_different_seed_differs():
    a = make_sample("athlete", n=200, seed=1).table
    b = make_sample("athlete", n=200, seed=1).table
    c = make_sample("athlete", n=200, seed=2).table
    pd.testing.assert_frame_equal(a, b)
    assert not a["final_o"].equals(c["final_o"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_same_seed_identical_bytes(tmp_path, suffix):
    paths = []
    for run in range(2):
        out = tmp_path / f"run{run}{suffix}"
        write_sample(make_sample("celebrity", n=150, seed=9), out)
        paths.append([out, *sidecar_paths(out)])
    for first, second in zip(*paths, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_athlete_columns(athlete):
    df = athlete.table
    groups = column_groups(df)
    assert groups.attributes == (
        "league",
        "birth_year",
        "birth_month",
        "birth_day",
        "latitude",
        "longitude",
        "height",
        "weight",
    )
    assert groups.llms == PAPER_LLMS
    assert groups.final_traits == tuple(f"final_{t}" for t in TRAITS)
    assert set(groups.embeddings) == {"face_emb", *(f"{llm}_text_emb" for llm in PAPER_LLMS)}
    assert set(df["league"].dropna()) <= set(LEAGUES)
    assert df["id"].is_unique and df["id"].iloc[0] == "ath-00001"


def test_celebrity_has_23_attributes(celebrity):
    groups = column_groups(celebrity.table)
    assert len(groups.attributes) == 23
    assert set(FACE_ATTRIBUTES) <= set(groups.attributes)
    for face in FACE_ATTRIBUTES:
        assert set(celebrity.table[face].unique()) <= {-1, 1}
    assert set(celebrity.table["gender"].dropna()) <= {"female", "male"}


def test_scores_and_final(athlete):
    df = athlete.table
    for llm in PAPER_LLMS:
        for t in TRAITS:
            assert set(df[f"{llm}_{t}"].unique()) <= {0, 1, 2, 3}
    share_zero = np.mean([(df[f"{llm}_{t}"] == 0).mean() for llm in PAPER_LLMS for t in TRAITS])
    assert 0.03 < share_zero < 0.3
    for t in TRAITS:
        stacked = df[[f"{llm}_{t}" for llm in PAPER_LLMS]].to_numpy()
        np.testing.assert_array_equal(df[f"final_{t}"].to_numpy(), median_of_nonzero(stacked))


def test_median_of_nonzero_edges():
    scores = np.array([[0, 0, 0], [3, 0, 1], [2, 2, 3], [0, 1, 0]])
    out = median_of_nonzero(scores)
    assert np.isnan(out[0]) and list(out[1:]) == [2.0, 2.0, 1.0]


def test_zero_share_higher_with_less_context():
    sample = make_sample("athlete", n=2000, seed=0)
    scores = sample.table[[f"{llm}_{t}" for llm in PAPER_LLMS for t in TRAITS]].to_numpy()
    context = sample.truth.latents["context"].to_numpy()
    low = (scores[context < 0] == 0).mean()
    high = (scores[context > 0] == 0).mean()
    assert low > 2 * high


def test_missing_values_but_no_duplicates(celebrity):
    df = celebrity.table
    attrs = column_groups(df).attributes
    missing = df[list(attrs)].isna().mean()
    assert 0 < missing.mean() < 0.1
    assert not df["id"].duplicated().any()


def test_embedding_dims_are_parameters():
    df = make_sample("athlete", n=20, seed=0, face_dim=8, text_dim=5).table
    assert len(df["face_emb"].iloc[0]) == 8 and len(df["llama_text_emb"].iloc[0]) == 5


def test_truth_structure(celebrity):
    truth = celebrity.truth
    names = truth.latent_names
    groups = truth.latent_groups
    assert [groups[n] for n in names].count("shared") == 3
    assert [groups[n] for n in names].count("trait") == 5
    assert [groups[n] for n in names].count("image") == 10
    graph = truth.latent_graph
    assert graph.shape == (len(names), len(names))
    # Shared latents are roots; at least one trait -> image (cross-modal) edge.
    for i, name in enumerate(names):
        if groups[name] == "shared":
            assert graph[i].sum() == 0
    cross = [
        (names[j], names[i])
        for i, j in zip(*np.nonzero(graph), strict=True)
        if groups[names[i]] == "image" and groups[names[j]] == "trait"
    ]
    assert cross
    # Causal order is the index order.
    assert not np.triu(graph).any()
    assert len(truth.dependencies) == 5 * 23
    dependent = {(d.trait, d.attribute) for d in truth.dependencies if d.dependent}
    assert ("final_o", "gender") in dependent and ("final_o", "birth_month") not in dependent
    assert truth.is_dependent("chatgpt_o", "pointy_nose")
    assert not truth.is_dependent("final_o", "big_nose")
    assert list(truth.latents.columns) == ["id", *names, "context"]


def test_truth_json_round_trip(tmp_path, athlete):
    out = tmp_path / "a.parquet"
    write_sample(athlete, out)
    truth_path, latents_path = sidecar_paths(out)
    obj = json.loads(truth_path.read_text())
    assert obj["synthetic"] is True and "SYNTHETIC" in obj["note"]
    assert obj["model"]["name"] == "personax-sample" and obj["model"]["version"]
    loaded = load_truth(out)
    assert isinstance(loaded, SampleTruth)
    assert loaded.dependencies == athlete.truth.dependencies
    assert loaded.latent_names == athlete.truth.latent_names
    np.testing.assert_array_equal(loaded.latent_graph, athlete.truth.latent_graph)
    pd.testing.assert_frame_equal(loaded.latents, athlete.truth.latents, check_dtype=False)
    assert loaded.to_json_dict() == athlete.truth.to_json_dict()
    meta = pq.read_schema(out).metadata
    assert meta[b"personax.synthetic"] == b"true"
    assert pq.read_schema(latents_path).metadata[b"personax.synthetic"] == b"true"


def test_csv_round_trip_keeps_embeddings(tmp_path, athlete):
    out = tmp_path / "a.csv"
    write_sample(athlete, out)
    back = read_table(out)
    assert len(back) == len(athlete.table)
    np.testing.assert_allclose(
        np.stack(back["face_emb"]), np.stack(athlete.table["face_emb"]), rtol=1e-5, atol=1e-6
    )
    assert back["id"].tolist() == athlete.table["id"].tolist()


def test_load_truth_missing_sidecar(tmp_path):
    with pytest.raises(BadInput, match="no ground-truth file"):
        load_truth(tmp_path / "x.parquet")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "robot"}, "the sample kind must be one of athlete, celebrity"),
        ({"kind": "athlete", "n": 0}, "at least 1"),
        ({"kind": "athlete", "seed": -1}, "non-negative"),
        ({"kind": "athlete", "face_dim": 0}, "positive"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(BadInput, match=message):
        make_sample(**kwargs)


def _chi2_p(df: pd.DataFrame, trait: str, attribute: str) -> float:
    sub = df[[trait, attribute]].dropna()
    attr = sub[attribute]
    if attr.dtype.kind in "fi" and attr.nunique() > 12:
        attr = pd.qcut(attr.astype(float), 5, labels=False, duplicates="drop")
    return chi2_contingency(pd.crosstab((sub[trait] * 2).round(), attr))[1]


def test_planted_structure_is_visible_in_the_data():
    sample = make_sample("athlete", n=3000, seed=11)
    df = sample.table
    # Planted dependencies (strong by design) are clearly visible ...
    assert sample.truth.is_dependent("final_e", "league")
    assert _chi2_p(df, "final_e", "league") < 1e-6
    assert sample.truth.is_dependent("final_n", "birth_year")
    assert _chi2_p(df, "final_n", "birth_year") < 1e-6
    # ... planted independencies are not.
    for trait in ("final_o", "final_c", "final_e", "final_a", "final_n"):
        assert not sample.truth.is_dependent(trait, "birth_month")
    p_values = [_chi2_p(df, f"final_{t}", "birth_month") for t in TRAITS]
    assert min(p_values) > 0.001


def test_text_embeddings_measure_the_trait_latents():
    sample = make_sample("athlete", n=1500, seed=0)
    from sklearn.linear_model import RidgeCV

    target = sample.truth.latents["trait_c"].to_numpy()
    for llm in PAPER_LLMS:
        x = np.stack(sample.table[f"{llm}_text_emb"])
        fit = RidgeCV().fit(x[:1000], target[:1000])
        assert fit.score(x[1000:], target[1000:]) > 0.5
    face = np.stack(sample.table["face_emb"])
    fit = RidgeCV().fit(face[:1000], target[:1000])
    # Conscientiousness reaches the face only through expression: weaker than text.
    assert fit.score(face[1000:], target[1000:]) < 0.5


def test_a_sample_larger_than_memory_exits_2_before_allocating(tmp_path, capsys, monkeypatch):
    # `data sample --n 100000000` was killed by the operating system (exit 137)
    from personax import memory
    from personax.cli.main import main

    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    out = tmp_path / "a.csv"
    assert main(["data", "sample", "--kind", "athlete", "--n", "10000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--n 10000 would need at least" in err and "GiB available" in err
    assert not out.exists()
