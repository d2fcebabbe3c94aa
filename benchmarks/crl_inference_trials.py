"""Two inference-side R² trials on a trained personax model: per-row MAP refinement and an
ensemble of restarts.

Both ask whether the last R² on variant MNIST is lost *after* training — by the amortised
encoders (the amortisation gap of Cremer et al., 2018) or by the variance of one start — rather
than being what the data let a small code hold.

1. **MAP refinement.** Starting from each row's posterior means, (z, η) are moved by Adam to
   minimise ``reconstruction − w · log p(z, η)`` under the trained decoders and causal prior
   (weights frozen), for every row, test rows included (it uses only their inputs).
2. **Restart ensemble.** Each restart (initialisation seeds ``seed + 7919 r``, as ``crl train``)
   is trained alone; the restarts whose best validation loss is within ``--within`` nats of the
   lowest are matched to the best one on the *validation* rows (Hungarian matching of absolute
   correlations, signs flipped, rescaled to its mean and spread) and averaged.

Usage::

    python benchmarks/crl_inference_trials.py variant-mnist 0 [RESTARTS] [STEPS] [LR]

Prints one JSON line per figure. One torch thread, so two seeds can run side by side.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def _train_restart(data, spec, seed: int, restart: int):
    """One start of ``crl train`` with restart ``restart``'s initialisation seed."""
    import personax.crl.train as training

    plain = training.restart_seed
    # restarts=1 trains one start with restart_seed(seed, 0); point that at restart r instead.
    training.restart_seed = lambda s, _r: plain(s, restart)
    try:
        return training.train_crl(data, spec.latent_dims, 0, spec.config.replace(restarts=1), seed)
    finally:
        training.restart_seed = plain


def _rebuild(run):
    """The run's trained model (``load_crl_model`` of its checkpoint), weights frozen."""
    import tempfile
    from pathlib import Path

    import torch

    from personax.crl.encode import load_crl_model

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        torch.save(run.checkpoint, path)
        model = load_crl_model(path)
    for parameter in model.module.parameters():
        parameter.requires_grad_(False)
    return model


def _map_refine(model, data, steps: int, lr: float, prior_weight: float):
    """The refined latents of every row, and the objective's two terms per row (reconstruction,
    −log p) averaged over the rows before and after, to show the optimisation did its job."""
    import torch

    from personax.crl.encode import model_inputs

    net = model.module
    tensors = model_inputs(model, data)
    with torch.no_grad():
        v_mean, _, eta_mean, _, _ = net.posterior(tensors)
    slices = net.layout.slices()

    def terms(v, eta, rows):
        # The decoding of MultiMeasurementCRL.loss at a point (no sampling), per row.
        shared, recon, offset = v[:, slices["shared"]], 0.0, 0
        for m in net.modalities:
            z, q = v[:, slices[m]], net.noise_dims[m]
            for k in range(len(net.widths[m])):
                code = torch.cat([shared, z, eta[:, offset : offset + q]], -1)
                offset += q
                x_hat = net.decoders[f"{m}_{k}"](code)
                recon = recon + 0.5 * ((x_hat - tensors[f"{m}.{k}"][rows]) ** 2).sum(-1)
        return recon, -net.prior.log_prob(v, eta)

    refined = v_mean.numpy().astype(np.float64).copy()
    n = len(refined)
    before, after = np.zeros(2), np.zeros(2)
    for start in range(0, n, 2000):
        rows = torch.arange(start, min(start + 2000, n))
        v = v_mean[rows].clone().requires_grad_(True)
        eta = eta_mean[rows].clone().requires_grad_(True)
        optimiser = torch.optim.Adam([v, eta], lr=lr)
        for step in range(steps + 1):
            optimiser.zero_grad()
            recon, neg_log_prior = terms(v, eta, rows)
            sums = np.array([float(recon.detach().sum()), float(neg_log_prior.detach().sum())])
            if step == 0:
                before += sums
            if step == steps:  # the terms at the final point; no further step
                after += sums
                break
            (recon + prior_weight * neg_log_prior).sum().backward()
            optimiser.step()
        refined[rows.numpy()] = v.detach().numpy()
    return refined, (before / n).round(2).tolist(), (after / n).round(2).tolist()


def _aligned(reference: np.ndarray, other: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``other``'s latents matched, signed and rescaled to ``reference`` on ``rows``."""
    from scipy.optimize import linear_sum_assignment

    width = reference.shape[1]
    corr = np.corrcoef(reference[rows].T, other[rows].T)[:width, width:]
    matched_rows, cols = linear_sum_assignment(-np.abs(corr))
    out = other[:, cols] * np.sign(corr[matched_rows, cols])
    out = (out - out[rows].mean(0)) / out[rows].std(0)
    return out * reference[rows].std(0) + reference[rows].mean(0)


def main(argv: list[str]) -> None:
    import torch

    from personax.crl.bench import benchmark_spec, make_benchmark_data
    from personax.crl.dataset import split_indices
    from personax.crl.train import evaluate_latents, recovery_of

    torch.set_num_threads(1)
    benchmark, seed = argv[0], int(argv[1])
    restarts = int(argv[2]) if len(argv) > 2 else 4
    steps = int(argv[3]) if len(argv) > 3 else 100
    lr = float(argv[4]) if len(argv) > 4 else 0.02
    within = 2.0  # nats of validation loss: restarts this close to the best join the ensemble
    data = make_benchmark_data(benchmark, 10000, seed)
    spec = benchmark_spec(benchmark)
    splits = split_indices(data.n, seed)  # the split every start trains on (fit_latent_model)

    def report(label: str, latents: np.ndarray, names: list[str], **extra) -> None:
        metrics = evaluate_latents(data, latents, splits, seed)
        pearson = metrics["details"]["pearson"]
        recovery = recovery_of(data, latents, splits, names, pearson)["r2"]["all"]
        line = {
            "trial": label,
            "seed": seed,
            "mcc": round(metrics["mcc"], 4),
            "r2": round(metrics["r2"], 4),
            "matched": [round(v, 3) for v in pearson["matched"]],
            "knn_r2_all": [round(v, 3) for v in recovery],
            **extra,
        }
        print(json.dumps(line), flush=True)

    runs = []
    for restart in range(restarts):
        start = time.perf_counter()
        run = _train_restart(data, spec, seed, restart)
        runs.append(run)
        names = list(run.latents.columns[1:])
        latents = run.latents[names].to_numpy(dtype=np.float64)
        report(
            f"restart {restart}",
            latents,
            names,
            val_loss=round(run.metrics["restart_val_losses"][0], 2),
            seconds=round(time.perf_counter() - start),
        )

    losses = [run.metrics["restart_val_losses"][0] for run in runs]
    best = runs[int(np.argmin(losses))]
    best_latents = best.latents[names].to_numpy(dtype=np.float64)
    members = [run for run, loss in zip(runs, losses, strict=True) if loss <= min(losses) + within]
    averaged = np.mean(
        [
            _aligned(best_latents, run.latents[names].to_numpy(dtype=np.float64), splits["val"])
            for run in members
        ],
        axis=0,
    )
    report("ensemble", averaged, names, members=len(members))

    model = _rebuild(best)
    for weight in (1.0, spec.config.beta):
        start = time.perf_counter()
        refined, before, after = _map_refine(model, data, steps, lr, weight)
        report(
            "MAP refinement of the best restart",
            refined,
            names,
            prior_weight=weight,
            steps=steps,
            lr=lr,
            recon_and_neg_log_prior_before=before,
            recon_and_neg_log_prior_after=after,
            seconds=round(time.perf_counter() - start),
        )


if __name__ == "__main__":
    main(sys.argv[1:])
