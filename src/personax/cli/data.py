"""`personax data ...` — PersonaX tables (the foundation issue fills sample / validate / info)."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.groups import data_app


def register(app: typer.Typer) -> None:
    @data_app.command("info")
    def info(
        path: Path = typer.Argument(..., help="Table (CSV/Parquet) or dataset folder."),
    ) -> None:
        """Print the shape and column groups of a table."""
        from personax.data import column_groups, read_table

        df = read_table(path)
        groups = column_groups(df)
        typer.echo(f"{path}: {len(df)} rows × {df.shape[1]} columns")
        for name in ("attributes", "llm_traits", "final_traits", "embeddings"):
            typer.echo(f"  {name}: {', '.join(getattr(groups, name)) or '-'}")
