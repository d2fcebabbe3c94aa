"""Graph files, node groups, DOT text, order invariance, and latent naming edge cases."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from personax.discovery import CausalGraph, Edge, infer_group, write_graph
from personax.discovery.citests import OracleTester
from personax.discovery.explain import align_latents, explain_latents
from personax.discovery.pc import pc
from personax.errors import BadInput


@pytest.mark.parametrize(
    "name, group",
    [
        ("s_0", "shared"),
        ("z_face_3", "image"),
        ("z_image_0", "image"),
        ("z_text_2", "trait"),
        ("final_c", "trait"),
        ("height", "attribute"),
        ("s_mindset", "attribute"),
    ],
)
def test_infer_group(name, group):
    assert infer_group(name) == group


def test_graph_json_round_trip_and_dot(tmp_path):
    graph = CausalGraph(
        nodes=("s_0", "z_face_0", 'odd "name"'),
        edges=(
            Edge("s_0", "z_face_0", "directed"),
            Edge("z_face_0", 'odd "name"', "bidirected"),
        ),
        notes=("a note",),
    )
    paths = write_graph(graph, tmp_path, groups={"z_face_0": "trait"})
    data = json.loads(paths["json"].read_text())
    assert CausalGraph.from_dict(data) == graph
    dot = paths["dot"].read_text()
    assert '"s_0" -> "z_face_0";' in dot
    assert '"z_face_0" -> "odd \\"name\\"" [dir=both, style=dashed];' in dot
    svg = paths["svg"].read_text()
    assert "shared latent" in svg and "bidirected" in svg
    with pytest.raises(ValueError):
        CausalGraph.from_dict(
            {"nodes": ["a"], "edges": [{"source": "a", "target": "b", "type": "directed"}]}
        )


def test_oracle_result_does_not_depend_on_column_order():
    dag = nx.DiGraph([("a", "c"), ("b", "c"), ("c", "d"), ("e", "d"), ("d", "f")])
    reference = None
    for order in itertools.islice(itertools.permutations(sorted(dag.nodes)), 0, 720, 97):
        graph = pc(list(order), OracleTester(dag, list(order))).graph
        marks = {
            (e.source, e.target)
            if e.type == "directed"
            else tuple(sorted((e.source, e.target))) + (e.type,)
            for e in graph.edges
        }
        reference = reference or marks
        assert marks == reference


def make_latents(n=60, ids=True):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"z_text_0": rng.standard_normal(n), "s_0": rng.standard_normal(n)})
    if ids:
        df.insert(0, "id", [f"p{i}" for i in range(n)])
    return df


def test_explain_needs_latent_columns():
    table = pd.DataFrame({"final_c": np.arange(60.0)})
    with pytest.raises(BadInput, match="no latent columns"):
        explain_latents(pd.DataFrame({"x": np.arange(60.0)}), table)


def test_align_rejects_duplicated_and_unknown_ids():
    latents = make_latents()
    table = pd.DataFrame({"id": latents["id"], "final_c": np.arange(60.0)})
    dup = latents.copy()
    dup.loc[1, "id"] = "p0"
    with pytest.raises(BadInput, match="'p0' appears more than once"):
        align_latents(dup, table)
    with pytest.raises(BadInput, match="'p5' is not in table"):
        align_latents(latents, table[table["id"] != "p5"])


def test_explain_handles_missing_constant_and_ties():
    latents = make_latents(ids=False)
    table = pd.DataFrame(
        {
            "final_c": np.where(np.arange(60) % 7 == 0, np.nan, latents["z_text_0"].round(0) + 5),
            "constant": np.ones(60),
            "gender": ["f", "m"] * 30,
        }
    )
    result = explain_latents(latents, table, seed=0)
    assert result.n.loc["z_text_0", "final_c"] == 60 - len(range(0, 60, 7))
    assert np.isnan(result.spearman.loc["z_text_0", "constant"])
    label = {lab.latent: lab for lab in result.labels}["z_text_0"]
    assert label.feature == "final_c" and label.spearman > 0.8
    again = explain_latents(latents, table, seed=0)
    pd.testing.assert_frame_equal(result.mutual_information, again.mutual_information)


def test_explain_treats_zero_trait_scores_as_missing():
    # 0 = "insufficient information" (INTERFACES.md): missing, not the lowest level
    latents = make_latents(ids=False)
    levels = np.digitize(latents["z_text_0"], [-0.5, 0.5]) + 1.0  # 1..3
    zeroed = np.where(np.arange(60) % 4 == 0, 0.0, levels)
    table = pd.DataFrame({"chatgpt_c": zeroed, "final_c": zeroed, "age": zeroed})
    result = explain_latents(latents, table, seed=0)
    keep = zeroed != 0
    z = latents["z_text_0"].to_numpy()
    expected = stats.spearmanr(z[keep], levels[keep]).statistic
    for trait in ("chatgpt_c", "final_c"):
        assert result.n.loc["z_text_0", trait] == keep.sum()
        assert result.spearman.loc["z_text_0", trait] == pytest.approx(expected)
    # an attribute keeps its zeros: they are values there
    assert result.n.loc["z_text_0", "age"] == 60
