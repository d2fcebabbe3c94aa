"""The ``recovery`` diagnosis of ``metrics.json`` for run folders written before it existed.

For each ``crl train`` run folder given, the benchmark data are made again with the run's seed
(``config.json``), its row count (``latents.csv``) and the data options given, and the run's ``latents.csv`` is read with the
same diagnosis ``crl train`` now writes (:func:`personax.crl.train.recovery_of`): per true
latent, the held-out kNN R² from each learned block and its reading (recovered, mixed, partly
held, missing).

Usage::

    python benchmarks/crl_recovery.py variant-mnist '{"shared_dims": 1}' RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv: list[str]) -> None:
    from personax.crl.bench import make_benchmark_data
    from personax.crl.train import recovery_of

    benchmark, options, folders = argv[0], json.loads(argv[1]), argv[2:]
    for folder in map(Path, folders):
        saved = json.loads((folder / "config.json").read_text())
        frame = pd.read_csv(folder / "latents.csv")
        data = make_benchmark_data(benchmark, len(frame), int(saved["seed"]), **options)
        split = frame.pop("split").to_numpy()
        splits = {name: np.flatnonzero(split == name) for name in ("train", "val", "test")}
        result = recovery_of(data, frame.to_numpy(), splits, list(frame.columns))
        blocks = {block: [round(v, 3) for v in values] for block, values in result["r2"].items()}
        readings = [f"{item['latent']} {item['reading']}" for item in result["latents"]]
        print(f"{folder.name}: kNN R² per block {blocks}; {', '.join(readings)}")


if __name__ == "__main__":
    main(sys.argv[1:])
