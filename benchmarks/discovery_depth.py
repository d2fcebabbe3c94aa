"""PC with a bounded conditioning-set size (``--max-depth``): tests, time and skeleton quality.

On random DAGs denser than the main discovery benchmark's (nonlinear structural models), PC
runs with no bound and with ``max_depth`` 1, 2 and 3; for each we report the number of
conditional independence tests, the wall time and the skeleton's SHD / F1 against the true
DAG, averaged over seeds.

Usage: ``python benchmarks/discovery_depth.py [--seeds 3] [--out benchmarks/results/discovery_depth.csv]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# The script's own folder is on sys.path: the main discovery benchmark's scoring.
from discovery import skeleton_scores  # noqa: E402
from personax.discovery import discover  # noqa: E402
from personax.discovery.simulate import random_dag, simulate  # noqa: E402

# (nodes, edge probability, rows, test)
SETTINGS = [(15, 0.35, 1000, "fisherz"), (20, 0.3, 1000, "fisherz"), (10, 0.45, 200, "kci")]
DEPTHS = [None, 1, 2, 3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results/discovery_depth.csv"
    )
    args = parser.parse_args()
    rows = []
    for nodes, p_edge, n, test in SETTINGS:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            dag = random_dag(nodes, p_edge, rng)
            data = pd.DataFrame(simulate(dag, n, rng, kind="nonlinear"), columns=list(dag.nodes))
            truth = {frozenset(e) for e in dag.edges}
            for depth in DEPTHS:
                start = time.perf_counter()
                graph = discover(data, test=test, seed=seed, max_depth=depth)
                seconds = time.perf_counter() - start
                tests = int(graph.notes[0].rsplit(";", 1)[1].split()[0])
                shd, f1 = skeleton_scores(truth, graph.skeleton())
                rows.append(
                    {"nodes": nodes, "n": n, "test": test, "seed": seed,
                     "mean_degree": 2 * len(truth) / nodes,
                     "max_depth": "none" if depth is None else depth,
                     "tests": tests, "seconds": seconds, "shd": shd, "f1": f1}
                )  # fmt: skip
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    summary = (
        frame.groupby(["test", "nodes", "n", "max_depth"], sort=False)[
            ["mean_degree", "tests", "seconds", "shd", "f1"]
        ]
        .mean()
        .round(3)
    )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(summary.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
