"""Small HTML building blocks. Every piece of text goes through :func:`esc`."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

MIME = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers to short text: p-values in scientific notation when tiny, NaN as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value == 0:
            return "0"
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return str(value)


def figure(data: bytes, mime: str, alt: str, caption: str = "") -> str:
    """An <img> with the figure inline as a data URI (no network, no id clashes between SVGs)."""
    encoded = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img class="figure" src="data:{mime};base64,{encoded}" alt="{esc(alt)}">'
        f"{cap}</figure>"
    )


def figure_file(path: Path, alt: str, caption: str = "") -> str:
    return figure(path.read_bytes(), MIME[path.suffix.lower()], alt, caption)


def first_existing(folder: Path, names: Iterable[str]) -> Path | None:
    for name in names:
        candidate = folder / name
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Sequence[bool] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    numeric = list(numeric or [False] * len(headers))
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if numeric[i] else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{esc(row_classes[r])}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            f'<td class="num">{esc(fmt(v))}</td>' if numeric[i] else f"<td>{esc(fmt(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def kpis(items: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<div class="kpi"><div class="value">{esc(fmt(v))}</div><div class="label">{esc(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="kpis">{cells}</div>'


def section(anchor: str, title: str, inner: str, extra_class: str = "") -> str:
    cls = f"card {extra_class}".strip()
    return f'<section class="{cls}" id="{esc(anchor)}"><h2>{esc(title)}</h2>{inner}</section>'


def para(text: str, cls: str = "") -> str:
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"
