"""Do today's commands reproduce the committed CRL results? Re-runs, with the current code:

- `personax crl train` on variant MNIST seed 0 (defaults), compared file by file with
  `benchmarks/results/crl_train_variant_mnist_seed0/`;
- `personax bench crl --methods personax --seeds 0` on variant MNIST and on tabular, compared
  row by row with `benchmarks/results/crl_{variant_mnist,tabular}/results.csv` (seconds aside).

Usage: python benchmarks/crl_reproduction_check.py [WORKDIR]   (about 10 minutes on 2 cores)
Prints one line per comparison; exit code 1 when a learned figure differs.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
PERSONAX = [sys.executable, "-m", "personax"]
# Values written with this many significant digits agree to the last one or two: the metrics'
# correlations are summed in another order than when the tables were made.
TOLERANCE = 1e-5


def run(*args: str) -> None:
    subprocess.run([*PERSONAX, *args], check=True, stdout=subprocess.DEVNULL)


def compare_train(work: Path) -> bool:
    data, out = work / "variant0.npz", work / "train_variant0"
    run("data", "crl-synthetic", "--benchmark", "variant-mnist", "--seed", "0", "--out", str(data))
    run("crl", "train", str(data), "--latent-dims", "digit=2,fashion=2", "--seed", "0",
        "--out", str(out))  # fmt: skip
    committed = RESULTS / "crl_train_variant_mnist_seed0"
    same = True
    for name in ("latents.csv", "graph.json", "history.csv"):
        identical = filecmp.cmp(out / name, committed / name, shallow=False)
        same &= identical
        print(f"crl train variant-mnist seed 0, {name}: {'identical' if identical else 'DIFFERS'}")
    new, old = (json.loads((d / "metrics.json").read_text()) for d in (out, committed))
    for key in ("mcc", "r2", "mcc_spearman"):
        close = abs(new[key] - old[key]) <= TOLERANCE
        same &= close
        print(f"crl train variant-mnist seed 0, {key}: {new[key]:.6f} (committed {old[key]:.6f})")
    return same


def compare_bench(work: Path, benchmark: str) -> bool:
    out = work / f"bench_{benchmark}"
    run("bench", "crl", "--benchmark", benchmark, "--methods", "personax", "--seeds", "0",
        "--out", str(out))  # fmt: skip
    new = pd.read_csv(out / "results.csv").iloc[0]
    table = pd.read_csv(RESULTS / f"crl_{benchmark.replace('-', '_')}" / "results.csv")
    old = table[(table["method"] == "personax") & (table["seed"] == 0)].iloc[0]
    same = True
    for key in ("mcc", "r2", "mcc_spearman", "best_epoch", "epochs_run"):
        close = abs(float(new[key]) - float(old[key])) <= TOLERANCE
        same &= close
        print(f"bench crl {benchmark} personax seed 0, {key}: {new[key]} (committed {old[key]})")
    print(f"bench crl {benchmark} personax seed 0, seconds: {new['seconds']:.0f} "
          f"(committed {old['seconds']:.0f}; wall clock, not compared)")  # fmt: skip
    return same


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        same = compare_train(work)
        for benchmark in ("variant-mnist", "tabular"):
            same &= compare_bench(work, benchmark)
    print("reproduced" if same else "NOT reproduced")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
