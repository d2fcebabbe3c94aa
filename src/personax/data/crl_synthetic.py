"""Synthetic CRL benchmarks with known latents and graph (README: "CRL datasets and the
synthetic benchmarks").

Both benchmarks share the paper's latent graph over four latents:
``Z11 → Z12``, ``Z11 → Z21`` (the cross-modal edge), ``Z21 → Z22``; Z11 and Z12 belong to
modality 1 (three measurements), Z21 and Z22 to modality 2 (one measurement).
"""

from __future__ import annotations

import numpy as np

from personax.crl.dataset import SHARED_BLOCK, CRLDataset
from personax.errors import BadInput

LATENT_PARENTS = {0: (), 1: (0,), 2: (0,), 3: (2,)}
"""Parents of the four modality latents z11, z12, z21, z22 (by index)."""


def benchmark_graph(n_shared: int = 0) -> np.ndarray:
    """Adjacency over ``[z11, z12, z21, z22, s1..sK]``: ``[i, j] = 1`` when j causes i.

    Shared latents are roots and enter the measurement maps directly, so they have no edge.
    """
    graph = np.zeros((4 + n_shared, 4 + n_shared))
    for child, parents in LATENT_PARENTS.items():
        graph[child, list(parents)] = 1.0
    return graph


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / x.std(axis=0)


def _latent_scm(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n × 4`` latents (z11, z12, z21, z22) from nonlinear mechanisms and non-Gaussian noise,
    each standardised to mean 0, variance 1 (a rescaling keeps the causal structure)."""
    z11 = rng.uniform(-np.sqrt(3), np.sqrt(3), n)  # uniform, variance 1
    z12 = np.sin(1.5 * z11) + 0.5 * rng.laplace(0.0, 1.0, n)
    z21 = np.tanh(1.5 * z11) + 0.5 * rng.uniform(-np.sqrt(3), np.sqrt(3), n)
    z21 = _standardise(z21)
    z22 = 0.8 * np.cos(1.2 * z21) + 0.2 * z21**2 + 0.5 * rng.laplace(0.0, 1.0, n)
    return _standardise(np.stack([z11, z12, z21, z22], axis=1))


def random_invertible_mlp(dim: int, rng: np.random.Generator, layers: int = 3) -> list[np.ndarray]:
    """Weights of a ``layers``-layer square MLP with leaky-ReLU between layers.

    Each weight is ``U diag(σ) Vᵀ`` with random orthogonal U, V and σ in [0.5, 1.5], so with
    an invertible activation the map is invertible and well conditioned.
    """
    weights = []
    for _ in range(layers):
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        q = q * np.sign(np.diag(r))  # a uniformly random orthogonal matrix
        singular = rng.uniform(0.5, 1.5, dim)
        q2, r2 = np.linalg.qr(rng.standard_normal((dim, dim)))
        weights.append((q * singular) @ (q2 * np.sign(np.diag(r2))).T)
    return weights


def apply_mlp(x: np.ndarray, weights: list[np.ndarray], slope: float = 0.2) -> np.ndarray:
    """Apply :func:`random_invertible_mlp` weights: linear, then leaky-ReLU except after the
    last layer."""
    for i, w in enumerate(weights):
        x = x @ w.T
        if i < len(weights) - 1:
            x = np.where(x > 0, x, slope * x)
    return x


def make_tabular(
    n: int = 10000,
    seed: int = 0,
    shared_dims: int = 0,
    obs_dim: int = 10,
    measurements: tuple[int, int] = (3, 1),
) -> CRLDataset:
    """The tabular benchmark: two modalities ``m1`` (latents z11, z12) and ``m2`` (z21, z22).

    Latent SCM (each latent then standardised)::

        z11 = u1,                              u1 ~ Uniform(-√3, √3)
        z12 = sin(1.5 z11) + 0.5 e2,           e2 ~ Laplace(0, 1)
        z21 = tanh(1.5 z11) + 0.5 u3,          u3 ~ Uniform(-√3, √3)
        z22 = 0.8 cos(1.2 z21) + 0.2 z21² + 0.5 e4,  e4 ~ Laplace(0, 1)

    plus ``shared_dims`` shared latents s ~ Laplace(0, 1/√2) (roots, variance 1). Measurement
    k of modality m is ``x = g_mk([z_m, s, η_mk])`` with ``η_mk ~ Uniform(-√3, √3)`` of
    ``obs_dim - 2 - shared_dims`` dimensions and ``g_mk`` its own random invertible 3-layer
    leaky-ReLU MLP (:func:`random_invertible_mlp`) on ``obs_dim`` inputs; each output column
    is standardised.
    """
    if n < 3:
        raise BadInput(f"--n must be at least 3, got {n}.")
    if shared_dims < 0:
        raise BadInput(f"--shared-dims must be 0 or more, got {shared_dims}.")
    if obs_dim < 2 + shared_dims:
        raise BadInput(
            f"--obs-dim {obs_dim} is too small: each measurement needs at least 2 + shared "
            f"({2 + shared_dims}) dimensions to stay invertible."
        )
    if len(measurements) != 2 or min(measurements) < 1:
        raise BadInput(f"measurements {measurements} must be two counts of at least 1.")
    latent_rng, shared_rng, *measurement_rngs = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2 + sum(measurements))
    )
    z = _latent_scm(n, latent_rng)
    s = shared_rng.laplace(0.0, 1.0 / np.sqrt(2.0), (n, shared_dims))
    noise_dim = obs_dim - 2 - shared_dims
    blocks = {"m1": z[:, 0:2], "m2": z[:, 2:4]}
    arrays: dict[str, list[np.ndarray]] = {}
    rng_iter = iter(measurement_rngs)
    for (modality, z_m), count in zip(blocks.items(), measurements, strict=True):
        arrays[modality] = []
        for _ in range(count):
            rng = next(rng_iter)
            eta = rng.uniform(-np.sqrt(3), np.sqrt(3), (n, noise_dim))
            weights = random_invertible_mlp(obs_dim, rng)
            x = apply_mlp(np.concatenate([z_m, s, eta], axis=1), weights)
            arrays[modality].append(_standardise(x).astype(np.float32))
    shared_names = [f"s{i + 1}" for i in range(shared_dims)]
    return CRLDataset(
        measurements=arrays,
        latents=np.concatenate([z, s], axis=1),
        latent_names=["z11", "z12", "z21", "z22", *shared_names],
        graph=benchmark_graph(shared_dims),
        latent_modalities=["m1", "m1", "m2", "m2"] + [SHARED_BLOCK] * shared_dims,
    )
