"""`personax independence TABLE ...` — the Level I battery of independence tests."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.options import optional_comma_list, seed_option
from personax.cli.progress import bars_disabled, progress_console


def register(app: typer.Typer) -> None:
    @app.command("independence")
    def independence(
        table: Path = typer.Argument(..., help="PersonaX table (CSV/Parquet) or dataset folder."),
        out: Path = typer.Option(
            ..., "--out", help="Folder for results.csv, p-value matrices, heatmaps."
        ),
        traits: str | None = typer.Option(
            None, "--traits", help="Comma-separated trait columns (default: every final_* column)."
        ),
        attributes: str | None = typer.Option(
            None,
            "--attributes",
            help="Comma-separated attribute columns (default: all but id, traits, embeddings).",
        ),
        tests: str = typer.Option(
            "kci,rcit,hsic,chisq,gsq", "--tests", help="Comma-separated tests to run."
        ),
        compat: str | None = typer.Option(
            None,
            "--compat",
            help="'paper': kernel widths and nulls exactly as the authors' libraries.",
        ),
        seed: int = seed_option("Seed of RCIT's random features."),
        alpha: float = typer.Option(0.05, "--alpha", help="Level for BH-adjusted significance."),
        bins: int | None = typer.Option(
            None, "--bins", help="Bin continuous attributes into B quantile bins for chisq/gsq."
        ),
        jobs: int = typer.Option(1, "--jobs", help="Parallel worker processes."),
        approx: str | None = typer.Option(
            None,
            "--approx",
            help="'grid': opt-in approximation of KCI/HSIC where the exact cost is O(n²)-like "
            "(both columns continuous, or over 4,096 distinct values); marked in the note column.",
        ),
    ) -> None:
        """Test every trait against every attribute with KCI, RCIT, HSIC, chi-square, G-square."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from personax.atomic import check_output_dir, output_dir
        from personax.data import read_table
        from personax.errors import BadInput
        from personax.independence.battery import run_battery
        from personax.independence.output import write_battery

        if jobs < 1:
            raise BadInput(f"--jobs must be at least 1, got {jobs}.")
        trait_list = optional_comma_list(traits, "--traits", "final_o,final_c")
        attribute_list = optional_comma_list(attributes, "--attributes", "gender,occupation")
        test_list = optional_comma_list(tests, "--tests", "kci,chisq")
        # fail before the long computation, not after
        check_output_dir(out, inputs=(table,), kind="independence")
        df = read_table(table)
        console = progress_console()
        with Progress(
            TextColumn("[bold]independence[/]"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} attributes"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=bars_disabled(console),
        ) as bar:
            task = bar.add_task("pairs", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_battery(
                df,
                traits=trait_list,
                attributes=attribute_list,
                tests=test_list or [],
                compat=compat,
                seed=seed,
                alpha=alpha,
                bins=bins,
                n_jobs=jobs,
                progress=progress,
                source=str(table),
                approx=approx,
            )
        with output_dir(out, kind="independence") as tmp:
            write_battery(result, tmp)
        summary = Table(
            title=f"Level I: {len(result.traits)} traits × {len(result.attributes)} attributes"
        )
        for col in ("test", "pairs tested", "skipped / no p", f"BH p < {alpha:g}"):
            summary.add_column(col)
        frame = result.results
        for test in result.tests:
            sub = frame[frame["test"] == test]
            tested = int(sub["p_value"].notna().sum())
            summary.add_row(
                test, str(tested), str(len(sub) - tested), str(int(sub["significant"].sum()))
            )
        console.print(summary)
        typer.echo(f"wrote {out / 'results.csv'} and {len(result.tests)} heatmaps to {out}")
