"""Causal discovery: personax PC against causal-learn's PC on the same data and test.

For random DAGs with 10 and 15 nodes (expected degree about 2.5), linear-Gaussian and
nonlinear (tanh / sin / square / abs) structural models, both implementations run stable PC at
alpha 0.05 with the same CI test — Fisher-z (n = 1,000), and on smaller samples KCI and RCIT —
and we report, per setting and averaged over seeds: skeleton SHD and F1 against the true DAG,
how often the two skeletons are identical, and wall time (and its ratio).

Usage: ``python benchmarks/discovery.py [--seeds 3] [--quick] [--out benchmarks/results/discovery.csv]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from personax.discovery import discover  # noqa: E402
from personax.discovery.simulate import random_dag, simulate  # noqa: E402

SETTINGS = [
    # (kind, nodes, n, test)
    ("linear", 10, 1000, "fisherz"),
    ("linear", 15, 1000, "fisherz"),
    ("nonlinear", 10, 1000, "fisherz"),
    ("nonlinear", 15, 1000, "fisherz"),
    ("nonlinear", 10, 400, "rcit"),
    ("nonlinear", 15, 400, "rcit"),
    ("nonlinear", 10, 200, "kci"),
    ("linear", 10, 200, "kci"),
    # kci-paper: personax's KCI in causal-learn-compatible mode (compat="paper").
    ("nonlinear", 10, 200, "kci-paper"),
    ("linear", 10, 200, "kci-paper"),
]


def skeleton_of_dag(dag) -> set[frozenset]:
    return {frozenset(e) for e in dag.edges}


def skeleton_scores(true: set[frozenset], found: set[frozenset]) -> tuple[int, float]:
    tp = len(true & found)
    shd = len(true ^ found)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return shd, f1


def causallearn_skeleton(data, names, test, alpha, seed) -> set[frozenset]:
    from causallearn.search.ConstraintBased.PC import pc

    np.random.seed(seed)  # causal-learn's RCIT draws from numpy's global state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cg = pc(data, alpha=alpha, indep_test=test, stable=True, show_progress=False)
    g = cg.G.graph
    k = len(names)
    return {
        frozenset((names[i], names[j]))
        for i in range(k)
        for j in range(i + 1, k)
        if g[i, j] != 0 or g[j, i] != 0
    }


def markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="fisherz settings only, 1 seed")
    parser.add_argument("--tests", default=None, help="only these tests, e.g. kci,kci-paper")
    parser.add_argument(
        "--only-kci-single", action="store_true", help="only the single-test KCI timings"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/discovery.csv")
    args = parser.parse_args()
    if args.only_kci_single:
        print(markdown(kci_single_test_times()))
        return 0
    settings = [s for s in SETTINGS if not args.quick or s[3] == "fisherz"]
    if args.tests:
        settings = [s for s in settings if s[3] in args.tests.split(",")]
    seeds = range(1 if args.quick else args.seeds)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}",
        flush=True,
    )
    # Warm-up (imports, caches) so the first timed setting is not penalised.
    warm = np.random.default_rng(0).standard_normal((100, 3))
    discover(pd.DataFrame(warm, columns=["a", "b", "c"]))
    causallearn_skeleton(warm, ["a", "b", "c"], "fisherz", 0.05, 0)
    rows = []
    for kind, nodes, n, test in settings:
        for seed in seeds:
            rng = np.random.default_rng([seed, nodes, n])
            dag = random_dag(nodes, 2.5 / (nodes - 1), rng)
            data = simulate(dag, n, rng, kind=kind)
            names = list(dag.nodes)
            truth = skeleton_of_dag(dag)
            start = time.perf_counter()
            ours = discover(
                pd.DataFrame(data, columns=names),
                test=test.removesuffix("-paper"),
                alpha=args.alpha,
                seed=seed,
                compat="paper" if test.endswith("-paper") else None,
            ).skeleton()
            ours_s = time.perf_counter() - start
            start = time.perf_counter()
            theirs = causallearn_skeleton(
                data, names, test.removesuffix("-paper"), args.alpha, seed
            )
            theirs_s = time.perf_counter() - start
            ours_shd, ours_f1 = skeleton_scores(truth, ours)
            cl_shd, cl_f1 = skeleton_scores(truth, theirs)
            row = {
                "kind": kind,
                "nodes": nodes,
                "n": n,
                "test": test,
                "seed": seed,
                "true_edges": len(truth),
                "personax_shd": ours_shd,
                "personax_f1": ours_f1,
                "personax_s": ours_s,
                "causallearn_shd": cl_shd,
                "causallearn_f1": cl_f1,
                "causallearn_s": theirs_s,
                "same_skeleton": ours == theirs,
            }
            rows.append(row)
            print(
                f"{kind:9s} d={nodes:2d} n={n:4d} {test:7s} seed={seed}: "
                f"SHD {ours_shd:2d} vs {cl_shd:2d}, F1 {ours_f1:.2f} vs {cl_f1:.2f}, "
                f"{ours_s:7.2f}s vs {theirs_s:7.2f}s, same skeleton: {ours == theirs}",
                flush=True,
            )
    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    summary = frame.groupby(["kind", "nodes", "n", "test"], sort=False).agg(
        seeds=("seed", "count"),
        personax_shd=("personax_shd", "mean"),
        causallearn_shd=("causallearn_shd", "mean"),
        personax_f1=("personax_f1", "mean"),
        causallearn_f1=("causallearn_f1", "mean"),
        personax_s=("personax_s", "mean"),
        causallearn_s=("causallearn_s", "mean"),
        same_skeleton=("same_skeleton", "mean"),
    )
    summary["speedup"] = summary["causallearn_s"] / summary["personax_s"]
    print()
    print(markdown(summary.round(2).reset_index()))
    if not args.quick and (not args.tests or "kci" in args.tests):
        print()
        print(markdown(kci_single_test_times()))
    return 0


def kci_single_test_times(
    cases=((500, 2), (1000, 2), (1500, 2), (1000, 3), (1500, 4)),
) -> pd.DataFrame:
    """Seconds for one conditional KCI test of n rows given |z| columns, personax vs
    causal-learn. From |z| = 3 on, the default mode's kernel of (x, z) needs more than
    ``LOW_RANK_MAX`` pivoted-Cholesky columns, so it is used exact."""
    from causallearn.utils.cit import CIT

    from personax.independence.conditional import kci_ci

    rows = []
    for n, dz in cases:
        rng = np.random.default_rng(n if dz == 2 else [n, dz])
        z = rng.standard_normal((n, dz))
        x = np.tanh(z[:, 0]) + 0.5 * rng.standard_normal(n)
        y = z[:, 1] ** 2 + z[:, 0] + 0.5 * rng.standard_normal(n)
        data = np.column_stack([x, y, z])
        timings = {}
        for label in ("personax_s", "personax_paper_s", "causallearn_s"):
            start = time.perf_counter()
            if label == "causallearn_s":
                p = CIT(data, "kci")(0, 1, list(range(2, 2 + dz)))
            else:
                compat = "paper" if label == "personax_paper_s" else None
                p = kci_ci(x, y, z, compat=compat).p_value
            timings[label] = round(time.perf_counter() - start, 3)
            timings[label.replace("_s", "_p")] = round(float(p), 4)
        rows.append({"n": n, "z_columns": dz, **timings})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    sys.exit(main())
