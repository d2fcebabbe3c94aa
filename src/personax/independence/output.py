"""Files of a battery run: results.csv, wide p-value matrices, heatmaps (PNG + SVG)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from personax.atomic import atomic_path, write_json, write_text
from personax.independence.battery import BatteryResult
from personax.plotting import literal_text

CAP_LOG10 = 10.0
TEST_TITLES = {
    "kci": "KCI",
    "rcit": "RCIT",
    "hsic": "HSIC",
    "chisq": "chi-square",
    "gsq": "G-square",
}


def _csv(frame, path: Path, index: bool) -> None:
    write_text(path, frame.to_csv(index=index, lineterminator="\n", float_format="%.10g"))


@literal_text
def draw_heatmap(result: BatteryResult, test: str, png: Path, svg: Path) -> None:
    """-log10 p of one test, traits (grouped by LLM) × attributes, BH-significant cells starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pvals = result.pvalue_matrix(test)
    adjusted = result.pvalue_matrix(test, adjusted=True)
    rows = list(pvals.index)
    # group rows by LLM: final traits first, then each LLM in order of appearance
    groups: dict[str, list[str]] = {}
    for t in rows:
        groups.setdefault(result.groups.get(t, "traits"), []).append(t)
    ordered = [t for g in sorted(groups, key=lambda g: g != "final") for t in groups[g]]
    pvals, adjusted = pvals.loc[ordered], adjusted.loc[ordered]
    with np.errstate(divide="ignore"):
        score = -np.log10(pvals.to_numpy(dtype=float).clip(min=1e-300))
    vmax = CAP_LOG10  # beyond p = 1e-10 every cell reads as "certainly dependent"
    height = 1.5 + 0.32 * len(ordered)
    width = 2.5 + 0.38 * len(pvals.columns)
    fig, ax = plt.subplots(figsize=(width, height))
    masked = np.ma.masked_invalid(score)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.minimum(masked, vmax), aspect="auto", cmap=cmap, vmin=0, vmax=vmax)
    sig = adjusted.to_numpy(dtype=float) < result.alpha
    for i, j in zip(*np.nonzero(sig), strict=True):
        ax.text(j, i, "*", ha="center", va="center", color="white", fontsize=10, fontweight="bold")
    ax.set_xticks(
        range(len(pvals.columns)), list(pvals.columns), rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(ordered)), ordered, fontsize=8)
    start = 0
    for g in sorted(groups, key=lambda g: g != "final"):
        size = len(groups[g])
        if start:
            ax.axhline(start - 0.5, color="white", linewidth=2)
        if len(groups) > 1:
            ax.text(
                len(pvals.columns) - 0.4, start + size / 2 - 0.5, f" {g}", va="center", fontsize=8
            )
        start += size
    mode = "paper-compatible" if result.compat == "paper" else "personax default"
    ax.set_title(
        f"{TEST_TITLES.get(test, test)}: -log10 p ({mode}); * = BH-adjusted p < {result.alpha:g}",
        fontsize=9,
    )
    fig.colorbar(
        image,
        ax=ax,
        fraction=0.03,
        pad=0.08 if len(groups) > 1 else 0.02,
        label=f"-log10 p (capped at {CAP_LOG10:g})",
    )
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    with atomic_path(svg) as tmp:
        with matplotlib.rc_context({"svg.hashsalt": "personax"}):
            fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)


def write_battery(result: BatteryResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write results.csv, pvalues_<test>.csv, heatmap_<test>.png/.svg and run.json into
    ``out_dir`` (each file atomically; the CLI swaps in the whole folder)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_battery_files(result, out)
    return [out / name for name in _battery_file_names(result)]


def _battery_file_names(result: BatteryResult) -> list[str]:
    names = ["results.csv"]
    for test in result.tests:
        names += [f"pvalues_{test}.csv", f"heatmap_{test}.png", f"heatmap_{test}.svg"]
    return names + ["run.json"]


def _write_battery_files(result: BatteryResult, out: Path) -> None:
    _csv(result.results, out / "results.csv", index=False)
    for test in result.tests:
        _csv(
            result.pvalue_matrix(test).rename_axis("trait"), out / f"pvalues_{test}.csv", index=True
        )
        draw_heatmap(result, test, out / f"heatmap_{test}.png", out / f"heatmap_{test}.svg")
    summary = {
        "tests": list(result.tests),
        "traits": list(result.traits),
        "attributes": list(result.attributes),
        "alpha": result.alpha,
        "compat": result.compat,
        "seed": result.seed,
        "significant": {
            t: int(result.results.loc[result.results["test"] == t, "significant"].sum())
            for t in result.tests
        },
    }
    write_json(out / "run.json", summary)
