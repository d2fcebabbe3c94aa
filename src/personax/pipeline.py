"""The main job: every step of the analysis wired together on one table (``personax demo``).

Steps, in order, each writing its own folder under the run folder atomically:

1. ``data`` — the embedded synthetic sample (or the user's table) → ``data/``; for the sample,
   the planted truth → ``data/truth.json`` and ``data/truth_latents.csv``.
2. ``independence`` — Level I, all five tests → ``independence/``.
3. ``crl`` — Level II on the face + per-LLM text embeddings (or, when the table has no
   embeddings, the tabular synthetic benchmark) → ``crl/``.
4. ``discovery`` — PC on the held-out learned latents, shared latents as roots →
   ``discovery/graph.json``.
5. ``naming`` — latent–attribute associations and suggested names → ``discovery/explain/``.
6. ``scoring`` — on the sample only: each step against the planted truth → ``scoring/``.
7. ``report`` — ``report.html``, built only from the files above.

A step whose library is not part of this build is recorded as ``unavailable``; a step that
raises is recorded as ``failed`` with its message, and the later steps still run where they
can. ``run.json`` (parameters, seeds, versions, per-step status and timings) is rewritten after
every step, so a report can be rebuilt from whatever finished.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personax import PAPER_LLMS, __version__
from personax.atomic import atomic_dir, check_output_dir, output_dir, write_json
from personax.errors import BadInput

Progress = Callable[[str, str, float | None], None]
"""``progress(step, message, fraction)``; fraction in [0, 1] or None when unknown."""

STEP_TITLES = {
    "data": "Data",
    "independence": "Level I",
    "crl": "Level II (CRL)",
    "discovery": "Discovery",
    "naming": "Latent naming",
    "scoring": "Scoring",
    "report": "Report",
}
LEVEL1_TESTS = ("kci", "rcit", "hsic", "chisq", "gsq")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the run. ``quick`` shrinks the sample and the training budget (README)."""

    n: int | None = None  # sample size; None = the sample's default (4,181 / 9,444)
    tabular_n: int = 5000  # rows of the tabular CRL benchmark (tables without embeddings)
    crl_epochs: int = 150
    # No wall-clock budget by default: a budget makes results depend on machine load, and the
    # same seed must give the same bytes. `--max-seconds` on `crl train` remains for users.
    crl_max_seconds: float | None = None
    # The paper ran KCI for athletes. PC over 12 latents makes ~1,400 conditional tests; on
    # the 627 held-out athletes one conditional KCI takes ~0.4 s on 2 cores, so the demo uses
    # Fisher-z (milliseconds) and `personax discover --test kci|rcit` runs the kernel tests.
    discovery_test: str = "fisherz"
    alpha: float = 0.05
    n_jobs: int = 1  # Level I workers

    @classmethod
    def for_mode(cls, quick: bool) -> DemoSettings:
        if quick:
            return cls(n=600, tabular_n=1500, crl_epochs=40)
        return cls()


@dataclass(frozen=True)
class StepOutcome:
    name: str
    status: str  # ok | failed | unavailable | skipped
    seconds: float
    outputs: tuple[str, ...] = ()
    note: str = ""
    input: str = ""


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    steps: tuple[StepOutcome, ...]
    report: Path | None
    manifest: Path

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)

    def step(self, name: str) -> StepOutcome | None:
        return next((s for s in self.steps if s.name == name), None)


class StepUnavailable(Exception):
    """The library a step needs is not part of this build."""


class StepSkipped(Exception):
    """The step has nothing to work on in this run (e.g. no planted truth for a user table)."""


@dataclass
class _RunState:
    """What the steps hand to one another while the run is under way."""

    table: pd.DataFrame | None = None
    truth: Any = None
    latents: pd.DataFrame | None = None
    crl_on_table: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _require(module: str, *names: str) -> Any:
    """Import ``module`` and return its attributes, or raise StepUnavailable when absent."""
    if importlib.util.find_spec(module) is None:
        raise StepUnavailable(f"{module} is not available in this build")
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise StepUnavailable(f"{module} has no {', '.join(missing)} in this build")
    values = tuple(getattr(mod, n) for n in names)
    return values[0] if len(values) == 1 else values


def versions() -> dict[str, str]:
    out = {"personax": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "pandas", "sklearn", "torch", "matplotlib"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = "not installed"
    return out


def _relative(paths: list[Path], root: Path) -> tuple[str, ...]:
    return tuple(sorted(str(p.relative_to(root)) for p in paths if p.is_file()))


# ---------------------------------------------------------------------------------------------
# Steps. Each takes (state, out_dir, settings, seed, progress) and returns a note string.


def _load_input(data: str | Path | None, kind: str, seed: int, settings: DemoSettings):
    """The table and (for the sample) its planted truth. Bad ``data`` raises BadInput."""
    if data is not None:
        from personax.data import column_groups, read_table
        from personax.data.validate import validate_table

        df = read_table(data)
        report = validate_table(df, source=str(data))
        if not report.ok:
            raise BadInput(report.summary())

        groups = column_groups(df)
        if not groups.final_traits:
            raise BadInput(f"{data}: the table has no aggregated trait column (final_o … final_n).")
        if not groups.attributes:
            raise BadInput(f"{data}: the table has no attribute column to test the traits against.")
        return df, None
    check_kind, make_sample = _require("personax.data.sample", "check_kind", "make_sample")
    check_kind(kind, "--kind")
    sample = make_sample(kind, n=settings.n, seed=seed)
    return sample.table, sample


def _step_data(state: _RunState, out: Path, data, kind: str) -> tuple[str, str]:
    """Write the table (and, for the sample, its truth sidecars) to ``data/``."""
    with atomic_dir(out / "data") as tmp:
        if state.truth is not None:
            write_sample = _require("personax.data.sample", "write_sample")
            write_sample(state.truth, tmp / "sample.parquet")
            table_rel = "data/sample.parquet"
        else:
            from personax.data import write_table

            write_table(state.table, tmp / "table.parquet")
            table_rel = "data/table.parquet"
    what = f"synthetic {kind} sample" if state.truth is not None else f"table {data}"
    return table_rel, f"{what}, {len(state.table)} rows"


def _truth_latents(sample: Any) -> pd.DataFrame | None:
    """The planted latents (auxiliary variables left out), aligned row for row with the table."""
    truth = sample.truth
    if truth.latents is None:
        return None
    names = [n for n in truth.latent_names if n in truth.latents.columns]
    return truth.latents[names].reset_index(drop=True)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        value = float(obj)
        return value if np.isfinite(value) else None
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.DataFrame,)):
        return _jsonable(obj.to_dict(orient="records"))
    return obj


def _step_independence(
    state: _RunState, out: Path, settings: DemoSettings, seed: int, progress: Progress | None
) -> str:
    run_battery = _require("personax.independence.battery", "run_battery")
    write_battery = _require("personax.independence.output", "write_battery")

    def on_attribute(done: int, total: int) -> None:
        if progress:
            progress("independence", f"{done}/{total} attributes", done / total if total else None)

    result = run_battery(
        state.table,
        tests=LEVEL1_TESTS,
        seed=seed,
        alpha=settings.alpha,
        n_jobs=settings.n_jobs,
        progress=on_attribute,
    )
    with atomic_dir(out / "independence") as tmp:
        write_battery(result, tmp)
    results = pd.read_csv(out / "independence" / "results.csv")
    tested = results.dropna(subset=["p_value"])
    significant = int((tested["p_adjusted"] < settings.alpha).sum())
    return f"{len(tested)} pair×test results, {significant} significant after BH"


def _embedding_modalities(df: pd.DataFrame) -> dict[str, list[str]]:
    """Face and per-LLM text embedding columns present in the table (empty when none)."""
    from personax.data import column_groups

    embeddings = set(column_groups(df).embeddings)
    modalities: dict[str, list[str]] = {}
    if "face_emb" in embeddings:
        modalities["face"] = ["face_emb"]
    text = sorted(c for c in embeddings if c.endswith("_text_emb"))
    ordered = [f"{llm}_text_emb" for llm in PAPER_LLMS if f"{llm}_text_emb" in text]
    ordered += [c for c in text if c not in ordered]
    if ordered:
        modalities["text"] = ordered
    return modalities if len(modalities) == 2 else {}


# The sample's latent groups and the CRL modality each one is measured by.
_GROUP_MODALITY = {"image": "face", "trait": "text"}


def _latent_sizes(sample: Any, modalities: dict[str, list[str]]) -> tuple[dict[str, int], int]:
    """Latent block sizes: the planted ones for the sample, the paper's athlete sizes otherwise."""
    if sample is not None:
        groups = list(sample.truth.latent_groups.values())
        sizes = {_GROUP_MODALITY.get(g, g): groups.count(g) for g in dict.fromkeys(groups)}
        shared = sizes.pop("shared", 0)
        if set(sizes) == set(modalities):
            return {m: sizes[m] for m in modalities}, shared
    return {m: 5 for m in modalities}, 2


def _step_crl(
    state: _RunState, out: Path, settings: DemoSettings, seed: int, progress: Progress | None
) -> str:
    train_crl, write_crl_run = _require("personax.crl.train", "train_crl", "write_crl_run")
    CRLConfig = _require("personax.crl.config", "CRLConfig")
    modalities = _embedding_modalities(state.table) if state.table is not None else {}
    if modalities:
        crl_dataset_from_table = _require("personax.crl.dataset", "crl_dataset_from_table")
        true_latents = _truth_latents(state.truth) if state.truth is not None else None
        dataset = crl_dataset_from_table(
            state.table, modalities, latents=true_latents, drop_missing=True
        )
        latent_dims, shared_dims = _latent_sizes(state.truth, modalities)
        source = "the table's " + ", ".join(c for cols in modalities.values() for c in cols)
        state.crl_on_table = True
        if true_latents is not None:
            state.extra["true_graph"] = np.asarray(state.truth.truth.latent_graph)
            # With the planted graph the CRL run also scores its learned graph (metrics.json).
            dataset = dataclasses.replace(dataset, graph=state.extra["true_graph"].astype(float))
    else:
        make_tabular = _require("personax.data.crl_synthetic", "make_tabular")
        dataset = make_tabular(n=settings.tabular_n, seed=seed)
        latent_dims = {m: len(idx) for m, idx in dataset.latent_blocks().items() if m != "shared"}
        shared_dims = len(dataset.latent_blocks().get("shared", []))
        source = "the tabular synthetic benchmark (the table has no face + text embeddings)"
        state.crl_on_table = False
        state.extra["true_graph"] = np.asarray(dataset.graph)
    if dataset.latents is not None:
        # Row for row with latents.csv (rows without every embedding are already dropped).
        state.extra["true_latents"] = pd.DataFrame(dataset.latents, columns=dataset.latent_names)
    # One initialisation: restarts would triple the demo's longest step.
    config = CRLConfig().replace(
        epochs=settings.crl_epochs, max_seconds=settings.crl_max_seconds, restarts=1
    )

    def on_epoch(epoch: int, total: int, row: dict[str, float]) -> None:
        if progress:
            loss = row.get("val_loss")
            detail = f"epoch {epoch}/{total}" + (
                f", val loss {loss:.3f}" if loss is not None else ""
            )
            progress("crl", detail, epoch / total if total else None)

    run = train_crl(
        dataset,
        latent_dims=latent_dims,
        shared_dims=shared_dims,
        config=config,
        seed=seed,
        progress=on_epoch,
    )
    with atomic_dir(out / "crl") as tmp:
        write_crl_run(run, tmp)
    # Ids are read back as written: "000123" must not become 123, nor "NA" missing.
    state.latents = pd.read_csv(
        out / "crl" / "latents.csv", dtype={"id": str}, keep_default_na=False, na_values={}
    )
    state.extra["crl_input"] = source
    if state.crl_on_table and dataset.n < len(state.table):
        source += f" ({len(state.table) - dataset.n} rows without every embedding left out)"
    sizes = ", ".join(f"{m} {d}" for m, d in latent_dims.items())
    note = f"{source}; latents: {sizes}, shared {shared_dims}; best epoch {run.best_epoch}"
    if run.metrics and "mcc" in run.metrics:
        note += f"; held-out MCC {run.metrics['mcc']:.3f}, R² {run.metrics['r2']:.3f}"
    return note


def _latent_columns(latents: pd.DataFrame) -> list[str]:
    return [c for c in latents.columns if c.startswith(("s_", "z_"))]


def _step_discovery(
    state: _RunState, out: Path, settings: DemoSettings, seed: int, progress: Progress | None
) -> str:
    discover, write_graph = _require("personax.discovery", "discover", "write_graph")
    if state.latents is None:
        raise StepSkipped("no learned latents (the CRL step did not finish)")
    held_out = state.latents[state.latents["split"] == "test"].reset_index(drop=True)
    columns = _latent_columns(held_out)
    roots = [c for c in columns if c.startswith("s_")]

    def on_level(stage: str, done: int, total: int) -> None:
        if progress:
            progress("discovery", f"{stage} {done}/{total}", done / total if total else None)

    graph = discover(
        held_out,
        columns=columns,
        roots=roots,
        test=settings.discovery_test,
        alpha=settings.alpha,
        seed=seed,
        progress=on_level,
        source="crl/latents.csv (test split)",
    )
    with atomic_dir(out / "discovery") as tmp:
        write_graph(graph, tmp, title="PC on held-out latents (shared latents are roots)")
    return (
        f"{len(columns)} latents, {len(graph.edges)} edges on {len(held_out)} held-out rows "
        f"({settings.discovery_test}, alpha {settings.alpha}; shared latents as roots)"
    )


def _step_naming(state: _RunState, out: Path, seed: int) -> str:
    explain_latents, write_explain, align_latents = _require(
        "personax.discovery.explain", "explain_latents", "write_explain", "align_latents"
    )
    if state.latents is None:
        raise StepSkipped("no learned latents (the CRL step did not finish)")
    if not state.crl_on_table:
        raise StepSkipped(
            "the latents come from the synthetic benchmark, not from this table's people"
        )
    latents, table = align_latents(
        state.latents, state.table, split="test", latents_source="crl/latents.csv"
    )
    result = explain_latents(latents, table, seed=seed)
    # A subfolder of discovery/, so rerunning discovery or naming replaces only its own files.
    with atomic_dir(out / "discovery" / "explain") as tmp:
        write_explain(result, tmp)
    named = "; ".join(lab.text for lab in result.labels[:3])
    return f"{len(result.latents)} latents vs {len(result.features)} columns on {len(latents)} held-out people ({named}; …)"


# ---------------------------------------------------------------------------------------------
# Scoring against the planted truth (sample only).


def _trait_letter(name: str) -> str:
    """'final_o', 'o', 'openness' → 'o' (the truth and the results may name traits differently)."""
    from personax import TRAIT_NAMES

    text = str(name).lower()
    for letter, full in TRAIT_NAMES.items():
        if text == full:
            return letter
    return text[-1] if text.startswith("final_") or len(text) == 1 else text


def score_level1(results: pd.DataFrame, dependencies: pd.DataFrame, alpha: float) -> dict:
    """Power and false positives of each test against the planted trait–attribute dependencies.

    ``dependencies`` has columns ``trait``, ``attribute``, ``dependent``. When it lists only
    some pairs as independent, unlisted pairs are left out of the scoring (their truth is
    unknown); when it lists only dependent pairs, every other pair is independent.
    """
    deps = dependencies.copy()
    deps["key"] = [
        (_trait_letter(t), str(a)) for t, a in zip(deps["trait"], deps["attribute"], strict=True)
    ]
    dependent = {k for k, d in zip(deps["key"], deps["dependent"], strict=True) if bool(d)}
    independent = {k for k, d in zip(deps["key"], deps["dependent"], strict=True) if not bool(d)}
    complete_listing = bool(independent)
    tested = results.dropna(subset=["p_value"]).copy()
    tested = tested[tested["trait"].astype(str).str.startswith("final_")]
    per_test = []
    for test, rows in tested.groupby("test", sort=False):
        tp = fn = fp = tn = 0
        for trait, attribute, p_adj in zip(
            rows["trait"], rows["attribute"], rows["p_adjusted"], strict=True
        ):
            key = (_trait_letter(trait), str(attribute))
            found = bool(p_adj < alpha)
            if key in dependent:
                tp, fn = tp + found, fn + (not found)
            elif key in independent or not complete_listing:
                fp, tn = fp + found, tn + (not found)
        per_test.append(
            {
                "test": str(test),
                "pairs": int(tp + fn + fp + tn),
                "true_positives": int(tp),
                "false_negatives": int(fn),
                "false_positives": int(fp),
                "true_negatives": int(tn),
                "power": tp / (tp + fn) if tp + fn else None,
                "false_positive_rate": fp / (fp + tn) if fp + tn else None,
            }
        )
    return {
        "alpha": alpha,
        "criterion": "Benjamini–Hochberg adjusted p < alpha, aggregated traits final_<t>",
        "planted": [{"trait": t, "attribute": a} for t, a in sorted(dependent)],
        "per_test": per_test,
    }


def _latent_matching(learned: pd.DataFrame, true: pd.DataFrame) -> dict:
    """Which learned latent the MCC pairs with each planted one (held-out rows)."""
    from personax.crl.metrics import mcc

    result = mcc(true.to_numpy(dtype=float), learned.to_numpy(dtype=float))
    matches = [
        {
            "true": str(true.columns[i]),
            "learned": str(learned.columns[j]),
            "abs_corr": float(result.correlations[i, j]),
        }
        for i, j in result.matching
    ]
    return {"split": "test", "mcc": float(result.value), "matches": matches}


def _score_discovery(
    graph_path: Path, learned: pd.DataFrame, true: pd.DataFrame, true_graph: np.ndarray
) -> dict:
    """The planted latent edges against the graph PC found over the learned latents."""
    import json

    from personax.discovery.graph import CausalGraph
    from personax.discovery.recipe import score_against_truth

    graph = CausalGraph.from_dict(json.loads(graph_path.read_text(encoding="utf-8")))
    _, _, planted, extra, scores = score_against_truth(graph, learned, true, true_graph)
    found = sum(e.status != "missing" for e in planted)
    summary = (
        f"{found} of {len(planted)} planted latent edges found as adjacencies, "
        f"{scores['directed_correct']} with the planted direction; {len(extra)} discovered "
        "edges have no planted counterpart"
    )
    return {
        "planted_edges": [dict(e.__dict__) for e in planted],
        "extra_edges": [{"source": a, "target": b, "type": t} for a, b, t in extra],
        "scores": scores,
        "adjacencies_found": found,
        "planted": len(planted),
        "summary": summary,
    }


def _step_scoring(state: _RunState, out: Path, settings: DemoSettings) -> str:

    if state.truth is None and "true_latents" not in state.extra:
        raise StepSkipped("no planted truth (a user table)")
    notes = []
    with atomic_dir(out / "scoring") as tmp:
        results_path = out / "independence" / "results.csv"
        if state.truth is not None and results_path.is_file():
            deps = state.truth.truth.dependencies
            deps = deps if isinstance(deps, pd.DataFrame) else pd.DataFrame(deps)
            level1 = score_level1(pd.read_csv(results_path), deps, settings.alpha)
            write_json(tmp / "level1.json", _jsonable(level1))
            kci = next((r for r in level1["per_test"] if r["test"] == "kci"), None)
            notes.append(
                f"Level I (KCI power {kci['power']:.2f})"
                if kci and kci["power"] is not None
                else "Level I"
            )
        true_latents = state.extra.get("true_latents")
        if true_latents is not None and state.latents is not None:
            test_rows = (state.latents["split"] == "test").to_numpy()
            learned = state.latents.loc[test_rows, _latent_columns(state.latents)]
            true_held_out = true_latents.loc[test_rows].reset_index(drop=True)
            write_json(tmp / "crl.json", _jsonable(_latent_matching(learned, true_held_out)))
            notes.append("latent matching")
            graph_path = out / "discovery" / "graph.json"
            if graph_path.is_file():
                scored = _score_discovery(
                    graph_path,
                    learned.reset_index(drop=True),
                    true_held_out,
                    state.extra["true_graph"],
                )
                write_json(tmp / "discovery.json", _jsonable(scored))
                notes.append(scored["summary"])
    if not notes:
        raise StepSkipped("no step output to score")
    return "; ".join(notes)


# ---------------------------------------------------------------------------------------------


def run_demo(
    out_dir: str | Path,
    kind: str = "athlete",
    data: str | Path | None = None,
    seed: int = 0,
    quick: bool = False,
    progress: Progress | None = None,
    settings: DemoSettings | None = None,
) -> DemoResult:
    """Run every step on the embedded sample (or ``data``) and write the run folder.

    ``settings`` overrides the sizes chosen by ``quick`` (tests use a tiny run).
    Raises BadInput before writing anything when ``data``/``kind`` is unusable. Step failures
    do not raise: they are recorded in the result and in ``run.json``.
    """
    final = Path(out_dir)
    settings = settings or DemoSettings.for_mode(quick)
    if data is not None:  # the sample size does not apply: a user's table is used whole
        settings = dataclasses.replace(settings, n=None)
    started = time.perf_counter()
    state = _RunState()
    outcomes: list[StepOutcome] = []

    def manifest(table_rel: str | None) -> dict:
        return _jsonable(
            {
                "parameters": {
                    "kind": kind if data is None else None,
                    "data": str(data) if data is not None else None,
                    "seed": seed,
                    "quick": quick,
                    "alpha": settings.alpha,
                    "level1_tests": list(LEVEL1_TESTS),
                    "settings": asdict(settings),
                },
                "synthetic_sample": data is None,
                "table": table_rel,
                "crl_input": state.extra.get("crl_input"),
                # True when the table had no embeddings and CRL ran on the tabular benchmark
                "crl_on_benchmark": "crl_input" in state.extra and not state.crl_on_table,
                "versions": versions(),
                "steps": [asdict(o) for o in outcomes],
                "total_seconds": round(time.perf_counter() - started, 3),
            }
        )

    # Bad input is the user's to fix: fail before writing anything.
    check_output_dir(final, inputs=(data,), kind="demo")
    if progress:
        progress("data", "loading the sample" if data is None else f"reading {data}", None)
    t0 = time.perf_counter()
    try:
        state.table, state.truth = _load_input(data, kind, seed, settings)
    except StepUnavailable as exc:
        outcomes.append(StepOutcome("data", "unavailable", time.perf_counter() - t0, note=str(exc)))
    # The run is built in a temporary folder next to ``final`` and swapped in when it ends, so
    # an interrupted run leaves the previous finished run (or the user's empty folder) as it
    # was, and a report never mixes two runs.
    with output_dir(final, kind="demo") as out:
        report_path = _run_steps(
            state, outcomes, out, data, kind, seed, settings, progress, manifest, t0
        )
    return DemoResult(
        out_dir=final,
        steps=tuple(outcomes),
        report=None if report_path is None else final / "report.html",
        manifest=final / "run.json",
    )


def _run_steps(state, outcomes, out: Path, data, kind, seed, settings, progress, manifest, t0):
    """Every step of a demo run, written into ``out``; the report's path, if it was built.
    ``t0`` is when loading the data began, so the data step's time includes the loading."""
    manifest_path = out / "run.json"
    table_rel: str | None = None
    if state.table is not None:
        table_rel = _run_step(
            outcomes,
            "data",
            out,
            progress,
            lambda: _step_data(state, out, data, kind),
            t0=t0,
            returns_pair=True,
        )
    write_json(manifest_path, manifest(table_rel))

    have_table = state.table is not None and table_rel is not None
    steps: list[tuple[str, Callable[[], str], bool]] = [
        (
            "independence",
            lambda: _step_independence(state, out, settings, seed, progress),
            have_table,
        ),
        ("crl", lambda: _step_crl(state, out, settings, seed, progress), True),
        ("discovery", lambda: _step_discovery(state, out, settings, seed, progress), True),
        ("naming", lambda: _step_naming(state, out, seed), have_table),
        ("scoring", lambda: _step_scoring(state, out, settings), True),
    ]
    for name, fn, possible in steps:
        if not possible:
            outcomes.append(
                StepOutcome(name, "skipped", 0.0, note="no table (the data step did not finish)")
            )
        else:
            _run_step(outcomes, name, out, progress, fn)
        write_json(manifest_path, manifest(table_rel))

    report_path: Path | None = None

    def build() -> str:
        nonlocal report_path
        from personax.report import build_report

        report_path = build_report(out)
        return "report.html"

    _run_step(outcomes, "report", out, progress, build)
    write_json(manifest_path, manifest(table_rel))
    return report_path


def _run_step(
    outcomes: list[StepOutcome],
    name: str,
    out: Path,
    progress: Progress | None,
    fn: Callable[[], Any],
    t0: float | None = None,
    returns_pair: bool = False,
) -> Any:
    start = time.perf_counter() if t0 is None else t0
    if progress:
        progress(name, "started", 0.0)
    value = None
    try:
        value = fn()
        note = value[1] if returns_pair else str(value)
        folder = out / {"report": ".", "naming": "discovery/explain"}.get(name, name)
        files = sorted(folder.rglob("*")) if name != "report" else [out / "report.html"]
        outcome = StepOutcome(name, "ok", time.perf_counter() - start, _relative(files, out), note)
    except StepUnavailable as exc:
        outcome = StepOutcome(name, "unavailable", time.perf_counter() - start, note=str(exc))
    except StepSkipped as exc:
        outcome = StepOutcome(name, "skipped", time.perf_counter() - start, note=str(exc))
    except Exception as exc:  # noqa: BLE001 — one failing step must not lose the others' outputs
        outcome = StepOutcome(
            name, "failed", time.perf_counter() - start, note=f"{type(exc).__name__}: {exc}"
        )
    outcomes.append(outcome)
    if progress:
        progress(name, f"{outcome.status}: {outcome.note}", 1.0)
    return value[0] if returns_pair and value is not None else value
