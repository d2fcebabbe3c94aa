"""Two CRL datasets with the same measurements and different ground truths: no method can
score held-out MCC ≥ 0.90 on both.

Dataset A is the tabular benchmark (``make_tabular``). Dataset B has *the same measurement
arrays, bit for bit*, and the same graph; only the ground truth differs: each child latent
(z12, z22) is replaced by ``child − m(parent) + c · h(parent)``, where ``m`` is a fitted
regression of the child on its parent and ``h`` a polynomial of the parent made uncorrelated
with the parent and with ``m``. B is an honest dataset of the INTERFACES format in its own
right: each new child is a nonlinear function of its parent plus the child's own Laplace noise
(the same noise as in A), and each measurement is the same invertible map of (z_m, η)
composed with the invertible change ``child ↦ new child`` given the parent. Nothing a method
sees tells A from B, so its latents are the same for both, and :func:`mcc_ceiling` bounds
what *any* estimate with four latents can score against both at once.

The script prints that ceiling, writes both datasets to a temporary folder, runs the real
command ``personax crl train DATA --latent-dims m1=2,m2=2 --seed S`` on each with every
default, checks the two ``latents.csv`` are identical, and writes
``OUT/summary.json`` with both held-out MCCs.

Usage::

    python benchmarks/crl_identifiability_limit.py 0 benchmarks/results/crl_identifiability_limit
    python benchmarks/crl_identifiability_limit.py --ceilings 1,2,3,4,5   # no training
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Relabelling settings: h is the square of the parent (made uncorrelated with the parent and
# the old mechanism), scaled to five times the spread of the child's own noise; this puts the
# ceiling at 0.876 on seed 0. (With the cube for z12 the ceiling is lower, 0.872, but the new
# z12 is then so steep a function of z11 that it is hard to read at all, which would muddle
# the point.)
POWERS = {"z12": 2, "z22": 2}
STRENGTH = 5.0


def relabel_child(child: np.ndarray, parent: np.ndarray, power: int) -> np.ndarray:
    """``child − m(parent) + c·h(parent)``, standardised: another child of the same parent
    with the same own noise, which the measurements cannot tell from ``child``."""
    basis = np.column_stack([parent**k for k in range(10)])
    mechanism = basis @ np.linalg.lstsq(basis, child, rcond=None)[0]
    own = child - mechanism
    features = np.column_stack([np.ones_like(parent), parent, mechanism])
    h = parent**power
    h = h - features @ np.linalg.lstsq(features, h, rcond=None)[0]
    new = own + STRENGTH * own.std() / h.std() * h
    return (new - new.mean()) / new.std()


def twin_datasets(seed: int):
    """(A, B): the tabular benchmark and its relabelled twin."""
    from personax.crl.dataset import CRLDataset
    from personax.data.crl_synthetic import make_tabular

    a = make_tabular(10000, seed)
    names = list(a.latent_names)
    latents = np.array(a.latents, dtype=np.float64)
    parents = {"z12": "z11", "z22": "z21"}
    for child, parent in parents.items():
        j, p = names.index(child), names.index(parent)
        latents[:, j] = relabel_child(latents[:, j], latents[:, p], POWERS[child])
    b = CRLDataset(
        measurements=a.measurements,
        latents=latents,
        latent_names=names,
        graph=a.graph,
        latent_modalities=a.latent_modalities,
    )
    return a, b


def ceiling_on_test_rows(seed: int) -> tuple:
    """(A, B, the MCC ceiling of A and B on the test rows ``crl train`` scores for ``seed``)."""
    from personax.crl.metrics import mcc_ceiling
    from personax.crl.train import split_indices

    a, b = twin_datasets(seed)
    test = np.asarray(split_indices(a.n, seed)["test"])
    return a, b, mcc_ceiling(np.asarray(a.latents)[test], np.asarray(b.latents)[test])


def main(argv: list[str]) -> None:
    from personax.atomic import write_text
    from personax.crl.dataset import save_crl_dataset

    if argv[0] == "--ceilings":
        for seed in map(int, argv[1].split(",")):
            print(f"seed {seed}: MCC ceiling on the test rows {ceiling_on_test_rows(seed)[2]:.4f}")
        return
    seed, out = int(argv[0]), Path(argv[1])
    a, b, ceiling = ceiling_on_test_rows(seed)
    corr = np.corrcoef(np.asarray(a.latents).T, np.asarray(b.latents).T)[:4, 4:]
    print(f"MCC ceiling over both truths on the test rows, any 4-latent estimate: {ceiling:.4f}")
    print("corr(A latent, B latent):", np.round(corr, 3).tolist())
    out.mkdir(parents=True, exist_ok=True)
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("A", a), ("B", b)):
            path = save_crl_dataset(data, Path(tmp) / f"{name}.npz")
            run = out / f"run_{name}"
            command = [sys.executable, "-m", "personax", "crl", "train", str(path)]
            command += ["--latent-dims", "m1=2,m2=2", "--seed", str(seed), "--out", str(run)]
            subprocess.run(command, check=True)
            scores[name] = json.loads((run / "metrics.json").read_text())["mcc"]
    same = (out / "run_A" / "latents.csv").read_bytes() == (
        out / "run_B" / "latents.csv"
    ).read_bytes()
    summary = {
        "seed": seed,
        "ceiling": round(ceiling, 4),
        "mcc_A": round(scores["A"], 4),
        "mcc_B": round(scores["B"], 4),
        "latents_identical": same,
        "corr_A_B": np.round(corr, 4).tolist(),
        "relabelling": {"powers": POWERS, "strength": STRENGTH},
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
