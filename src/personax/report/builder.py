"""Build ``report.html`` from the files of a run folder — and only from them.

The run folder layout (written by :mod:`personax.pipeline`):

``run.json`` (manifest: parameters, seeds, versions, steps with status and timings),
``data/`` (the table and, for the synthetic sample, ``truth.json``),
``independence/`` (``results.csv``, heatmaps), ``crl/`` (``metrics.json``, ``graph.json``,
``training_curves.png``, ``config.json``), ``discovery/`` (``graph.json``, drawings, latent
naming), ``scoring/`` (the sample's planted truth against what each step found).

A missing step leaves its section with an honest "not available" line; nothing is invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from personax import TRAIT_NAMES, TRAITS, __version__
from personax.atomic import record_in_output, write_text
from personax.errors import BadInput
from personax.report import figures
from personax.report.html import (
    esc,
    figure,
    figure_file,
    first_existing,
    fmt,
    kpis,
    para,
    section,
    table,
)

SECTIONS = (
    ("glance", "At a glance"),
    ("restrictions", "Usage restrictions"),
    ("dataset", "The dataset"),
    ("level1", "Level I: independence tests"),
    ("level2", "Level II: causal representation learning"),
    ("discovery", "Causal discovery and latent naming"),
    ("run", "Parameters, seeds and versions"),
)
STATUS_CLASS = {
    "ok": "ok",
    "failed": "failed",
    "unavailable": "unavailable",
    "skipped": "unavailable",
}


def _read_json(path: Path) -> dict | None:
    """A step's JSON file as an object; None when absent; BadInput naming a damaged one."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not valid JSON (not UTF-8 text).") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object, found a {type(data).__name__}.")
    return data


@contextmanager
def _damaged(path: Path | str) -> Iterator[None]:
    """Turn a step file of the wrong shape (a missing key, a list where an object belongs)
    into BadInput naming it: a report must not crash on a file damaged after the run."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise BadInput(
            f"{path}: not in the shape personax writes ({type(exc).__name__}: {exc}); "
            "rerun the step that writes it, or remove the file."
        ) from None


@contextmanager
def _step_file(path: Path) -> Iterator[dict | None]:
    """The JSON object of ``path`` (None when absent), its use guarded by :func:`_damaged`."""
    data = _read_json(path)
    with _damaged(path):
        yield data


def _crl_metrics(path: Path) -> dict | None:
    """``crl/metrics.json`` (None when absent). Its two scores are what the report shows
    first, so a file without them, or with text in their place, is damaged (BadInput), not
    a table of whatever it holds."""
    metrics = _read_json(path)
    if metrics is None:
        return None
    for key in ("mcc", "r2"):
        value = metrics.get(key, "missing")
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            found = "no" if value == "missing" else f"the non-number {value!r} as its"
            raise BadInput(
                f"{path}: holds {found} '{key}' score, not in the shape personax writes; "
                "rerun the step that writes it, or remove the file."
            )
    return metrics


def _analysis_steps(manifest: dict) -> list[dict]:
    """The steps of run.json but the report's own: the page cannot hold the time it takes to
    build itself, and leaving it out always makes `personax report` rebuild the demo's page."""
    return [s for s in manifest.get("steps", []) if s.get("name") != "report"]


def _step(manifest: dict, name: str) -> dict:
    for step in manifest.get("steps", []):
        if step.get("name") == name:
            return step
    return {"name": name, "status": "unavailable", "note": "this step is not recorded in run.json"}


def _status_line(step: dict, output: Path | None = None) -> str:
    """The step's status from run.json. ``output`` is the file a step that ran must have left:
    when it is gone, the section says so instead of showing a bare "ran" with nothing below."""
    status = step.get("status", "unavailable")
    note = step.get("note") or ""
    label = {
        "ok": "ran",
        "failed": "failed",
        "unavailable": "not available in this build",
        "skipped": "skipped",
    }.get(status, status)
    text = f"Step '{step.get('name')}': {label}" + (f" — {note}" if note else "") + "."
    line = para(text, STATUS_CLASS.get(status, ""))
    if status == "ok" and output is not None and not output.is_file():
        where = f"{output.parent.name}/{output.name}"
        line += para(
            f"run.json records this step as run, but {where} is missing from the run folder "
            "(moved or deleted since); rerun the step to see its results here.",
            "failed",
        )
    return line


def _step_ran(step: dict) -> bool:
    return step.get("status") == "ok"


# ---------------------------------------------------------------------------------------------
# Header, restrictions


def _header(manifest: dict) -> str:
    params = manifest.get("parameters", {})
    synthetic = bool(manifest.get("synthetic_sample"))
    badge = (
        '<span class="badge synthetic">synthetic sample — describes no real person</span>'
        if synthetic
        else '<span class="badge real">user data</span>'
    )
    source = (
        f"embedded synthetic {params.get('kind', '')} sample"
        if synthetic
        else f"table {params.get('data', '')}"
    )
    subtitle = (
        f"Run of personax {manifest.get('versions', {}).get('personax', __version__)} on the "
        f"{source}; seed {params.get('seed', '')}"
        + ("; quick mode" if params.get("quick") else "")
        + "."
    )
    toc = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in SECTIONS)
    steps = _analysis_steps(manifest)
    failed = [s["name"] for s in steps if s.get("status") == "failed"]
    missing = [s["name"] for s in steps if s.get("status") in ("unavailable", "skipped")]
    summary = ""
    if failed:
        summary += para(f"Failed steps: {', '.join(failed)} (see their sections).", "failed")
    if missing:
        summary += para(f"Steps not run: {', '.join(missing)} (see their sections).", "unavailable")
    return (
        f"<h1>PersonaX analysis report {badge}</h1>"
        f'<p class="subtitle">{esc(subtitle)}</p>{summary}<nav class="toc">{toc}</nav>'
    )


def _restrictions(manifest: dict) -> str:
    synthetic = bool(manifest.get("synthetic_sample"))
    sample_note = (
        "<p><strong>This run used the embedded synthetic sample.</strong> Its people, traits, "
        "faces and texts are generated by personax from a planted model; they describe no "
        "real person. Its dependencies and latent graph are known, so this report scores "
        "each step against them.</p>"
        if synthetic
        else "<p>This run used a user-supplied table; no ground truth is known for it, so its "
        "results are not scored against planted truth."
        + (
            " The table has no face and text embeddings, so the CRL and discovery steps ran on "
            "the tabular synthetic benchmark instead, and those two are scored against that "
            "benchmark's planted latents and graph (its rows, not this table's people).</p>"
            if manifest.get("crl_on_benchmark")
            else "</p>"
        )
    )
    inner = (
        "<p>PersonaX datasets hold <strong>LLM-inferred</strong> behaviour-trait labels of public "
        "figures. They are for <strong>non-commercial academic research only</strong>. Do "
        "<strong>not</strong> use them for high-stakes decisions (hiring, lending, admission, "
        "law enforcement, health), for <strong>profiling individuals</strong>, or to "
        "<strong>re-identify</strong> anyone. The labels are model outputs, not validated "
        "psychological assessments, and were never checked against human ratings.</p>" + sample_note
    )
    return section("restrictions", "Usage restrictions", inner, "restrictions")


RESULTS_COLUMNS = ("trait", "attribute", "test", "p_value", "p_adjusted")


def _read_results(path: Path) -> pd.DataFrame:
    """A run's Level I ``results.csv``, refused with the missing column named."""
    try:
        results = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not a readable results table ({type(exc).__name__}).") from None
    missing = [c for c in RESULTS_COLUMNS if c not in results.columns]
    if missing:
        raise BadInput(f"{path}: the results table lacks the column(s) {', '.join(missing)}.")
    return results


def _glance(run_dir: Path, manifest: dict) -> str:
    """The headline numbers of every step, each read from that step's files."""
    items: list[tuple[str, Any]] = []
    table_rel = manifest.get("table")
    results_path = run_dir / "independence" / "results.csv"
    if results_path.is_file():
        results = _read_results(results_path).dropna(subset=["p_value"])
        alpha = float(manifest.get("parameters", {}).get("alpha", 0.05))
        items.append(
            (
                "Level I: significant pairs×tests (BH)",
                f"{int((results['p_adjusted'] < alpha).sum())} / {len(results)}",
            )
        )
    with _step_file(run_dir / "scoring" / "level1.json") as level1:
        if level1:
            for row in level1.get("per_test", []):
                if row["test"] == "kci":
                    items.append(("KCI power vs planted truth", row["power"]))
                    items.append(("KCI false-positive rate", row["false_positive_rate"]))
    metrics = _crl_metrics(run_dir / "crl" / "metrics.json")
    with _damaged(run_dir / "crl" / "metrics.json"):
        if metrics:
            items.append(("CRL held-out MCC", metrics["mcc"]))
            items.append(("CRL held-out R²", metrics.get("r2")))
    with _step_file(run_dir / "discovery" / "graph.json") as graph:
        if graph:
            items.append(("discovered latent edges", len(graph.get("edges", []))))
    with _step_file(run_dir / "scoring" / "discovery.json") as recovered:
        if recovered:
            items.append(
                (
                    "planted latent edges found",
                    f"{recovered['adjacencies_found']} / {recovered['planted']}",
                )
            )
    steps = _analysis_steps(manifest)
    rows = [
        [
            s.get("name"),
            {"ok": "ran", "unavailable": "not available in this build"}.get(
                s.get("status"), s.get("status")
            ),
            s.get("seconds"),
        ]
        for s in steps
    ]
    inner = kpis(items) if items else para("No step produced results.", "unavailable")
    inner += table(
        ["step", "status", "seconds"],
        rows,
        numeric=[False, False, True],
        row_classes=[
            STATUS_CLASS.get(s.get("status"), "") if s.get("status") != "ok" else "" for s in steps
        ],
    )
    if table_rel:
        inner += para(
            f"Run folder files: {table_rel}, independence/, crl/, discovery/, scoring/, run.json.",
            "note",
        )
    return section("glance", "At a glance", inner)


# ---------------------------------------------------------------------------------------------
# Dataset


def _load_table(run_dir: Path, manifest: dict) -> pd.DataFrame | None:
    rel = manifest.get("table")
    if not rel:
        return None
    path = run_dir / rel
    if not path.exists():
        return None
    from personax.data import read_table

    return read_table(path)


def _agreement(df: pd.DataFrame, llms: tuple[str, ...]) -> list[list[Any]]:
    """Inter-LLM agreement per trait; answers of 0 (insufficient information) count as missing."""
    from personax.traits.agreement import (
        exact_agreement,
        icc_agreement,
        krippendorff_alpha_ordinal,
    )

    rows = []
    for t in TRAITS:
        cols = [f"{llm}_{t}" for llm in llms if f"{llm}_{t}" in df.columns]
        if len(cols) < 2:
            continue
        scores = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        ratings = np.where(scores == 0, np.nan, scores)  # people × LLMs
        rows.append(
            [
                TRAIT_NAMES[t],
                krippendorff_alpha_ordinal(ratings, levels=(1, 2, 3)),
                icc_agreement(ratings),
                exact_agreement(ratings),
                float(np.mean(scores == 0)),
            ]
        )
    return rows


def _dataset(run_dir: Path, manifest: dict) -> str:
    step = _step(manifest, "data")
    df = _load_table(run_dir, manifest)
    if df is None:
        return section("dataset", "The dataset", _status_line(step))
    from personax.data import column_groups

    groups = column_groups(df)
    inner = kpis(
        [
            ("people (rows)", len(df)),
            ("attributes", len(groups.attributes)),
            ("LLMs", len(groups.llms)),
            ("embedding columns", len(groups.embeddings)),
        ]
    )
    inner += para(
        f"Table: {manifest.get('table')}. LLMs: {', '.join(groups.llms) or 'none'}. "
        f"Embeddings: {', '.join(groups.embeddings) or 'none'}."
    )
    rows = []
    for col in groups.attributes:
        s = df[col]
        kind = "numeric" if pd.api.types.is_numeric_dtype(s) else "categorical"
        rows.append([col, kind, int(s.nunique(dropna=True)), float(s.isna().mean())])
    for col in groups.final_traits:
        s = df[col]
        rows.append([col, "aggregated trait", int(s.nunique(dropna=True)), float(s.isna().mean())])
    inner += "<h3>Attributes and missingness</h3>"
    inner += table(
        ["column", "kind", "distinct values", "missing share"],
        rows,
        numeric=[False, False, True, True],
    )
    if groups.llm_traits:
        counts: dict[str, dict[str, list[int]]] = {}
        for llm in groups.llms:
            counts[llm] = {}
            for t in TRAITS:
                col = f"{llm}_{t}"
                if col in df.columns:
                    values = pd.to_numeric(df[col], errors="coerce")
                    counts[llm][t] = [int((values == k).sum()) for k in range(4)]
        counts = {k: v for k, v in counts.items() if v}
        if counts:
            inner += "<h3>Trait scores per LLM</h3>"
            inner += figure(
                figures.trait_distributions(counts),
                "image/svg+xml",
                "Distribution of trait scores per LLM",
                "Share of people given each score by each LLM; 0 = insufficient information.",
            )
        agree_rows = _agreement(df, groups.llms)
        if agree_rows:
            inner += "<h3>Inter-LLM agreement</h3>"
            inner += para(
                "Krippendorff's alpha (ordinal; 1 = perfect agreement, 0 = chance level) and "
                "ICC(2,1) (absolute agreement, people rated by every LLM) across the LLMs; "
                "exact agreement = share of people on whom all LLMs that answered gave the same "
                "level. Answers of 0 (insufficient information) count as missing. The paper "
                "reports no agreement statistic."
            )
            inner += table(
                [
                    "trait",
                    "Krippendorff's alpha",
                    "ICC(2,1)",
                    "exact agreement",
                    "share of 0 answers",
                ],
                agree_rows,
                numeric=[False, True, True, True, True],
            )
    return section("dataset", "The dataset", inner)


# ---------------------------------------------------------------------------------------------
# Level I


def _effect_column(results: pd.DataFrame) -> str | None:
    for name in ("effect_size", "effect", "dependence"):
        if name in results.columns:
            return name
    return None


def _level1(run_dir: Path, manifest: dict) -> str:
    step = _step(manifest, "independence")
    folder = run_dir / "independence"
    results_path = folder / "results.csv"
    if not results_path.is_file():
        return section("level1", "Level I: independence tests", _status_line(step, results_path))
    results = _read_results(results_path)
    alpha = float(manifest.get("parameters", {}).get("alpha", 0.05))
    tested = results.dropna(subset=["p_value"])
    sig = tested["p_adjusted"] < alpha
    inner = para(
        "Each trait against each attribute, five tests; rows with a missing value in either "
        f"column are dropped per pair. Significant: Benjamini–Hochberg adjusted p < {alpha} "
        "within each test (the paper applied no correction)."
    )
    inner += kpis(
        [
            ("pairs × tests run", len(tested)),
            ("significant after BH", int(sig.sum())),
            ("tests", tested["test"].nunique()),
        ]
    )
    with _step_file(run_dir / "scoring" / "level1.json") as scoring:
        if scoring:
            inner += "<h3>Against the planted truth</h3>"
            planted = ", ".join(
                f"{p['trait']}–{p['attribute']}" for p in scoring.get("planted", [])
            )
            inner += para(
                f"The sample plants {len(scoring.get('planted', []))} dependent trait–attribute "
                f"pairs ({planted or 'none'}); every other pair is independent by construction. "
                "Power = share of planted pairs found; false-positive rate = share of "
                "independent pairs declared dependent (BH-adjusted p < alpha)."
            )
            inner += table(
                [
                    "test",
                    "pairs",
                    "true pos.",
                    "false neg.",
                    "false pos.",
                    "true neg.",
                    "power",
                    "false-positive rate",
                ],
                [
                    [
                        r["test"],
                        r["pairs"],
                        r["true_positives"],
                        r["false_negatives"],
                        r["false_positives"],
                        r["true_negatives"],
                        r["power"],
                        r["false_positive_rate"],
                    ]
                    for r in scoring.get("per_test", [])
                ],
                numeric=[False, True, True, True, True, True, True, True],
            )
    inner += "<h3>Heatmaps</h3>"
    from personax.independence.output import TEST_TITLES

    # Many attributes make wide heatmaps: give each the full width.
    layout = "single" if tested["attribute"].nunique() > 12 else "wide"
    figs = []
    for test in tested["test"].drop_duplicates():
        path = first_existing(folder, (f"heatmap_{test}.svg", f"heatmap_{test}.png"))
        if path is not None:
            figs.append(
                figure_file(
                    path,
                    f"Heatmap of {test} results",
                    f"{TEST_TITLES.get(test, test)}: -log10 p per trait × attribute; "
                    "* = BH-significant; grey = not tested.",
                )
            )
    inner += (
        f'<div class="grid {layout}">{"".join(figs)}</div>'
        if figs
        else para("The Level I step wrote no heatmap files.", "unavailable")
    )
    effect = _effect_column(results)
    inner += "<h3>Strongest dependencies</h3>" + _strongest(tested, effect, alpha)
    return section("level1", "Level I: independence tests", _status_line(step) + inner)


def _strongest(tested: pd.DataFrame, effect: str | None, alpha: float, top: int = 15) -> str:
    """One row per trait–attribute pair: BH-adjusted p of every test, how many tests find it,
    and the kernel-alignment effect size (KCI's, else HSIC's); strongest pairs first."""
    tests = list(tested["test"].drop_duplicates())
    wide = tested.pivot_table(index=["trait", "attribute"], columns="test", values="p_adjusted")
    wide = wide.reindex(columns=tests)
    n = tested.groupby(["trait", "attribute"])["n"].max()
    found = (wide < alpha).sum(axis=1)
    size = pd.Series(np.nan, index=wide.index)
    source = ""
    if effect:
        for test in ("kci", "hsic", *tests):
            values = tested[tested["test"] == test].set_index(["trait", "attribute"])[effect]
            if values.notna().any():
                size = values.reindex(wide.index)
                source = test
                break
    frame = pd.DataFrame(
        {"found": found, "best": wide.min(axis=1), "effect": size, "n": n.reindex(wide.index)}
    )
    frame = frame.sort_values(["found", "best", "effect"], ascending=[False, True, False])
    frame = frame.head(top)
    headers = ["trait", "attribute", "tests significant"]
    headers += [f"p (BH) {t}" for t in tests]
    headers += [f"effect size ({source})"] if source else []
    headers += ["n"]
    rows = []
    for (trait, attribute), r in frame.iterrows():
        row = [
            trait,
            attribute,
            f"{int(r['found'])} of {int(wide.loc[(trait, attribute)].notna().sum())}",
        ]
        row += [_py(wide.loc[(trait, attribute), t]) for t in tests]
        row += [_py(r["effect"])] if source else []
        row += [int(r["n"])]
        rows.append(row)
    html_table = table(
        headers,
        rows,
        numeric=[False, False, True] + [True] * (len(headers) - 3),
        row_classes=["sig" if r["found"] > 0 else "" for _, r in frame.iterrows()],
    )
    note = (
        "Pairs ordered by how many tests find them (BH-adjusted p < alpha), then by the "
        "smallest adjusted p. "
        + (
            f"Effect size: kernel alignment (normalised HSIC, 0–1) from {source.upper()}; "
            "results.csv also holds Cramér's V for chi-square and G-square. "
            if source
            else "The Level I results carry no effect-size column. "
        )
        + "A dash: the test did not run on that pair (chi-square and G-square need a discrete "
        "attribute)."
    )
    return html_table + para(note, "note")


def _py(value: Any) -> Any:
    """numpy scalars to Python scalars (for formatting)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


# ---------------------------------------------------------------------------------------------
# Level II


def _graph_edges(data: dict) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Read either graph.json shape: edge list or a named adjacency matrix."""
    if "edges" in data:
        nodes = [str(n) for n in data.get("nodes", [])]
        edges = [
            (str(e["source"]), str(e["target"]), str(e.get("type", "directed")))
            for e in data["edges"]
        ]
        return nodes, edges
    names = [str(n) for n in data.get("names", data.get("latents", []))]
    matrix = np.asarray(data.get("adjacency", data.get("matrix", [])), dtype=float)
    edges = []
    if matrix.size:
        # INTERFACES convention: entry [i, j] = 1 when latent j causes latent i.
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if i != j and matrix[i, j] != 0:
                    edges.append((names[j], names[i], "directed"))
    return names, edges


def _level2(run_dir: Path, manifest: dict) -> str:
    step = _step(manifest, "crl")
    folder = run_dir / "crl"
    metrics = _crl_metrics(folder / "metrics.json")
    if metrics is None and not folder.is_dir():
        return section(
            "level2",
            "Level II: causal representation learning",
            _status_line(step, folder / "latents.csv"),
        )
    # latents.csv, not metrics.json: a run on data without ground truth writes no metrics.
    inner = _status_line(step, folder / "latents.csv")
    source = step.get("input") or manifest.get("crl_input")
    if source:
        inner += para(f"Input: {source}.")
    with _damaged(folder / "metrics.json"):
        if metrics:
            scalar = [(k, v) for k, v in sorted(metrics.items()) if isinstance(v, (int, float))]
            mcc, r2 = metrics.get("mcc"), metrics.get("r2")
            if mcc is not None or r2 is not None:
                inner += kpis(
                    [("MCC (held-out)", mcc), ("R² (held-out)", r2)]
                    + ([("split", metrics["split"])] if "split" in metrics else [])
                )
                inner += para(
                    "MCC: mean absolute correlation between true and learned latents after "
                    "Hungarian matching; R²: kernel ridge regression from learned to true latents. "
                    "Both scored on the held-out test split; the model was chosen on validation. "
                    "Paper (variant MNIST): MCC 0.92, R² 0.96."
                )
            inner += table(["metric", "value"], scalar, numeric=[False, True])
            learned_graph = metrics.get("graph")
            if isinstance(learned_graph, dict):
                inner += para(
                    "The learned adjacency against the planted latent graph (latents paired by the "
                    "MCC matching):"
                )
                inner += table(
                    ["graph score", "value"],
                    [
                        [k.replace("_", " "), v]
                        for k, v in sorted(learned_graph.items())
                        if isinstance(v, (int, float))
                    ],
                    numeric=[False, True],
                )
    curves = first_existing(folder, ("training_curves.svg", "training_curves.png"))
    figs = []
    if curves is not None:
        figs.append(figure_file(curves, "Training curves", "Training and validation losses."))
    scatter = first_existing(folder, ("latents_vs_truth.svg", "latents_vs_truth.png"))
    if scatter is not None:
        figs.append(
            figure_file(
                scatter,
                "Learned latents against the planted ones",
                "Each planted latent (test split) against the learned latent the MCC matching "
                "pairs with it: a straight band is a recovered latent, a fold or a cloud is not.",
            )
        )
    with _step_file(folder / "graph.json") as graph:
        # A β-VAE / MCL run's graph.json lists no edges by construction: nothing to draw.
        if graph and graph.get("learned", True):
            nodes, edges = _graph_edges(graph)
            # "threshold" is a fraction of the strongest edge; "absolute_cut" is the weight.
            threshold, cut = graph.get("threshold"), graph.get("absolute_cut")
            if cut is not None and threshold is not None:
                kept = (
                    f" with |weight| ≥ {float(cut):.4g} ({float(threshold):.0%} of the strongest)"
                )
            elif threshold is not None:
                kept = f" with |weight| ≥ {float(threshold):.0%} of the strongest edge's"
            else:
                kept = ""
            if nodes:
                figs.append(
                    figure(
                        figures.graph_svg(nodes, edges, "Learned latent graph (CRL adjacency)"),
                        "image/svg+xml",
                        "Learned latent graph",
                        f"Learned adjacency over the latents: {len(edges)} edges{kept}"
                        "; causal order = index order (shared latents first).",
                    )
                )
    if figs:
        inner += f'<div class="grid">{"".join(figs)}</div>'
    with _step_file(run_dir / "scoring" / "crl.json") as scoring:
        if scoring and scoring.get("matches"):
            inner += "<h3>Learned latents matched to the planted ones</h3>"
            inner += table(
                ["planted latent", "learned latent", "|correlation| (test split)"],
                [[m["true"], m["learned"], m["abs_corr"]] for m in scoring["matches"]],
                numeric=[False, False, True],
            )
    with _step_file(folder / "config.json") as config:
        if config:
            rows = _flatten(config)
            inner += (
                f"<details><summary>Training configuration ({len(rows)} settings, "
                "crl/config.json)</summary>"
                + table(["parameter", "value"], rows, numeric=[False, False])
                + "</details>"
            )
    return section("level2", "Level II: causal representation learning", inner)


def _flatten(obj: Any, prefix: str = "") -> list[list[Any]]:
    rows: list[list[Any]] = []
    if isinstance(obj, dict):
        for k in sorted(obj):
            rows += _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and len(obj) > 12:
        rows.append([prefix, f"[{len(obj)} values]"])
    else:
        rows.append([prefix, obj if not isinstance(obj, list) else ", ".join(map(str, obj))])
    return rows


# ---------------------------------------------------------------------------------------------
# Discovery


def _discovery(run_dir: Path, manifest: dict) -> str:
    step = _step(manifest, "discovery")
    naming_step = _step(manifest, "naming")
    folder = run_dir / "discovery"
    inner = _status_line(step, folder / "graph.json")
    with _step_file(folder / "graph.json") as graph:
        if graph:
            nodes, edges = _graph_edges(graph)
            inner += para(
                "PC on the learned latents of the held-out people, with background knowledge: "
                "nothing points into the shared latents. "
                f"{len(nodes)} nodes, {len(edges)} edges."
            )
            drawing = first_existing(folder, ("graph.svg", "graph.png"))
            if drawing is not None:
                inner += figure_file(
                    drawing,
                    "Causal graph over the learned latents",
                    "Discovered graph (graph.svg).",
                )
            notes = [str(n) for n in graph.get("notes", [])]
            if notes:
                inner += para(notes[0], "note")
            inner += (
                f"<details><summary>Edge list ({len(edges)}) and PC's notes ({len(notes[1:])})"
                "</summary>"
                + "".join(para(n, "note") for n in notes[1:])
                + table(
                    ["source", "target", "type"],
                    [list(e) for e in edges],
                    numeric=[False, False, False],
                )
                + "</details>"
            )
    with _step_file(run_dir / "scoring" / "discovery.json") as scoring:
        if scoring:
            inner += "<h3>Planted edges recovered</h3>"
            inner += para(
                "Each learned latent stands for the planted latent the MCC matching pairs it with "
                "(Level II); each planted edge is then looked up in the discovered graph. "
                + scoring.get("summary", "")
                + "."
            )
            status_text = {
                "directed": "found, planted direction",
                "reversed": "found, reversed",
                "undirected": "found, undirected",
                "bidirected": "found, bidirected",
                "missing": "missing",
            }
            inner += table(
                ["planted edge", "learned latents", "found as"],
                [
                    [
                        f"{e['source']} → {e['target']}",
                        f"{e.get('learned_source') or '?'} → {e.get('learned_target') or '?'}",
                        status_text.get(e["status"], e["status"]),
                    ]
                    for e in scoring.get("planted_edges", [])
                ],
                numeric=[False, False, False],
                row_classes=[
                    "sig" if e["status"] != "missing" else ""
                    for e in scoring.get("planted_edges", [])
                ],
            )
            scores = scoring.get("scores", {})
            keys = [
                "skeleton_precision",
                "skeleton_recall",
                "directed_precision",
                "directed_recall",
                "shd",
            ]
            inner += table(
                ["score", "value"],
                [[k.replace("_", " "), scores.get(k)] for k in keys if k in scores],
                numeric=[False, True],
            )
    inner += "<h3>Latent naming</h3>" + _status_line(naming_step)
    explain = folder / "explain"
    labels_path = explain / "labels.csv"
    if labels_path.is_file():
        inner += para(
            "Each learned latent against each trait and attribute on the held-out people: "
            "Spearman ρ and mutual information. The suggested name is the column with the "
            "largest |ρ| — a hint for a human, as the paper named its latents by hand."
        )
        labels = pd.read_csv(labels_path)
        inner += table(
            [
                "latent",
                "suggested name",
                "Spearman ρ",
                "mutual information",
                "runner-up",
                "runner-up ρ",
            ],
            [
                [
                    r.latent,
                    r.label,
                    _py(r.spearman),
                    _py(r.mutual_information),
                    r.runner_up,
                    _py(r.runner_up_spearman),
                ]
                for r in labels.fillna({"label": "—", "runner_up": "—"}).itertuples(index=False)
            ],
            numeric=[False, False, True, True, False, True],
        )
    heatmap = first_existing(explain, ("heatmap.svg", "heatmap.png"))
    if heatmap is not None:
        inner += figure_file(
            heatmap,
            "Latent–attribute association heatmap",
            "Spearman ρ (top) and mutual information (bottom) of each latent with each column.",
        )
    return section("discovery", "Causal discovery and latent naming", inner)


# ---------------------------------------------------------------------------------------------
# Run details


def _run_details(manifest: dict) -> str:
    params = manifest.get("parameters", {})
    inner = "<h3>Steps</h3>"
    steps = _analysis_steps(manifest)
    inner += table(
        ["step", "status", "seconds", "note"],
        [[s.get("name"), s.get("status"), s.get("seconds"), s.get("note", "")] for s in steps],
        numeric=[False, False, True, False],
        row_classes=["" for _ in steps],
    )
    total = manifest.get("total_seconds")
    if total is not None:
        inner += para(f"Total wall time: {fmt(float(total), 1)} s.")
    if steps:
        inner += para(
            "Not listed: the report step that built this page; run.json records its time once "
            "the page is written.",
            "note",
        )
    inner += "<h3>Parameters and seeds</h3>"
    inner += table(["parameter", "value"], _flatten(params), numeric=[False, False])
    inner += "<h3>Versions</h3>"
    inner += table(
        ["component", "version"], _flatten(manifest.get("versions", {})), numeric=[False, False]
    )
    return section("run", "Parameters, seeds and versions", inner)


# ---------------------------------------------------------------------------------------------


def _check_manifest_fields(manifest: dict, path: Path) -> None:
    """BadInput naming ``run.json`` for the fields the report computes with, when of the
    wrong type (text for alpha or the total time, a list as a step's status)."""
    alpha = manifest.get("parameters", {}).get("alpha", 0.05)
    total = manifest.get("total_seconds")
    numbers = {"parameters.alpha": alpha, "total_seconds": total}
    for name, value in numbers.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadInput(f"{path}: '{name}' is {value!r}, not a number.")
    if not isinstance(manifest.get("table", ""), str | None):
        raise BadInput(f"{path}: 'table' is {manifest['table']!r}, not a file name.")
    for k, step in enumerate(manifest["steps"], start=1):
        for key in ("name", "status"):
            if not isinstance(step.get(key, ""), str):
                raise BadInput(f"{path}: step {k}'s '{key}' is {step[key]!r}, not text.")


def render_report(run_dir: str | Path) -> str:
    """The report of ``run_dir`` as one self-contained HTML string."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "run.json"
    if not manifest_path.is_file():
        raise BadInput(f"{run_dir}: no run.json; this is not a personax run folder.")
    manifest = _read_json(manifest_path)
    # Other commands write a run.json too (e.g. independence); only a demo run lists its steps.
    if not isinstance(manifest.get("steps"), list):
        raise BadInput(
            f"{manifest_path}: not the manifest of a `personax demo` run (it has no 'steps' list)."
        )
    for k, step in enumerate(manifest["steps"], start=1):
        if not isinstance(step, dict):
            raise BadInput(f"{manifest_path}: step {k} of 'steps' is not an object.")
    for key in ("parameters", "versions"):
        if not isinstance(manifest.get(key, {}), dict):
            raise BadInput(f"{manifest_path}: '{key}' is not an object.")
    _check_manifest_fields(manifest, manifest_path)
    # The files are read where they are used, most under _damaged naming each one; anything
    # else a damaged file breaks is still bad input (exit 2), named by the run folder.
    with _damaged(f"a file of the run folder {run_dir}"):
        body = "".join(
            [
                _glance(run_dir, manifest),
                _restrictions(manifest),
                _dataset(run_dir, manifest),
                _level1(run_dir, manifest),
                _level2(run_dir, manifest),
                _discovery(run_dir, manifest),
                _run_details(manifest),
            ]
        )
    template = Template((Path(__file__).with_name("template.html")).read_text(encoding="utf-8"))
    synthetic = " (synthetic sample)" if manifest.get("synthetic_sample") else ""
    return template.substitute(
        title=esc(f"PersonaX report{synthetic}"),
        version=esc(manifest.get("versions", {}).get("personax", __version__)),
        header=_header(manifest),
        body=body,
    )


def build_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path."""
    html_text = render_report(run_dir)
    out = Path(run_dir) / "report.html"
    write_text(out, html_text)
    record_in_output(run_dir, out.name)
    return out


__all__ = ["build_report", "render_report"]
