"""`personax discover` (PC with background knowledge) and `personax crl explain` (naming latents)."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.groups import crl_app
from personax.cli.options import (
    comma_list,
    crl_config_from_file,
    optional_comma_list,
    seed_option,
)
from personax.cli.progress import rich_progress


def _parse_tiers(text: str | None) -> list[list[str]] | None:
    from personax.errors import BadInput

    if text is None:
        return None
    tiers = [tier.strip() for tier in text.split(";")]
    if not all(tiers):
        raise BadInput(
            f"--tiers '{text}' has an empty tier; separate the tiers by single semicolons, "
            "e.g. 'z11,z21;z12,z22'."
        )
    return [comma_list(tier, "--tiers", "z11,z21;z12,z22") for tier in tiers]


def register(app: typer.Typer) -> None:
    @app.command("discover")
    def discover_command(
        table: Path = typer.Argument(..., help="Table (CSV/Parquet), e.g. a latents.csv."),
        out: Path = typer.Option(..., "--out", help="Folder for graph.json/.png/.svg/.dot."),
        columns: str = typer.Option(
            None,
            "--columns",
            help="Comma-separated columns. Default: every numeric column except id and split.",
        ),
        roots: str = typer.Option(
            None, "--roots", help="Columns nothing may point into (e.g. shared latents)."
        ),
        forbid: str = typer.Option(
            None, "--forbid", help="Forbidden edges a>b,c>d: no a → b and no undirected a — b."
        ),
        require: str = typer.Option(None, "--require", help="Required edges a>b,c>d."),
        tiers: str = typer.Option(
            None,
            "--tiers",
            help="Causal tiers 'a,b;c,d': a later tier never causes an earlier one.",
        ),
        test: str = typer.Option("fisherz", "--test", help="kci | rcit | fisherz."),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the CI tests."),
        seed: int = seed_option("Seed (RCIT features, KCI subsample)."),
        split: str = typer.Option(
            None, "--split", help="Keep only rows with this value of the 'split' column."
        ),
        max_rows_kci: int = typer.Option(
            1500, "--max-rows-kci", help="KCI runs on a seeded subsample above this many rows."
        ),
        compat: str = typer.Option(
            None, "--compat", help="paper: KCI exactly as causal-learn's (kci / fisherz only)."
        ),
        colliders: str = typer.Option(
            "sepset",
            "--colliders",
            help="sepset (PC's rule) or majority (orientations independent of column order).",
        ),
        max_depth: int = typer.Option(
            None,
            "--max-depth",
            help="Largest conditioning set PC tries (default: no limit); bounds the test count.",
        ),
    ) -> None:
        """PC causal discovery with background knowledge that always holds in the output."""
        from personax.atomic import check_output_dir, output_dir
        from personax.data.table import read_raw_table
        from personax.data.validate import refuse_bad_ids_and_scores
        from personax.discovery import discover, write_graph

        check_output_dir(out, inputs=(table,), kind="discover")
        from personax.discovery.knowledge import parse_edge_list
        from personax.discovery.search import select_split
        from personax.errors import BadInput

        if max_rows_kci < 10:
            raise BadInput(f"--max-rows-kci must be at least 10, got {max_rows_kci}.")
        raw = read_raw_table(table)
        refuse_bad_ids_and_scores(raw, str(table))  # before the split: rows as in the file
        df = select_split(raw, split, source=str(table))
        bar, callback = rich_progress()
        with bar:
            graph = discover(
                df,
                columns=optional_comma_list(columns, "--columns", "z11,z12,z21"),
                roots=optional_comma_list(roots, "--roots", "s1") or (),
                forbid=parse_edge_list(forbid, "--forbid"),
                require=parse_edge_list(require, "--require"),
                tiers=_parse_tiers(tiers),
                test=test.lower(),
                alpha=alpha,
                seed=seed,
                max_rows_kci=max_rows_kci,
                progress=callback,
                source=str(table),
                compat=compat,
                colliders=colliders.lower(),
                max_depth=max_depth,
            )
        with output_dir(out, kind="discover") as tmp:
            write_graph(graph, tmp)
        counts = {t: sum(e.type == t for e in graph.edges) for t in ("directed", "undirected")}
        typer.echo(
            f"{len(graph.nodes)} nodes, {len(graph.edges)} edges ({counts['directed']} directed, "
            f"{counts['undirected']} undirected, "
            f"{len(graph.edges) - sum(counts.values())} bidirected) → {out}/graph.json"
        )
        for note in graph.notes:
            typer.echo(f"  note: {note}")

    @crl_app.command("explain")
    def explain_command(
        latents: Path = typer.Argument(..., help="latents.csv written by `personax crl train`."),
        table: Path = typer.Option(..., "--table", help="The PersonaX table of the same people."),
        out: Path = typer.Option(..., "--out", help="Folder for explain.csv, labels.csv, heatmap."),
        split: str = typer.Option(
            None, "--split", help="Keep only latents rows with this split (e.g. test)."
        ),
        seed: int = seed_option("Seed of the mutual-information estimate."),
    ) -> None:
        """Name learned latents: correlation and mutual information with traits and attributes."""
        from personax.atomic import check_output_dir, output_dir
        from personax.data.table import read_raw_table, read_table
        from personax.discovery.explain import align_latents, explain_latents, write_explain

        check_output_dir(out, inputs=(latents, table), kind="explain")

        latents_df, table_df = align_latents(
            read_raw_table(latents), read_table(table), split, str(latents), str(table)
        )
        result = explain_latents(
            latents_df, table_df, seed=seed, latents_source=str(latents), table_source=str(table)
        )
        with output_dir(out, kind="explain") as tmp:
            write_explain(result, tmp)
        for label in result.labels:
            typer.echo(f"  {label.text}")
        typer.echo(f"→ {out}/explain.csv, {out}/labels.csv, {out}/heatmap.png")

    @crl_app.command("realworld")
    def realworld_command(
        out: Path = typer.Option(
            ..., "--out", help="Folder for crl/, discovery/, explain/, recipe.json."
        ),
        table: Path = typer.Option(
            None,
            "--table",
            help="A sample written by `personax data sample` (its .truth.json must sit next to it). "
            "Default: generate the embedded sample.",
        ),
        kind: str | None = typer.Option(
            None, "--kind", help="athlete | celebrity (without --table; default athlete)."
        ),
        n: int = typer.Option(
            None, "--n", help="People in the generated sample (default: paper size)."
        ),
        seed: int = seed_option("Seed of the sample, the CRL run and PC."),
        epochs: int = typer.Option(None, "--epochs", help="CRL epochs (default: the CRL default)."),
        test: str = typer.Option(
            None,
            "--test",
            help="kci | rcit | fisherz (default: kci up to 1,500 held-out rows, else rcit).",
        ),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance level of PC's tests."),
        max_seconds: float = typer.Option(
            None, "--max-seconds", help="Wall-clock budget of the CRL training (best epoch kept)."
        ),
        config_file: Path | None = typer.Option(
            None,
            "--config",
            help="JSON of CRLConfig fields for the CRL run, or a run's config.json; "
            "--epochs / --max-seconds override it.",
        ),
    ) -> None:
        """The paper's real-world recipe on the embedded sample, scored against its planted graph."""
        import torch

        from personax.atomic import check_output_dir, output_dir
        from personax.discovery.recipe import run_realworld_recipe
        from personax.discovery.search import check_options
        from personax.errors import BadInput

        check_options(test, alpha)  # before the sample is made (the recipe checks again)
        if table is not None:  # they shape a generated sample; a given table has its own
            for option, value in (("--kind", kind), ("--n", n)):
                if value is not None:
                    raise BadInput(
                        f"{option} shapes the generated sample, so it does not apply with "
                        f"--table {table}; leave it out."
                    )
        kind = kind or "athlete"
        check_output_dir(out, inputs=(table,), kind="crl-realworld")
        config = None if config_file is None else crl_config_from_file(config_file)
        torch.set_num_threads(2)
        if table is not None:
            from personax.data.sample import load_truth
            from personax.data.table import read_table

            frame, truth = read_table(table), load_truth(table)
        else:
            from personax.data.sample import make_sample

            sample = make_sample(kind, n=n, seed=seed)
            frame, truth = sample.table, sample.truth
        bar, callback = rich_progress()
        with bar, output_dir(out, kind="crl-realworld") as tmp:
            result = run_realworld_recipe(
                frame,
                truth,
                tmp,
                seed=seed,
                epochs=epochs,
                progress=callback,
                test=test,
                alpha=alpha,
                max_seconds=max_seconds,
                config=config,
            )
        scores = result.scores
        typer.echo(
            f"PC ({result.test}) on {result.n_test} held-out people: "
            f"{scores['skeleton_hits']} of {scores['planted_edges']} planted edges found "
            f"({scores['directed_correct']} with the right direction), "
            f"{scores['found_edges'] - scores['skeleton_hits']} extra; SHD {scores['shd']}; "
            f"latent matching MCC {scores['mcc_matching']:.2f}"
        )
        for edge in result.planted:
            typer.echo(f"  {edge.source} → {edge.target}: {edge.status}")
        if result.reference_scores is not None:
            ref = result.reference_scores
            typer.echo(
                f"Reference, PC on the true held-out latents: {ref['skeleton_hits']} of "
                f"{ref['planted_edges']} planted edges found ({ref['directed_correct']} with the "
                f"right direction), {ref['found_edges'] - ref['skeleton_hits']} extra; "
                f"SHD {ref['shd']}"
            )
        typer.echo(f"→ {out}/recipe.json")
