"""personax demo / report: the main job's outputs and its bad-input handling."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .conftest import assert_bad_input, px


def test_demo_bad_kind_or_data_writes_nothing(tmp_path):
    out = tmp_path / "run"
    run = px("demo", "--kind", "alien", "--out", out)
    assert_bad_input(run, "--kind must be one of athlete, celebrity, got 'alien'")
    assert run.err.count("\n") == 1  # refused before the progress display is drawn
    assert_bad_input(px("demo", "--data", tmp_path / "absent.csv", "--out", out), "absent.csv")
    assert not out.exists()


def test_report_needs_a_run_folder(tmp_path):
    assert_bad_input(px("report", tmp_path / "absent"), "absent")
    (tmp_path / "plain").mkdir()
    assert_bad_input(px("report", tmp_path / "plain"), "plain", "run.json")


@pytest.mark.slow
def test_demo_quick_writes_the_contract_files(tmp_path):
    out = tmp_path / "demo"
    run = px("demo", "--quick", "--seed", 0, "--out", out)
    assert run.code == 0, run.err
    for name in ("report.html", "independence/results.csv", "crl/metrics.json",
                 "discovery/graph.json", "run.json"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "crl" / "metrics.json").read_text())
    assert metrics["split"] == "test" and {"mcc", "r2"} <= set(metrics)
    graph = json.loads((out / "discovery" / "graph.json").read_text())
    assert {"nodes", "edges"} <= set(graph)
    results = pd.read_csv(out / "independence" / "results.csv")
    assert {"trait", "attribute", "test", "p_value", "p_adjusted", "n"} <= set(results.columns)
    (out / "report.html").unlink()
    assert px("report", out).code == 0
    assert "<html" in (out / "report.html").read_text().lower()
