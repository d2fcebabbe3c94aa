"""Is the shared latent of variant MNIST visible to a code that must explain the images?

The recipe's optional shared latent (``--shared-dims 1``) was, until 2026-12-02, the ink's
intensity (both modalities' images multiplied by Uniform(0.5, 1.0)); it is now the grey level
of both images' background, Uniform(0, 0.4). No personax variant ever recovered the ink
intensity, with or without shared latents in the model. This probe asks whether any
reconstruction-based code would: a plain squared-error MLP autoencoder (the encoders' size,
no prior, no noise; ``crl_supervised_probe.autoencoder_codes``) is trained on one digit
image or on the Fashion image of seed 0, and the held-out kNN R² of every true latent from its
code is printed, for both versions of the shared latent. The old version is rebuilt exactly:
the background-free images times the intensity, drawn as the old recipe drew it.

Usage: ``python benchmarks/crl_shared_visibility.py`` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import numpy as np
from crl_supervised_probe import autoencoder_codes, code_r2

CODES = {"digit.0": 6, "fashion.0": 4}  # the image's own latents, the shared one, and shape


def main() -> None:
    import torch

    from personax.crl.bench import make_benchmark_data

    torch.set_num_threads(2)
    background = make_benchmark_data("variant-mnist", 10000, 0, shared_dims=1)
    plain = make_benchmark_data("variant-mnist", 10000, 0)
    # The old recipe's intensity came from the same stream the background now comes from.
    shared_rng = np.random.default_rng(np.random.SeedSequence(0).spawn(4)[1])
    intensity = shared_rng.uniform(0.5, 1.0, plain.n)
    versions = {
        "ink intensity, Uniform(0.5, 1) (old)": (
            {key: plain.measurement(key) * intensity[:, None] for key in CODES},
            np.column_stack([plain.latents, intensity]),
        ),
        "background, Uniform(0, 0.4) (new)": (
            {key: background.measurement(key) for key in CODES},
            np.asarray(background.latents),
        ),
    }
    names = [*plain.latent_names, "shared"]
    for version, (images, latents) in versions.items():
        for key, code in CODES.items():
            codes = autoencoder_codes(images[key], code, 40, 0)
            scores = [code_r2(codes, latents[:, j]) for j in range(latents.shape[1])]
            shown = ", ".join(f"{n} {s}" for n, s in zip(names, scores, strict=True))
            print(f"{version}: {code}-number code of {key}: kNN R² {shown}")


if __name__ == "__main__":
    main()
