"""Is the kernel-ridge R² of ``personax.crl.metrics`` the limit, or the latents?

Scores one run's latents (a ``latents.csv`` written by ``personax crl train``) against the
benchmark's true latents with the metric as it is, with the final fit on every training row,
with each of a 16-point ``alpha`` × ``gamma`` grid (the best cell per latent is chosen *on the
test rows*: optimistic, for this check only), and with k-nearest-neighbour regression. If none
of them is clearly higher, the metric extracts what the latents hold.

Usage::

    python benchmarks/crl_r2_estimator_check.py variant-mnist 0 \\
        benchmarks/results/crl_train_variant_mnist_seed0/latents.csv
"""

from __future__ import annotations

import sys

import numpy as np


def main(argv: list[str]) -> None:
    import pandas as pd
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.metrics import r2_score
    from sklearn.neighbors import KNeighborsRegressor

    from personax.crl.bench import make_benchmark_data
    from personax.crl.metrics import kernel_r2_scores

    benchmark, seed, latents_csv = argv[0], int(argv[1]), argv[2]
    true = np.asarray(make_benchmark_data(benchmark, 10000, seed).latents)
    frame = pd.read_csv(latents_csv)
    estimated = frame.drop(columns=["split", "id"], errors="ignore").to_numpy()
    train, test = (frame["split"] == "train").to_numpy(), (frame["split"] == "test").to_numpy()

    def show(label: str, scores) -> None:
        print(f"{label}: {np.round(scores, 4).tolist()}")

    args = (estimated[train], true[train], estimated[test], true[test])
    show("metric as it is", kernel_r2_scores(*args))
    show("final fit on all training rows", kernel_r2_scores(*args, max_train=7000, cv_rows=3000))
    x = (estimated - estimated[train].mean(axis=0)) / estimated[train].std(axis=0)
    y = (true - true[train].mean(axis=0)) / true[train].std(axis=0)

    def per_latent(predicted: np.ndarray) -> np.ndarray:
        return np.array([r2_score(y[test, j], predicted[:, j]) for j in range(y.shape[1])])

    grid = [
        per_latent(
            KernelRidge(kernel="rbf", alpha=alpha, gamma=gamma)
            .fit(x[train], y[train])
            .predict(x[test])
        )
        for alpha in (1e-4, 1e-3, 1e-2, 1e-1)
        for gamma in (0.05, 0.25, 1.0, 2.5)
    ]
    show("best grid cell per latent, chosen on the test rows", np.max(grid, axis=0))
    for k in (5, 10, 20, 50):
        knn = KNeighborsRegressor(k).fit(x[train], y[train])
        show(f"{k}-nearest-neighbour regression", per_latent(knn.predict(x[test])))


if __name__ == "__main__":
    main(sys.argv[1:])
