"""Synthetic CRL benchmarks with known latents and graph (README: "CRL datasets and the
synthetic benchmarks").

Both benchmarks share the paper's latent graph over four latents:
``Z11 → Z12``, ``Z11 → Z21`` (the cross-modal edge), ``Z21 → Z22``; Z11 and Z12 belong to
modality 1 (three measurements), Z21 and Z22 to modality 2 (one measurement).
"""

from __future__ import annotations

import os

import numpy as np

from personax.crl.dataset import SHARED_BLOCK, CRLDataset
from personax.errors import BadInput
from personax.memory import check_memory

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
    z22 = np.cos(1.5 * z21) + 0.2 * rng.laplace(0.0, 1.0, n)
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


TABULAR_OBS_DIM = 10
"""Default dimension of each tabular measurement (`data crl-synthetic --obs-dim`)."""


def check_tabular_sizes(shared_dims: int, obs_dim: int = TABULAR_OBS_DIM) -> None:
    """Refuse shared latents a tabular measurement of ``obs_dim`` columns cannot hold.

    Each measurement is an invertible map of its modality's 2 latents, the shared ones and its
    η, so it needs at least ``2 + shared_dims`` columns. The message names the measurement
    width, not a flag: ``bench crl`` has no ``--obs-dim``, ``data crl-synthetic`` has.
    """
    if obs_dim < 2:  # only data crl-synthetic sets it; bench crl keeps the default
        raise BadInput(
            f"--obs-dim must be at least 2, got {obs_dim}: each measurement holds "
            "its modality's 2 latents."
        )
    if shared_dims < 0:
        raise BadInput(f"--shared-dims must be 0 or more, got {shared_dims}.")
    if shared_dims > obs_dim - 2:
        raise BadInput(
            f"--shared-dims {shared_dims} is too many for tabular measurements of {obs_dim} "
            f"dimensions: each holds its modality's 2 latents and the shared ones invertibly, "
            f"so at most {max(obs_dim - 2, 0)} shared latents fit."
        )


def make_tabular(
    n: int = 10000,
    seed: int = 0,
    shared_dims: int = 0,
    obs_dim: int = TABULAR_OBS_DIM,
    measurements: tuple[int, int] = (3, 1),
    single_noise_scale: float = 0.1,
) -> CRLDataset:
    """The tabular benchmark: two modalities ``m1`` (latents z11, z12) and ``m2`` (z21, z22).

    Latent SCM (each latent then standardised)::

        z11 = u1,                              u1 ~ Uniform(-√3, √3)
        z12 = sin(1.5 z11) + 0.5 e2,           e2 ~ Laplace(0, 1)
        z21 = tanh(1.5 z11) + 0.5 u3,          u3 ~ Uniform(-√3, √3)
        z22 = cos(1.5 z21) + 0.2 e4,           e4 ~ Laplace(0, 1)

    plus ``shared_dims`` shared latents s ~ Laplace(0, 1/√2) (roots, variance 1). Measurement
    k of modality m is ``x = g_mk([z_m, s, η_mk])`` with ``η_mk ~ Uniform(-√3, √3)`` of
    ``obs_dim - 2 - shared_dims`` dimensions and ``g_mk`` its own random invertible 3-layer
    leaky-ReLU MLP (:func:`random_invertible_mlp`) on ``obs_dim`` inputs; each output column
    is standardised.

    A modality with a *single* measurement has its η scaled by ``single_noise_scale``
    (default 0.1, small sensor noise). With one measurement nothing in the data tells z from η —
    both are just inputs of one invertible map — so with full-size η neither this model nor any
    other can recover, e.g., z22's own noise (it caps the achievable MCC near 0.82); with
    several measurements η is told apart from z because it is not shared. ``1.0`` restores
    full-size η.
    """
    if n < 3:
        raise BadInput(f"--n must be at least 3, got {n}.")
    check_tabular_sizes(shared_dims, obs_dim)
    if not 0.0 <= single_noise_scale <= 10.0:
        raise BadInput(f"single_noise_scale must be in [0, 10], got {single_noise_scale}.")
    if len(measurements) != 2 or min(measurements) < 1:
        raise BadInput(f"measurements {measurements} must be two counts of at least 1.")
    # Certainly needed at once: the float32 result, and one measurement's float64 inputs,
    # output and a square weight matrix (with its QR factor) while it is mapped.
    check_memory(
        sum(measurements) * n * obs_dim * 4 + 2 * n * obs_dim * 8 + 2 * obs_dim * obs_dim * 8,
        f"--n {n}" + ("" if obs_dim == TABULAR_OBS_DIM else f" and --obs-dim {obs_dim}"),
    )
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
            if count == 1:
                eta *= single_noise_scale
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


# ----------------------------------------------------------------------------- variant MNIST

VARIANT_MNIST_RANGES = {
    "digit_rotation": (-60.0, 60.0),  # degrees, counter-clockwise
    "digit_hue": (0.0, 0.7),  # fraction of the colour wheel: red → yellow → green → blue
    "fashion_rotation": (-60.0, 60.0),  # degrees
    "fashion_scale": (0.55, 1.0),  # size relative to the original item
    # The optional shared latent: the grey level of both images' background (the scene's
    # light). Until 2026-12-02 it was the ink intensity of both images, Uniform(0.5, 1.0),
    # a factor so faint in the pixels that even a plain autoencoder's code did not keep it
    # (BENCHMARKS.md, "Eighth session"); a background moves every uncovered pixel.
    "background": (0.0, 0.4),
}
IMAGE_SIDE = 14
DEFAULT_DIGIT_CLASSES = (2,)
"""Digit class drawn by default: one class, so the class adds no nuisance (README)."""
DEFAULT_FASHION_CLASSES = (1,)
"""Fashion-MNIST class drawn by default: 1 = trouser (long and upright: rotation and scale
are plain to see)."""


def hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """Fully saturated, full-value RGB colours (``n × 3`` in [0, 1]) of hues in [0, 1)."""
    h6 = 6.0 * np.asarray(hue, dtype=np.float64)[:, None]
    offsets = np.array([3.0, 2.0, 4.0])
    signs = np.array([1.0, -1.0, -1.0])
    base = np.array([-1.0, 2.0, 2.0])
    return np.clip(base + signs * np.abs(h6 - offsets), 0.0, 1.0)


def render_affine(
    images: np.ndarray, angle_deg: np.ndarray, scale: np.ndarray, side: int = IMAGE_SIDE
) -> np.ndarray:
    """Rotate (counter-clockwise, about the centre) and scale 28 × 28 uint8 images, then
    downsample to ``side × side`` by area averaging; float32 values in [0, 1]."""
    import torch
    import torch.nn.functional as F

    n = len(images)
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)[:, None]
    theta_rad = torch.from_numpy(np.deg2rad(np.asarray(angle_deg, dtype=np.float64)))
    inv_scale = torch.from_numpy(1.0 / np.asarray(scale, dtype=np.float64))
    cos, sin = torch.cos(theta_rad) * inv_scale, torch.sin(theta_rad) * inv_scale
    # affine_grid maps output coordinates to input coordinates: the inverse rotation and scale.
    # Its y axis points down, so a counter-clockwise turn on screen is a clockwise one here.
    affine = torch.zeros(n, 2, 3, dtype=torch.float64)
    affine[:, 0, 0], affine[:, 0, 1] = cos, -sin
    affine[:, 1, 0], affine[:, 1, 1] = sin, cos
    grid = F.affine_grid(affine.float(), [n, 1, 28, 28], align_corners=False)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    small = F.adaptive_avg_pool2d(warped, side)
    return small[:, 0].clamp_(0.0, 1.0).numpy()


def _over_background(ink: np.ndarray, gray: np.ndarray, background: np.ndarray | None):
    """Ink of coverage ``gray`` laid over a grey background of level ``background`` (per row;
    None: black), so that the background shows wherever the ink does not cover it."""
    if background is None:
        return ink
    level = np.asarray(background, dtype=np.float32).reshape(-1, *([1] * (ink.ndim - 1)))
    return ink + level * (1.0 - gray)


def render_digit(
    images: np.ndarray,
    rotation: np.ndarray,
    hue: np.ndarray,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Coloured digits, ``n × 3 × 14 × 14`` float32 in [0, 1]: each 28 × 28 uint8 image
    rotated by ``rotation`` degrees, downsampled, and painted with the fully saturated colour of
    ``hue``, over a grey ``background`` (default black)."""
    gray = render_affine(images, rotation, np.ones(len(images)))
    colour = hue_to_rgb(hue).astype(np.float32)
    ink = gray[:, None, :, :] * colour[:, :, None, None]
    return _over_background(ink, gray[:, None, :, :], background)


def render_fashion(
    images: np.ndarray,
    rotation: np.ndarray,
    scale: np.ndarray,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Fashion items, ``n × 14 × 14`` float32 in [0, 1]: rotated by ``rotation`` degrees,
    scaled by ``scale``, downsampled, over a grey ``background`` (default black)."""
    gray = render_affine(images, rotation, scale)
    return _over_background(gray, gray, background)


def _physical(u: np.ndarray, name: str) -> np.ndarray:
    """Map a standardised latent to its rendering range with the normal CDF (monotone)."""
    from scipy.special import ndtr

    lo, hi = VARIANT_MNIST_RANGES[name]
    return lo + (hi - lo) * ndtr(u)


def _distinct_choices(pool: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n × k`` indices into ``range(pool)``, distinct within each row."""
    if pool < k:
        raise BadInput(f"need at least {k} images to draw {k} different ones per row, have {pool}.")
    picks = rng.integers(pool, size=(n, k))
    while True:
        dup = np.zeros(n, dtype=bool)
        for a in range(k):
            for b in range(a + 1, k):
                dup |= picks[:, a] == picks[:, b]
        if not dup.any():
            return picks
        picks[dup] = rng.integers(pool, size=(int(dup.sum()), k))


def _class_pool(labels: np.ndarray, classes: tuple[int, ...] | None, what: str) -> np.ndarray:
    if classes is None:
        return np.arange(len(labels))
    unknown = sorted(set(classes) - set(np.unique(labels).tolist()))
    if unknown:
        raise BadInput(f"{what} class(es) {unknown} do not occur in the {what} images.")
    return np.flatnonzero(np.isin(labels, classes))


def make_variant_mnist(
    n: int = 10000,
    seed: int = 0,
    mnist: tuple[np.ndarray, np.ndarray] | str | os.PathLike[str] | None = None,
    fashion_dir: str | None = None,
    *,
    mnist_dir: str | None = None,
    fashion: tuple[np.ndarray, np.ndarray] | None = None,
    digit_measurements: int = 3,
    digit_classes: tuple[int, ...] | None = DEFAULT_DIGIT_CLASSES,
    fashion_classes: tuple[int, ...] | None = DEFAULT_FASHION_CLASSES,
    shared_dims: int = 0,
) -> CRLDataset:
    """The variant-MNIST benchmark: modality ``digit`` (3 measurements of 3 × 14 × 14 = 588
    floats) and ``fashion`` (1 measurement of 14 × 14 = 196 floats), pixels in [0, 1].

    Latents follow the tabular SCM (:func:`make_tabular`), each mapped to its rendering range
    by the normal CDF (:data:`VARIANT_MNIST_RANGES`): z11 digit rotation, z12 digit hue
    (caused by z11), z21 Fashion item rotation (caused by z11), z22 Fashion item scale
    (caused by z21). Each digit measurement draws a *different* MNIST image (of
    ``digit_classes``, default the digit 2; ``None`` = all) — that image is the measurement
    noise η — rotated by z11 and coloured with hue z12; the fashion measurement draws one
    Fashion-MNIST item (of ``fashion_classes``, default trousers; ``None`` = all), rotated by
    z21 and scaled by z22. With
    ``shared_dims=1`` a shared latent s1 (background) is the grey level of both modalities'
    backgrounds.
    ``mnist`` / ``fashion`` take ``(images, labels)`` arrays directly (``mnist`` may also be
    an idx folder); otherwise they are loaded with :mod:`personax.data.mnist` from
    ``mnist_dir`` / ``fashion_dir``.
    """
    from personax.data.mnist import load_fashion_mnist, load_mnist

    if n < 3:
        raise BadInput(f"--n must be at least 3, got {n}.")
    if shared_dims not in (0, 1):
        raise BadInput(
            f"--shared-dims {shared_dims} is not available for variant-mnist: it has 0 or 1 "
            "shared latent (background)."
        )
    if digit_measurements < 1:
        raise BadInput(f"digit_measurements must be at least 1, got {digit_measurements}.")
    # Certainly needed at once: the float32 14 × 14 images (colour digits, grey Fashion items).
    check_memory(n * (digit_measurements * 3 + 1) * 14 * 14 * 4, f"--n {n}")
    if isinstance(mnist, (str, os.PathLike)):  # a folder of idx files, like mnist_dir
        mnist, mnist_dir = None, str(mnist)
    digit_images, digit_labels = mnist if mnist is not None else load_mnist(mnist_dir)
    fashion_images, fashion_labels = (
        fashion if fashion is not None else load_fashion_mnist(fashion_dir)
    )
    for what, images in (("MNIST", digit_images), ("Fashion-MNIST", fashion_images)):
        if np.asarray(images).shape[1:] != (28, 28):
            raise BadInput(f"{what} images must be 28 × 28, got {np.asarray(images).shape[1:]}.")
    digit_pool = _class_pool(np.asarray(digit_labels), digit_classes, "MNIST")
    fashion_pool = _class_pool(np.asarray(fashion_labels), fashion_classes, "Fashion-MNIST")

    latent_rng, shared_rng, digit_rng, fashion_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    u = _latent_scm(n, latent_rng)
    names = ["digit_rotation", "digit_hue", "fashion_rotation", "fashion_scale"]
    z = np.column_stack([_physical(u[:, i], name) for i, name in enumerate(names)])
    background = None
    if shared_dims:
        background = shared_rng.uniform(*VARIANT_MNIST_RANGES["background"], n)

    picks = digit_pool[_distinct_choices(len(digit_pool), n, digit_measurements, digit_rng)]
    digits = [
        render_digit(digit_images[picks[:, k]], z[:, 0], z[:, 1], background).reshape(n, -1)
        for k in range(digit_measurements)
    ]
    items = fashion_pool[fashion_rng.integers(len(fashion_pool), size=n)]
    clothes = render_fashion(fashion_images[items], z[:, 2], z[:, 3], background)
    latents = np.column_stack([z, background]) if shared_dims else z
    return CRLDataset(
        measurements={"digit": digits, "fashion": [clothes.reshape(n, -1)]},
        latents=latents,
        latent_names=names + (["background"] if shared_dims else []),
        graph=benchmark_graph(shared_dims),
        latent_modalities=["digit", "digit", "fashion", "fashion"] + [SHARED_BLOCK] * shared_dims,
    )
