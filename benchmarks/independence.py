"""Level I benchmark: the authors' stack vs personax, in the same run, on a celebrity-shaped table.

Authors' stack (test-only dependencies): causal-learn ``CIT(data, "kci" | "rcit" | "chisq" |
"gsq")`` and ``conditional_independence.hsic_test``, called per pair on the complete rows with
categorical attributes as sorted category codes — as the paper's code does. Because one
reference KCI pair takes seconds at n = 9,444, the reference time of each test is the mean
over a deterministic sample of pairs times the number of pairs of that test.

personax runs the whole battery (every pair, every test) in ``--compat paper`` mode — whose
p-values are compared with the reference ones on the sampled pairs — and in the default mode.
Each side runs in its own subprocess so that its peak memory (max RSS) is measured alone.

    nice -n 10 python benchmarks/independence.py            # n = 9,444 plus the n = 100,000 run
    python benchmarks/independence.py --quick               # small smoke run

Writes ``benchmarks/results/independence.json`` (or ``--out``) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = ("kci", "rcit", "hsic", "chisq", "gsq")


def load_table(n: int, seed: int):
    from personax.data.sample import make_sample

    table = make_sample("celebrity", n=n, seed=seed).table
    return table


def pairs_of(table):
    """(trait, attribute, test) triples the battery runs, in its order (skips excluded)."""
    from personax.data import column_groups
    from personax.independence.battery import prepare_column

    groups = column_groups(table)
    traits = list(groups.final_traits) + list(groups.llm_traits)
    attributes = list(groups.attributes)
    discrete = {a: prepare_column(table, a, trait=False).discrete for a in attributes}
    out = []
    for test in TESTS:
        for t in traits:
            for a in attributes:
                if test in ("chisq", "gsq") and not discrete[a]:
                    continue
                out.append((t, a, test))
    return traits, attributes, out


def sampled(pairs, per_test: dict[str, int]):
    """A deterministic, evenly spread sample of pairs for each test."""
    chosen = []
    for test in TESTS:
        these = [p for p in pairs if p[2] == test]
        k = min(per_test[test], len(these))
        idx = np.unique(np.linspace(0, len(these) - 1, k).round().astype(int))
        chosen += [these[i] for i in idx]
    return chosen


def pair_data(table, trait: str, attribute: str) -> np.ndarray:
    from personax.independence.battery import prepare_column

    x = prepare_column(table, trait, trait=True).values
    y = prepare_column(table, attribute, trait=False).values
    keep = np.isfinite(x) & np.isfinite(y)
    return np.column_stack([x[keep], y[keep]])


def worker_reference(args) -> dict:
    from causallearn.utils.cit import CIT

    # The authors' RCIT used momentchi2's LPB4, which NumPy 2 broke (it falls back to HBE);
    # the same alias personax restores gives the reference its LPB4 back.
    from personax.independence.rcit import restore_numpy_math_alias

    restore_numpy_math_alias()
    from conditional_independence import hsic_test

    table = load_table(args.n, args.data_seed)
    _, _, pairs = pairs_of(table)
    per_test = {
        "kci": args.sample_kernel,
        "hsic": args.sample_kernel,
        "rcit": args.sample_fast,
        "chisq": args.sample_fast,
        "gsq": args.sample_fast,
    }
    rows = []
    for trait, attribute, test in sampled(pairs, per_test):
        data = pair_data(table, trait, attribute)
        start, cpu = time.perf_counter(), time.process_time()
        if test == "hsic":
            p = hsic_test(data, 0, 1)["p_value"]
        else:
            if test == "rcit":
                np.random.seed(args.seed)  # causal-learn draws its features from the global state
            p = CIT(data, test)(0, 1)
        rows.append(
            {
                "trait": trait,
                "attribute": attribute,
                "test": test,
                "p_value": float(p),
                "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    counts = {t: sum(1 for p in pairs if p[2] == t) for t in TESTS}
    return {"pairs": rows, "pair_counts": counts}


def worker_ours(args) -> dict:
    from personax.independence.battery import run_battery

    table = load_table(args.n, args.data_seed)
    traits, attributes, _ = pairs_of(table)
    start, cpu = time.perf_counter(), time.process_time()
    result = run_battery(
        table,
        traits=traits,
        attributes=attributes,
        compat=args.compat,
        seed=args.seed,
        n_jobs=args.jobs,
    )
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    frame = result.results
    tested = frame[frame.p_value.notna()]
    pvals = {f"{r.trait}|{r.attribute}|{r.test}": float(r.p_value) for r in tested.itertuples()}
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "pairs_tested": int(len(tested)),
        "rows": int(len(frame)),
        "traits": len(traits),
        "attributes": len(attributes),
        "p_values": pvals,
        "significant": {t: int(frame[frame.test == t].significant.sum()) for t in TESTS},
    }


def worker_approx(args) -> dict:
    """Error and CPU time of the opt-in grid approximation where the exact route is O(n²)-like:
    continuous × continuous, and a discrete trait × an attribute with every value distinct."""
    from personax.independence import hsic, kci

    rows = []
    for n in args.approx_n:
        rng = np.random.default_rng(n)
        for kind in ("continuous x continuous", "discrete x continuous"):
            exact_max = args.approx_exact_max_n
            for strength in (0.0, 0.05, 0.15):
                x = rng.normal(size=n)
                y = strength * np.sin(2 * x) + rng.normal(size=n)
                if kind.startswith("discrete"):
                    x = np.clip(np.round((2 + 0.8 * x) * 2) / 2, 1, 3)  # a trait with 5 levels
                for test in (kci, hsic):
                    start = time.process_time()
                    approx = test(x, y, approx="grid")
                    row = {
                        "n": n,
                        "pair": kind,
                        "test": test.__name__,
                        "dependence": strength,
                        "p_grid": approx.p_value,
                        "cpu_seconds_grid": time.process_time() - start,
                    }
                    if n <= exact_max:
                        start = time.process_time()
                        exact = test(x, y)
                        row.update(
                            p_exact=exact.p_value,
                            cpu_seconds_exact=time.process_time() - start,
                            abs_p_error=abs(exact.p_value - approx.p_value),
                            rel_statistic_error=abs(approx.statistic / exact.statistic - 1),
                        )
                    rows.append(row)
    return {"rows": rows}


def run_worker(kind: str, args, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            kind,
            "--worker-out",
            str(out),
            "--n",
            str(args.n),
            "--data-seed",
            str(args.data_seed),
            "--seed",
            str(args.seed),
            "--sample-kernel",
            str(args.sample_kernel),
            "--sample-fast",
            str(args.sample_fast),
            "--jobs",
            str(args.jobs),
            "--approx-exact-max-n",
            str(args.approx_exact_max_n),
            "--approx-n",
            *[str(n) for n in args.approx_n],
            *extra,
        ]
        # one BLAS thread on both sides: a like-for-like, single-core comparison
        env = {
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text())


def approx_report(args) -> int:
    out = args.out.with_name(args.out.stem + "_approx.json")
    print(
        f"[independence] grid approximation vs exact where exact is O(n²)-like, n = {args.approx_n} …"
    )
    result = run_worker("approx", args, [])
    for r in result["rows"]:
        exact = (
            f"exact {r['cpu_seconds_exact']:.1f} s, |Δp| = {r['abs_p_error']:.1e}, "
            f"rel. statistic error {r['rel_statistic_error']:.1e}"
            if "p_exact" in r
            else "exact not run (O(n²) time)"
        )
        print(
            f"  n = {r['n']:>6} {r['pair']}, {r['test']:4s} dependence {r['dependence']:.2f}: grid "
            f"{r['cpu_seconds_grid']:.2f} s CPU, p = {r['p_grid']:.3g}; {exact}"
        )
    result["machine"] = machine()
    result["max_rss_mb"] = result.get("max_rss_mb")
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


def truth_report(args) -> dict:
    """Power and false-positive rate on the embedded sample's planted (in)dependencies."""
    from personax.data.sample import make_sample
    from personax.independence.battery import run_battery

    report = {}
    for kind in ("athlete", "celebrity"):
        sample = make_sample(kind, seed=args.data_seed)
        truth = {(d.trait, d.attribute): d.dependent for d in sample.truth.dependencies}
        for compat in (None, "paper"):
            frame = run_battery(sample.table, compat=compat, seed=args.seed).results
            frame = frame[frame.p_value.notna()]
            planted = np.array(
                [truth[(t, a)] for t, a in zip(frame.trait, frame.attribute, strict=True)]
            )
            for test in TESTS:
                mask = (frame.test == test).to_numpy()
                sig = frame.significant.to_numpy()
                key = f"{kind}/{compat or 'default'}/{test}"
                report[key] = {
                    "n": len(sample.table),
                    "dependent_pairs": int((mask & planted).sum()),
                    "independent_pairs": int((mask & ~planted).sum()),
                    "power": float(sig[mask & planted].mean()),
                    "false_positive_rate": float(sig[mask & ~planted].mean()),
                }
                r = report[key]
                print(
                    f"  {key:28s} power {r['power']:.2f} ({r['dependent_pairs']} planted), "
                    f"false positives {r['false_positive_rate']:.3f} ({r['independent_pairs']} null)"
                )
    return report


def worker_continuous(args) -> dict:
    """20 trait columns × one attribute whose every value is distinct (the costly exact case):
    personax's battery (KCI + HSIC, both modes) vs the authors' stack on a few pairs."""
    from causallearn.utils.cit import CIT
    from conditional_independence import hsic_test

    from personax.data import column_groups
    from personax.independence.battery import run_battery

    table = load_table(args.n, args.data_seed)
    rng = np.random.default_rng(args.data_seed)
    table["continuous"] = table["final_o"].fillna(2) * 0.1 + rng.normal(size=len(table))
    groups = column_groups(table)
    traits = list(groups.final_traits) + list(groups.llm_traits)
    out = {"n": args.n, "traits": len(traits)}
    for compat in (None, "paper"):
        cpu = time.process_time()
        frame = run_battery(
            table, traits=traits, attributes=["continuous"], tests=("kci", "hsic"), compat=compat
        ).results
        out[f"ours_{compat or 'default'}_cpu_seconds"] = time.process_time() - cpu
        out[f"ours_{compat or 'default'}_tests"] = int(frame.p_value.notna().sum())
    reference = {"kci": [], "hsic": []}
    for trait in traits[:: max(1, len(traits) // args.sample_kernel)][: args.sample_kernel]:
        data = pair_data(table, trait, "continuous")
        cpu = time.process_time()
        CIT(data, "kci")(0, 1)
        reference["kci"].append(time.process_time() - cpu)
        cpu = time.process_time()
        hsic_test(data, 0, 1)
        reference["hsic"].append(time.process_time() - cpu)
    out["reference_cpu_seconds_per_pair"] = {k: float(np.mean(v)) for k, v in reference.items()}
    out["reference_cpu_seconds_extrapolated"] = len(traits) * sum(
        out["reference_cpu_seconds_per_pair"].values()
    )
    return out


def continuous_report(args) -> int:
    print(f"[independence] n = {args.n}: {20} traits × one all-distinct continuous attribute …")
    r = run_worker("continuous", args, [])
    ref = r["reference_cpu_seconds_extrapolated"]
    for mode in ("default", "paper"):
        ours = r[f"ours_{mode}_cpu_seconds"]
        print(
            f"  personax {mode}: {ours:.1f} s CPU for {r[f'ours_{mode}_tests']} tests; authors' stack "
            f"{ref:,.0f} s CPU (extrapolated) → {ref / ours:,.0f}×; peak RSS {r['max_rss_mb']:,.0f} MB"
        )
    out = args.out.with_name(args.out.stem + "_continuous.json")
    out.write_text(json.dumps(r, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


WORKERS = {
    "reference": worker_reference,
    "ours": worker_ours,
    "approx": worker_approx,
    "continuous": worker_continuous,
}


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": sys.version.split()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=9444)
    parser.add_argument("--big-n", type=int, default=100_000, help="0 to skip the large run")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sample-kernel", type=int, default=6, help="reference KCI/HSIC pairs timed"
    )
    parser.add_argument(
        "--sample-fast", type=int, default=40, help="reference RCIT/chisq/gsq pairs"
    )
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--compat", default=None)
    parser.add_argument("--quick", action="store_true", help="n = 1,500, no large run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "independence.json")
    parser.add_argument(
        "--approx-n",
        type=int,
        nargs="*",
        default=[5000, 20000, 100_000],
        help="sizes of the grid-approximation error run (empty to skip)",
    )
    parser.add_argument("--approx-exact-max-n", type=int, default=20000)
    parser.add_argument(
        "--only-approx", action="store_true", help="run only the approximation part"
    )
    parser.add_argument("--only-truth", action="store_true", help="only the planted-truth part")
    parser.add_argument("--only-continuous", action="store_true", help="only the all-distinct part")
    parser.add_argument("--worker", choices=tuple(WORKERS))
    parser.add_argument("--worker-out", type=Path)
    args = parser.parse_args()

    if args.worker:
        payload = WORKERS[args.worker](args)
        payload["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        args.worker_out.write_text(json.dumps(payload))
        return 0

    if args.quick:
        args.n, args.big_n, args.sample_kernel, args.sample_fast = 1500, 0, 3, 10
        args.approx_n = [1500]
    if args.only_approx:
        return approx_report(args)
    if args.only_continuous:
        return continuous_report(args)
    if args.only_truth:
        print("[independence] planted truth of the embedded sample (BH at 0.05):")
        truth = truth_report(args)
        out = args.out.with_name(args.out.stem + "_truth.json")
        out.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out}")
        return 0
    report: dict = {"machine": machine(), "n": args.n, "seed": args.seed}
    print(f"[independence] n = {args.n}: authors' stack on sampled pairs …", flush=True)
    ref = run_worker("reference", args, [])
    print("[independence] personax --compat paper, full battery …", flush=True)
    paper = run_worker("ours", args, ["--compat", "paper"])
    print("[independence] personax default mode, full battery …", flush=True)
    default = run_worker("ours", args, [])

    per_test = {}
    ref_total = ref_cpu_total = 0.0
    diffs = []
    for test in TESTS:
        timed = [r for r in ref["pairs"] if r["test"] == test]
        mean = float(np.mean([r["seconds"] for r in timed])) if timed else 0.0
        mean_cpu = float(np.mean([r["cpu_seconds"] for r in timed])) if timed else 0.0
        count = ref["pair_counts"][test]
        ref_total += mean * count
        ref_cpu_total += mean_cpu * count
        test_diffs = [
            abs(r["p_value"] - paper["p_values"][f"{r['trait']}|{r['attribute']}|{test}"])
            for r in timed
        ]
        diffs += test_diffs
        per_test[test] = {
            "pairs": count,
            "reference_sampled_pairs": len(timed),
            "reference_seconds_per_pair": mean,
            "reference_cpu_seconds_per_pair": mean_cpu,
            "reference_seconds_extrapolated": mean * count,
            "max_abs_p_difference_paper_mode": max(test_diffs) if test_diffs else None,
        }
    report["celebrity"] = {
        "traits": paper["traits"],
        "attributes": paper["attributes"],
        "per_test": per_test,
        "reference_seconds_extrapolated": ref_total,
        "reference_cpu_seconds_extrapolated": ref_cpu_total,
        "ours_paper_cpu_seconds": paper["cpu_seconds"],
        "ours_default_cpu_seconds": default["cpu_seconds"],
        "cpu_speedup_paper_mode": ref_cpu_total / paper["cpu_seconds"],
        "cpu_speedup_default_mode": ref_cpu_total / default["cpu_seconds"],
        "reference_max_rss_mb": ref["max_rss_mb"],
        "ours_paper_seconds": paper["seconds"],
        "ours_paper_max_rss_mb": paper["max_rss_mb"],
        "ours_default_seconds": default["seconds"],
        "ours_default_max_rss_mb": default["max_rss_mb"],
        "speedup_paper_mode": ref_total / paper["seconds"],
        "speedup_default_mode": ref_total / default["seconds"],
        "max_abs_p_difference": max(diffs),
        "pairs_tested": paper["pairs_tested"],
        "significant_paper": paper["significant"],
        "significant_default": default["significant"],
    }
    c = report["celebrity"]
    print(
        f"  table: n = {args.n}, {c['traits']} trait columns × {c['attributes']} attributes, "
        f"{c['pairs_tested']} (pair, test) combinations"
    )
    for test, row in per_test.items():
        print(
            f"  {test:6s} reference {row['reference_seconds_per_pair']:.3f} s/pair × "
            f"{row['pairs']} pairs (timed {row['reference_sampled_pairs']}), "
            f"max |Δp| = {row['max_abs_p_difference_paper_mode']:.2e}"
        )
    print(
        f"  authors' stack (extrapolated): {ref_total:,.0f} s, peak RSS "
        f"{ref['max_rss_mb']:,.0f} MB (for the sampled pairs)"
    )
    print(
        f"  personax --compat paper: {paper['seconds']:.1f} s, peak RSS {paper['max_rss_mb']:,.0f} MB"
        f" → {c['speedup_paper_mode']:,.0f}× faster"
    )
    print(
        f"  personax default:        {default['seconds']:.1f} s, peak RSS "
        f"{default['max_rss_mb']:,.0f} MB → {c['speedup_default_mode']:,.0f}× faster"
    )
    print(
        f"  CPU time: authors' stack {ref_cpu_total:,.0f} s (extrapolated); personax paper mode "
        f"{paper['cpu_seconds']:.1f} s ({c['cpu_speedup_paper_mode']:,.0f}×), default "
        f"{default['cpu_seconds']:.1f} s ({c['cpu_speedup_default_mode']:,.0f}×)"
    )
    print(
        f"  max |p(personax paper mode) − p(reference)| over sampled pairs: {c['max_abs_p_difference']:.2e}"
    )

    if args.big_n:
        print(f"[independence] n = {args.big_n}: personax default mode, full battery …", flush=True)
        big_args = argparse.Namespace(**{**vars(args), "n": args.big_n})
        big = run_worker("ours", big_args, [])
        report["large"] = {
            "n": args.big_n,
            "seconds": big["seconds"],
            "cpu_seconds": big["cpu_seconds"],
            "max_rss_mb": big["max_rss_mb"],
            "pairs_tested": big["pairs_tested"],
            "reference_dense_kernel_gb_per_matrix": args.big_n**2 * 8 / 1e9,
        }
        print(
            f"  n = {args.big_n}: {big['seconds']:.1f} s, peak RSS {big['max_rss_mb']:,.0f} MB, "
            f"{big['pairs_tested']} (pair, test) combinations; the reference would need "
            f"{args.big_n**2 * 8 / 1e9:,.0f} GB per n×n kernel matrix"
        )
    continuous_report(args)
    if args.approx_n:
        approx_report(args)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
