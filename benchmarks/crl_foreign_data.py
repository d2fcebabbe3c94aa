"""`personax crl train` on CRL datasets that personax's own generator did not make.

The issue asks that `crl train` recover the latents (held-out MCC ≥ 0.90) on *any* dataset in
the INTERFACES format with ground truth — two modalities, one with three measurements. Our
own benchmarks share one recipe (invertible leaky-ReLU maps of ``[z, η]``, standardised), so
this script writes datasets the way an outside user might, with plain numpy and nothing from
``personax.data``, and runs the real command on each:

- ``additive``: each measurement is a random 2-layer tanh MLP of its modality's latents
  (2 → 16 → 16) plus Gaussian sensor noise; Gaussian latent noise.
- ``wide``: as ``additive``, but 40 columns for every measurement of the first modality and
  6 for the second.
- ``small``: as ``additive`` with 2,000 rows only.
- ``chain``: the cross-modal edge leaves the *second* latent of the first modality
  (z11 → z12 → z21 → z22), and modality names ``face`` / ``text``.

Usage::

    python benchmarks/crl_foreign_data.py additive 0 [OUT_DIR]

prints one JSON line with the held-out MCC, R², matched correlations and seconds. Runs the
command with one torch thread, so two can run side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("additive", "wide", "small", "chain")


def _tanh_mlp(z: np.ndarray, out_dim: int, rng: np.random.Generator) -> np.ndarray:
    hidden = np.tanh(z @ rng.normal(0.0, 1.5, (z.shape[1], 16)) + rng.normal(0.0, 0.5, 16))
    return hidden @ rng.normal(0.0, 1.0 / 4.0, (16, out_dim))


def foreign_dataset(variant: str, seed: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Arrays for ``np.savez`` (INTERFACES.md CRL format) and the ``--latent-dims`` to use."""
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    rng = np.random.default_rng(1000 + seed)
    n = 2000 if variant == "small" else 6000
    first, second = ("face", "text") if variant == "chain" else ("a", "b")
    z = np.zeros((n, 4))
    z[:, 0] = rng.normal(size=n)
    z[:, 1] = np.tanh(2.0 * z[:, 0]) + 0.6 * rng.normal(size=n)
    cross_parent = 1 if variant == "chain" else 0
    z[:, 2] = 0.8 * np.sin(1.2 * z[:, cross_parent]) + 0.6 * rng.normal(size=n)
    z[:, 3] = z[:, 2] ** 2 / 2.0 + 0.6 * rng.normal(size=n)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    graph = np.zeros((4, 4))
    graph[1, 0] = graph[2, cross_parent] = graph[3, 2] = 1.0
    dims = (40, 6) if variant == "wide" else (16, 16)
    arrays: dict[str, np.ndarray] = {}
    for name, block, count, dim in ((first, z[:, :2], 3, dims[0]), (second, z[:, 2:], 1, dims[1])):
        for k in range(count):
            x = _tanh_mlp(block, dim, rng)
            x = x + 0.05 * x.std(axis=0) * rng.normal(size=x.shape)
            arrays[f"{name}.{k}"] = x.astype(np.float32)
    arrays["latents"] = z.astype(np.float32)
    arrays["latent_names"] = np.array([f"{first}_1", f"{first}_2", f"{second}_1", f"{second}_2"])
    arrays["graph"] = graph
    return arrays, {first: 2, second: 2}


def main(argv: list[str]) -> None:
    variant, seed = argv[0], int(argv[1])
    arrays, latent_dims = foreign_dataset(variant, seed)
    out = Path(argv[2]) if len(argv) > 2 else Path(tempfile.mkdtemp()) / "run"
    out.parent.mkdir(parents=True, exist_ok=True)
    data_path = out.parent / f"{variant}_seed{seed}.npz"
    np.savez(data_path, **arrays)
    command = [
        sys.executable, "-m", "personax", "crl", "train", str(data_path),
        "--latent-dims", ",".join(f"{m}={d}" for m, d in latent_dims.items()),
        "--seed", str(seed), "--out", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text())
    matched = metrics["details"]["pearson"]["matched"]
    print(
        json.dumps(
            {
                "variant": variant,
                "seed": seed,
                "mcc": round(metrics["mcc"], 3),
                "r2": round(metrics["r2"], 3),
                "matched": [round(m, 2) for m in matched],
                "seconds": round(seconds),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
