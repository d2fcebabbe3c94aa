"""`personax infer run|aggregate|evaluate|status` — multi-LLM trait inference with a store."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from personax.cli.groups import infer_app
from personax.cli.options import seed_option, unused_seed_option
from personax.cli.progress import progress_console


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3g}"
    return str(value)


# Text columns fold inside their cell when space is short; every other column keeps its full
# width (a number split over lines is unreadable).
_FOLDING_COLUMNS = ("model", "prompt")
_MIN_FOLDED_WIDTH = 12


def _print_table(title: str, df, columns: list[str] | None = None) -> None:  # noqa: ANN001
    """A rich table when it fits the console; otherwise a plain comma-separated layout, so a
    narrow terminal or a pipe never gets columns one character wide."""
    import csv
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console()
    cols = columns or list(df.columns)
    rows = [[_fmt(v) for v in row] for row in df[cols].itertuples(index=False)]
    headers = ["prompt" if c == "prompt_version" else str(c) for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    least = [  # a folding column may shrink, but never below its header
        max(len(h), min(w, _MIN_FOLDED_WIDTH)) if h in _FOLDING_COLUMNS else w
        for h, w in zip(headers, widths, strict=True)
    ]
    needed = 1 + sum(3 + w for w in least)  # a rich box: a border and two spaces per column
    if needed > console.width:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        typer.echo(f"{title} (plain layout: the table is wider than the terminal)")
        typer.echo(buffer.getvalue(), nl=False)
        return
    table = Table(title=title, title_justify="left")
    for header, width in zip(headers, least, strict=True):
        if header in _FOLDING_COLUMNS:
            table.add_column(header, overflow="fold", min_width=width)
        else:
            table.add_column(header, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _print_evaluation(evaluation) -> None:  # noqa: ANN001
    """Compact terminal view; the CSVs hold every column."""
    from personax import TRAITS

    models = evaluation.models.rename(
        columns={
            "prompt_version": "prompt",
            "answered": "ok",
            "format_failure_rate": "fmt fail",
            "refusal_rate": "refusal",
            "error_rate": "error",
            "insufficient_rate": "insuff",
            "latency_p50_s": "p50 s",
            "latency_p90_s": "p90 s",
            "completion_tokens": "out tok",
        }
    )
    for col in ("fmt fail", "refusal", "error", "insuff"):
        models[col] = models[col].map(lambda v: "—" if math.isnan(v) else f"{100 * v:.1f}%")
    _print_table(
        "Per model",
        models,
        ["model", "prompt", "asked", "ok", "failed", "fmt fail", "refusal", "error", "insuff",
         "p50 s", "p90 s", "out tok"],
    )  # fmt: skip
    if not evaluation.retest.empty:
        wide = evaluation.retest.pivot_table(
            index=["model", "prompt_version"], columns="trait", values="alpha_ordinal", dropna=False
        )
        wide = wide.reindex(columns=list(TRAITS)).reset_index()
        _print_table("Test–retest agreement: Krippendorff's alpha (ordinal) per trait", wide)
    if not evaluation.inter_model.empty:
        _print_table(
            "Inter-model agreement per trait",
            evaluation.inter_model.rename(columns={"prompt_version": "prompt"}),
        )
    if not evaluation.formats.empty:
        wide = evaluation.formats.pivot_table(
            index="prompt_version", columns="trait", values="variance_across_repeats"
        )
        wide = wide.reindex(columns=list(TRAITS)).reset_index()
        wide["mean"] = wide[list(TRAITS)].mean(axis=1)
        _print_table(
            "Prompt formats: variance across repeats (levels rescaled to 0..1; mean over models)",
            wide.sort_values("mean"),
        )


def register(app: typer.Typer) -> None:
    @infer_app.command("run")
    def run(
        roster: Path = typer.Option(..., "--roster", help="CSV/Parquet with id, name, context."),
        models: Path = typer.Option(
            ..., "--models", help="Models file (TOML, one \\[\\[model]] table per LLM)."
        ),
        store: Path = typer.Option(..., "--store", help="Trait store (SQLite); created if absent."),
        prompt: str = typer.Option(
            "number-l3-inc", "--prompt", help="Prompt format, e.g. number-l3-inc, text-l5-exc."
        ),
        repeats: int = typer.Option(1, "--repeats", help="Times each model is asked per person."),
        concurrency: int | None = typer.Option(
            None, "--concurrency", help="Requests in flight per model (overrides the models file)."
        ),
        seed: int = seed_option(
            "Base seed sent to providers (+ repeat index) and for retry jitter."
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    ) -> None:
        """Ask every model about every person; re-running finishes only what is missing."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from personax.traits.client import load_models
        from personax.traits.prompts import get_format
        from personax.traits.runner import check_run_options, load_roster, run_inference

        check_run_options(repeats, concurrency)
        fmt = get_format(prompt)
        specs = load_models(models)
        people = load_roster(roster)
        progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=progress_console(),  # stderr: standard output carries the summary
            disable=quiet,
            transient=False,
        )
        task_id = progress.add_task("asking", total=None)

        # The bar appears once the store is open and the plan known, so a bad --store gets
        # its one sentence on stderr without an empty bar above it.
        def on_plan(planned: int, to_ask: int) -> None:
            progress.update(task_id, total=to_ask)
            progress.start()

        # Raised as Abort so the root command maps Ctrl-C to exit code 130 (typer turns a bare
        # KeyboardInterrupt into a return value the non-standalone entry point would drop).
        try:
            try:
                summary = run_inference(
                    store,
                    people,
                    specs,
                    fmt,
                    repeats=repeats,
                    concurrency=concurrency,
                    seed=seed,
                    progress=lambda result: progress.advance(task_id),
                    on_plan=on_plan,
                )
            finally:
                if progress.live.is_started:  # stopping an unstarted bar prints a blank line
                    progress.stop()
        except KeyboardInterrupt:
            raise typer.Abort() from None
        s = summary
        typer.echo(
            f"{store}: {s.planned} cells planned ({fmt.version}); {s.already_answered} already "
            f"answered; asked {s.asked}: {s.ok} ok, {s.format_failure} format failures, "
            f"{s.refusal} refusals, {s.error} errors."
        )
        if s.error:
            typer.echo(
                f"{s.error} cell(s) got no answer (network, timeouts or server errors after all "
                "retries); re-run the same command to retry only those.",
                err=True,
            )
            # A script must see that the store is incomplete (every call answered 401, a dead
            # port): exit 1, as for any failure; the answers that came are stored.
            raise typer.Exit(1)

    @infer_app.command("aggregate")
    def aggregate(
        store: Path = typer.Option(..., "--store", help="Trait store (SQLite)."),
        out: Path = typer.Option(..., "--out", help="Traits table to write (.csv or .parquet)."),
        prompt: str | None = typer.Option(
            None, "--prompt", help="Prompt format or version (needed when the store has several)."
        ),
        seed: int = unused_seed_option(),
    ) -> None:
        """Write id, <llm>_<t> (most common level over repeats) and final_<t> (median of non-zero)."""
        from personax.atomic import check_output_file, refuse_overwriting
        from personax.data import write_table
        from personax.traits.aggregate import aggregate_traits
        from personax.traits.store import TraitStore

        check_output_file(out)
        refuse_overwriting(out, (store,), "table path")  # the store holds every paid answer
        with TraitStore(store) as st:
            table = aggregate_traits(st, prompt)
        write_table(table, out)
        typer.echo(f"{out}: {len(table)} people × {table.shape[1] - 1} columns.")

    @infer_app.command("evaluate")
    def evaluate(
        store: Path = typer.Option(..., "--store", help="Trait store (SQLite)."),
        out: Path | None = typer.Option(None, "--out", help="Folder for the CSVs and figure."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Answer rates, latency, tokens, test–retest and inter-model agreement, format comparison."""
        from personax.atomic import check_output_dir, output_dir
        from personax.traits.evaluate import evaluate_store, plot_evaluation

        if out is not None:
            check_output_dir(out, inputs=(store,), kind="infer-evaluate")
        from personax.traits.store import TraitStore

        with TraitStore(store) as st:
            evaluation = evaluate_store(st)
        _print_evaluation(evaluation)
        if out is not None:
            with output_dir(out, kind="infer-evaluate") as tmp:
                for name, df in evaluation.tables().items():
                    df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
                plot_evaluation(evaluation, tmp / "evaluation.png")
            typer.echo(
                f"{out}: {', '.join(f'{n}.csv' for n in evaluation.tables())}, evaluation.png"
            )

    @infer_app.command("status")
    def status(
        store: Path = typer.Option(..., "--store", help="Trait store (SQLite)."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Planned cells per model: done, failed (answered, unusable), errored (retried), pending."""
        import pandas as pd

        from personax.traits.store import TraitStore

        with TraitStore(store) as st:
            counts = st.cell_counts()
        df = pd.DataFrame([c.to_dict() for c in counts])
        if df.empty:
            typer.echo(f"{store}: no planned cells.")
            return
        _print_table(f"{store}", df)
        total = df[["planned", "done", "failed", "errored", "pending"]].sum()
        typer.echo(
            f"total: {total['done']} done, {total['failed'] + total['errored']} failed "
            f"({total['failed']} answered unusable, {total['errored']} errored), "
            f"{total['pending']} pending of {total['planned']} cells."
        )
