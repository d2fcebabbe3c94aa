"""`personax demo` and `personax report` — the main job (filled in by the demo issue)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder to write."),
        seed: int = typer.Option(0, "--seed", help="Random seed for every step."),
    ) -> None:
        """Run the whole analysis on the embedded (synthetic) sample."""
        typer.echo(
            "personax demo: the end-to-end demo is not built yet (see the main-job issue); "
            f"nothing was written to {out}."
        )
