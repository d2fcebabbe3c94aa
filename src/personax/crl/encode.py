"""Apply a trained CRL model to data: the latents of new rows, from a run's ``model.pt``.

``model.pt`` holds the weights, the config, the latent sizes and names, and the training
split's input standardisation, which is all it takes to rebuild the network and encode rows
it has never seen. Encoding is deterministic: each row's latents are its posterior means (for
MCL, its encoder outputs) — the same numbers ``latents.csv`` holds for the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personax.crl.dataset import CRLDataset
from personax.errors import BadInput


@dataclass(frozen=True)
class TrainedCRLModel:
    """A rebuilt network in evaluation mode, with what it needs to read new inputs."""

    method: str
    module: Any  # torch.nn.Module
    latent_names: list[str]
    # Measurement key → (per-feature mean, per-feature scale) of the training split.
    standardisation: dict[str, tuple[np.ndarray, np.ndarray]]
    source: str


def load_crl_model(path: str | Path) -> TrainedCRLModel:
    """Load ``model.pt`` (or a run folder holding it) written by ``personax crl train``."""
    import torch

    source = Path(path)
    if source.is_dir():
        source = source / "model.pt"
    if not source.is_file():
        raise BadInput(f"{source}: no such model file; give a run folder or its model.pt.")
    try:
        # weights_only: a checkpoint is tensors, numbers, strings, lists and dicts — nothing
        # that needs unpickling arbitrary objects, so a crafted file cannot run code.
        checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise BadInput(f"{source}: not a personax CRL model ({type(exc).__name__}).") from None
    needed = ("method", "state_dict", "config", "latent_dims", "latent_names", "standardisation")
    missing = [key for key in needed if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise BadInput(f"{source}: not a personax CRL model (no {', '.join(missing)}).")
    standardisation = {
        key: (np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64))
        for key, (mean, scale) in checkpoint["standardisation"].items()
    }
    module = _rebuild(checkpoint, standardisation, source)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise BadInput(f"{source}: the weights do not fit the saved config ({exc}).") from None
    module.eval()
    return TrainedCRLModel(
        method=str(checkpoint["method"]),
        module=module,
        latent_names=[str(name) for name in checkpoint["latent_names"]],
        standardisation=standardisation,
        source=str(source),
    )


def _rebuild(checkpoint: dict, standardisation: dict, source: Path):
    from personax.crl.baselines import BaselineSettings, BetaVAE, MultimodalContrastive
    from personax.crl.config import CRLConfig
    from personax.crl.model import MultiMeasurementCRL

    config = CRLConfig.from_dict(checkpoint["config"])
    dims = {str(m): int(d) for m, d in checkpoint["latent_dims"].items()}
    shared = int(checkpoint.get("shared_dims", 0))
    keys = list(standardisation)
    widths = {key: len(standardisation[key][0]) for key in keys}
    # Keys are "<modality>.<k>" (the CRL dataset format), in the order the model was fed.
    keys_by_modality: dict[str, list[str]] = {}
    for key in keys:
        keys_by_modality.setdefault(key.rsplit(".", 1)[0], []).append(key)
    method = checkpoint["method"]
    if method in ("personax", "mmcrl"):
        per_modality = {m: [widths[k] for k in group] for m, group in keys_by_modality.items()}
        return MultiMeasurementCRL(per_modality, dims, shared, config)
    # The baselines' own settings only shape their losses and heads; the defaults are the
    # ones `personax crl train` and `personax bench crl` train with.
    settings = BaselineSettings()
    if method == "betavae":
        latent = sum(dims.values()) + shared
        return BetaVAE(keys, [widths[k] for k in keys], latent, config, settings.betavae_beta)
    if method == "mcl":
        modality_widths = {
            m: sum(widths[k] for k in group) for m, group in keys_by_modality.items()
        }
        return MultimodalContrastive(keys_by_modality, modality_widths, dims, config, settings)
    raise BadInput(f"{source}: unknown CRL method '{method}' in the model file.")


def encode_dataset(
    model: TrainedCRLModel, dataset: CRLDataset, batch_size: int = 1024, device: str = "cpu"
) -> pd.DataFrame:
    """The latents of every row of ``dataset``, in input order, one column per latent."""
    import torch

    from personax.crl.train import encode_rows

    if batch_size < 1:
        raise BadInput(f"--batch-size must be at least 1, got {batch_size}.")
    tensors = {}
    for key, (mean, scale) in model.standardisation.items():
        modality, k = key.rsplit(".", 1)
        measurements = dataset.measurements.get(modality, [])
        if int(k) >= len(measurements):
            raise BadInput(
                f"the model was trained on measurement '{key}' ({len(mean)} columns), "
                "which this dataset lacks."
            )
        x = np.asarray(measurements[int(k)], dtype=np.float64)
        if x.shape[1] != len(mean):
            raise BadInput(
                f"measurement '{key}' has {x.shape[1]} columns; the model was trained on "
                f"{len(mean)}."
            )
        tensors[key] = torch.as_tensor(((x - mean) / scale).astype(np.float32), device=device)
    module = model.module.to(device)
    latents = encode_rows(module, tensors, batch_size, dataset.n, torch.device(device))
    return pd.DataFrame(latents, columns=model.latent_names)
