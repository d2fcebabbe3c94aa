"""Draw the variant-MNIST rendering recipe: latent traversals and a few dataset rows.

Writes ``benchmarks/results/variant_mnist_examples.png``:
- rows 1-4: one latent swept over its range (the others at mid-range), rendered on one fixed
  digit / Fashion item;
- row 5: the optional shared latent (the background grey level of both modalities) swept;
- rows 6-10: dataset rows from ``make_variant_mnist(seed=0)`` — the three digit measurements
  (three different MNIST images sharing rotation and hue) and the Fashion measurement.

Usage: ``python benchmarks/variant_mnist_examples.py [--out PATH]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from personax.atomic import atomic_path  # noqa: E402
from personax.data.crl_synthetic import (  # noqa: E402
    DEFAULT_DIGIT_CLASSES,
    DEFAULT_FASHION_CLASSES,
    VARIANT_MNIST_RANGES,
    make_variant_mnist,
    render_digit,
    render_fashion,
)
from personax.data.mnist import load_fashion_mnist, load_mnist  # noqa: E402

STEPS = 7


def _mid(name: str) -> float:
    lo, hi = VARIANT_MNIST_RANGES[name]
    return (lo + hi) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parent / "results" / "variant_mnist_examples.png"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()

    digits, digit_labels = load_mnist()
    fashion, fashion_labels = load_fashion_mnist()
    digit = digits[np.flatnonzero(np.isin(digit_labels, DEFAULT_DIGIT_CLASSES))[0]]
    item = fashion[np.flatnonzero(np.isin(fashion_labels, DEFAULT_FASHION_CLASSES))[0]]
    ones = np.ones(STEPS)

    rows: list[tuple[str, list[np.ndarray]]] = []
    for name in ("digit_rotation", "digit_hue"):
        sweep = np.linspace(*VARIANT_MNIST_RANGES[name], STEPS)
        rotation = sweep if name == "digit_rotation" else ones * _mid("digit_rotation")
        hue = sweep if name == "digit_hue" else ones * _mid("digit_hue")
        images = render_digit(np.repeat(digit[None], STEPS, 0), rotation, hue)
        rows.append((f"z11/z12 sweep: {name}", [im.transpose(1, 2, 0) for im in images]))
    for name in ("fashion_rotation", "fashion_scale"):
        sweep = np.linspace(*VARIANT_MNIST_RANGES[name], STEPS)
        rotation = sweep if name == "fashion_rotation" else ones * _mid("fashion_rotation")
        scale = sweep if name == "fashion_scale" else ones * _mid("fashion_scale")
        images = render_fashion(np.repeat(item[None], STEPS, 0), rotation, scale)
        rows.append((f"z21/z22 sweep: {name}", list(images)))
    # The optional shared latent (--shared-dims 1): the background of both modalities.
    background = np.linspace(*VARIANT_MNIST_RANGES["background"], STEPS // 2)
    middle = np.ones(len(background))
    shared_digits = render_digit(
        np.repeat(digit[None], len(background), 0),
        middle * _mid("digit_rotation"),
        middle * _mid("digit_hue"),
        background,
    )
    shared_items = render_fashion(
        np.repeat(item[None], len(background), 0),
        middle * _mid("fashion_rotation"),
        middle * _mid("fashion_scale"),
        background,
    )
    cells = [im.transpose(1, 2, 0) for im in shared_digits] + list(shared_items)
    rows.append(("s1 sweep (--shared-dims 1): background, digit then Fashion", cells))

    ds = make_variant_mnist(n=5, seed=0)
    for i in range(ds.n):
        cells = [
            ds.measurement(f"digit.{k}")[i].reshape(3, 14, 14).transpose(1, 2, 0) for k in range(3)
        ]
        cells.append(ds.measurement("fashion.0")[i].reshape(14, 14))
        z = ds.latents[i]
        label = f"row {i}: rot {z[0]:.0f}°, hue {z[1]:.2f}, f-rot {z[2]:.0f}°, scale {z[3]:.2f}"
        rows.append((label, cells))

    fig, axes = plt.subplots(len(rows), STEPS, figsize=(STEPS * 1.1, len(rows) * 1.25))
    for r, (label, cells) in enumerate(rows):
        for c in range(STEPS):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(cells):
                image = cells[c]
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[r, 0].set_title(label, fontsize=7, loc="left")
    fig.suptitle(
        "variant MNIST: latent sweeps (rows 1-5) and dataset rows digit.0-2 + fashion.0 (rows 6-10)",
        fontsize=8,
    )
    fig.tight_layout()
    with atomic_path(args.out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
