"""One CRL trial: personax's model on one benchmark seed with some hyper-parameters changed.

This is the tool behind the trial tables of BENCHMARKS.md ("Level II (CRL)"): it trains with the
benchmark's settings plus the overrides, and prints the held-out MCC / R², the matched
correlations, and a diagnosis of *where* each true latent sits — the held-out R² of a
k-nearest-neighbour regression of each true latent on each modality's learned block (a latent
well predicted by its block but poorly matched is mixed, not missing).

Usage::

    python benchmarks/crl_trial.py variant-mnist 0 '{"restarts": 1, "w_ima": 100.0}'
    python benchmarks/crl_trial.py tabular 1 '{"restarts": 1}' '{"measurements": [3, 3]}'

The third argument holds ``CRLConfig`` fields; the optional fourth, data options
(``make_tabular`` / ``make_variant_mnist`` keyword arguments, e.g. ``{"shared_dims": 1}``).
One torch thread, so two trials can run side by side.
The third argument may also hold ``"recon_weight": {"MODALITY": W}``, a trial-only multiplier
of that modality's reconstruction term (no ``CRLConfig`` field: the trial that asked for it
was not adopted).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def _weigh_reconstruction(weights: dict[str, float]) -> None:
    """Multiply the reconstruction term of the named modalities' measurements (trial only)."""
    from personax.crl import model

    plain = model.MultiMeasurementCRL._reconstruction_nll

    def weighted(self, name, x_hat, x):
        return plain(self, name, x_hat, x) * weights.get(name.rsplit("_", 1)[0], 1.0)

    model.MultiMeasurementCRL._reconstruction_nll = weighted


def main(argv: list[str]) -> None:
    import torch

    from personax.crl.bench import benchmark_spec, make_benchmark_data
    from personax.crl.train import train_crl

    torch.set_num_threads(1)
    benchmark, seed = argv[0], int(argv[1])
    overrides = json.loads(argv[2]) if len(argv) > 2 else {}
    shown = dict(overrides)
    recon_weight = overrides.pop("recon_weight", None)
    if recon_weight:
        _weigh_reconstruction(recon_weight)
    data_options = json.loads(argv[3]) if len(argv) > 3 else {}
    data = make_benchmark_data(benchmark, 10000, seed, **data_options)
    spec = benchmark_spec(benchmark)
    config = spec.config.replace(**overrides)
    start = time.perf_counter()
    # Data with shared latents (the shared_dims option) get a model with as many.
    shared = int(data_options.get("shared_dims", 0))
    run = train_crl(data, spec.latent_dims, shared, config, seed)
    metrics = run.metrics
    print(
        json.dumps(
            {
                "benchmark": benchmark,
                "seed": seed,
                "overrides": shown,
                "data": data_options,
                "mcc": round(metrics["mcc"], 3),
                "r2": round(metrics["r2"], 3),
                "mcc_spearman": round(metrics["mcc_spearman"], 3),
                "best_epoch": run.best_epoch,
                "seconds": round(time.perf_counter() - start),
            }
        )
    )
    pearson = metrics["details"]["pearson"]
    print("matched correlations:", np.round(pearson["matched"], 2).tolist())
    print("correlations (true × estimated):", np.round(pearson["correlations"], 2).tolist())
    # The recovery diagnosis crl train writes (metrics.recovery_by_block, via recovery_of).
    blocks = {name: [round(v, 3) for v in r2] for name, r2 in metrics["recovery"]["r2"].items()}
    print("kNN R² of each true latent from each learned block:", blocks)


if __name__ == "__main__":
    main(sys.argv[1:])
