"""Synthetic CRL benchmarks: generation time, and how recoverable each latent is.

For each benchmark (and, for variant MNIST, for the default single classes and for all ten
classes) it prints:
- seconds to generate n = 10,000 rows (library call, imports excluded);
- a *supervised reference*: the held-out R² of an MLP (scikit-learn, 2 hidden layers, 80
  epochs at most) trained on 5,000 rows to predict each true latent from all measurements,
  scored on 1,000 other rows. It is neither an upper bound for unsupervised CRL (a better
  regressor does better) nor a lower one; it compares how plainly each latent shows in the
  data, e.g. single classes against all classes.

Usage: ``python benchmarks/crl_synthetic_data.py``  (a few minutes on 2 cores)
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor

from personax.data.crl_synthetic import make_tabular, make_variant_mnist

N_TRAIN, N_TEST = 5000, 1000


def supervised_ceiling(ds) -> list[float]:
    x = np.concatenate([ds.measurement(k) for k in ds.keys], axis=1)
    y = (ds.latents - ds.latents.mean(0)) / ds.latents.std(0)
    model = MLPRegressor(
        hidden_layer_sizes=(256, 64), max_iter=80, early_stopping=True, random_state=0
    )
    model.fit(x[:N_TRAIN], y[:N_TRAIN])
    predicted = model.predict(x[N_TRAIN : N_TRAIN + N_TEST])
    truth = y[N_TRAIN : N_TRAIN + N_TEST]
    return [float(r2_score(truth[:, j], predicted[:, j])) for j in range(y.shape[1])]


def main() -> None:
    import torch

    torch.set_num_threads(1)
    make_variant_mnist(n=10)  # warm the loaders' caches and imports before timing
    cases = [
        ("tabular", lambda n: make_tabular(n=n, seed=0)),
        ("variant-mnist (digit 2, trouser)", lambda n: make_variant_mnist(n=n, seed=0)),
        (
            "variant-mnist (all classes)",
            lambda n: make_variant_mnist(n=n, seed=0, digit_classes=None, fashion_classes=None),
        ),
    ]
    print("| benchmark | seconds for n=10,000 | supervised reference: held-out R² per latent |")
    print("|---|---|---|")
    for name, make in cases:
        start = time.perf_counter()
        ds = make(10_000)
        seconds = time.perf_counter() - start
        scores = supervised_ceiling(ds)
        per_latent = ", ".join(
            f"{latent} {score:.3f}" for latent, score in zip(ds.latent_names, scores, strict=True)
        )
        print(f"| {name} | {seconds:.1f} | {per_latent} |", flush=True)


if __name__ == "__main__":
    main()
