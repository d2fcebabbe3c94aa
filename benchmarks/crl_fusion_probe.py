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

    from personax.crl.bench import benchmark_spec, make_benchmark_data
    from personax.crl.metrics import recovery_by_block
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
    own = [z.numpy() for z in per_measurement["digit"]]
    q = config.noise_dims
    etas = [eta.numpy()[:, k * q : (k + 1) * q] for k in range(len(own))]
    readings = {
        "the fused digit block": fused.numpy()[:, :2],
        "the z's concatenated": np.concatenate(own, 1),
        "the z's mean": np.mean(own, 0),
    }
    for k, (z, e) in enumerate(zip(own, etas, strict=True)):
        readings |= {f"z of {k}": z, f"η of {k}": e, f"(z, η) of {k}": np.concatenate([z, e], 1)}
    # Every reading as a block of one matrix: the kNN diagnosis crl train writes does the rest.
    widths = np.cumsum([0] + [x.shape[1] for x in readings.values()])
    blocks = {name: list(range(widths[i], widths[i + 1])) for i, name in enumerate(readings)}
    held = recovery_by_block(
        np.asarray(data.latents)[:, :1],
        np.concatenate(list(readings.values()), 1),
        splits["train"],
        splits["test"],
        blocks,
        {},
        ["digit_rotation"],
    )["r2"]
    print(json.dumps({"seed": seed, "overrides": overrides}))
    print("digit rotation, held-out kNN R², from")
    for name, values in held.items():
        print(f"  {name}: {values[0]:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
