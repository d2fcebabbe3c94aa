"""Figures the report draws itself from the files of a run (everything else is embedded as-is).

Every figure is rendered to SVG bytes with a fixed hash salt and no date, so the same run
folder gives the same report bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from personax import TRAIT_NAMES

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies and in print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def svg_bytes(fig) -> bytes:
    """Render a matplotlib figure to deterministic SVG bytes and close it."""
    import matplotlib

    plt = _pyplot()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "personax", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def trait_distributions(counts: Mapping[str, Mapping[str, Sequence[int]]]) -> bytes:
    """Stacked bars: for each trait, the share of each score (0..3) given by each LLM.

    ``counts[llm][trait]`` holds the number of answers with score 0, 1, 2, 3.
    """
    plt = _pyplot()
    llms = list(counts)
    traits = list(next(iter(counts.values()))) if counts else []
    fig, axes = plt.subplots(
        1, max(len(traits), 1), figsize=(1.9 * max(len(traits), 1) + 0.6, 2.6), sharey=True
    )
    axes = np.atleast_1d(axes)
    score_colors = ("#BBBBBB", "#56B4E9", "#0072B2", "#003F66")
    score_labels = ("0 (insufficient)", "1 (low)", "2 (medium)", "3 (high)")
    for ax, trait in zip(axes, traits, strict=False):
        bottoms = np.zeros(len(llms))
        for score in range(4):
            shares = []
            for llm in llms:
                row = np.asarray(counts[llm][trait], dtype=float)
                total = row.sum()
                shares.append(row[score] / total if total else 0.0)
            ax.bar(range(len(llms)), shares, bottom=bottoms, color=score_colors[score], width=0.75)
            bottoms += np.asarray(shares)
        ax.set_title(TRAIT_NAMES.get(trait, trait), fontsize=9)
        ax.set_xticks(range(len(llms)))
        ax.set_xticklabels(llms, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(axis="y", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].set_ylabel("share of people", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in score_colors]
    fig.legend(
        handles,
        score_labels,
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, -0.12),
    )
    fig.tight_layout()
    return svg_bytes(fig)


def matrix_heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
    colorbar_label: str,
    marks: np.ndarray | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool = True,
) -> bytes:
    """A labelled heatmap; cells where ``marks`` is true get a star. NaN cells are grey."""
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    n_rows, n_cols = values.shape
    fig, ax = plt.subplots(figsize=(max(3.2, 0.55 * n_cols + 2.2), max(2.0, 0.42 * n_rows + 1.2)))
    masked = np.ma.masked_invalid(values)
    cmap_obj = plt.get_cmap(cmap).copy()
    cmap_obj.set_bad("#DDDDDD")
    image = ax.imshow(masked, cmap=cmap_obj, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels(col_labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(row_labels, fontsize=8)
    ax.set_title(title, fontsize=9)
    if annotate and n_rows * n_cols <= 400:
        lo = np.nanmin(values) if np.isfinite(values).any() else 0.0
        hi = np.nanmax(values) if np.isfinite(values).any() else 1.0
        lo = lo if vmin is None else vmin
        hi = hi if vmax is None else vmax
        for i in range(n_rows):
            for j in range(n_cols):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                star = "*" if marks is not None and bool(marks[i, j]) else ""
                dark = (v - lo) / (hi - lo + 1e-12) < 0.55
                ax.text(
                    j,
                    i,
                    f"{v:.2f}{star}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if dark else "black",
                )
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(colorbar_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.tight_layout()
    return svg_bytes(fig)


def graph_drawing(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, str]],
    *,
    groups: Mapping[str, str] | None = None,
    title: str = "",
) -> bytes:
    """Draw a small causal graph: nodes coloured by group, edges by type.

    ``edges`` holds (source, target, type) with type directed / undirected / bidirected.
    Nodes of one group share a column, so shared → modality blocks read left to right.
    """
    plt = _pyplot()
    from matplotlib.patches import FancyArrowPatch

    groups = dict(groups or {})
    group_order: list[str] = []
    for node in nodes:
        g = groups.get(node, "")
        if g not in group_order:
            group_order.append(g)
    positions: dict[str, tuple[float, float]] = {}
    for gx, g in enumerate(group_order):
        members = [n for n in nodes if groups.get(n, "") == g]
        for k, node in enumerate(members):
            positions[node] = (gx * 2.2, -(k - (len(members) - 1) / 2) * 1.0)
    width = max(3.0, 2.0 * len(group_order) + 1.0)
    height = max(
        2.0,
        0.75 * max((sum(groups.get(n, "") == g for n in nodes) for g in group_order), default=1)
        + 1.0,
    )
    fig, ax = plt.subplots(figsize=(width, height))
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(group_order)}
    for source, target, kind in edges:
        if source not in positions or target not in positions:
            continue
        style = {"directed": "-|>", "bidirected": "<|-|>"}.get(kind, "-")
        arrow = FancyArrowPatch(
            positions[source],
            positions[target],
            arrowstyle=style,
            mutation_scale=12,
            color="#333333",
            lw=1.2,
            shrinkA=16,
            shrinkB=16,
            connectionstyle="arc3,rad=0.12" if kind != "undirected" else "arc3,rad=0.0",
            linestyle="--" if kind == "bidirected" else "-",
        )
        ax.add_patch(arrow)
    for node, (x, y) in positions.items():
        ax.scatter([x], [y], s=900, color=colors[groups.get(node, "")], zorder=3, alpha=0.9)
        ax.text(
            x,
            y,
            node,
            ha="center",
            va="center",
            fontsize=7,
            color="white",
            zorder=4,
            fontweight="bold",
        )
    for g in group_order:
        if g:
            ax.scatter([], [], s=60, color=colors[g], label=g)
    if any(group_order):
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncol=len(group_order),
            fontsize=7,
            frameon=False,
        )
    xs = [p[0] for p in positions.values()] or [0.0]
    ys = [p[1] for p in positions.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return svg_bytes(fig)
