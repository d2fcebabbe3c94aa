"""How plainly the hard latents show in the data: supervised probes with the encoders' size,
and what an unsupervised code of the Fashion image keeps.

An MLP as wide and deep as personax's CRL encoders (2 hidden layers of 128, SiLU) is trained
with the *true* latent as target, on rows 0–6,999 of seed 0, and scored (R²) on rows
8,000–9,999. It is a reference for what an encoder of that size can read from one input, not
a bound for unsupervised learning:

- variant MNIST: Fashion rotation and scale from the one Fashion image; digit rotation and
  hue from one digit image and from all three concatenated;
- tabular: z11 and z12 from one m1 measurement, from all three concatenated, and from one
  measurement with a wider, deeper MLP (3 × 256).

The unsupervised reference: a plain autoencoder of the same size (no prior, no noise, nothing
but squared reconstruction error) with a 2-, 3- or 4-number code, trained on the Fashion images
alone; the held-out R² of a 20-nearest-neighbour regression of Fashion scale on its code shows
how much of scale survives when a code must first explain the images' largest variations.

Usage: ``python benchmarks/crl_supervised_probe.py`` (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import numpy as np

TRAIN, TEST = slice(0, 7000), slice(8000, 10000)


def probe(x: np.ndarray, y: np.ndarray, hidden: int, layers: int, epochs: int, seed: int) -> float:
    import torch

    from personax.crl.model import mlp

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # nn.Linear initialisation draws from torch's default generator
    inputs = torch.tensor(x, dtype=torch.float32)
    target = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)
    net = mlp(inputs.shape[1], 1, hidden, layers)
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    rows = TRAIN.stop - TRAIN.start
    for _ in range(epochs):
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows, 256):
            batch = order[start : start + 256]
            loss = ((net(inputs[batch]).squeeze(-1) - target[batch]) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        predicted = net(inputs[TEST]).squeeze(-1)
    residual = ((predicted - target[TEST]) ** 2).mean() / target[TEST].var()
    return round(float(1 - residual), 3)


def autoencoder_code_r2(x: np.ndarray, y: np.ndarray, code: int, epochs: int, seed: int) -> float:
    """Held-out kNN R² of ``y`` from the code of a squared-error MLP autoencoder of ``x``."""
    return code_r2(autoencoder_codes(x, code, epochs, seed), y)


def code_r2(codes: np.ndarray, y: np.ndarray) -> float:
    """Held-out R² of a 20-nearest-neighbour regression of ``y`` on ``codes``."""
    from sklearn.metrics import r2_score
    from sklearn.neighbors import KNeighborsRegressor

    knn = KNeighborsRegressor(20).fit(codes[TRAIN], y[TRAIN])
    return round(float(r2_score(y[TEST], knn.predict(codes[TEST]))), 3)


def autoencoder_codes(x: np.ndarray, code: int, epochs: int, seed: int) -> np.ndarray:
    """Every row's code under a squared-error MLP autoencoder of ``x`` trained on TRAIN."""
    import torch

    from personax.crl.model import mlp

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # nn.Linear initialisation draws from torch's default generator
    inputs = torch.tensor((x - x[TRAIN].mean(axis=0)) / x[TRAIN].std(), dtype=torch.float32)
    encoder, decoder = mlp(x.shape[1], code, 128, 2), mlp(code, x.shape[1], 128, 2)
    optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], 1e-3)
    rows = TRAIN.stop - TRAIN.start
    for _ in range(epochs):
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows, 256):
            batch = inputs[order[start : start + 256]]
            loss = ((decoder(encoder(batch)) - batch) ** 2).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        return encoder(inputs).numpy()


def main() -> None:
    import torch

    from personax.crl.bench import make_benchmark_data

    torch.set_num_threads(2)
    variant = make_benchmark_data("variant-mnist", 10000, 0)
    fashion = variant.measurements["fashion"][0]
    for j, name in ((2, "fashion rotation"), (3, "fashion scale")):
        score = probe(fashion, variant.latents[:, j], 128, 2, 30, 0)
        print(f"variant-mnist seed 0, {name} from the Fashion image: R² {score}")
    digits = variant.measurements["digit"]
    for j, name in ((0, "digit rotation"), (1, "digit hue")):
        one = probe(digits[0], variant.latents[:, j], 128, 2, 30, 0)
        three = probe(np.concatenate(digits, axis=1), variant.latents[:, j], 128, 2, 30, 0)
        print(f"variant-mnist seed 0, {name}: one digit image R² {one}, all three {three}")
    for code in (2, 3, 4):
        scale = autoencoder_code_r2(fashion, variant.latents[:, 3], code, 60, 0)
        print(
            f"variant-mnist seed 0, Fashion scale from a {code}-number autoencoder code of the "
            f"Fashion image: kNN R² {scale}"
        )
    tabular = make_benchmark_data("tabular", 10000, 0)
    m1 = tabular.measurements["m1"]
    for j, name in ((0, "z11"), (1, "z12")):
        y = tabular.latents[:, j]
        one = probe(m1[0], y, 128, 2, 100, 0)
        three = probe(np.concatenate(m1, axis=1), y, 128, 2, 100, 0)
        wide = probe(m1[0], y, 256, 3, 100, 0)
        print(
            f"tabular seed 0, {name}: one m1 measurement R² {one}, all three {three}, "
            f"one with 3 × 256 hidden {wide}"
        )


if __name__ == "__main__":
    main()
