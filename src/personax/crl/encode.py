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
    dims = _checked_latent_dims(checkpoint["latent_dims"], source)
    standardisation = _checked_standardisation(checkpoint["standardisation"], dims, source)
    module = _rebuild(checkpoint, dims, standardisation, source)
    _load_weights(module, checkpoint["state_dict"], source)
    module.eval()
    _check_latent_names(module, checkpoint["latent_names"], standardisation, source)
    return TrainedCRLModel(
        method=str(checkpoint["method"]),
        module=module,
        latent_names=[str(name) for name in checkpoint["latent_names"]],
        standardisation=standardisation,
        source=str(source),
    )


# A model file is user input: each check below turns what would be a KeyError, a TypeError or
# a page of torch output deep in the rebuild into one sentence naming the file and the entry.


def _checked_latent_dims(value: object, source: Path) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise BadInput(f"{source}: latent_dims must map each modality to its latent count.")
    for modality, size in value.items():
        if not isinstance(modality, str) or isinstance(size, bool) or not isinstance(size, int):
            raise BadInput(f"{source}: latent_dims entry {modality!r}: {size!r} is not a count.")
        if size < 1:
            raise BadInput(f"{source}: latent_dims gives '{modality}' {size} latents (< 1).")
    return dict(value)


def _checked_standardisation(
    value: object, dims: dict[str, int], source: Path
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"<modality>.<k>": (means, scales)}`` for measurements k = 0, 1, … of known modalities."""
    if not isinstance(value, dict) or not value:
        raise BadInput(f"{source}: standardisation must map each measurement to (mean, scale).")
    checked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    counts: dict[str, int] = {}
    for key, pair in value.items():
        modality, _, k = str(key).rpartition(".")
        if modality not in dims or k != str(counts.get(modality, 0)):
            raise BadInput(
                f"{source}: standardisation key {key!r} is not the next measurement of a "
                f"modality of latent_dims ({', '.join(dims)})."
            )
        counts[modality] = counts.get(modality, 0) + 1
        try:
            mean, scale = (np.asarray(part, dtype=np.float64) for part in pair)
        except (TypeError, ValueError):
            mean = scale = None
        if (
            mean is None
            or mean.ndim != 1
            or mean.shape != scale.shape
            or len(mean) == 0
            or not np.isfinite(mean).all()
            or not (np.isfinite(scale) & (scale > 0)).all()
        ):
            raise BadInput(
                f"{source}: standardisation of '{key}' must be two equal-length lists of finite "
                "numbers (means, positive scales)."
            )
        checked[key] = (mean, scale)
    missing = [m for m in dims if m not in counts]
    if missing:
        raise BadInput(f"{source}: standardisation has no measurement of {', '.join(missing)}.")
    return checked


def _load_weights(module, state_dict: object, source: Path) -> None:
    """Load the weights, or say in one sentence how they differ from the rebuilt network."""
    expected = module.state_dict()
    if not isinstance(state_dict, dict):
        raise BadInput(f"{source}: state_dict is not a mapping of weight names to tensors.")
    problems = []
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [
        k
        for k in expected
        if k in state_dict
        and tuple(getattr(state_dict[k], "shape", ())) != tuple(expected[k].shape)
    ]
    for label, names in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", wrong)):
        if names:
            problems.append(f"{len(names)} {label} (e.g. '{names[0]}')")
    if problems:
        raise BadInput(f"{source}: the weights do not fit the saved config: {', '.join(problems)}.")
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{source}: the weights do not fit the saved config ({first}).") from None


def _check_latent_names(module, names: object, standardisation: dict, source: Path) -> None:
    """One name per latent the network encodes (a probe of two zero rows counts them)."""
    import torch

    probe = {key: torch.zeros(2, len(mean)) for key, (mean, _) in standardisation.items()}
    with torch.no_grad():
        count = int(module.encode(probe).shape[1])
    if not isinstance(names, list | tuple) or len(names) != count:
        given = len(names) if isinstance(names, list | tuple) else repr(names)
        raise BadInput(f"{source}: latent_names has {given} names; the model has {count} latents.")


def _rebuild(checkpoint: dict, dims: dict[str, int], standardisation: dict, source: Path):
    from personax.crl.baselines import BaselineSettings, BetaVAE, MultimodalContrastive
    from personax.crl.config import CRLConfig
    from personax.crl.model import MultiMeasurementCRL

    if not isinstance(checkpoint["config"], dict):
        raise BadInput(f"{source}: config must be a mapping of CRLConfig fields.")
    try:
        config = CRLConfig.from_record(checkpoint["config"])
    except BadInput as exc:
        raise BadInput(f"{source}: {exc}") from None
    shared = checkpoint.get("shared_dims", 0)
    if isinstance(shared, bool) or not isinstance(shared, int) or shared < 0:
        raise BadInput(f"{source}: shared_dims must be a count >= 0, got {shared!r}.")
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
    tensors = model_inputs(model, dataset, device)
    module = model.module.to(device)
    latents = encode_rows(module, tensors, batch_size, dataset.n, torch.device(device))
    return pd.DataFrame(latents, columns=model.latent_names)


def model_inputs(model: TrainedCRLModel, dataset: CRLDataset, device: str = "cpu") -> dict:
    """``dataset``'s measurements as the model reads them: ``{"<modality>.<k>": tensor}``,
    standardised with the training split's statistics saved in ``model.pt``."""
    import torch

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
    return tensors
