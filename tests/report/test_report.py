"""The report is built only from the run folder, is self-contained, and escapes all text."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.errors import BadInput
from personax.report import build_report, render_report

SECTION_IDS = ("glance", "restrictions", "dataset", "level1", "level2", "discovery", "run")


def test_tiny_run_report_has_every_section(tiny_run):
    html = tiny_run.report.read_text(encoding="utf-8")
    for anchor in SECTION_IDS:
        assert f'id="{anchor}"' in html
    assert "synthetic sample" in html
    assert "non-commercial academic research only" in html
    assert "re-identify" in html and "profiling individuals" in html
    # Self-contained: no external resources, no scripts, figures inline.
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    images = re.findall(r'<img class="figure" src="([^"]+)"', html)
    assert images and all(src.startswith("data:image/") for src in images)


def test_report_numbers_come_from_the_run_files(tiny_run):
    run_dir = tiny_run.out_dir
    html = tiny_run.report.read_text(encoding="utf-8")
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["synthetic_sample"] is True
    metrics_path = run_dir / "crl" / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        assert f"{metrics['mcc']:.3f}" in html
    results_path = run_dir / "independence" / "results.csv"
    if results_path.is_file():
        results = pd.read_csv(results_path).dropna(subset=["p_value"])
        assert f">{len(results):,}<" in html  # the "pairs × tests run" figure


def test_rebuild_is_deterministic(tiny_run, tmp_path):
    first = render_report(tiny_run.out_dir)
    second = render_report(tiny_run.out_dir)
    assert first == second


def _hand_made_run(root, columns: dict, steps=()):
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir()
    pd.DataFrame(columns).to_parquet(root / "data" / "table.parquet")
    manifest = {
        "parameters": {"data": "<user table>", "seed": 3, "quick": False, "alpha": 0.05},
        "synthetic_sample": False,
        "table": "data/table.parquet",
        "versions": {"personax": "0.1.0", "python": "3.11"},
        "steps": list(steps),
    }
    (root / "run.json").write_text(json.dumps(manifest))
    return root


def test_text_is_escaped_and_missing_steps_are_honest(tmp_path):
    evil = "<script>alert(1)</script>"
    run = _hand_made_run(
        tmp_path / "run",
        {
            "id": ["a", "b", "c"],
            evil: [1.0, np.nan, 3.0],
            "chatgpt_o": [1, 2, 0],
            "gemini_o": [1, 3, 2],
            "final_o": [1.0, 2.5, 2.0],
        },
        steps=[
            {"name": "data", "status": "ok", "seconds": 0.1, "note": "table <b>x</b>"},
            {"name": "independence", "status": "unavailable", "seconds": 0.0, "note": "absent"},
            {"name": "crl", "status": "failed", "seconds": 1.0, "note": "RuntimeError: boom"},
        ],
    )
    html = build_report(run).read_text(encoding="utf-8")
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "table <b>x</b>" not in html
    assert "not available in this build" in html
    assert "RuntimeError: boom" in html
    assert "user data" in html and "synthetic sample —" not in html
    # One missing value out of three in the evil column: share 0.333.
    assert "0.333" in html


def test_agreement_uses_krippendorff_alpha(tmp_path):
    import krippendorff

    rng = np.random.default_rng(0)
    base = rng.integers(1, 4, 60)
    cols = {"id": [f"p{i}" for i in range(60)], "height": rng.normal(size=60)}
    for k, llm in enumerate(("chatgpt", "gemini", "llama")):
        noisy = np.where(rng.random(60) < 0.2 * k, rng.integers(0, 4, 60), base)
        cols[f"{llm}_o"] = noisy
    cols["final_o"] = base.astype(float)
    run = _hand_made_run(tmp_path / "run", cols)
    html = build_report(run).read_text(encoding="utf-8")
    ratings = np.array([cols[f"{m}_o"] for m in ("chatgpt", "gemini", "llama")], dtype=float)
    ratings[ratings == 0] = np.nan
    expected = krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
    assert f"{expected:.3f}" in html


def test_not_a_run_folder(tmp_path):
    with pytest.raises(BadInput, match="run.json"):
        render_report(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        render_report(tmp_path)


def test_cli_report_exit_codes(cli, tmp_path, tiny_run):
    assert cli("report", str(tmp_path / "absent")) == 2
    assert cli("report", str(tmp_path)) == 2
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.out_dir, copy)
    target = copy / "report.html"
    target.unlink()
    assert cli("report", str(copy)) == 0
    assert target.is_file() and target.stat().st_size > 10_000
    results = copy / "independence" / "results.csv"
    if results.is_file():  # a results table without p_value: exit 2 naming file and column
        pd.read_csv(results).drop(columns="p_value").to_csv(results, index=False)
        before = target.read_bytes()
        assert cli("report", str(copy)) == 2
        assert target.read_bytes() == before


def test_cli_report_onto_a_folder_exits_2(cli, tmp_path, tiny_run, capsys):
    # it used to render the whole report, then fail with exit 1 at the final rename
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.out_dir, copy)
    target = copy / "report.html"
    target.unlink()
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert cli("report", str(copy)) == 2
    assert "report.html is a folder" in capsys.readouterr().err
    assert (target / "keep.txt").read_text() == "mine"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_every_cell_is_escaped(text, number):
    """No text reaches the page unescaped, whatever the column names and values hold."""
    from personax.report.html import table

    html = table([text, "value"], [[text, number]], numeric=[False, True])
    body = re.sub(r'</?(div|table|thead|tbody|tr|th|td)( class="[a-z-]+")?>', "", html)
    assert "<" not in body and ">" not in body


def test_report_refuses_a_run_json_that_is_not_a_demo_manifest(tmp_path, capsys):
    from personax.cli.main import main

    folder = tmp_path / "independence"
    folder.mkdir()
    (folder / "run.json").write_text('{"tests": ["kci"], "alpha": 0.05}')
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and "Traceback" not in err
    assert not (folder / "report.html").exists()


@pytest.mark.parametrize(
    "rel, content, fragment",
    [
        ("discovery/graph.json", '{"nodes": ["a", ', "not valid JSON"),
        ("crl/metrics.json", "nope", "not valid JSON"),
        ("discovery/graph.json", "[1, 2]", "expected a JSON object, found a list"),
        ("discovery/graph.json", '{"nodes": [], "edges": [1]}', "not in the shape"),
        ("crl/metrics.json", '{"mcc": 0.5, "r2": 0.4, "graph": {"shd": "x"}, "split": []}', None),
        # a report of "metric a: 1" was built from these
        ("crl/metrics.json", '{"a": 1}', "holds no 'mcc' score"),
        ("crl/metrics.json", '{"mcc": "abc", "r2": [1]}', "the non-number 'abc' as its 'mcc'"),
        ("crl/metrics.json", '{"mcc": 0.9, "r2": true}', "the non-number True as its 'r2'"),
        ("run.json", '{"steps": [1]}', "step 1 of 'steps' is not an object"),
        ("run.json", '{"steps": [], "parameters": 3}', "'parameters' is not an object"),
    ],
)
def test_damaged_step_files_exit_2_naming_them(
    cli, tmp_path, tiny_run, capsys, rel, content, fragment
):
    # they crashed with exit 1 (JSONDecodeError, AttributeError)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.out_dir, copy)
    (copy / rel).parent.mkdir(parents=True, exist_ok=True)
    (copy / rel).write_text(content)
    before = (copy / "report.html").read_bytes()
    code = cli("report", str(copy))
    err = capsys.readouterr().err
    if fragment is None:  # odd but harmless values still give a report
        assert code == 0
        return
    assert code == 2 and str(copy / rel) in err and fragment in err, err
    assert "Traceback" not in err
    assert (copy / "report.html").read_bytes() == before


def test_the_latents_scatter_is_embedded_and_the_report_step_is_explained(tiny_run):
    html = tiny_run.report.read_text(encoding="utf-8")
    scatter = tiny_run.out_dir / "crl" / "latents_vs_truth.png"
    assert scatter.is_file()  # the sample has planted latents, so the CRL step draws it
    assert "Learned latents against the planted ones" in html
    # The page cannot time itself: it says where that time is, and run.json has it.
    assert "Not listed: the report step that built this page" in html
    steps = json.loads((tiny_run.out_dir / "run.json").read_text())["steps"]
    assert [s["name"] for s in steps][-1] == "report"


@pytest.mark.parametrize(
    ("step", "removed", "shown"),
    [
        ("crl", "crl", "crl/latents.csv is missing"),
        ("independence", "independence/results.csv", "independence/results.csv is missing"),
        ("discovery", "discovery/graph.json", "discovery/graph.json is missing"),
    ],
)
def test_a_step_that_ran_but_whose_files_are_gone_says_so(tiny_run, tmp_path, step, removed, shown):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.out_dir, run)
    manifest = json.loads((run / "run.json").read_text())
    assert any(s["name"] == step and s["status"] == "ok" for s in manifest["steps"])
    target = run / removed
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    html = render_report(run)
    assert shown in html
    assert shown not in render_report(tiny_run.out_dir)


def test_rebuilding_the_demo_report_changes_only_the_total_time(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.out_dir, run)
    first = (run / "report.html").read_text(encoding="utf-8")
    rebuilt = build_report(run).read_text(encoding="utf-8")
    # run.json's total was rewritten after the report step; every other byte is the same
    total = re.compile(r"Total wall time: [0-9.,]+ s\.")
    assert total.sub("", first) == total.sub("", rebuilt)
    assert ">report<" not in rebuilt


def test_a_crl_run_without_ground_truth_is_not_reported_as_missing_files(tiny_run, tmp_path):
    # data without planted latents writes no metrics.json; that is not a deleted file
    run = tmp_path / "run"
    shutil.copytree(tiny_run.out_dir, run)
    (run / "crl" / "metrics.json").unlink()
    assert "is missing from the run folder" not in render_report(run)


def test_the_learned_graph_caption_gives_the_cut_it_applied(tiny_run):
    # it said "|weight| ≥ 0.05" for a cut of 5 % of the strongest edge (0.0134 there)
    graph = json.loads((tiny_run.out_dir / "crl" / "graph.json").read_text())
    html = tiny_run.report.read_text(encoding="utf-8")
    expected = f"|weight| ≥ {graph['absolute_cut']:.4g} ({graph['threshold']:.0%} of the strongest)"
    assert expected in html


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda m: m["parameters"].update(alpha="abc"),
            "'parameters.alpha' is 'abc', not a number",
        ),
        (lambda m: m.update(total_seconds="abc"), "'total_seconds' is 'abc', not a number"),
        (lambda m: m["steps"][0].update(status=["x"]), "step 1's 'status' is ['x'], not text"),
        (lambda m: m.update(table=5), "'table' is 5, not a file name"),
    ],
)
def test_a_run_json_field_of_the_wrong_type_exits_2(
    cli, tmp_path, tiny_run, capsys, change, fragment
):
    # they crashed with exit 1 (ValueError, TypeError)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.out_dir, copy)
    manifest = json.loads((copy / "run.json").read_text())
    change(manifest)
    (copy / "run.json").write_text(json.dumps(manifest))
    assert cli("report", str(copy)) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("rel", "content"),
    [("discovery/explain/labels.csv", "x,y\n1,2\n"), ("discovery/explain/labels.csv", "")],
)
def test_a_damaged_csv_of_the_run_exits_2(cli, tmp_path, tiny_run, capsys, rel, content):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.out_dir, copy)
    (copy / rel).write_text(content)
    before = (copy / "report.html").read_bytes()
    assert cli("report", str(copy)) == 2
    err = capsys.readouterr().err
    assert "not in the shape personax writes" in err and "Traceback" not in err
    assert (copy / "report.html").read_bytes() == before
