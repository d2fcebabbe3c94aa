"""Baselines in personax's harness: same splits, validation-based selection and metrics.

- ``betavae``: one β-VAE over all measurements concatenated; latent size = total latent dims.
- ``mmcrl``: personax's model seeing one measurement per modality and no shared latents (the
  single-measurement multimodal predecessor of the paper).
- ``mcl``: multimodal contrastive learning — one encoder per modality (over that modality's
  measurements), InfoNCE between modalities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from personax.crl.config import CRLConfig
from personax.crl.dataset import CRLDataset, check_code_sizes, in_latent_dims_order
from personax.crl.model import _noise_like, _symmetric_cross_entropy, mlp
from personax.crl.train import (
    CRLRun,
    Progress,
    _finish_run,
    fit_latent_model,
    no_graph_dict,
    train_crl,
)
from personax.errors import BadInput

METHODS = ("personax", "mmcrl", "betavae", "mcl")


@dataclass(frozen=True)
class BaselineSettings:
    """Baseline-specific knobs (the shared ones — sizes, optimiser, epochs — come from CRLConfig)."""

    betavae_beta: float = 4.0
    mcl_temperature: float = 0.1
    mcl_projection: int = 64


class BetaVAE(nn.Module):
    def __init__(
        self, keys: list[str], widths: list[int], latent: int, config: CRLConfig, beta: float
    ) -> None:
        super().__init__()
        self.keys, self.widths, self.beta = keys, widths, beta
        total = sum(widths)
        self.encoder = mlp(total, 2 * latent, config.hidden, config.layers)
        self.decoder = mlp(latent, total, config.hidden, config.layers)

    def _inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([batch[k] for k in self.keys], dim=-1)

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(self._inputs(batch)).chunk(2, dim=-1)[0]

    def loss(self, batch, generator):
        x = self._inputs(batch)
        mean, logvar = self.encoder(x).chunk(2, dim=-1)
        logvar = logvar.clamp(-12, 6)
        z = mean + torch.exp(0.5 * logvar) * _noise_like(mean, generator)
        recon = 0.5 * ((self.decoder(z) - x) ** 2).sum(-1).mean()
        kl = 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum(-1).mean()
        total = recon + self.beta * kl
        return total, {"recon": float(recon.detach()), "kl": float(kl.detach())}


class MultimodalContrastive(nn.Module):
    def __init__(
        self,
        keys_by_modality: dict[str, list[str]],
        widths: dict[str, int],
        dims: dict[str, int],
        config: CRLConfig,
        settings: BaselineSettings,
    ) -> None:
        super().__init__()
        self.keys_by_modality = keys_by_modality
        self.temperature = settings.mcl_temperature
        self.encoders = nn.ModuleDict(
            {m: mlp(widths[m], dims[m], config.hidden, config.layers) for m in keys_by_modality}
        )
        # Projection heads to a common space, where rows of different modalities are compared.
        self.heads = nn.ModuleDict(
            {
                m: mlp(dims[m], settings.mcl_projection, settings.mcl_projection, 1)
                for m in keys_by_modality
            }
        )

    def _latents(self, batch) -> dict[str, torch.Tensor]:
        return {
            m: self.encoders[m](torch.cat([batch[k] for k in keys], dim=-1))
            for m, keys in self.keys_by_modality.items()
        }

    def encode(self, batch):
        return torch.cat(list(self._latents(batch).values()), dim=-1)

    def loss(self, batch, generator):
        latents = self._latents(batch)
        projected = [nn.functional.normalize(self.heads[m](z), dim=-1) for m, z in latents.items()]
        total, pairs = projected[0].new_zeros(()), 0
        for a in range(len(projected)):
            for b in range(a + 1, len(projected)):
                total = total + _symmetric_cross_entropy(
                    projected[a] @ projected[b].T / self.temperature
                )
                pairs += 1
        if pairs == 0:
            raise BadInput("MCL needs at least two modalities.")
        total = total / pairs
        return total, {"infonce": float(total.detach())}


def _widths(dataset: CRLDataset) -> dict[str, int]:
    return {
        f"{m}.{k}": int(x.shape[1])
        for m, xs in dataset.measurements.items()
        for k, x in enumerate(xs)
    }


def train_betavae(
    dataset,
    latent_dims,
    shared_dims=0,
    config=None,
    seed=0,
    progress=None,
    device="cpu",
    settings: BaselineSettings | None = None,
    checkpoint: Path | None = None,
) -> CRLRun:
    config, settings = config or CRLConfig(), settings or BaselineSettings()
    dataset, dims = in_latent_dims_order(dataset, latent_dims)
    keys = dataset.keys
    widths = _widths(dataset)
    latent = sum(dims.values()) + shared_dims
    fit = fit_latent_model(
        lambda: BetaVAE(keys, [widths[k] for k in keys], latent, config, settings.betavae_beta),
        dataset,
        keys,
        config,
        seed,
        progress,
        device,
        checkpoint=checkpoint,
    )
    names = [f"z_{i}" for i in range(latent)]
    graph = no_graph_dict("betavae", names)
    return _finish_run("betavae", dataset, fit, names, graph, config, dims, shared_dims, seed)


def train_mcl(
    dataset,
    latent_dims,
    shared_dims=0,
    config=None,
    seed=0,
    progress=None,
    device="cpu",
    settings: BaselineSettings | None = None,
    checkpoint: Path | None = None,
) -> CRLRun:
    config, settings = config or CRLConfig(), settings or BaselineSettings()
    dataset, dims = in_latent_dims_order(dataset, latent_dims)
    keys_by_modality = {
        m: [f"{m}.{k}" for k in range(len(xs))] for m, xs in dataset.measurements.items()
    }
    widths = _widths(dataset)
    modality_widths = {m: sum(widths[k] for k in keys) for m, keys in keys_by_modality.items()}
    fit = fit_latent_model(
        lambda: MultimodalContrastive(keys_by_modality, modality_widths, dims, config, settings),
        dataset,
        dataset.keys,
        config,
        seed,
        progress,
        device,
        checkpoint=checkpoint,
    )
    names = [f"z_{m}_{i}" for m in dims for i in range(dims[m])]
    return _finish_run(
        "mcl", dataset, fit, names, no_graph_dict("mcl", names), config, dims, 0, seed
    )


def train_mmcrl(
    dataset,
    latent_dims,
    shared_dims=0,
    config=None,
    seed=0,
    progress=None,
    device="cpu",
    settings: BaselineSettings | None = None,
    checkpoint: Path | None = None,
) -> CRLRun:
    """MMCRL: one measurement per modality, no shared latents (``shared_dims`` is ignored)."""
    return train_crl(
        dataset,
        latent_dims,
        0,
        config,
        seed,
        progress,
        device,
        first_measurement_only=True,
        method="mmcrl",
        checkpoint=checkpoint,
    )


def train_method(
    method: str,
    dataset: CRLDataset,
    latent_dims: dict[str, int],
    shared_dims: int = 0,
    config: CRLConfig | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
    checkpoint: Path | None = None,
) -> CRLRun:
    """Train one of :data:`METHODS` in the shared harness (``checkpoint``: resumable state,
    see :func:`personax.crl.train.fit_latent_model`)."""
    # Checked for every method: the baselines would otherwise shrink or ignore a negative size.
    if shared_dims < 0:
        raise BadInput(f"--shared-dims must be >= 0, got {shared_dims}.")
    check_code_sizes(dataset, shared_dims, config or CRLConfig())
    if method == "personax":
        return train_crl(
            dataset, latent_dims, shared_dims, config, seed, progress, device, checkpoint=checkpoint
        )
    trainers = {"mmcrl": train_mmcrl, "betavae": train_betavae, "mcl": train_mcl}
    if method not in trainers:
        raise BadInput(f"unknown CRL method '{method}'; choose from {', '.join(METHODS)}.")
    return trainers[method](
        dataset, latent_dims, shared_dims, config, seed, progress, device, checkpoint=checkpoint
    )
