"""The paper's real-world analysis as one function, scored against a sample's planted graph.

Steps (SYSTEM.md §4, "Real-world analysis"):

1. train the multimodal multi-measurement CRL model on the face embedding and the three LLM
   text embeddings (latent sizes from the sample's truth: shared / image / trait counts);
2. keep the latents of the held-out (test-split) people;
3. run PC on them with the shared latents as roots (nothing points into a shared latent) —
   KCI as the paper did for athletes when the held-out set is small enough for it
   (≤ ``KCI_MAX_ROWS`` rows), RCIT otherwise as the paper did for celebrities;
4. name the latents (Spearman / mutual information against traits and attributes);
5. score against the planted truth: each learned latent is matched to a true latent by the
   Hungarian matching of the MCC (absolute Pearson correlation on the held-out rows), the
   discovered edges are mapped through that matching, and every planted edge is reported as
   recovered with the right direction, recovered undirected, reversed, bidirected or missing;
   skeleton precision / recall, directed precision / recall and SHD summarise it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personax.atomic import write_json, write_text
from personax.discovery.citests import KCI_MAX_ROWS
from personax.discovery.draw import write_graph
from personax.discovery.explain import ExplainResult, explain_latents, write_explain
from personax.discovery.graph import CausalGraph
from personax.discovery.search import check_options, discover
from personax.errors import BadInput

if TYPE_CHECKING:
    from personax.crl.config import CRLConfig

TEXT_COLUMNS = ("chatgpt_text_emb", "gemini_text_emb", "llama_text_emb")
FACE_COLUMNS = ("face_emb",)
GROUP_OF_MODALITY = {"face": "image", "text": "trait"}

RecipeProgress = Callable[[str, int, int], None]
"""progress(stage, done, total) — stage names "crl" (epochs) and PC's skeleton stages."""


@dataclass(frozen=True)
class PlantedEdge:
    source: str  # true latent names
    target: str
    status: str  # directed | undirected | reversed | bidirected | missing
    learned_source: str
    learned_target: str


@dataclass(frozen=True)
class RecipeResult:
    graph: CausalGraph
    explain: ExplainResult
    matching: dict[str, str]  # learned latent -> true latent
    matched_correlation: dict[str, float]
    planted: tuple[PlantedEdge, ...]
    extra_edges: tuple[tuple[str, str, str], ...]  # (true a, true b, type) not planted
    scores: dict[str, Any]
    crl_metrics: dict[str, Any] | None
    test: str
    n_test: int
    # PC on the TRUE held-out latents with the true shared latents as roots: what PC with
    # this test and knowledge recovers when representation learning is perfect.
    reference_planted: tuple[PlantedEdge, ...] = ()
    reference_scores: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "n_test": self.n_test,
            "reference_on_true_latents": None
            if self.reference_scores is None
            else {
                "scores": self.reference_scores,
                "planted_edges": [e.__dict__ for e in self.reference_planted],
            },
            "crl_metrics": _plain(self.crl_metrics),
            "matching": self.matching,
            "matched_correlation": self.matched_correlation,
            "scores": self.scores,
            "planted_edges": [e.__dict__ for e in self.planted],
            "extra_edges": [{"source": a, "target": b, "type": t} for a, b, t in self.extra_edges],
            "labels": [label.text for label in self.explain.labels],
            "notes": list(self.graph.notes),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def score_against_truth(
    graph: CausalGraph,
    learned: pd.DataFrame,
    true_latents: pd.DataFrame,
    true_graph: np.ndarray,
) -> tuple[dict[str, str], dict[str, float], list[PlantedEdge], list, dict[str, Any]]:
    """Match learned to true latents (MCC Hungarian matching), map edges, score them.

    ``learned`` and ``true_latents`` hold the same rows (held-out people); ``true_graph`` uses
    the CRL convention ``[i, j] = 1`` when true latent j causes true latent i.
    """
    from personax.crl.metrics import graph_scores, mcc

    learned_names = list(graph.nodes)
    true_names = [str(c) for c in true_latents.columns]
    result = mcc(true_latents.to_numpy(float), learned[learned_names].to_numpy(float))
    matching = {learned_names[j]: true_names[i] for i, j in result.matching}
    correlation = {learned_names[j]: float(result.correlations[i, j]) for i, j in result.matching}
    back = {t: name for name, t in matching.items()}
    index = {name: k for k, name in enumerate(true_names)}
    est = np.zeros((len(true_names), len(true_names)))
    # Directed claims only: an undirected edge entered both ways counted as a correct
    # direction in directed precision and recall (SHD keeps it, as a two-way edge).
    claimed = np.zeros_like(est)
    marks: dict[frozenset[str], tuple[str, str, str]] = {}
    extra = []
    for e in graph.edges:
        if e.source not in matching or e.target not in matching:
            continue
        a, b = matching[e.source], matching[e.target]
        marks[frozenset((a, b))] = (a, b, e.type)
        if e.type == "directed":
            est[index[b], index[a]] = claimed[index[b], index[a]] = 1
        else:  # undirected or bidirected: the direction is not claimed, count both ways
            est[index[b], index[a]] = est[index[a], index[b]] = 1
        if not (true_graph[index[b], index[a]] or true_graph[index[a], index[b]]):
            extra.append((a, b, e.type))
    planted = []
    for i, target in enumerate(true_names):
        for j, source in enumerate(true_names):
            if not true_graph[i, j]:
                continue
            found = marks.get(frozenset((source, target)))
            if found is None:
                status = "missing"
            elif found[2] == "directed":
                status = "directed" if (found[0], found[1]) == (source, target) else "reversed"
            else:
                status = found[2]
            planted.append(
                PlantedEdge(source, target, status, back.get(source, ""), back.get(target, ""))
            )
    true_skeleton = {frozenset((e.source, e.target)) for e in planted}
    found_skeleton = set(marks)
    hits = len(true_skeleton & found_skeleton)
    directed = graph_scores(true_graph, claimed)
    scores = {
        "mcc_matching": float(result.value),
        "planted_edges": len(planted),
        "found_edges": len(found_skeleton),
        "skeleton_hits": hits,
        "skeleton_precision": hits / len(found_skeleton) if found_skeleton else 1.0,
        "skeleton_recall": hits / len(true_skeleton) if true_skeleton else 1.0,
        "directed_correct": sum(e.status == "directed" for e in planted),
        "shd": graph_scores(true_graph, est).shd,
        "directed_precision": directed.precision,
        "directed_recall": directed.recall,
    }
    return matching, correlation, planted, extra, scores


def _aligned_truth(table: pd.DataFrame, latents: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The true latents row for row with ``table`` (by ``id`` when both have it)."""
    if "id" in table.columns and "id" in latents.columns:
        by_id = latents.set_index(latents["id"].astype(str))
        ids = table["id"].astype(str)
        missing = ~ids.isin(by_id.index)
        if missing.any():
            raise BadInput(f"truth: no true latents for id '{ids[missing].iloc[0]}'.")
        return by_id.loc[ids.to_numpy(), names].reset_index(drop=True)
    if len(latents) != len(table):
        raise BadInput(
            f"truth: {len(latents)} rows of true latents but the table has {len(table)}."
        )
    return latents[names].reset_index(drop=True)


def _refuse_too_few_held_out(n: int, latents: int, seed: int) -> None:
    """BadInput before training when PC could not run on the held-out rows: it needs
    ``latents + 4`` of them (see ``discovery.search``), and finding out after a CRL run of
    minutes wastes them."""
    from personax.crl.dataset import rows_for_test_rows, split_indices

    need = latents + 4
    held_out = len(split_indices(n, seed)["test"]) if n >= 3 else 0
    if held_out >= need:
        return
    enough = rows_for_test_rows(need)
    raise BadInput(
        f"the sample has {n} people, so {held_out} {'is' if held_out == 1 else 'are'} held "
        f"out, too few for PC over "
        f"{latents} latents (it needs {need}); give the recipe at least {enough} people."
    )


def run_realworld_recipe(
    table: pd.DataFrame,
    truth: Any,
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    epochs: int | None = None,
    progress: RecipeProgress | None = None,
    test: str | None = None,
    alpha: float = 0.05,
    max_seconds: float | None = None,
    reference: bool = True,
    config: CRLConfig | None = None,
) -> RecipeResult:
    """Train CRL on the sample, run PC with the shared latents as roots on held-out latents,
    name the latents and score the graph against ``truth`` (a ``SampleTruth``).
    ``config`` is the CRL's ``CRLConfig`` (default ``CRLConfig()``); ``epochs`` /
    ``max_seconds`` override its training bounds.
    ``reference``: also run PC on the true held-out latents (true shared latents as roots) and
    score it, to separate what representation learning loses from what PC loses.

    Writes into ``out_dir``: ``crl/latents.csv`` (+ the CRL run's own files),
    ``discovery/graph.{json,png,svg,dot}``, ``explain/{explain,labels}.csv`` and heatmaps,
    ``reference/graph.*`` (PC on the true latents, with ``reference``),
    ``recipe.json`` (matching, per-planted-edge status, scores) and ``planted_edges.csv``.
    """
    from personax.crl.config import CRLConfig
    from personax.crl.dataset import crl_dataset_from_table
    from personax.crl.train import train_crl, write_crl_run

    # PC runs only after CRL training: a bad test or alpha must not cost a training run
    check_options(test, alpha)
    if truth is None or getattr(truth, "latents", None) is None:
        raise BadInput("the recipe needs a sample with ground-truth latents to score against.")
    out = Path(out_dir)
    names = list(truth.latent_names)
    groups = truth.latent_groups
    counts = {g: sum(groups[n] == g for n in names) for g in ("shared", "image", "trait")}
    true_latents = _aligned_truth(table, truth.latents, names)
    dataset = crl_dataset_from_table(
        table,
        {"face": list(FACE_COLUMNS), "text": list(TEXT_COLUMNS)},
        latents=true_latents,
    )
    _refuse_too_few_held_out(dataset.n, len(names), seed)
    config = CRLConfig() if config is None else config
    if epochs is not None:
        config = config.replace(epochs=int(epochs))
    if max_seconds is not None:  # wall-clock budget; the best validation checkpoint is kept
        config = config.replace(max_seconds=float(max_seconds))

    def crl_progress(epoch: int, total: int, _row: dict[str, float]) -> None:
        if progress is not None:
            progress("crl", epoch, total)

    run = train_crl(
        dataset,
        latent_dims={"face": counts["image"], "text": counts["trait"]},
        shared_dims=counts["shared"],
        config=config,
        seed=seed,
        progress=crl_progress,
    )
    write_crl_run(run, out / "crl")
    latents = run.latents
    held_out = (latents["split"] == "test").to_numpy()
    learned = latents[held_out].reset_index(drop=True)
    learned_names = [c for c in latents.columns if c != "split"]
    roots = [c for c in learned_names if c.startswith("s_")]
    n_test = int(held_out.sum())
    chosen = test or ("kci" if n_test <= KCI_MAX_ROWS else "rcit")
    graph = discover(
        learned,
        columns=learned_names,
        roots=roots,
        test=chosen,
        alpha=alpha,
        seed=seed,
        progress=progress,
    )
    write_graph(graph, out / "discovery")
    table_rows = table.reset_index(drop=True)[held_out].reset_index(drop=True)
    explained = explain_latents(learned, table_rows, seed=seed)
    write_explain(explained, out / "explain")
    matching, correlation, planted, extra, scores = score_against_truth(
        graph, learned, true_latents[held_out].reset_index(drop=True), truth.latent_graph
    )
    reference_planted: list[PlantedEdge] = []
    reference_scores = None
    if reference:
        true_held_out = true_latents[held_out].reset_index(drop=True)
        true_graph = discover(
            true_held_out,
            columns=names,
            roots=[n for n in names if groups[n] == "shared"],
            test=chosen,
            alpha=alpha,
            seed=seed,
        )
        _, _, reference_planted, _, reference_scores = score_against_truth(
            true_graph, true_held_out, true_held_out, truth.latent_graph
        )
        write_graph(true_graph, out / "reference", groups=dict(groups))
    result = RecipeResult(
        graph=graph,
        explain=explained,
        matching=matching,
        matched_correlation=correlation,
        planted=tuple(planted),
        extra_edges=tuple(extra),
        scores=scores,
        crl_metrics=run.metrics,
        test=chosen,
        n_test=n_test,
        reference_planted=tuple(reference_planted),
        reference_scores=reference_scores,
    )
    write_json(out / "recipe.json", _plain(result.summary()))
    write_text(
        out / "planted_edges.csv",
        pd.DataFrame([e.__dict__ for e in planted]).to_csv(index=False, lineterminator="\n"),
    )
    return result
