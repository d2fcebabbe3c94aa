"""`personax demo` end to end, step isolation, and the scoring against the planted truth."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from personax.pipeline import (
    DemoSettings,
    StepUnavailable,
    run_demo,
    score_level1,
)

TINY = DemoSettings(
    n=300, tabular_n=300, crl_epochs=3, crl_max_seconds=10.0, discovery_test="fisherz"
)
# The file each step must leave behind when its library is part of this build.
REQUIRED = {
    "data": (("personax.data.sample", "make_sample", "write_sample"), "data/sample.parquet"),
    "independence": (("personax.independence.battery", "run_battery"), "independence/results.csv"),
    "crl": (("personax.crl.train", "train_crl", "write_crl_run"), "crl/metrics.json"),
    "discovery": (("personax.discovery", "discover", "write_graph"), "discovery/graph.json"),
    "naming": (("personax.discovery.explain", "explain_latents"), "discovery/explain/labels.csv"),
}


def _available(module: str, *names: str) -> bool:
    """Whether this build has the library a step needs (the pipeline's own check)."""
    from personax.pipeline import _require

    try:
        _require(module, *names)
    except StepUnavailable:
        return False
    return True


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from personax.cli.main import main

    out = tmp_path_factory.mktemp("quick") / "demo"
    code = main(["demo", "--quick", "--out", str(out), "--seed", "0"])
    return code, out


def test_quick_demo_end_to_end(quick_run):
    code, out = quick_run
    manifest = json.loads((out / "run.json").read_text())
    steps = {s["name"]: s for s in manifest["steps"]}
    assert code == (1 if any(s["status"] == "failed" for s in steps.values()) else 0)
    assert not [s for s in steps.values() if s["status"] == "failed"], steps
    assert (out / "report.html").is_file()
    for step, (library, path) in REQUIRED.items():
        if _available(*library):
            assert steps[step]["status"] == "ok", steps[step]
            assert (out / path).is_file(), path
        else:
            assert steps[step]["status"] == "unavailable", steps[step]
            assert "in this build" in steps[step]["note"]
    assert manifest["parameters"]["seed"] == 0 and manifest["parameters"]["quick"] is True
    for key in ("personax", "python", "numpy", "torch"):
        assert manifest["versions"][key]
    assert all(s["seconds"] >= 0 for s in manifest["steps"])
    if steps["crl"]["status"] == "ok":
        metrics = json.loads((out / "crl" / "metrics.json").read_text())
        assert 0 <= metrics["mcc"] <= 1 and metrics["split"] == "test"
        # The scoring's latent matching is the one behind the reported MCC.
        matching = json.loads((out / "scoring" / "crl.json").read_text())
        assert matching["mcc"] == pytest.approx(metrics["mcc"], abs=1e-9)
        assert len(matching["matches"]) == 12  # athlete sample: 2 shared + 5 image + 5 trait
    truth = json.loads((out / "data" / "sample.parquet.truth.json").read_text())
    if steps["discovery"]["status"] == "ok":
        scored = json.loads((out / "scoring" / "discovery.json").read_text())
        assert scored["planted"] == sum(map(sum, truth["latent_graph"]))
    if steps["independence"]["status"] == "ok":
        level1 = json.loads((out / "scoring" / "level1.json").read_text())
        planted = {
            (d["trait"][-1], d["attribute"]) for d in truth["dependencies"] if d["dependent"]
        }
        assert {(p["trait"], p["attribute"]) for p in level1["planted"]} == planted


def test_report_rebuild_from_run_folder(quick_run, cli):
    _, out = quick_run
    before = (out / "report.html").read_text(encoding="utf-8")
    (out / "report.html").unlink()
    assert cli("report", str(out)) == 0
    after = (out / "report.html").read_text(encoding="utf-8")

    # The rebuilt report also lists the report step itself (at a glance, run details); the
    # analysis sections in between are the same bytes.
    def analysis(html: str) -> str:
        return html.split('id="restrictions"')[1].split('id="run"')[0]

    assert analysis(after) == analysis(before)


def test_bad_data_exits_2_and_writes_nothing(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("demo", "--data", str(tmp_path / "missing.csv"), "--out", str(out)) == 2
    no_traits = tmp_path / "no_traits.csv"
    pd.DataFrame({"id": ["a", "b"], "height": [1.0, 2.0]}).to_csv(no_traits, index=False)
    assert cli("demo", "--data", str(no_traits), "--out", str(out)) == 2
    out_of_range = tmp_path / "out_of_range.csv"
    pd.DataFrame({"id": ["a", "b"], "height": [1.0, 2.0], "final_o": [1.0, 7.0]}).to_csv(
        out_of_range, index=False
    )
    assert cli("demo", "--data", str(out_of_range), "--out", str(out)) == 2
    assert cli("demo", "--kind", "wizard", "--out", str(out)) == 2
    assert not out.exists()


def test_out_must_be_new_empty_or_a_previous_run(cli, tmp_path):
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)
    (mine / "data" / "precious.csv").write_text("id\n1\n")
    assert cli("demo", "--out", str(mine)) == 2
    assert (mine / "data" / "precious.csv").read_text() == "id\n1\n"
    afile = tmp_path / "file"
    afile.write_text("x")
    assert cli("demo", "--out", str(afile)) == 2


def test_a_user_folder_with_a_run_json_is_not_taken_for_a_run(cli, tmp_path):
    mine = tmp_path / "project"
    (mine / "data").mkdir(parents=True)
    (mine / "run.json").write_text("{}")
    (mine / "data" / "mine.csv").write_text("id\n1\n")
    assert cli("demo", "--quick", "--out", str(mine)) == 2
    assert (mine / "run.json").read_text() == "{}"
    assert (mine / "data" / "mine.csv").read_text() == "id\n1\n"


def test_an_interrupted_rerun_keeps_the_previous_run(tmp_path, monkeypatch):
    import personax.pipeline as pipeline

    if not _available("personax.data.sample", "make_sample", "write_sample"):
        pytest.skip("the embedded sample is not part of this build")
    run = tmp_path / "run"
    first = run_demo(run, settings=TINY, seed=1)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert first.report is not None and len(before) > 5

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_step_crl", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_demo(run, settings=TINY, seed=2)
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder left


def test_a_failing_step_is_reported_and_the_rest_survives(cli, tmp_path, monkeypatch):
    import personax.pipeline as pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure")

    if not _available("personax.data.sample", "make_sample", "write_sample"):
        pytest.skip("the embedded sample is not part of this build")
    monkeypatch.setattr(pipeline, "_step_crl", broken)
    monkeypatch.setattr(pipeline.DemoSettings, "for_mode", classmethod(lambda cls, quick: TINY))
    run = tmp_path / "run"
    assert cli("demo", "--out", str(run)) == 1
    steps = {s["name"]: s for s in json.loads((run / "run.json").read_text())["steps"]}
    assert steps["crl"]["status"] == "failed" and "planted failure" in steps["crl"]["note"]
    assert steps["data"]["status"] == "ok"
    assert steps["discovery"]["status"] == "skipped"
    assert steps["report"]["status"] == "ok"
    assert "planted failure" in (run / "report.html").read_text(encoding="utf-8")
    assert not (run / "crl").exists()
    if steps["independence"]["status"] == "ok":
        assert (run / "independence" / "results.csv").is_file()


def test_user_table_without_embeddings(tmp_path):
    """--data: no planted truth for Level I, CRL falls back to the tabular benchmark."""
    if not _available("personax.data.sample", "make_sample"):
        pytest.skip("the embedded sample is not part of this build")
    from personax.data.sample import make_sample

    table = make_sample("athlete", n=200, seed=3).table
    table = table.drop(columns=[c for c in table.columns if c.endswith("_emb")])
    path = tmp_path / "mine.csv"
    table.to_csv(path, index=False)
    result = run_demo(tmp_path / "run", data=path, settings=TINY)
    assert result.ok, result.steps
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["synthetic_sample"] is False and manifest["table"] == "data/table.parquet"
    # the sample size did not apply, so the manifest must not claim it (it said n: 300)
    assert manifest["parameters"]["settings"]["n"] is None
    assert result.step("naming").status == "skipped"
    if result.step("crl").status == "ok":
        assert "tabular synthetic benchmark" in result.step("crl").note
        assert (tmp_path / "run" / "crl" / "metrics.json").is_file()
    assert not (tmp_path / "run" / "scoring" / "level1.json").exists()
    html = result.report.read_text(encoding="utf-8")
    assert "user data" in html and "synthetic sample —" not in html
    # the report said "nothing is scored against planted truth" above CRL and discovery
    # scores against the benchmark's planted graph
    if result.step("crl").status == "ok":
        assert manifest["crl_on_benchmark"] is True
        assert "scored against that benchmark's planted latents and graph" in html


def test_user_table_with_zero_padded_ids_names_its_latents(tmp_path):
    """latents.csv's ids are read back as text: "00007" became 7 and the naming step failed."""
    if not _available("personax.data.sample", "make_sample"):
        pytest.skip("the embedded sample is not part of this build")
    from personax.data.sample import make_sample

    table = make_sample("athlete", n=300, seed=3).table
    table["id"] = [f"{i:05d}" for i in range(len(table))]
    table.loc[7, "id"] = "NA"  # a text id that a CSV reader would take for missing
    path = tmp_path / "mine.parquet"
    table.to_parquet(path)
    result = run_demo(tmp_path / "run", data=path, settings=TINY)
    assert result.step("crl").status == "ok", result.steps
    assert result.step("naming").status == "ok", result.step("naming").note
    html = result.report.read_text(encoding="utf-8")
    assert "is missing from the run folder" not in html  # no ground truth: no metrics.json


def test_score_level1_counts():
    results = pd.DataFrame(
        {
            "trait": ["final_o", "final_o", "final_c", "final_c", "chatgpt_o"],
            "attribute": ["league", "height", "league", "height", "league"],
            "test": ["kci"] * 5,
            "p_value": [0.001, 0.2, 0.01, 0.03, 0.001],
            "p_adjusted": [0.004, 0.2, 0.02, 0.04, 0.004],
        }
    )
    deps = pd.DataFrame(
        {
            "trait": ["final_o", "final_o", "final_c", "final_c"],
            "attribute": ["league", "height", "league", "height"],
            "dependent": [True, True, False, False],
        }
    )
    scored = score_level1(results, deps, alpha=0.05)["per_test"][0]
    assert (scored["true_positives"], scored["false_negatives"]) == (1, 1)
    assert (scored["false_positives"], scored["true_negatives"]) == (2, 0)
    assert scored["power"] == 0.5 and scored["false_positive_rate"] == 1.0
    assert scored["pairs"] == 4  # per-LLM trait rows are not scored


def test_step_unavailable_is_not_a_failure():
    from personax.pipeline import DemoResult, StepOutcome

    result = DemoResult(
        out_dir=None,
        steps=(StepOutcome("crl", "unavailable", 0.0), StepOutcome("data", "ok", 0.1)),
        report=None,
        manifest=None,
    )
    assert result.ok
    assert issubclass(StepUnavailable, Exception)
