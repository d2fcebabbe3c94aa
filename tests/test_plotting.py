from __future__ import annotations

import io

import pytest

from personax.plotting import literal_text


def _draw(label: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, label)
    ax.set_xticks([0, 1], [label, "b"])  # tick labels are made while drawing
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_user_names_with_dollar_signs_are_drawn_as_text():
    with pytest.raises(ValueError):
        _draw("cost $^$")  # what matplotlib does to such a name by default
    assert literal_text(_draw)("cost $^$")[:4] == b"\x89PNG"
    assert literal_text(_draw)(r"$\frac{a}$")[:4] == b"\x89PNG"
