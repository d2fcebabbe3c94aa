"""`personax data sample | validate | info` — PersonaX tables and the embedded sample."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.groups import data_app


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
        seed: int = typer.Option(
            0, "--seed", help="Random seed; the same seed gives identical files."
        ),
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
