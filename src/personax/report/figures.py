"""Figures the report draws itself from the files of a run (everything else is embedded as-is).

Every figure is rendered to SVG bytes with a fixed hash salt and no date, so the same run
folder gives the same report bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from personax import TRAIT_NAMES
from personax.plotting import literal_text


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


@literal_text
def svg_bytes(fig) -> bytes:
    """Render a matplotlib figure to deterministic SVG bytes and close it."""
    import matplotlib

    plt = _pyplot()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "personax", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


@literal_text
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


@literal_text
def graph_svg(nodes: Sequence[str], edges: Sequence[tuple[str, str, str]], title: str) -> bytes:
    """A graph over latents drawn by the discovery step's drawing code, as SVG bytes."""
    from personax.discovery.draw import draw_graph
    from personax.discovery.graph import CausalGraph, Edge

    graph = CausalGraph(nodes=tuple(nodes), edges=tuple(Edge(a, b, t) for a, b, t in edges))
    return svg_bytes(draw_graph(graph, title=title))
