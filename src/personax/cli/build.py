"""`personax build`, `personax data reveal`, `personax data fetch`."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.groups import data_app
from personax.cli.options import seed_option, unused_seed_option
from personax.cli.progress import rich_progress

# The console names this many unreadable images; a broken folder could hold thousands.
UNREADABLE_SHOWN = 5


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build(
        roster: Path = typer.Option(
            ..., "--roster", help="Roster (CSV/Parquet): id, name, context, attributes."
        ),
        traits: Path = typer.Option(
            ..., "--traits", help="Traits table from `personax infer aggregate`."
        ),
        store: Path = typer.Option(
            ..., "--store", help="Trait store (SQLite) with the LLMs' descriptions."
        ),
        key_file: Path = typer.Option(
            ..., "--key-file", help="Secret key file (e.g. `head -c 32 /dev/urandom > KEY`)."
        ),
        out: Path = typer.Option(..., "--out", help="Dataset folder to write."),
        images: Path | None = typer.Option(
            None, "--images", help="Folder of <id>.<jpg|jpeg|png|webp> images."
        ),
        seed: int = seed_option("Seed of the default image encoder's projection."),
        text_model: str | None = typer.Option(
            None,
            "--text-model",
            help="sentence-transformers folder or hub name (default: bundled all-MiniLM-L6-v2).",
        ),
        image_encoder: str = typer.Option(
            "pixel-projection",
            "--image-encoder",
            help="pixel-projection, clip:PATH or open_clip:ARCH:PATH.",
        ),
        prompt_version: str | None = typer.Option(
            None,
            "--prompt",
            "--prompt-version",
            help="Prompt version of the answers to use (needed when the store has several).",
        ),
        cache: Path | None = typer.Option(
            None, "--cache", help="Text-embedding cache (default: next to the store)."
        ),
        pretty_name: str | None = typer.Option(None, "--name", help="Dataset name for the card."),
    ) -> None:
        """Build a publishable, privacy-obfuscated Hugging Face-style dataset folder."""
        from personax.atomic import check_inputs_outside
        from personax.build.export import build_dataset
        from personax.build.privacy import read_key

        check_inputs_outside(out, (key_file,))  # the key is the one input that cannot be redone
        key = read_key(key_file)
        bar, callback = rich_progress()
        with bar:
            report = build_dataset(
                roster=roster,
                traits=traits,
                store=store,
                key=key,
                out=out,
                images=images,
                seed=seed,
                text_model=text_model,
                image_encoder=image_encoder,
                prompt_version=prompt_version,
                cache=cache,
                pretty_name=pretty_name,
                progress=callback,
            )
        typer.echo(
            f"{out}: {report.rows} rows; LLMs: {', '.join(report.llms) or '-'}; "
            f"prompt {report.prompt_version}"
        )
        typer.echo(
            f"  text embeddings ({report.text_model}): {report.texts_embedded} "
            f"({report.texts_computed} computed, {report.texts_cached} from cache"
            + (f", {report.texts_repeated} repeating another" if report.texts_repeated else "")
            + ")"
        )
        for llm, k in report.texts_missing.items():
            if k:
                who = "person" if k == 1 else "people"
                typer.echo(f"  {llm}: {k} {who} without descriptions (empty {llm}_text_emb)")
        if images is not None:
            typer.echo(
                f"  images ({report.image_encoder}): {report.images_missing} missing, "
                f"{report.images_unreadable} unreadable (empty face_emb)"
            )
            shown = report.unreadable_images[:UNREADABLE_SHOWN]
            for line in shown:
                typer.echo(f"  warning: unreadable image {line}", err=True)
            if len(report.unreadable_images) > len(shown):
                rest = len(report.unreadable_images) - len(shown)
                typer.echo(f"  warning: ... and {rest} more unreadable images", err=True)
        if report.unique_attribute_rows:
            typer.echo(
                f"  note: {report.unique_attribute_rows} of {report.rows} rows are unique on "
                "their attributes (they can be singled out without the key)"
            )
        if report.traits_missing:
            typer.echo(f"  {report.traits_missing} roster people have no traits row")
        for warning in report.warnings:
            typer.echo(f"  warning: {warning}", err=True)

    @data_app.command("reveal")
    def reveal(
        dataset: Path = typer.Argument(..., help="Dataset folder written by `personax build`."),
        key_file: Path = typer.Option(
            ..., "--key-file", help="The secret key the dataset was built with."
        ),
        out: Path = typer.Option(..., "--out", help="Output Parquet file."),
        roster: Path | None = typer.Option(
            None, "--roster", help="Roster to map pseudonyms back to ids."
        ),
        seed: int = unused_seed_option(),
    ) -> None:
        """Undo the privacy transforms (original embeddings; ids with --roster)."""
        from personax.atomic import check_output_outside
        from personax.build.privacy import read_key
        from personax.build.reveal import reveal_dataset
        from personax.data import write_table
        from personax.errors import BadInput

        if out.suffix.lower() not in (".parquet", ".pq"):
            raise BadInput(
                f"{out}: reveal writes Parquet (embeddings are lists); use a .parquet name."
            )
        # The revealed table written into the dataset would replace (publish) the hidden one.
        check_output_outside(out, dataset)
        frame = reveal_dataset(dataset, read_key(key_file), roster=roster)
        write_table(frame, out)
        mapped = int(frame["id"].notna().sum()) if roster is not None else 0
        typer.echo(
            f"{out}: {len(frame)} rows revealed" + (f", {mapped} ids mapped back" if roster else "")
        )

    @data_app.command("fetch")
    def fetch(
        name: str = typer.Argument(..., help="athlepersona or celebpersona."),
        local: Path | None = typer.Option(
            None, "--local", help="Local snapshot folder (hub layout); nothing is downloaded."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Write the table (canonical columns) here (.parquet/.csv)."
        ),
        timeout: float = typer.Option(10.0, "--timeout", help="Network timeout in seconds."),
        seed: int = unused_seed_option(),
    ) -> None:
        """Load a released PersonaX dataset (hub or local snapshot), map its columns, validate."""
        from personax.atomic import check_output_outside
        from personax.build.fetch import fetch_dataset
        from personax.data import write_table
        from personax.errors import BadInput

        if out is not None and local is not None:
            check_output_outside(out, local)  # would overwrite a file of the snapshot
        result = fetch_dataset(name, local=local, timeout=timeout)
        typer.echo(
            f"{result.name}: {len(result.frame)} rows × {result.frame.shape[1]} columns "
            f"from {result.snapshot} ({', '.join(result.files)})"
        )
        for issue in result.validation.issues[:20]:
            typer.echo(f"  {issue.severity}: {issue.sentence()}", err=True)
        if not result.validation.ok:
            raise BadInput(result.validation.summary())
        if out is not None:
            write_table(result.frame, out)
            typer.echo(f"  written to {out}")
