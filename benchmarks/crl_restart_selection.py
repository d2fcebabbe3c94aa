"""Which restart should be the model? Lowest validation loss against agreement between restarts.

Trains the benchmark's restarts of personax's model one by one, exactly as ``crl train`` does
(same split, same initialisation seeds ``seed + 7919 r``), keeps every restart's latents, and
prints per restart: its best validation loss, its held-out MCC / R², and its mean agreement
with the other restarts — the Spearman MCC between two restarts' latents on the *validation*
rows (an unsupervised score in the spirit of Duan et al., 2020, "Unsupervised model selection
for variational disentangled representation learning": solutions that recover the true
factors resemble each other, each entangled solution is entangled in its own way).

Usage::

    python benchmarks/crl_restart_selection.py tabular 4 [RESTARTS] ['{"beta": 1.0}'] \
        ['{"shared_dims": 1}']

The first argument may instead be a CRL dataset file (``.npz``), trained with ``crl train``'s
defaults and two latents per modality. The optional fifth argument holds data options (as in ``crl_trial.py``); with shared latents
the model gets as many. Each restart's line also holds its validation loss split into its
terms (``val_parts``: reconstruction, KL, agreement, cross-modal InfoNCE, …, at the best
epoch), so other selection rules can be read off — e.g. the evidence bound alone,
``recon + kl``, which leaves out the critic's InfoNCE.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main(argv: list[str]) -> None:
    import torch

    from personax.crl.bench import benchmark_spec, make_benchmark_data
    from personax.crl.dataset import split_indices
    from personax.crl.metrics import mcc
    from personax.crl.model import MultiMeasurementCRL
    from personax.crl.train import (
        _fit_once,
        encode_rows,
        evaluate_latents,
        measurement_keys,
        restart_seed,
        seeded,
        standardise,
        validation_loss,
    )

    torch.set_num_threads(1)
    benchmark, seed = argv[0], int(argv[1])
    restarts = int(argv[2]) if len(argv) > 2 else 3
    overrides = json.loads(argv[3]) if len(argv) > 3 else {}
    data_options = json.loads(argv[4]) if len(argv) > 4 else {}
    if benchmark.endswith(".npz"):  # a CRL dataset file, trained with crl train's defaults
        from personax.crl.config import CRLConfig
        from personax.crl.dataset import load_crl_dataset

        data = load_crl_dataset(benchmark)
        config = CRLConfig().replace(**overrides)
        latent_dims = {m: 2 for m in data.measurements}
    else:
        spec = benchmark_spec(benchmark)
        config = spec.config.replace(**overrides)
        data = make_benchmark_data(benchmark, spec.default_n, seed, **data_options)
        latent_dims = spec.latent_dims
    shared_dims = int(data_options.get("shared_dims", 0))
    keys = [k for group in measurement_keys(data).values() for k in group]
    widths = {m: [np.asarray(x).shape[1] for x in xs] for m, xs in data.measurements.items()}
    splits = {name: np.asarray(idx) for name, idx in split_indices(data.n, seed).items()}
    arrays, _ = standardise(data, keys, splits["train"])
    tensors = {key: torch.from_numpy(value) for key, value in arrays.items()}
    train_index = torch.as_tensor(splits["train"])
    val_index = torch.as_tensor(splits["val"])
    budget = None if config.max_seconds is None else config.max_seconds / config.restarts

    def build():
        return MultiMeasurementCRL(widths, latent_dims, shared_dims, config)

    runs = []
    for restart in range(restarts):
        init_seed = restart_seed(seed, restart)
        started = time.perf_counter()
        with seeded(init_seed):
            module, _, best_val, best_epoch, _ = _fit_once(
                build, tensors, train_index, val_index, config, init_seed, None,
                torch.device("cpu"), budget, val_seed=seed,
            )  # fmt: skip
        with seeded(seed):
            latents = encode_rows(module, tensors, config.batch_size, data.n, "cpu")
        metrics = evaluate_latents(data, latents, splits, seed)
        runs.append(
            {
                "restart": restart,
                "val_loss": round(best_val, 3),
                "val_parts": {
                    k: round(v, 3)
                    for k, v in validation_loss(
                        module, tensors, val_index, config.batch_size, seed
                    )[1].items()
                },
                "mcc": round(metrics["mcc"], 3),
                "r2": round(metrics["r2"], 3),
                "matched": np.round(metrics["details"]["pearson"]["matched"], 2).tolist(),
                "best_epoch": best_epoch,
                "seconds": round(time.perf_counter() - started),
                "latents": latents,
            }
        )
    val = splits["val"]
    for a in runs:
        others = [
            mcc(a["latents"][val], b["latents"][val], method="spearman").value
            for b in runs
            if b is not a
        ]
        a["agreement"] = round(float(np.mean(others)), 3) if others else 1.0
    for run in runs:
        print(json.dumps({k: v for k, v in run.items() if k != "latents"}))
    by_loss = min(runs, key=lambda r: r["val_loss"])
    by_agreement = max(runs, key=lambda r: r["agreement"])
    print(
        json.dumps(
            {
                "benchmark": benchmark,
                "seed": seed,
                "lowest_val_loss": {"restart": by_loss["restart"], "mcc": by_loss["mcc"]},
                "most_agreement": {"restart": by_agreement["restart"], "mcc": by_agreement["mcc"]},
                "best_possible": max(r["mcc"] for r in runs),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
