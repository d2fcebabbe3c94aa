"""`personax discover` and `personax crl explain`: outputs, schema and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personax.cli.main import main


@pytest.fixture
def latents_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    s0 = rng.standard_normal(n)
    z_text_0 = 0.8 * s0 + 0.6 * rng.standard_normal(n)
    z_face_0 = 0.8 * z_text_0 + 0.6 * rng.standard_normal(n)
    z_face_1 = rng.standard_normal(n)
    df = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "split": np.where(np.arange(n) % 4 == 0, "test", "train"),
            "s_0": s0,
            "z_text_0": z_text_0,
            "z_face_0": z_face_0,
            "z_face_1": z_face_1,
        }
    )
    path = tmp_path / "latents.csv"
    df.to_csv(path, index=False)
    return path


def test_discover_writes_graph_files_matching_schema(tmp_path, latents_csv, capsys):
    out = tmp_path / "out"
    code = main(
        ["discover", str(latents_csv), "--roots", "s_0", "--test", "fisherz", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    graph = json.loads((out / "graph.json").read_text())
    assert graph["nodes"] == ["s_0", "z_text_0", "z_face_0", "z_face_1"]  # id, split skipped
    for edge in graph["edges"]:
        assert set(edge) == {"source", "target", "type"}
        assert edge["type"] in {"directed", "undirected", "bidirected"}
        assert edge["target"] != "s_0" or edge["type"] == "directed" and edge["source"] == "s_0"
    edges = {(e["source"], e["target"], e["type"]) for e in graph["edges"]}
    assert ("s_0", "z_text_0", "directed") in edges
    assert ("z_text_0", "z_face_0", "directed") in edges
    for name in ("graph.png", "graph.svg", "graph.dot"):
        assert (out / name).stat().st_size > 0
    assert graph["knowledge"]["roots"] == ["s_0"]


def test_discover_is_reproducible_bytes(tmp_path, latents_csv):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        args = ["discover", str(latents_csv), "--test", "rcit", "--seed", "3", "--out", str(out)]
        assert main(args) == 0
    for name in ("graph.json", "graph.svg", "graph.png", "graph.dot"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


def test_discover_split_keeps_held_out_rows(tmp_path, latents_csv, capsys):
    out = tmp_path / "out"
    assert main(["discover", str(latents_csv), "--split", "test", "--out", str(out)]) == 0
    graph = json.loads((out / "graph.json").read_text())
    assert any("on 100 rows" in note for note in graph["notes"])


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--columns", "s_0,nope"], "no column 'nope'"),
        (["--forbid", "s_0-z_text_0"], "'s_0-z_text_0' is not of the form a>b"),
        (["--roots", "s_9"], "'s_9' is not one of the columns"),
        (["--columns", "s_0,id"], "column 'id' is not numeric"),
        (["--test", "magic"], "unknown test 'magic'"),
        (["--alpha", "1.5"], "alpha"),
        (["--split", "holdout"], "no row has split 'holdout'"),
        (["--require", "z_face_0>s_0", "--roots", "s_0"], "root 's_0'"),
        # empty items used to be skipped silently (a dropped name is most likely a typo)
        (["--columns", "s_0,,z_face_0"], "--columns 's_0,,z_face_0' has an empty item"),
        (["--columns", ","], "--columns is empty"),
        (["--roots", ","], "--roots is empty"),
        (["--tiers", ";;"], "--tiers ';;' has an empty tier"),
        (["--tiers", "s_0;;z_face_0"], "has an empty tier"),
        (["--tiers", "s_0,;z_face_0"], "--tiers 's_0,' has an empty item"),
    ],
)
def test_discover_bad_input_exit_2(tmp_path, latents_csv, capsys, extra, fragment):
    code = main(["discover", str(latents_csv), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "graph.json").exists()


def test_discover_tiers_still_parse(tmp_path, latents_csv):
    out = tmp_path / "o"
    tiers = "s_0;z_text_0;z_face_0,z_face_1"
    assert main(["discover", str(latents_csv), "--tiers", tiers, "--out", str(out)]) == 0
    graph = json.loads((out / "graph.json").read_text())
    assert set(graph["nodes"]) == {"s_0", "z_text_0", "z_face_0", "z_face_1"}


def test_discover_refuses_a_numeric_column_with_one_text_cell(tmp_path, latents_csv, capsys):
    # without --columns it used to leave the column out of the graph without a word
    df = pd.read_csv(latents_csv)
    df["z_face_1"] = df["z_face_1"].astype(object)
    df.loc[7, "z_face_1"] = "oops"
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "column 'z_face_1' holds numbers except the text 'oops' (first at data row 8" in err
    # a real text column is still left out quietly
    df.loc[7, "z_face_1"] = 0.5
    df["name"] = [f"person {i}" for i in range(len(df))]
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 0
    graph = json.loads((tmp_path / "o" / "graph.json").read_text())
    assert "name" not in graph["nodes"] and "z_face_1" in graph["nodes"]


def test_discover_refuses_duplicated_ids_and_impossible_scores(tmp_path, latents_csv, capsys):
    df = pd.read_csv(latents_csv)
    df.loc[9, "id"] = "p3"
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 2
    assert "row 10, column 'id': duplicated id 'p3' (first in row 4)" in capsys.readouterr().err
    df.loc[9, "id"] = "p9"
    df["final_o"] = np.where(np.arange(len(df)) == 2, 5.0, 1.0 + (np.arange(len(df)) % 3))
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 2
    assert "row 3, column 'final_o': aggregated score 5 is outside 1..3" in capsys.readouterr().err


def test_discover_nan_is_bad_input(tmp_path, latents_csv, capsys):
    df = pd.read_csv(latents_csv)
    df.loc[5, "z_face_0"] = np.nan
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 2
    assert "column 'z_face_0' has 1 missing" in capsys.readouterr().err


def test_explain_writes_tables_and_labels(tmp_path, latents_csv, capsys):
    lat = pd.read_csv(latents_csv)
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {
            "id": lat["id"][::-1].to_numpy(),  # another row order: the join is by id
            "final_c": (lat["z_text_0"] + 0.3 * rng.standard_normal(len(lat)))[::-1].to_numpy(),
            "height": rng.standard_normal(len(lat)),
            "league": rng.choice(["NBA", "NFL"], len(lat)),
        }
    )
    table_path = tmp_path / "table.csv"
    table.to_csv(table_path, index=False)
    out = tmp_path / "explain"
    code = main(
        [
            "crl",
            "explain",
            str(latents_csv),
            "--table",
            str(table_path),
            "--split",
            "test",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    labels = pd.read_csv(out / "labels.csv")
    row = labels.set_index("latent").loc["z_text_0"]
    assert row["label"] == "final_c" and row["spearman"] > 0.8
    assert row["text"].startswith("z_text_0 ≈ final_c, ρ = 0.")
    explain = pd.read_csv(out / "explain.csv")
    assert set(explain.columns) >= {"latent", "feature", "spearman", "mutual_information", "n"}
    assert (explain["n"] == 100).all()
    league = explain[explain.feature == "league"]
    assert league["spearman"].isna().all() and league["mutual_information"].notna().all()
    assert (out / "heatmap.png").exists() and (out / "heatmap.svg").exists()


def test_explain_row_order_join_needs_equal_lengths(tmp_path, latents_csv, capsys):
    table_path = tmp_path / "table.csv"
    pd.DataFrame({"final_c": np.arange(10.0)}).to_csv(table_path, index=False)
    code = main(
        [
            "crl",
            "explain",
            str(latents_csv),
            "--table",
            str(table_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "rows are matched by order" in capsys.readouterr().err


def test_discover_fisherz_is_scale_free_on_huge_values(tmp_path, latents_csv, capsys):
    # np.corrcoef on raw values of 1e155 overflowed and gave another graph with exit 0
    df = pd.read_csv(latents_csv)
    df["z_text_0"] *= 1e155
    huge = tmp_path / "huge.csv"
    df.to_csv(huge, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "plain")]) == 0
    assert main(["discover", str(huge), "--out", str(tmp_path / "huge")]) == 0
    plain = json.loads((tmp_path / "plain" / "graph.json").read_text())
    scaled = json.loads((tmp_path / "huge" / "graph.json").read_text())
    assert scaled["edges"] == plain["edges"]


def test_discover_fisherz_refuses_collinear_columns(tmp_path, latents_csv, capsys):
    df = pd.read_csv(latents_csv)
    df["z_twice"] = 2 * df["z_text_0"]
    path = tmp_path / "collinear.csv"
    df.to_csv(path, index=False)
    code = main(["discover", str(path), "--test", "fisherz", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "'z_text_0', 'z_twice' are exactly collinear" in err
    assert not (tmp_path / "o").exists()


def test_fisherz_tester_refuses_a_non_finite_correlation():
    from personax.discovery.citests import FisherZTester
    from personax.errors import BadInput

    data = np.random.default_rng(0).standard_normal((50, 3))
    data[3, 1] = np.inf
    with pytest.raises(BadInput, match="column 'b' with the others is not finite"):
        FisherZTester(data, ["a", "b", "c"], "t.csv")


def test_explain_text_in_a_latent_column_is_bad_input(tmp_path, latents_csv, capsys):
    # it was silently coerced to NaN
    df = pd.read_csv(latents_csv)
    df["z_face_0"] = df["z_face_0"].astype(object)
    df.loc[6, "z_face_0"] = "oops"
    df.to_csv(latents_csv, index=False)
    table_path = tmp_path / "table.csv"
    pd.DataFrame({"id": df["id"], "final_c": np.arange(len(df)) % 3 + 1.0}).to_csv(
        table_path, index=False
    )
    out = tmp_path / "o"
    code = main(["crl", "explain", str(latents_csv), "--table", str(table_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "latent column 'z_face_0' holds the text value 'oops' (data row 7)" in err
    assert not out.exists()


def test_explain_infinite_latent_and_featureless_table_name_the_file(tmp_path, latents_csv, capsys):
    # inf latents were silently treated as missing; errors said "latents:" / "table:"
    df = pd.read_csv(latents_csv)
    df.loc[4, "z_face_0"] = -np.inf
    df.to_csv(latents_csv, index=False)
    table_path = tmp_path / "table.csv"
    pd.DataFrame({"id": df["id"], "final_c": np.arange(len(df)) % 3 + 1.0}).to_csv(
        table_path, index=False
    )
    out = tmp_path / "o"
    args = ["crl", "explain", str(latents_csv), "--table", str(table_path), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{latents_csv}: latent column 'z_face_0' holds -inf (data row 5)" in err
    df.loc[4, "z_face_0"] = 0.5
    df.to_csv(latents_csv, index=False)
    pd.DataFrame({"id": df["id"], "note": [f"n{i}" for i in range(len(df))]}).to_csv(
        table_path, index=False
    )
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{table_path}: no numeric or categorical trait/attribute column" in err
    assert not out.exists()


@pytest.mark.parametrize("test", ["kci", "rcit"])
def test_discover_kernel_tests_refuse_out_of_range_columns(tmp_path, latents_csv, capsys, test):
    df = pd.read_csv(latents_csv)
    df["z_text_0"] *= 1e200  # crashed with OverflowError / ZeroDivisionError
    df.to_csv(latents_csv, index=False)
    code = main(["discover", str(latents_csv), "--test", test, "--out", str(tmp_path / "o")])
    assert code == 2
    assert "largest magnitude in column 'z_text_0'" in capsys.readouterr().err


def test_independence_refuses_the_output_folder_of_discover(tmp_path, latents_csv, capsys):
    out = tmp_path / "d"
    assert main(["discover", str(latents_csv), "--out", str(out)]) == 0
    graph = (out / "graph.json").read_bytes()
    code = main(["independence", str(latents_csv), "--out", str(out)])
    assert code == 2 and "output of another personax command ('discover')" in (
        capsys.readouterr().err
    )
    assert (out / "graph.json").read_bytes() == graph


def test_discover_on_a_header_without_rows_says_so(tmp_path, capsys):
    # it said "needs at least 2 columns, got 0" although the header had three
    path = tmp_path / "header.csv"
    path.write_text("id,z_a_0,z_b_0\n")
    assert main(["discover", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}: the table has a header but no data rows" in capsys.readouterr().err


def test_discover_refuses_a_constant_flag(tmp_path, latents_csv, capsys):
    # A constant boolean column slipped past the checks; its tests were NaN, read as
    # dependent, and the graph attached edges to it.
    df = pd.read_csv(latents_csv)
    df["flag"] = True
    df.to_csv(latents_csv, index=False)
    out = tmp_path / "o"
    assert main(["discover", str(latents_csv), "--test", "rcit", "--out", str(out)]) == 2
    assert "column 'flag' is constant" in capsys.readouterr().err
    assert not out.exists()


def test_discover_refuses_insufficient_information_scores(tmp_path, latents_csv, capsys):
    df = pd.read_csv(latents_csv)
    rng = np.random.default_rng(1)
    df["final_o"] = rng.integers(1, 4, len(df)).astype(float)
    df.loc[[7, 9], "final_o"] = 0
    df["chatgpt_e"] = rng.integers(1, 4, len(df))  # a per-LLM score without 0 is fine
    df["trait_o"] = rng.normal(size=len(df))  # ends in _o but is not a score
    df.loc[3, "trait_o"] = 0.0
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "column 'final_o' holds the score 0" in err and "2 row(s)" in err
    assert "data row 8" in err
    df = df.drop(index=[7, 9])
    df.to_csv(latents_csv, index=False)
    assert main(["discover", str(latents_csv), "--out", str(tmp_path / "o")]) == 0


def test_rcit_graph_does_not_depend_on_the_column_order(tmp_path, latents_csv):
    cols = ["s_0", "z_text_0", "z_face_0", "z_face_1"]
    graphs = []
    for k, order in enumerate([cols, cols[::-1]]):
        out = tmp_path / f"o{k}"
        assert (
            main(
                ["discover", str(latents_csv), "--test", "rcit", "--columns", ",".join(order)]
                + ["--out", str(out)]
            )
            == 0
        )
        edges = json.loads((out / "graph.json").read_text())["edges"]
        graphs.append(
            sorted(
                (e["source"], e["target"], e["type"])
                if e["type"] == "directed"
                else (*sorted((e["source"], e["target"])), e["type"])
                for e in edges
            )
        )
    assert graphs[0] == graphs[1]


def test_rcit_p_value_of_one_question_is_the_same_in_any_column_order():
    from personax.discovery.citests import RCITTester

    rng = np.random.default_rng(0)
    data = rng.standard_normal((300, 4))
    data[:, 1] += 0.3 * data[:, 0]
    names = ["a", "b", "c", "d"]
    perm = [2, 0, 3, 1]  # column k of the permuted data is names[perm[k]]
    first = RCITTester(data, seed=3, names=names)
    second = RCITTester(data[:, perm], seed=3, names=[names[k] for k in perm])
    where = {names[k]: i for i, k in enumerate(perm)}
    a, b, c, d = (where[x] for x in "abcd")
    assert first.p_value(0, 1, (2, 3)) == second.p_value(min(a, b), max(a, b), (d, c))


@pytest.mark.parametrize("name", ["cost $^$", "$x$", r"$\frac{a}$"])
def test_column_names_with_dollar_signs_are_drawn_literally(tmp_path, latents_csv, name):
    df = pd.read_csv(latents_csv).rename(columns={"z_face_1": name})
    df.to_csv(latents_csv, index=False)
    out = tmp_path / "o"
    assert main(["discover", str(latents_csv), "--out", str(out)]) == 0
    assert name.replace("$", "") in (out / "graph.svg").read_text().replace("$", "")


def test_latent_columns_of_modalities_with_underscores_or_hyphens_are_found():
    # crl train writes z_face_emb_0 for a modality 'face_emb'; explain found no latents there.
    from personax.discovery.explain import latent_columns

    df = pd.DataFrame(columns=["split", "s_0", "z_face_emb_0", "z_my-text_1", "z__0", "zz_a_0"])
    assert latent_columns(df) == ["s_0", "z_face_emb_0", "z_my-text_1"]


def test_discover_on_a_frame_built_from_an_array():
    # Its integer column names were listed as '0', '1', '2' and then not found.
    from personax.discovery import discover

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    frame = pd.DataFrame(np.column_stack([a, a + rng.normal(size=300), rng.normal(size=300)]))
    graph = discover(frame)
    assert graph.nodes == ("0", "1", "2")
    assert {frozenset((e.source, e.target)) for e in graph.edges} == {frozenset(("0", "1"))}


def test_discover_refuses_columns_0_and_text_0_together():
    from personax.discovery import discover
    from personax.errors import BadInput

    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=[0, "0", 1])
    with pytest.raises(BadInput, match="two columns are both named '0'"):
        discover(frame)


@pytest.mark.parametrize("header", ["id,final_o", "id,final_o,age", "id,chatgpt_o,label"])
def test_discover_on_a_header_only_table_exits_2(tmp_path, capsys, header):
    # a table with trait columns and no rows crashed in the score check (exit 1)
    table = tmp_path / "empty.csv"
    table.write_text(header + "\n")
    code = main(["discover", str(table), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "no data rows" in err and "unexpected" not in err
    assert not (tmp_path / "o").exists()


def test_the_score_check_of_an_empty_text_column_is_empty():
    from personax.data.validate import _as_numbers

    values, bad = _as_numbers(pd.Series([], dtype=object))
    assert values.shape == bad.shape == (0,) and bad.dtype == bool


@pytest.mark.parametrize("option", ["--forbid", "--require"])
def test_a_blank_edge_list_is_refused_like_a_blank_roots(tmp_path, latents_csv, capsys, option):
    # "--forbid ''" ran with no knowledge at all (exit 0) while "--roots ''" exits 2.
    out = tmp_path / "out"
    assert main(["discover", str(latents_csv), option, " ", "--out", str(out)]) == 2
    assert f"{option} is empty" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("split", ["test", "zzz"])
def test_a_split_column_with_empty_cells_is_bad_input_not_a_crash(tmp_path, capsys, split):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame["split"] = [None] * 40
    frame.loc[:19, "split"] = "train"
    table = tmp_path / "t.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["discover", str(table), "--split", split, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        f"no row has split '{split}' (values present: train; 20 row(s) have an empty split)" in err
    )
    assert not out.exists()


def test_a_column_constant_on_the_kci_subsample_is_bad_input(tmp_path, capsys):
    # One non-zero value in 2,000 rows: constant on a 100-row subsample, where every KCI
    # p-value of it was NaN, read as "dependent": a collider made of nothing, exit 0.
    rng = np.random.default_rng(2)
    n = 2000
    a = rng.normal(size=n)
    rare = np.zeros(n)
    rare[7] = 1.0  # row 7 is not in the seed-0 subsample
    table = tmp_path / "rare.csv"
    pd.DataFrame({"a": a, "b": a + rng.normal(size=n), "rare": rare}).to_csv(table, index=False)
    out = tmp_path / "out"
    args = ["discover", str(table), "--test", "kci", "--max-rows-kci", "100", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "column 'rare' takes a single value on the seeded KCI subsample of 100" in err
    assert not out.exists()


def test_integer_column_names_work_for_every_kind_of_knowledge():
    # roots were turned into text like the frame's column names; forbid/require/tiers not.
    from personax.discovery import discover

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    x[:, 1] += x[:, 0]
    frame = pd.DataFrame(x)
    graph = discover(frame, forbid=[(0, 1)])
    assert all((e.source, e.target) != ("0", "1") for e in graph.edges)
    assert any({e.source, e.target} == {"0", "1"} for e in discover(frame, require=[(0, 1)]).edges)
    assert list(discover(frame, tiers=[[0], [1, 2]]).nodes) == ["0", "1", "2"]
