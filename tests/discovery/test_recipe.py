"""The real-world recipe: scoring against planted truth, and one small end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personax.discovery.graph import CausalGraph, Edge
from personax.discovery.recipe import score_against_truth


def test_scoring_maps_edges_through_the_latent_matching():
    rng = np.random.default_rng(0)
    true = pd.DataFrame(rng.standard_normal((200, 4)), columns=["a", "b", "c", "d"])
    # true graph: a → b, b → c, a → d   ([i, j] = 1 when j causes i)
    graph = np.zeros((4, 4), dtype=int)
    graph[1, 0] = graph[2, 1] = graph[3, 0] = 1
    # learned latents are the true ones shuffled, renamed, sign-flipped and noisy
    learned = pd.DataFrame(
        {
            "z_text_0": -true["c"] + 0.1 * rng.standard_normal(200),
            "s_0": true["a"],
            "z_face_0": true["d"] * 2,
            "z_face_1": true["b"] + 0.1 * rng.standard_normal(200),
        }
    )
    found = CausalGraph(
        nodes=tuple(learned.columns),
        edges=(
            Edge("s_0", "z_face_1", "directed"),  # a → b, right direction
            Edge("z_text_0", "z_face_1", "directed"),  # c → b: reversed b → c
            Edge("z_text_0", "z_face_0", "undirected"),  # c — d: not planted
        ),
    )
    matching, corr, planted, extra, scores = score_against_truth(found, learned, true, graph)
    assert matching == {"s_0": "a", "z_face_1": "b", "z_text_0": "c", "z_face_0": "d"}
    assert min(corr.values()) > 0.9
    status = {(e.source, e.target): e.status for e in planted}
    assert status == {("a", "b"): "directed", ("b", "c"): "reversed", ("a", "d"): "missing"}
    assert extra == [("c", "d", "undirected")]
    assert scores["skeleton_hits"] == 2 and scores["planted_edges"] == 3
    assert scores["skeleton_precision"] == pytest.approx(2 / 3)
    assert scores["directed_correct"] == 1
    assert scores["shd"] == 3  # reversed b–c, missing a–d, extra c–d
    # Two directed claims, one right; an undirected edge claims no direction.
    assert scores["directed_precision"] == pytest.approx(1 / 2)
    assert scores["directed_recall"] == pytest.approx(1 / 3)


def test_an_undirected_planted_edge_is_not_a_right_direction():
    # An undirected a — b was entered both ways and counted in directed recall.
    rng = np.random.default_rng(0)
    true = pd.DataFrame(rng.standard_normal((100, 2)), columns=["a", "b"])
    graph = np.array([[0, 0], [1, 0]])
    found = CausalGraph(nodes=("a", "b"), edges=(Edge("a", "b", "undirected"),))
    *_, scores = score_against_truth(found, true.copy(), true, graph)
    assert scores["directed_correct"] == 0 and scores["directed_recall"] == 0.0
    assert scores["skeleton_hits"] == 1


@pytest.mark.slow  # trains the CRL model (~15-60 s on 2 shared cores)
def test_realworld_command_end_to_end(tmp_path, capsys):
    pytest.importorskip("torch")
    from personax.cli.main import main

    out = tmp_path / "recipe"
    code = main(
        [
            "crl",
            "realworld",
            "--n",
            "400",
            "--epochs",
            "2",
            "--seed",
            "1",
            "--test",
            "fisherz",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "recipe.json").read_text())
    assert summary["scores"]["planted_edges"] == 10  # the athlete sample's planted graph
    assert len(summary["matching"]) == 12
    graph = json.loads((out / "discovery" / "graph.json").read_text())
    roots = [n for n in graph["nodes"] if n.startswith("s_")]
    assert len(roots) == 2
    for edge in graph["edges"]:
        assert edge["target"] not in roots and edge["type"] in (
            "directed",
            "undirected",
            "bidirected",
        )
    planted = pd.read_csv(out / "planted_edges.csv")
    assert set(planted["status"]) <= {"directed", "undirected", "reversed", "bidirected", "missing"}
    assert (out / "explain" / "labels.csv").exists()
    assert (out / "crl" / "latents.csv").exists()
    reference = summary["reference_on_true_latents"]
    assert reference["scores"]["planted_edges"] == 10
    assert reference["scores"]["mcc_matching"] == pytest.approx(1.0)
    assert (out / "reference" / "graph.json").exists()


@pytest.mark.parametrize(
    "options, fragment",
    [(["--test", "foo"], "unknown test 'foo'"), (["--alpha", "5"], "alpha must lie")],
)
def test_realworld_checks_test_and_alpha_before_training(
    tmp_path, capsys, monkeypatch, options, fragment
):
    # they failed only after the CRL model had trained
    import personax.crl.train
    import personax.data.sample
    from personax.cli.main import main

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the options should have been refused first")

    monkeypatch.setattr(personax.crl.train, "train_crl", must_not_run)
    monkeypatch.setattr(personax.data.sample, "make_sample", must_not_run)
    out = tmp_path / "recipe"
    code = main(["crl", "realworld", *options, "--out", str(out)])
    assert code == 2 and fragment in capsys.readouterr().err
    assert not out.exists()


def test_recipe_library_checks_test_before_training():
    from personax.discovery.recipe import run_realworld_recipe
    from personax.errors import BadInput

    with pytest.raises(BadInput, match="unknown test 'foo'"):
        run_realworld_recipe(pd.DataFrame(), None, "unused", test="foo")


def test_realworld_config_file_reaches_the_crl_run_and_bad_files_exit_2(
    tmp_path, capsys, monkeypatch
):
    import personax.crl.train
    import personax.data.sample
    from personax.cli.main import main

    seen = {}

    class Stop(Exception):
        pass

    def record(dataset, latent_dims, shared_dims, config, **_kwargs):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(personax.crl.train, "train_crl", record)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"shared_inference": "per-modality", "epochs": 7}))
    # main reports the stand-in's exception as an unexpected error; the config is what counts.
    main(["crl", "realworld", "--n", "200", "--config", str(config), "--epochs", "3",
          "--out", str(tmp_path / "run")])  # fmt: skip
    capsys.readouterr()
    assert seen["config"].shared_inference == "per-modality"
    assert seen["config"].epochs == 3  # --epochs overrides the file

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("a bad config file should have been refused first")

    monkeypatch.setattr(personax.data.sample, "make_sample", must_not_run)
    config.write_text(json.dumps({"shared_inference": "both"}))
    out = tmp_path / "refused"
    code = main(["crl", "realworld", "--config", str(config), "--out", str(out)])
    assert code == 2 and "shared_inference" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("n", "enough"), [(40, 106), (100, 106), (104, 106)])
def test_realworld_refuses_too_few_held_out_people_before_training(
    tmp_path, capsys, monkeypatch, n, enough
):
    # PC needs one held-out row per latent and four more; this failed after training
    import personax.crl.train
    from personax.cli.main import main
    from personax.crl.dataset import split_indices

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("too few held-out people should have been refused first")

    monkeypatch.setattr(personax.crl.train, "train_crl", must_not_run)
    out = tmp_path / "recipe"
    code = main(["crl", "realworld", "--n", str(n), "--seed", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"at least {enough} people" in err and "it needs 16" in err
    assert not out.exists()
    # the suggested size is the smallest from which on every size holds out enough (102 does,
    # but 104 holds out 15 again)
    assert len(split_indices(enough - 1, 0)["test"]) < 16
    assert all(len(split_indices(m, 0)["test"]) >= 16 for m in range(enough, enough + 500))
