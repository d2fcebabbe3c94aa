"""Where digit rotation is lost: each digit measurement's own posterior against their fusion.

One start of personax's model with the variant-MNIST benchmark settings (plus the overrides
given), then the trained model's per-measurement posterior means are read directly and the
held-out R² of a 20-nearest-neighbour regression of the true digit rotation is printed from:
each measurement's own ``z``; the fused digit block (the product of experts the model
encodes with); the three ``z`` concatenated; their plain mean; each ``η``; and each
measurement's ``(z, η)``. If the fused block held less than the concatenation, the fusion
would be losing information; if each measurement's ``z`` holds little, the encoders are.

Usage::

    python benchmarks/crl_fusion_probe.py 0
    python benchmarks/crl_fusion_probe.py 2 '{"epochs": 90}'
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(argv: list[str]) -> None:
    import torch
    from sklearn.metrics import r2_score
    from sklearn.neighbors import KNeighborsRegressor

    from personax.crl.bench import benchmark_spec, make_benchmark_data
    from personax.crl.model import MultiMeasurementCRL
    from personax.crl.train import fit_latent_model, measurement_keys, standardise

    torch.set_num_threads(1)
    seed = int(argv[0])
    overrides = json.loads(argv[1]) if len(argv) > 1 else {}
    data = make_benchmark_data("variant-mnist", 10000, seed)
    spec = benchmark_spec("variant-mnist")
    config = spec.config.replace(restarts=1, **overrides)
    by_modality = measurement_keys(data)
    keys = [key for group in by_modality.values() for key in group]
    widths = {
        m: [int(np.asarray(data.measurements[m][int(k.rsplit(".", 1)[1])]).shape[1]) for k in ks]
        for m, ks in by_modality.items()
    }

    def build():
        return MultiMeasurementCRL(widths, spec.latent_dims, 0, config)

    fit = fit_latent_model(build, data, keys, config, seed)
    model, splits = fit.module.eval(), fit.splits
    arrays, _ = standardise(data, keys, splits["train"])
    with torch.no_grad():
        batch = {key: torch.from_numpy(value) for key, value in arrays.items()}
        fused, _, eta, _, per_measurement = model.posterior(batch)
    train, test = splits["train"], splits["test"]
    rotation = np.asarray(data.latents)[:, 0]

    def r2(x: np.ndarray) -> float:
        x = (x - x[train].mean(0)) / x[train].std(0)
        knn = KNeighborsRegressor(20).fit(x[train], rotation[train])
        return round(float(r2_score(rotation[test], knn.predict(x[test]))), 4)

    own = [z.numpy() for z in per_measurement["digit"]]
    q = config.noise_dims
    etas = [eta.numpy()[:, k * q : (k + 1) * q] for k in range(len(own))]
    print(json.dumps({"seed": seed, "overrides": overrides}))
    print("digit rotation, held-out kNN R², from")
    print("  each measurement's z:", [r2(z) for z in own])
    print("  the fused digit block:", r2(fused.numpy()[:, :2]))
    print("  the z's concatenated:", r2(np.concatenate(own, 1)))
    print("  the z's mean:", r2(np.mean(own, 0)))
    print("  each measurement's η:", [r2(e) for e in etas])
    pairs = [np.concatenate([z, e], 1) for z, e in zip(own, etas, strict=True)]
    print("  each measurement's (z, η):", [r2(x) for x in pairs])


if __name__ == "__main__":
    main(sys.argv[1:])
