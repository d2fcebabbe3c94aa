"""`personax data sample | validate | info` — PersonaX tables and the embedded sample."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from personax.cli.groups import data_app
from personax.cli.options import seed_option, unused_seed_option


def register(app: typer.Typer) -> None:
    @data_app.command("sample")
    def sample(
        kind: str = typer.Option(
            "athlete",
            "--kind",
            help="athlete (AthlePersona shape) or celebrity (CelebPersona shape).",
        ),
        n: int | None = typer.Option(
            None, "--n", help="Number of rows (default 4,181 athlete / 9,444 celebrity)."
        ),
        seed: int = seed_option("Random seed; the same seed gives identical files."),
        out: Path = typer.Option(..., "--out", help="Table to write (.csv or .parquet)."),
        face_dim: int = typer.Option(32, "--face-dim", help="Dimension of face_emb."),
        text_dim: int = typer.Option(32, "--text-dim", help="Dimension of each <llm>_text_emb."),
    ) -> None:
        """Write a SYNTHETIC PersonaX table with planted ground truth (+ .truth.json, .latents.parquet)."""
        from personax.data.sample import make_sample, sidecar_paths, write_sample
        from personax.data.table import table_format

        table_format(out, allow_folder=False)  # fail on a bad suffix before generating
        result = make_sample(kind, n=n, seed=seed, face_dim=face_dim, text_dim=text_dim)  # type: ignore[arg-type]
        write_sample(result, out)
        truth_path, latents_path = sidecar_paths(out)
        n_dep = sum(d.dependent for d in result.truth.dependencies)
        typer.echo(
            f"wrote {out}: SYNTHETIC {kind} sample, {len(result.table)} rows × "
            f"{result.table.shape[1]} columns, seed {seed}; {n_dep} of "
            f"{len(result.truth.dependencies)} trait–attribute pairs planted dependent"
        )
        typer.echo(f"ground truth: {truth_path}, {latents_path}")

    @data_app.command("validate")
    def validate(
        path: Path = typer.Argument(..., help="Table (CSV/Parquet) or dataset folder."),
        limit: int = typer.Option(100, "--limit", help="Report at most this many issues."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Check a table and list every problem (row, column, message); exit 2 on any error."""
        from personax.data.validate import validate_table
        from personax.errors import BadInput

        report = validate_table(path, limit=limit)
        if as_json:
            typer.echo(json.dumps(report.to_json_dict(), indent=2))
        elif report.issues:
            _print_issues(report)
        if not report.ok:
            raise BadInput(report.summary())
        if not as_json:
            typer.echo(report.summary())

    @data_app.command("info")
    def info(
        path: Path = typer.Argument(..., help="Table (CSV/Parquet) or dataset folder."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Shape, column groups, missingness, trait-level distributions, embedding sizes."""
        from personax.data.info import table_info

        summary = table_info(path)
        if as_json:
            typer.echo(json.dumps(summary.to_json_dict(), indent=2))
        else:
            _print_info(summary)


def _print_issues(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from personax.data.validate import plural

    title = f"{report.source}: {plural(report.n_errors, 'error')}, {plural(report.n_warnings, 'warning')}"
    table = Table(title=title)
    for name in ("severity", "row", "column", "problem"):
        table.add_column(name)
    for issue in report.issues:
        style = "red" if issue.severity == "error" else "yellow"
        table.add_row(
            f"[{style}]{issue.severity}[/]",
            "" if issue.row is None else str(issue.row),
            issue.column or "",
            issue.message,
        )
    console = Console()
    console.print(table)
    if report.truncated:
        console.print(f"(showing the first {len(report.issues)}; raise --limit to see more)")


def _print_info(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    n = max(summary.n_rows, 1)
    console.print(f"[bold]{summary.source}[/]: {summary.n_rows} rows × {summary.n_columns} columns")
    groups = Table(title="column groups")
    groups.add_column("group")
    groups.add_column("columns")
    groups.add_row("id", summary.id_column or "[red]none[/]")
    groups.add_row("attributes", ", ".join(a.name for a in summary.attributes) or "-")
    groups.add_row("per-LLM traits", ", ".join(t.column for t in summary.llm_traits) or "-")
    groups.add_row("aggregated traits", ", ".join(f.column for f in summary.final_traits) or "-")
    groups.add_row("embeddings", ", ".join(e.column for e in summary.embeddings) or "-")
    if summary.renamed:
        groups.add_row("renamed", ", ".join(f"{a} → {b}" for a, b in summary.renamed.items()))
    if summary.unrecognised:
        groups.add_row("not recognised", ", ".join(summary.unrecognised))
    console.print(groups)

    attrs = Table(title="attributes")
    for name in ("attribute", "kind", "distinct", "missing", "missing %"):
        attrs.add_column(name)
    for a in summary.attributes:
        attrs.add_row(a.name, a.kind, str(a.distinct), str(a.missing), f"{100 * a.missing / n:.1f}")
    if summary.attributes:
        console.print(attrs)

    if summary.llm_traits:
        levels = Table(title="per-LLM trait levels (0 = insufficient information)")
        for name in ("column", "0", "1", "2", "3", "missing", "other"):
            levels.add_column(name, justify="right" if name != "column" else "left")
        for t in summary.llm_traits:
            levels.add_row(
                t.column, *(str(t.counts[k]) for k in (0, 1, 2, 3)), str(t.missing), str(t.other)
            )
        console.print(levels)
    if summary.final_traits:
        finals = Table(title="aggregated traits (median of non-zero scores)")
        for name in ("column", "present", "missing", "mean", "median", "values"):
            finals.add_column(name)
        for f in summary.final_traits:
            finals.add_row(
                f.column,
                str(f.present),
                str(f.missing),
                "-" if f.mean is None else f"{f.mean:.3f}",
                "-" if f.median is None else f"{f.median:g}",
                " ".join(f"{k}:{v}" for k, v in f.counts.items()),
            )
        console.print(finals)
    if summary.embeddings:
        embs = Table(title="embeddings")
        for name in ("column", "dims", "missing"):
            embs.add_column(name)
        for e in summary.embeddings:
            embs.add_row(e.column, ", ".join(map(str, e.dims)) or "-", str(e.missing))
        console.print(embs)
