"""Figures show user-given names (columns, latents, models) as they are written.

Matplotlib reads text between two ``$`` as mathtext: a column named ``cost $^$`` crashed the
drawing and ``$x$`` would be drawn as a formula. Every function that creates or saves a figure
runs under :func:`literal_text`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def literal_text(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with mathtext parsing off, for the texts it creates and the ones matplotlib
    creates while it draws (tick labels)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return func(*args, **kwargs)

    return wrapper
