"""RCIT's null: LPB4 (what personax uses) against the HBE fallback it silently used before.

momentchi2 0.1.8 calls ``np.math.factorial``, which NumPy 2 removed, so every LPB4 call failed
and every RCIT p-value came from HBE until personax restored the alias. This runs the RCIT
part of the Level I battery on the embedded athlete sample (seed 0) both ways and prints the
largest p-value difference and the number of BH-significant pairs.

Usage: ``python benchmarks/rcit_null_check.py``.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from personax.data.sample import make_sample  # noqa: E402
from personax.independence.battery import run_battery  # noqa: E402

# The package exports the function `rcit` under the module's name; the module itself:
rcit_module = importlib.import_module("personax.independence.rcit")


def _hbe_only(weights: np.ndarray, statistic: float) -> tuple[float, str]:
    if statistic <= 0:
        return 1.0, ""
    from momentchi2 import hbe  # HBE needs no NumPy alias

    return float(max(1 - hbe(weights, statistic), 0.0)), "hbe"


def main() -> None:
    table = make_sample("athlete", seed=0).table
    lpb4 = run_battery(table, tests=("rcit",), seed=0).results
    real = rcit_module.weighted_chi2_sf
    rcit_module.weighted_chi2_sf = _hbe_only
    try:
        hbe = run_battery(table, tests=("rcit",), seed=0).results
    finally:
        rcit_module.weighted_chi2_sf = real
    a, b = (frame["p_value"].to_numpy(float) for frame in (lpb4, hbe))
    both = np.isfinite(a) & np.isfinite(b)
    print(f"pairs with a p-value: {int(both.sum())}")
    print(f"nulls used: {sorted(set(lpb4['null']))} against {sorted(set(hbe['null']))}")
    print(f"max |p(LPB4) - p(HBE)|: {np.max(np.abs(a[both] - b[both])):.4f}")
    for name, frame in (("LPB4", lpb4), ("HBE", hbe)):
        print(f"BH-significant pairs with {name}: {int((frame['p_adjusted'] < 0.05).sum())}")


if __name__ == "__main__":
    main()
