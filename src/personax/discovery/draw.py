"""Drawing and writing a causal graph: graph.json, graph.dot, graph.png, graph.svg.

Nodes are coloured by group — shared latents, image latents, trait latents, attributes — and
placed on a circle group by group, so each group forms an arc. Directed edges are solid black
arrows, undirected edges solid grey lines, bidirected edges dashed red double arrows.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from personax.atomic import atomic_path, write_text
from personax.discovery.graph import CausalGraph
from personax.plotting import literal_text

GROUP_ORDER = ("shared", "image", "trait", "attribute")
GROUP_COLOURS = {
    "shared": "#8e6bbf",
    "image": "#3b8bd0",
    "trait": "#e0823d",
    "attribute": "#9a9a9a",
}
GROUP_LABELS = {
    "shared": "shared latent",
    "image": "image latent",
    "trait": "trait latent",
    "attribute": "attribute",
}
EDGE_STYLES = {
    "directed": {"color": "#222222", "linestyle": "-", "arrowstyle": "-|>"},
    "undirected": {"color": "#8a8a8a", "linestyle": "-", "arrowstyle": "-"},
    "bidirected": {"color": "#c0392b", "linestyle": "--", "arrowstyle": "<|-|>"},
}

_SHARED = re.compile(r"^s_\d+$")
_IMAGE = re.compile(r"^z_(face|image)_\d+$")
_TRAIT = re.compile(r"^(z_text_\d+|final_[ocean])$")


def infer_group(name: str) -> str:
    """Group of a column from its name: ``s_*`` shared, ``z_face_*``/``z_image_*`` image,
    ``z_text_*`` and ``final_*`` trait, anything else attribute."""
    if _SHARED.match(name):
        return "shared"
    if _IMAGE.match(name):
        return "image"
    if _TRAIT.match(name):
        return "trait"
    return "attribute"


def node_groups(nodes, groups: dict[str, str] | None = None) -> dict[str, str]:
    groups = groups or {}
    out = {}
    for n in nodes:
        g = groups.get(n, infer_group(n))
        out[n] = g if g in GROUP_COLOURS else "attribute"
    return out


def _layout(nodes, groups) -> dict[str, tuple[float, float]]:
    ordered = sorted(nodes, key=lambda n: (GROUP_ORDER.index(groups[n]), list(nodes).index(n)))
    k = len(ordered)
    if k == 1:
        return {ordered[0]: (0.0, 0.0)}
    return {
        n: (
            math.cos(math.pi / 2 - 2 * math.pi * i / k),
            math.sin(math.pi / 2 - 2 * math.pi * i / k),
        )
        for i, n in enumerate(ordered)
    }


@literal_text
def draw_graph(graph: CausalGraph, groups: dict[str, str] | None = None, title: str = ""):
    """A matplotlib Figure of ``graph`` (no pyplot state is touched)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, FancyArrowPatch, Patch

    nodes = list(graph.nodes)
    groups_of = node_groups(nodes, groups)
    pos = _layout(nodes, groups_of)
    size = 6.0 + 0.25 * max(0, len(nodes) - 10)
    fig = Figure(figsize=(size + 2.5, size))
    ax = fig.add_axes((0.02, 0.02, size / (size + 2.5) - 0.02, 0.92))
    ax.set_aspect("equal")
    ax.axis("off")
    radius = min(0.16, 1.6 / max(len(nodes), 1))
    for e in graph.edges:
        style = EDGE_STYLES[e.type]
        # Lines stop at the node circles so arrowheads stay visible.
        start, end = _shorten(pos[e.source], pos[e.target], radius)
        arrow = FancyArrowPatch(
            start,
            end,
            arrowstyle=style["arrowstyle"],
            mutation_scale=16,
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.6,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
        ax.add_patch(arrow)
    for n in nodes:
        x, y = pos[n]
        ax.add_patch(
            Circle(
                (x, y),
                radius,
                facecolor=GROUP_COLOURS[groups_of[n]],
                edgecolor="white",
                linewidth=1.5,
                zorder=2,
            )
        )
        ax.text(
            x,
            y,
            n,
            ha="center",
            va="center",
            fontsize=8 if len(n) <= 8 else 7,
            zorder=3,
            color="black",
            bbox={
                "boxstyle": "round,pad=0.15",
                "facecolor": "white",
                "alpha": 0.75,
                "edgecolor": "none",
            },
        )
    lim = 1.0 + radius + 0.1
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    present = [g for g in GROUP_ORDER if g in groups_of.values()]
    handles = [Patch(facecolor=GROUP_COLOURS[g], label=GROUP_LABELS[g]) for g in present]
    handles += [
        Line2D(
            [0],
            [0],
            color=EDGE_STYLES[t]["color"],
            linestyle=EDGE_STYLES[t]["linestyle"],
            linewidth=1.6,
            label=label,
        )
        for t, label in (
            ("directed", "→ directed"),
            ("undirected", "— undirected"),
            ("bidirected", "↔ bidirected"),
        )
    ]
    fig.legend(handles=handles, loc="center right", frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _shorten(a, b, radius):
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    return (a[0] + ux * radius, a[1] + uy * radius), (b[0] - ux * radius, b[1] - uy * radius)


def write_graph(
    graph: CausalGraph,
    out_dir: str | os.PathLike[str],
    groups: dict[str, str] | None = None,
    title: str = "",
) -> dict[str, Path]:
    """Write graph.json, graph.dot, graph.png and graph.svg into ``out_dir`` (each atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "graph.json",
        "dot": out / "graph.dot",
        "png": out / "graph.png",
        "svg": out / "graph.svg",
    }
    write_text(paths["json"], graph.to_json())
    write_text(paths["dot"], graph.to_dot())
    save_figure(draw_graph(graph, groups, title), paths["png"], paths["svg"], dpi=150)
    return paths


@literal_text
def save_figure(fig, png: Path, svg: Path, dpi: int = 150) -> None:
    """Save a matplotlib Figure as PNG and SVG, atomically and byte-reproducibly (fixed
    metadata and SVG id salt)."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "personax", "svg.fonttype": "none"}):
        with atomic_path(svg) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
        with atomic_path(png) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
