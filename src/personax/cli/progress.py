"""The CLI's progress bar for library work that reports ``progress(stage, done, total)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def progress_console() -> Console:
    """Where progress bars draw: standard error, so standard output stays clean for results
    (a transient bar that stops on a non-terminal would otherwise leave a blank line there)."""
    from rich.console import Console

    return Console(stderr=True)


def bars_disabled(console: Console) -> bool:
    """Bars only on a terminal: in a log or a pipe they are noise (and a stopped bar leaves an
    empty line before any error message)."""
    return not console.is_terminal


def rich_progress() -> tuple[Progress, Callable[[str, int, int], None]]:
    """A transient rich progress bar and the ``progress(stage, done, total)`` callback that
    drives it: one bar per stage, created the first time the stage reports.

    Use as ``bar, callback = rich_progress()`` then ``with bar: library_call(progress=callback)``.
    """
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    console = progress_console()
    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=bars_disabled(console),
    )
    tasks: dict[str, int] = {}

    def callback(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, callback
