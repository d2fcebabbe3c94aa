"""`personax demo` (the whole analysis on the embedded sample) and `personax report RUN_DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.options import seed_option, unused_seed_option

try:  # recent typer vendors click as typer._click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException

STATUS_STYLE = {"ok": "green", "failed": "bold red", "unavailable": "yellow", "skipped": "yellow"}
STATUS_LABEL = {
    "ok": "done",
    "failed": "FAILED",
    "unavailable": "not available in this build",
    "skipped": "skipped",
}


class StepsFailed(ClickException):
    """Some step of the demo failed: exit code 1. (The CLI entry maps a ClickException to its
    exit code; a ``typer.Exit`` code is not passed on by ``main`` in non-standalone mode.)"""

    exit_code = 1


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder to write."),
        kind: str = typer.Option(
            "athlete", "--kind", help="Embedded synthetic sample: athlete or celebrity."
        ),
        data: Path | None = typer.Option(
            None, "--data", help="Run on this PersonaX table (CSV/Parquet) or dataset folder."
        ),
        seed: int = seed_option("Random seed for every step."),
        quick: bool = typer.Option(
            False,
            "--quick",
            help="600 sample people and 40 CRL epochs (under a minute); --data tables are used whole.",
        ),
        discovery_test: str = typer.Option(
            "fisherz",
            "--discovery-test",
            help="CI test of PC on the latents: fisherz (fast), kci (the paper's; slow: "
            "subsamples 1,500 rows), rcit.",
        ),
    ) -> None:
        """Run the whole analysis (Level I, CRL, discovery, naming) and write a report."""
        from dataclasses import replace

        from rich.console import Console

        from personax.data.sample import check_kind
        from personax.errors import BadInput
        from personax.pipeline import STEP_TITLES, DemoSettings, run_demo

        if data is None:  # before the progress display is drawn
            check_kind(kind, "--kind")
        if discovery_test not in ("fisherz", "kci", "rcit"):
            raise BadInput(
                f"--discovery-test must be fisherz, kci or rcit, got {discovery_test!r}."
            )
        settings = replace(DemoSettings.for_mode(quick), discovery_test=discovery_test)

        console = Console(stderr=True)
        progress, finish = _progress_display(console, STEP_TITLES)
        try:
            result = run_demo(
                out,
                kind=kind,
                data=data,
                seed=seed,
                quick=quick,
                progress=progress,
                settings=settings,
            )
        finally:
            finish()
        _summary(result, STEP_TITLES)
        if not result.ok:
            failed = ", ".join(s.name for s in result.steps if s.status == "failed")
            raise StepsFailed(
                f"step(s) failed: {failed}; the other steps' outputs and the report are in {out}."
            )

    @app.command("report")
    def report(
        run_dir: Path = typer.Argument(..., help="A run folder written by `personax demo`."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Rebuild RUN_DIR/report.html from the files in the run folder."""
        from personax.errors import BadInput
        from personax.report import build_report

        if not run_dir.is_dir():
            raise BadInput(f"{run_dir}: no such run folder.")
        path = build_report(run_dir)
        typer.echo(f"report: {path}")


def _progress_display(console, titles: dict[str, str]):
    """A rich progress display with one line per step; returns (callback, finish)."""
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    display = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[title]:<13}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=False,
    )
    tasks: dict[str, int] = {}
    display.start()

    def callback(step: str, message: str, fraction: float | None) -> None:
        if step not in tasks:
            tasks[step] = display.add_task("", total=1.0, title=titles.get(step, step), detail="")
        task = tasks[step]
        status = message.split(":", 1)[0] if fraction == 1.0 else ""
        if status in STATUS_STYLE:
            detail = message.split(":", 1)[1].strip()
            style = STATUS_STYLE[status]
            display.update(
                task,
                completed=1.0,
                detail=f"[{style}]{STATUS_LABEL[status]}[/] {_short(detail)}",
            )
            display.stop_task(task)
            return
        display.update(
            task,
            completed=fraction if fraction is not None else None,
            detail=_short(message),
        )

    return callback, display.stop


def _short(text: str, width: int = 60) -> str:
    from rich.markup import escape

    text = " ".join(str(text).split())
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def _summary(result, titles: dict[str, str]) -> None:
    """Where everything went: one row per step (folder relative to the run folder), then the
    steps' notes (the numbers), then the report and manifest paths."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"personax demo → {escape(str(result.out_dir))}", title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("written to (in the run folder)", overflow="fold")
    for step in result.steps:
        folders = sorted({o.split("/", 1)[0] + "/" if "/" in o else o for o in step.outputs})
        if step.name == "naming" and step.outputs:
            folders = ["discovery/explain/"]
        style = STATUS_STYLE.get(step.status, "")
        table.add_row(
            escape(titles.get(step.name, step.name)),
            f"[{style}]{STATUS_LABEL.get(step.status, step.status)}[/]",
            f"{step.seconds:.1f}",
            escape(", ".join(folders) or "—"),
        )
    console = Console()
    console.print(table)
    for step in result.steps:
        if step.note:
            console.print(f"  [bold]{escape(step.name)}[/]: {escape(step.note)}")
    if result.report is not None:
        console.print(f"Report: [bold]{escape(str(result.report))}[/]")
    console.print(f"Manifest: {escape(str(result.manifest))}")
