"""`personax infer evaluate`: how well each model answered and how much the answers agree.

Tables (one CSV each):

- ``models``: per model and prompt version — planned and asked cells, answered (ok), failed
  (format failure + refusal + error), the rates of format failure, refusal, error and
  insufficient information (share of ok trait scores equal to 0), latency percentiles of the
  final request, mean attempts, token totals.
- ``retest``: per model, prompt version and trait — test–retest agreement across repeats
  (Krippendorff's alpha, ordinal, repeats as raters; exact agreement share).
- ``inter_model``: per prompt version and trait — agreement between models on the per-LLM
  scores of the aggregate table (alpha ordinal, ICC(2,1), exact agreement).
- ``formats``: when several prompt versions were run on the same people — per version, model
  and trait, the mean variance across repeats of the non-zero levels rescaled to 0..1
  (``(level - 1) / (L - 1)``, so 3- and 5-level formats compare) and the insufficient-
  information rate; the paper picked the format with the lowest variance.

Level 0 is treated as missing in every agreement statistic (it is not a point on the scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from personax import TRAITS
from personax.errors import BadInput
from personax.plotting import literal_text
from personax.traits.aggregate import aggregate_traits
from personax.traits.agreement import (
    exact_agreement,
    icc_agreement,
    krippendorff_alpha_ordinal,
)
from personax.traits.store import CellCounts, TraitStore


@dataclass(frozen=True)
class Evaluation:
    """All tables of an evaluation."""

    models: pd.DataFrame
    retest: pd.DataFrame
    inter_model: pd.DataFrame
    formats: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "models": self.models,
            "retest": self.retest,
            "inter_model": self.inter_model,
            "formats": self.formats,
        }


def _rate(count: float, total: int) -> float:
    return float(count) / total if total else float("nan")


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")


def _model_table(store: TraitStore, cell_counts: list[CellCounts]) -> pd.DataFrame:
    counts = {(c.model, c.prompt_version): c for c in cell_counts}
    log = store.answer_log()
    answers = store.answers()
    # HTTP attempts per cell over every run: an answer records only its own run's attempts,
    # and a cell that errored in an earlier run was asked (and paid for) then too.
    cell = ["id", "model", "prompt_version", "repeat"]
    requests = store.request_log()
    per_cell = requests.groupby(cell).size().rename("all_attempts").reset_index()
    log = log.merge(per_cell, on=cell, how="left")
    log["all_attempts"] = log["all_attempts"].fillna(log["attempts"])
    rows = []
    for (model, version), c in counts.items():
        mine = log[(log["model"] == model) & (log["prompt_version"] == version)]
        scores = answers[(answers["model"] == model) & (answers["prompt_version"] == version)]
        asked = c.planned - c.pending
        status = mine["status"].value_counts()
        latency = mine["latency_s"].to_numpy(dtype=float)

        rows.append(
            {
                "model": model,
                "prompt_version": version,
                "planned": c.planned,
                "asked": asked,
                "answered": c.done,
                "failed": c.failed + c.errored,
                "pending": c.pending,
                "format_failure_rate": _rate(status.get("format_failure", 0), asked),
                "refusal_rate": _rate(status.get("refusal", 0), asked),
                "error_rate": _rate(c.errored, asked),
                "insufficient_rate": _rate(int((scores["score"] == 0).sum()), len(scores)),
                "latency_p50_s": _percentile(latency, 50),
                "latency_p90_s": _percentile(latency, 90),
                "latency_p99_s": _percentile(latency, 99),
                "mean_attempts": float(mine["all_attempts"].mean()) if len(mine) else float("nan"),
                "prompt_tokens": int(mine["prompt_tokens"].fillna(0).sum()),
                "completion_tokens": int(mine["completion_tokens"].fillna(0).sum()),
            }
        )
    return pd.DataFrame(rows)


def _nonzero(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


def _retest_table(answers: pd.DataFrame) -> pd.DataFrame:
    rows = []
    if answers.empty or answers["repeat"].max() < 1:
        return pd.DataFrame(
            columns=[
                "model",
                "prompt_version",
                "trait",
                "people",
                "alpha_ordinal",
                "exact_agreement",
            ]
        )
    for (model, version, trait), group in answers.groupby(["model", "prompt_version", "trait"]):
        wide = group.pivot(index="id", columns="repeat", values="score")
        scale = int(group["scale"].iloc[0])
        # Level 0 is missing in every statistic: two "insufficient information" answers are
        # not an agreement on a level (they counted as one in exact agreement).
        ratings = _nonzero(wide.to_numpy(dtype=float))
        rows.append(
            {
                "model": model,
                "prompt_version": version,
                "trait": trait,
                "people": int((np.sum(~np.isnan(ratings), axis=1) >= 2).sum()),
                "alpha_ordinal": krippendorff_alpha_ordinal(ratings, range(1, scale + 1)),
                "exact_agreement": exact_agreement(ratings),
            }
        )
    return _trait_order(pd.DataFrame(rows), ["model", "prompt_version"])


def _inter_model_table(store: TraitStore) -> pd.DataFrame:
    rows = []
    for version in store.prompt_versions():
        table = aggregate_traits(store, version)
        models = store.models(version)
        scale = int(table["scale"].iloc[0]) if "scale" in table and len(table) else 3
        if len(models) < 2:
            continue
        for t in TRAITS:
            levels = table[[f"{m}_{t}" for m in models]].astype("float64").to_numpy()
            ratings = _nonzero(levels)
            rows.append(
                {
                    "prompt_version": version,
                    "trait": t,
                    "models": len(models),
                    "people": int((np.sum(~np.isnan(ratings), axis=1) >= 2).sum()),
                    "alpha_ordinal": krippendorff_alpha_ordinal(ratings, range(1, scale + 1)),
                    "icc_2_1": icc_agreement(ratings),
                    "exact_agreement": exact_agreement(ratings),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "prompt_version",
            "trait",
            "models",
            "people",
            "alpha_ordinal",
            "icc_2_1",
            "exact_agreement",
        ],
    )


def _formats_table(store: TraitStore, answers: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "prompt_version",
        "model",
        "trait",
        "people",
        "variance_across_repeats",
        "insufficient_rate",
    ]
    versions = store.prompt_versions()
    if len(versions) < 2 or answers.empty:
        return pd.DataFrame(columns=columns)
    shared = set.intersection(*(set(store.people(v)["id"]) for v in versions))
    if not shared:
        return pd.DataFrame(columns=columns)
    sub = answers[answers["id"].isin(shared)].copy()
    scale = sub["scale"].astype(float)
    sub["unit"] = np.where(sub["score"] > 0, (sub["score"] - 1) / (scale - 1), np.nan)
    rows = []
    for (version, model, trait), group in sub.groupby(["prompt_version", "model", "trait"]):
        per_person = group.groupby("id")["unit"]
        variances = per_person.var(ddof=0)[per_person.count() >= 2]
        rows.append(
            {
                "prompt_version": version,
                "model": model,
                "trait": trait,
                "people": int(variances.size),
                "variance_across_repeats": float(variances.mean())
                if variances.size
                else float("nan"),
                "insufficient_rate": float((group["score"] == 0).mean()),
            }
        )
    return _trait_order(pd.DataFrame(rows, columns=columns), ["prompt_version", "model"])


def _trait_order(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if df.empty:
        return df
    order = {t: i for i, t in enumerate(TRAITS)}
    df = df.assign(_t=df["trait"].map(order)).sort_values([*keys, "_t"]).drop(columns="_t")
    return df.reset_index(drop=True)


def evaluate_store(store: TraitStore) -> Evaluation:
    """Every evaluation table of the store."""
    cell_counts = store.cell_counts()
    if not cell_counts:
        raise BadInput(
            f"{store.path}: the store holds no planned cells yet, so there is nothing to "
            "evaluate; fill it with `personax infer run` first."
        )
    answers = store.answers()
    return Evaluation(
        models=_model_table(store, cell_counts),
        retest=_retest_table(answers),
        inter_model=_inter_model_table(store),
        formats=_formats_table(store, answers),
    )


@literal_text
def plot_evaluation(evaluation: Evaluation, path: str | Path) -> None:
    """A PNG: outcome rates per model (left) and agreement per trait (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    models = evaluation.models
    labels = [
        f"{m}\n{v.rsplit('-', 1)[0]}"
        for m, v in zip(models["model"], models["prompt_version"], strict=False)
    ]
    x = np.arange(len(models))
    rates = [
        ("format_failure_rate", "format failure"),
        ("refusal_rate", "refusal"),
        ("error_rate", "error"),
        ("insufficient_rate", "insufficient info"),
    ]
    width = 0.8 / len(rates)
    for i, (col, label) in enumerate(rates):
        left.bar(x + i * width - 0.4 + width / 2, models[col].fillna(0), width, label=label)
    left.set_xticks(x, labels, fontsize=8)
    left.set_ylabel("rate")
    left.set_title("Outcomes per model")
    left.legend(fontsize=8)
    inter = evaluation.inter_model
    retest = evaluation.retest
    traits = list(TRAITS)
    tx = np.arange(len(traits))
    versions = list(dict.fromkeys([*inter["prompt_version"], *retest.get("prompt_version", [])]))
    # One prompt version in the agreement panel (the paper's default when present).
    shown = next(
        (v for v in versions if v.startswith("number-l3-inc-")), versions[0] if versions else ""
    )
    if not inter.empty and shown in set(inter["prompt_version"]):
        mine = inter[inter["prompt_version"] == shown].set_index("trait")
        right.plot(tx, mine["alpha_ordinal"].reindex(traits), "o-", label="inter-model α (ordinal)")
        right.plot(tx, mine["icc_2_1"].reindex(traits), "s-", label="inter-model ICC(2,1)")
    if not retest.empty and shown in set(retest["prompt_version"]):
        mine = retest[retest["prompt_version"] == shown]
        mean = mine.groupby("trait")["alpha_ordinal"].mean().reindex(traits)
        right.plot(tx, mean, "^--", label="test–retest α (mean over models)")
    right.axhline(0, color="grey", lw=0.5)
    right.set_xticks(tx, traits)
    right.set_ylim(-0.2, 1.05)
    right.set_title(f"Agreement per trait ({shown.rsplit('-', 1)[0] or 'no data'})")
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
