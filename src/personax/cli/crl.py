"""`personax crl train` and `personax bench crl` — Level II causal representation learning."""

from __future__ import annotations

import math
from pathlib import Path
from typing import NoReturn

import typer

from personax.cli.groups import bench_app, crl_app
from personax.cli.options import (
    check_seed,
    comma_list,
    crl_config_from_file,
    refuse_other_benchmark_options,
    seed_option,
)
from personax.cli.progress import bars_disabled, progress_console


def _int_list(value: str, option: str) -> list[int]:
    from personax.errors import BadInput

    items = comma_list(value, option, "0,1,2")
    try:
        numbers = [int(v) for v in items]
    except ValueError:
        raise BadInput(f"{option} must be comma-separated integers, got '{value}'.") from None
    return numbers


def _epoch_bar(console, label: str):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=bars_disabled(console),
    )


def _check_device(device: str) -> str:
    """Refuse a torch device this installation cannot use, before any work starts."""
    import torch

    from personax.errors import BadInput

    # Only the types training runs on, and only where they exist: torch also parses meta,
    # xpu and others, which then fail deep inside training.
    available = ["cpu"]
    if torch.cuda.is_available():
        available.append("cuda")
    if torch.backends.mps.is_available():
        available.append("mps")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in available:
        raise BadInput(f"--device '{device}' is not available here; use {' or '.join(available)}.")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise BadInput(
            f"--device '{device}': this machine has {torch.cuda.device_count()} CUDA device(s)."
        )
    return device


def _interrupted(state: Path) -> NoReturn:
    """After Ctrl-C: say where the run can resume from (when it saved anything), then abort
    (the root command maps Abort to exit code 130)."""
    if state.exists():
        typer.echo(f"interrupted; run the same command again to resume from {state}.", err=True)
    raise typer.Abort()


def _cross_modal_latents(text: str) -> int | None:
    from personax.errors import BadInput

    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BadInput(f"--cross-modal-latents must be a whole number >= 1 or 'all', got '{text}'.")
    return value


def _unrecovered(readings: list[dict]) -> str:
    """One phrase per true latent the run did not recover: mixed (a block holds it, the
    matching does not find it) or missing / partly held (no block holds it well)."""
    phrases = []
    for item in readings:
        if item["reading"] == "recovered":
            continue
        if item["reading"] == "mixed":
            where = f"the {item['best_block']} block holds it at R² {item['block_r2']:.2f}"
        else:
            where = f"best block R² {item['block_r2']:.2f}"
        phrases.append(
            f"{item['latent']} {item['reading']} (matched {item['matched']:.2f}; {where})"
        )
    return "; ".join(phrases)


def register(app: typer.Typer) -> None:
    @crl_app.command("train")
    def train(
        data: Path = typer.Argument(..., help="CRL dataset (.npz, INTERFACES.md format)."),
        latent_dims: str = typer.Option(
            ..., "--latent-dims", help="Latents per modality, e.g. 'digit=2,fashion=2'."
        ),
        out: Path = typer.Option(..., "--out", help="Run folder to write."),
        shared_dims: int = typer.Option(0, "--shared-dims", help="Shared latents s."),
        seed: int = seed_option("Seed of the splits, initialisation, batches."),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Mini-batch size."),
        lr: float | None = typer.Option(None, "--lr", help="Adam learning rate."),
        max_seconds: float | None = typer.Option(
            None, "--max-seconds", help="Wall-clock budget; the best validation epoch is kept."
        ),
        method: str = typer.Option(
            "personax", "--method", help="personax (default) or a baseline: mmcrl, betavae, mcl."
        ),
        device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda."),
        cross_modal_latents: str | None = typer.Option(
            None,
            "--cross-modal-latents",
            help="Latents per modality that cross-modal edges may join: a number (default 1) "
            "or 'all'.",
        ),
        noise_dims: int | None = typer.Option(
            None, "--noise-dims", help="η size per measurement of a multi-measurement modality."
        ),
        restarts: int | None = typer.Option(
            None,
            "--restarts",
            help="Independent initialisations (default 3); the best by validation is kept.",
        ),
        beta: float | None = typer.Option(
            None, "--beta", help="Weight of the KL / causal-prior term (default 1)."
        ),
        config_file: Path | None = typer.Option(
            None,
            "--config",
            help="JSON of CRLConfig fields, or a run's config.json; flags given override it.",
        ),
        fresh: bool = typer.Option(
            False,
            "--fresh",
            help="Start over even if an interrupted run of this command left a checkpoint.",
        ),
    ) -> None:
        """Learn causal latents, their graph, and (with ground truth) held-out MCC / R².

        An interrupted run (Ctrl-C, a killed job) resumes where it stopped when the same
        command is run again.
        """
        from personax.atomic import check_output_dir, output_dir
        from personax.crl.baselines import train_method
        from personax.crl.config import CRLConfig
        from personax.crl.dataset import check_latent_dims, load_crl_dataset, parse_latent_dims
        from personax.crl.train import checkpoint_path, write_crl_run
        from personax.errors import BadInput

        if shared_dims > 0 and method in ("mmcrl", "mcl"):
            # These baselines have no shared latents by design (bench crl runs them so, and
            # says so); here the option would be dropped without a word.
            raise BadInput(
                f"--method {method} has no shared latents (by design); leave out --shared-dims, "
                "or use personax or betavae."
            )
        dataset = load_crl_dataset(data)
        dims = check_latent_dims(dataset, parse_latent_dims(latent_dims))
        _check_device(device)
        # Input problems first, then the output, all before training.
        # Not config_file: it is read before training, and a re-run into the folder it came
        # from (`--config run/config.json --out run`, as the README suggests) is meant to work.
        check_output_dir(out, inputs=(data,), kind="crl-train")
        base = CRLConfig() if config_file is None else crl_config_from_file(config_file)
        config = base.with_options(
            {
                "epochs": ("--epochs", epochs),
                "batch_size": ("--batch-size", batch_size),
                "lr": ("--lr", lr),
                "max_seconds": ("--max-seconds", max_seconds),
                "noise_dims": ("--noise-dims", noise_dims),
                "restarts": ("--restarts", restarts),
                "beta": ("--beta", beta),
            },
        )
        if cross_modal_latents is not None:
            cross = _cross_modal_latents(cross_modal_latents)
            config = config.replace(cross_modal_latents=cross)
        resumable = checkpoint_path(out)
        if resumable.exists() and not resumable.is_file():
            raise BadInput(
                f"{resumable} is a folder, where crl train keeps the checkpoint of an "
                "interrupted run; move it away or give another --out."
            )
        if fresh:
            resumable.unlink(missing_ok=True)
        console = progress_console()
        try:
            with _epoch_bar(console, f"[bold]crl train[/] {method}") as bar:
                task = bar.add_task("train", total=config.epochs * config.restarts, status="")

                def progress(epoch: int, total: int, row: dict) -> None:
                    status = f"val {row['val_loss']:.4g}"
                    bar.update(task, completed=epoch, total=total, status=status)

                run = train_method(
                    method, dataset, dims, shared_dims, config, seed, progress, device, resumable
                )
        except KeyboardInterrupt:
            _interrupted(resumable)
        except BadInput:
            # A run refused on its data or settings (a diverged one, say) would only fail the
            # same way when resumed: its checkpoint is no use.
            resumable.unlink(missing_ok=True)
            raise
        with output_dir(out, kind="crl-train") as tmp:
            write_crl_run(run, tmp)
        resumable.unlink(missing_ok=True)
        message = f"wrote {out} (best validation epoch {run.best_epoch}, {run.seconds:.1f} s"
        if config.restarts > 1:
            kept = run.history.attrs["restart_kept"]
            message += f", restart {kept + 1} of {config.restarts} kept"
            losses = run.history.attrs.get("restart_val_losses", [])
            diverged = sum(not math.isfinite(loss) for loss in losses)
            if diverged:
                message += f"; {diverged} diverged, a lower --lr may do better"
        message += ")"
        if run.resumed:
            message += ", resumed from an interrupted run"
        elif run.checkpoint_ignored is not None:
            why = {
                "unreadable": "could not be read",
                "another run": "belonged to another run (other data, settings or seed)",
            }[run.checkpoint_ignored]
            message += f", started afresh: the checkpoint found at {resumable} {why}"
        if run.metrics is not None:
            message += f"; held-out test MCC {run.metrics['mcc']:.3f}, R² {run.metrics['r2']:.3f}"
        typer.echo(message)
        if run.metrics is not None and "warning" in run.metrics:
            typer.echo(f"warning: {run.metrics['warning']}", err=True)
        if run.metrics is not None and "recovery" in run.metrics:
            unrecovered = _unrecovered(run.metrics["recovery"]["latents"])
            if unrecovered:
                typer.echo(f"not recovered (metrics.json 'recovery'): {unrecovered}")

    @crl_app.command("encode")
    def encode(
        model: Path = typer.Argument(
            ..., help="A run folder written by `personax crl train`, or its model.pt."
        ),
        data: Path = typer.Argument(
            ..., help="CRL dataset (.npz) with the measurements the model was trained on."
        ),
        out: Path = typer.Option(..., "--out", help="CSV of latents to write."),
        batch_size: int = typer.Option(
            1024,
            "--batch-size",
            help="Rows encoded at a time (memory only; float32 matrix kernels may round the "
            "last printed digit differently at another size, so keep it to get the same bytes).",
        ),
        device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda."),
        seed: int = seed_option("Accepted like every command's; encoding is deterministic."),
    ) -> None:
        """Latents of new rows from a trained model: one row per input row, in input order."""
        from personax.atomic import OUTPUT_MARKER, check_output_file, refuse_overwriting, write_text
        from personax.crl.dataset import load_crl_dataset
        from personax.crl.encode import encode_dataset, load_crl_model
        from personax.crl.metrics import mcc
        from personax.crl.train import RUN_FILES, with_ids
        from personax.errors import BadInput

        del seed  # posterior means: nothing is drawn
        if out.is_dir():
            raise BadInput(f"--out {out} is a folder; give the CSV file to write.")
        if not out.parent.is_dir():
            raise BadInput(f"--out {out}: the folder {out.parent} does not exist.")
        check_output_file(out)  # a folder where no file can be made (/proc): before the work
        # Writing over the data, the model or a file of its run would destroy them; a model.pt
        # counts as part of a run when its folder carries personax's output marker. Other
        # files in a run folder (an earlier `crl encode` output, say) are the user's to replace.
        run_dir = model if model.is_dir() else model.parent
        protected = [data, run_dir / "model.pt" if model.is_dir() else model]
        if (run_dir / OUTPUT_MARKER).exists():
            protected += [run_dir / name for name in (*RUN_FILES, OUTPUT_MARKER)]
        refuse_overwriting(out, protected, "CSV path")
        trained = load_crl_model(model)
        dataset = load_crl_dataset(data)
        _check_device(device)
        try:
            latents = encode_dataset(trained, dataset, batch_size, device)
        except BadInput as exc:
            raise BadInput(f"{data}: {exc}") from None
        # Scored before writing: a score that fails must not leave a file behind an exit 2.
        score = None
        # A correlation needs two rows; one row is still a valid thing to encode.
        if dataset.latents is not None and len(latents) >= 2:
            score = mcc(dataset.latents, latents.to_numpy()).value
        write_text(out, with_ids(latents, dataset.ids).to_csv(index=False, float_format="%.8g"))
        message = f"wrote {out} ({len(latents)} rows, {latents.shape[1]} latents, {trained.method})"
        if score is not None:
            message += f"; MCC against the dataset's ground truth, all rows: {score:.3f}"
        typer.echo(message)

    @bench_app.command("crl")
    def bench_crl(
        out: Path = typer.Option(..., "--out", help="Folder for results.csv and summary.csv."),
        benchmark: str = typer.Option("tabular", "--benchmark", help="tabular or variant-mnist."),
        methods: str = typer.Option(
            "personax,mmcrl,betavae,mcl", "--methods", help="Comma-separated methods."
        ),
        seeds: str = typer.Option(
            "0,1,2", "--seeds", "--seed", help="Comma-separated seeds (--seed S: just one)."
        ),
        n: int | None = typer.Option(None, "--n", help="Rows of benchmark data (default 10000)."),
        epochs: int | None = typer.Option(None, "--epochs", help="Maximum epochs per run."),
        max_seconds: float | None = typer.Option(
            None, "--max-seconds", help="Wall-clock budget per run."
        ),
        device: str = typer.Option("cpu", "--device", help="torch device."),
        mnist_dir: Path | None = typer.Option(
            None, "--mnist-dir", help="Folder with MNIST idx files (variant-mnist)."
        ),
        fashion_dir: Path | None = typer.Option(
            None, "--fashion-dir", help="Folder with Fashion-MNIST idx files (variant-mnist)."
        ),
        fresh: bool = typer.Option(
            False, "--fresh", help="Start over even if an interrupted benchmark left its state."
        ),
        shared_dims: int = typer.Option(
            0,
            "--shared-dims",
            help="Shared latents in the benchmark data (tabular: any number; variant-mnist: 0 "
            "or 1, the background). Methods without shared latents (mmcrl, mcl) score 0 on them.",
        ),
    ) -> None:
        """Train every method on a synthetic benchmark for several seeds; held-out scores.

        An interrupted benchmark resumes where it stopped when the same command is run again.
        """
        import shutil

        from rich.console import Console
        from rich.table import Table

        from personax.atomic import beside_output, check_output_dir, output_dir
        from personax.crl.bench import BENCHMARKS, RESULT_COLUMNS, run_benchmark, summarise
        from personax.errors import BadInput

        check_output_dir(out, inputs=(mnist_dir, fashion_dir), kind="bench-crl")
        _check_device(device)

        if benchmark not in BENCHMARKS:
            raise BadInput(
                f"--benchmark must be one of {', '.join(BENCHMARKS)}, got '{benchmark}'."
            )
        method_list = comma_list(methods, "--methods", "personax,mmcrl")
        seed_list = _int_list(seeds, "--seeds")
        for value in seed_list:
            check_seed(value, "--seeds")
        # A repeated method or seed would train the same run twice and count it twice.
        for option, values in (("--methods", method_list), ("--seeds", seed_list)):
            repeated = sorted({str(v) for v in values if values.count(v) > 1})
            if repeated:
                raise BadInput(f"{option} lists {', '.join(repeated)} more than once.")
        refuse_other_benchmark_options(
            benchmark,
            {
                "--mnist-dir": ("variant-mnist", mnist_dir),
                "--fashion-dir": ("variant-mnist", fashion_dir),
            },
        )
        data_options = {}
        if benchmark == "variant-mnist":
            data_options = {
                "mnist_dir": None if mnist_dir is None else str(mnist_dir),
                "fashion_dir": None if fashion_dir is None else str(fashion_dir),
            }
        state_dir = beside_output(out, "bench-state")
        if state_dir.exists() and not state_dir.is_dir():
            raise BadInput(
                f"{state_dir} is a file, where bench crl keeps the state of an interrupted "
                "benchmark; move it away or give another --out."
            )
        if fresh and state_dir.exists():
            shutil.rmtree(state_dir)
        console = progress_console()
        try:
            with _epoch_bar(console, "[bold]bench crl[/] {task.description}") as bar:
                task = bar.add_task("", total=None, status="")

                def progress(event: str, info: dict) -> None:
                    if event == "start":
                        bar.reset(
                            task,
                            total=info["epochs"],
                            description=f"{info['method']} seed {info['seed']}",
                        )
                    elif event == "epoch":
                        status = f"val {info['val_loss']:.4g}"
                        bar.update(task, completed=info["epoch"], status=status)
                    else:
                        console.print(
                            f"{info['method']} seed {info['seed']}: MCC {info['mcc']:.3f}, "
                            f"R² {info['r2']:.3f}, {info['seconds']:.0f} s"
                        )

                results = run_benchmark(
                    benchmark,
                    method_list,
                    seed_list,
                    n=n,
                    epochs=epochs,
                    max_seconds=max_seconds,
                    device=device,
                    progress=progress,
                    data_options=data_options,
                    state_dir=state_dir,
                    shared_dims=shared_dims,
                )
        except KeyboardInterrupt:
            _interrupted(state_dir)
        ordered = results[RESULT_COLUMNS + [c for c in results if c not in RESULT_COLUMNS]]
        summary = summarise(results)
        with output_dir(out, kind="bench-crl") as tmp:
            (tmp / "results.csv").write_text(ordered.to_csv(index=False, float_format="%.6g"))
            (tmp / "summary.csv").write_text(summary.to_csv(index=False, float_format="%.6g"))
        if state_dir.exists():
            shutil.rmtree(state_dir)
        table = Table(title=f"bench crl {benchmark} (held-out test split, mean ± std over seeds)")
        with_shared = "mcc_modalities_mean" in summary
        columns = ["method", "MCC", *(["MCC (z only)"] if with_shared else [])]
        for column in (*columns, "R²", "seconds / run", "runs"):
            table.add_column(column)
        for _, row in summary.iterrows():
            own = f"{row['mcc_modalities_mean']:.3f}" if with_shared else None
            table.add_row(
                row["method"],
                f"{row['mcc_mean']:.3f} ± {_std(row['mcc_std'])}",
                *([own] if with_shared else []),
                f"{row['r2_mean']:.3f} ± {_std(row['r2_std'])}",
                f"{row['seconds_mean']:.0f} ± {_std(row['seconds_std'], 0)}",
                str(row["runs"]),
            )
        Console().print(table)
        typer.echo(f"wrote {out / 'results.csv'} and {out / 'summary.csv'}")


def _std(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN with a single seed
