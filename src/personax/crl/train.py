"""Training harness shared by personax's CRL model and the baselines, and the run outputs.

One loop for every method: standardise inputs on the training split, mini-batch Adam, a
validation loss after every epoch, early stopping on it, the best *validation* checkpoint kept
(the test split is never looked at until the final scoring), explicit seeds and deterministic
CPU kernels.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import inspect
import io
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from personax.atomic import atomic_path, beside_output, write_bytes, write_json, write_text
from personax.crl.config import CRLConfig
from personax.crl.dataset import (
    MIN_ROWS,
    CRLDataset,
    in_latent_dims_order,
    rows_for_test_rows,
    split_indices,
)
from personax.errors import BadInput
from personax.plotting import literal_text

# A running restart is checkpointed at most this often (and at the end of every restart): a
# checkpoint is a few MB, small next to a minute of training, but not worth every epoch.
CHECKPOINT_EVERY_SECONDS = 30.0

# progress(epoch, total_epochs, history_row): called once per epoch.
Progress = Callable[[int, int, dict[str, float]], None]


class LatentModel(Protocol):
    """What the harness needs from a method: a loss on a batch and an encoder."""

    def loss(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None
    ) -> tuple[torch.Tensor, dict[str, float]]: ...

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...


@dataclass(frozen=True)
class FitResult:
    module: nn.Module
    latents: np.ndarray  # n × L, posterior means for every input row, input order
    splits: dict[str, np.ndarray]
    history: pd.DataFrame
    best_epoch: int
    seconds: float
    standardisation: dict[str, tuple[np.ndarray, np.ndarray]]
    resumed: bool = False  # continued from a checkpoint of an interrupted run
    # Why a checkpoint found at the given path was not resumed from (None: none was there, or
    # it was resumed): see :attr:`_CheckpointStore.ignored`.
    checkpoint_ignored: str | None = None


@dataclass(frozen=True)
class CRLRun:
    """A finished run: latents for every row, learned graph, held-out metrics, history."""

    method: str
    seed: int
    latents: pd.DataFrame
    graph: dict[str, Any] | None
    metrics: dict[str, Any] | None
    history: pd.DataFrame
    config: CRLConfig
    latent_dims: dict[str, int]
    shared_dims: int
    best_epoch: int
    seconds: float
    checkpoint: dict[str, Any] = field(repr=False)
    # The test rows' true latents (columns = the dataset's latent names), when it has them.
    truth: pd.DataFrame | None = field(default=None, repr=False)
    # The dataset's row ids, when it has them: latents.csv leads with them, so that
    # `crl explain` and `discover` join the latents to a table by id, not by row order.
    ids: np.ndarray | None = field(default=None, repr=False)
    resumed: bool = False  # training continued from a checkpoint of an interrupted run
    checkpoint_ignored: str | None = None  # why a checkpoint found was not used (FitResult)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch inside a forked RNG state and force deterministic kernels, then restore."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)


def standardise(
    dataset: CRLDataset, keys: list[str], train: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Centre each feature on the training split's mean and divide a whole measurement by one
    scale (the root mean feature variance), so near-constant pixels are not blown up."""
    arrays, stats = {}, {}
    for key in keys:
        modality, k = key.rsplit(".", 1)
        x = np.asarray(dataset.measurements[modality][int(k)], dtype=np.float64)
        rows = x[train]
        mean = rows.mean(axis=0)
        # Relative to the measurement's magnitude (the variance taken of rows / magnitude, so
        # that values near 1e200 do not overflow it): data in tiny units are not "constant".
        magnitude = float(np.abs(rows).max()) if rows.size else 0.0
        scale = 0.0
        if magnitude > 0:
            scale = magnitude * float(np.sqrt((rows / magnitude).var(axis=0).mean()))
        if not scale > 1e-12 * magnitude:
            # Training on it would only teach the decoder a constant; say so instead.
            raise BadInput(
                f"measurement '{key}' is constant on the {len(train)} training rows (every "
                "column), so there is nothing to learn from it; drop it from the dataset."
            )
        std = np.full(x.shape[1], scale)
        arrays[key] = ((x - mean) / std).astype(np.float32)
        stats[key] = (mean, std)
    return arrays, stats


def _batches(
    tensors: dict[str, torch.Tensor], index: torch.Tensor, size: int
) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
    for start in range(0, len(index), size):
        rows = index[start : start + size]
        yield len(rows), {key: value[rows] for key, value in tensors.items()}


def restart_seed(seed: int, restart: int) -> int:
    """The initialisation seed of restart ``restart`` of a run with ``seed``."""
    return seed + 7919 * restart


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _in_config_threads(fit: Callable[..., FitResult]) -> Callable[..., FitResult]:
    """Run ``fit`` with ``config.threads`` torch threads (``config`` by name or position)."""
    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        config = signature.bind(*args, **kwargs).arguments["config"]
        with torch_threads(config.threads):
            return fit(*args, **kwargs)

    return wrapper


@_in_config_threads
def fit_latent_model(
    build: Callable[[], nn.Module],
    dataset: CRLDataset,
    keys: list[str],
    config: CRLConfig,
    seed: int,
    progress: Progress | None = None,
    device: str = "cpu",
    checkpoint: Path | None = None,
    checkpoint_every: float | None = None,
) -> FitResult:
    """Train ``build()`` on the training split, select on validation, encode every row.

    With ``checkpoint``, the training state (every finished restart's outcome, and the running
    restart's weights, optimiser, schedule, random generators and early-stopping counters) is
    saved there at most every ``checkpoint_every`` seconds (default
    :data:`CHECKPOINT_EVERY_SECONDS`) and at the end of each restart; a
    later call of the same run (same data, config, seed and model) resumes from it and ends
    with the same bits as an uninterrupted run (without ``max_seconds``, whose budget is
    wall-clock). A checkpoint of another run, or one that cannot be read, is ignored
    (``FitResult.resumed`` and ``FitResult.checkpoint_ignored`` say which).
    """
    n = dataset.n
    splits = {name: np.asarray(idx) for name, idx in split_indices(n, seed).items()}
    if n < MIN_ROWS or len(splits["val"]) < 2 or len(splits["test"]) < 2:
        raise BadInput(
            f"The CRL dataset has {n} rows, too few for train/validation/test splits; "
            f"give it at least {MIN_ROWS} rows."
        )
    arrays, stats = standardise(dataset, keys, splits["train"])
    try:
        dev = torch.device(device)
        tensors = {key: torch.from_numpy(value).to(dev) for key, value in arrays.items()}
    except (RuntimeError, ValueError) as exc:
        raise BadInput(f"Cannot use device {device!r}: {exc}") from None
    train_index = torch.as_tensor(splits["train"], device=dev)
    val_index = torch.as_tensor(splits["val"], device=dev)
    state: dict[str, Any] = {
        "restart": 0,
        "restart_losses": [],
        "restart_scores": [],
        "best": None,
        "running": None,
    }
    store = None
    if checkpoint is not None:
        with seeded(restart_seed(seed, 0)):
            probe = build()
        store = _CheckpointStore(
            Path(checkpoint),
            _run_fingerprint(probe, arrays, config, seed, device),
            CHECKPOINT_EVERY_SECONDS if checkpoint_every is None else checkpoint_every,
        )
        state = store.load() or state
    resumed = state["restart"] > 0 or state["running"] is not None
    started = time.perf_counter() - float(state.get("elapsed", 0.0))
    for restart in range(state["restart"], config.restarts):
        init_seed = restart_seed(seed, restart)  # the split stays the seed's
        budget = None
        if config.max_seconds is not None:
            budget = max(0.0, config.max_seconds - (time.perf_counter() - started))
            budget /= config.restarts - restart  # the rest of the budget, shared equally

        # One bar over all restarts: restart r reports epochs r·E + 1 … (r + 1)·E of R·E.
        def restart_progress(epoch: int, total: int, row: dict, _r: int = restart) -> None:
            if progress is not None:
                progress(_r * total + epoch, config.restarts * total, row)

        def save_running(
            running: dict[str, Any], force: bool, _r: int = restart, _done: dict = state
        ) -> None:
            elapsed = time.perf_counter() - started
            store.save({**_done, "restart": _r, "running": running, "elapsed": elapsed}, force)

        with seeded(init_seed):
            module, rows, best_val, best_epoch, score = _fit_once(
                build,
                tensors,
                train_index,
                val_index,
                config,
                init_seed,
                restart_progress,
                dev,
                budget,
                val_seed=seed,
                resume=state["running"],
                save=None if store is None else save_running,
            )
        state["restart_losses"] = [*state["restart_losses"], best_val]
        state["restart_scores"] = [*state["restart_scores"], score]
        if not math.isfinite(score):
            score = math.inf
        if state["best"] is None or score < state["best"]["score"]:
            weights = copy.deepcopy(module.state_dict())
            state["best"] = {"val": best_val, "score": score, "restart": restart, "rows": rows}
            state["best"]["epoch"] = best_epoch
            state["best"]["state"] = weights
        state = {**state, "restart": restart + 1, "running": None}
        if store is not None:
            store.save({**state, "elapsed": time.perf_counter() - started}, force=True)
    best = state["best"]
    assert best is not None
    if not math.isfinite(best["val"]):
        raise BadInput(_diverged_message(best["rows"], config.lr))
    # Rebuilt with the seed of the restart that won, so that anything a module draws at
    # construction and does not keep in its state_dict is that restart's too.
    with seeded(restart_seed(seed, best["restart"])):
        module = build().to(dev)
    module.load_state_dict(best["state"])
    with seeded(seed):
        latents = encode_rows(module, tensors, config.batch_size, n, dev)
    seconds = time.perf_counter() - started
    history = pd.DataFrame(best["rows"])
    history.attrs["restart_val_losses"] = list(state["restart_losses"])
    history.attrs["restart_scores"] = list(state["restart_scores"])
    history.attrs["restart_kept"] = best["restart"]
    return FitResult(
        module=module,
        latents=latents,
        splits=splits,
        history=history,
        best_epoch=best["epoch"],
        seconds=seconds,
        standardisation=stats,
        resumed=resumed,
        checkpoint_ignored=None if store is None else store.ignored,
    )


def _run_fingerprint(
    probe: nn.Module, arrays: dict[str, np.ndarray], config: CRLConfig, seed: int, device: str
) -> str:
    """What a checkpoint must match to be resumed: the model's class, parameter names and
    shapes (the method and its sizes), the standardised inputs in their order (β-VAE
    concatenates them in that order, so another order is another model), every
    hyper-parameter, seed and device."""
    digest = hashlib.sha256()
    layout = [(k, list(v.shape)) for k, v in probe.state_dict().items()]
    header = {
        "module": type(probe).__qualname__,
        "layout": layout,
        "inputs": list(arrays),
        "config": config.to_dict(),
        "seed": seed,
        "device": device,
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for key in arrays:
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


class _CheckpointStore:
    """One checkpoint file, written atomically, read back only by the run it belongs to."""

    def __init__(self, path: Path, fingerprint: str, every_seconds: float) -> None:
        self.path, self.fingerprint, self.every = path, fingerprint, every_seconds
        self.last_save = -math.inf
        # Set by load() when a file was there but not used, so the caller can say why the run
        # started afresh: "unreadable" (truncated or not a checkpoint) or "another run".
        self.ignored: str | None = None

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 — an unreadable checkpoint is one to start afresh from
            self.ignored = "unreadable"
            return None
        if not isinstance(saved, dict) or "state" not in saved:
            self.ignored = "unreadable"
            return None
        if saved.get("fingerprint") != self.fingerprint:
            self.ignored = "another run"
            return None
        return saved["state"]

    def save(self, state: dict[str, Any], force: bool) -> None:
        now = time.perf_counter()
        if not force and now - self.last_save < self.every:
            return
        buffer = io.BytesIO()
        torch.save({"fingerprint": self.fingerprint, "state": state}, buffer)
        write_bytes(self.path, buffer.getvalue())
        self.last_save = time.perf_counter()


def _diverged_message(rows: list[dict[str, float]], lr: float) -> str:
    """Say where a run whose validation loss was never finite went wrong."""
    broken = [r["epoch"] for r in rows if not math.isfinite(r["train_loss"] + r["val_loss"])]
    where = f"at epoch {broken[0]}" if broken else "from the first epoch"
    return (
        f"Training diverged {where}: no epoch had a finite validation loss; lower --lr "
        f"(it was {lr:g})."
    )


def _fit_once(
    build: Callable[[], nn.Module],
    tensors: dict[str, torch.Tensor],
    train_index: torch.Tensor,
    val_index: torch.Tensor,
    config: CRLConfig,
    seed: int,
    progress: Progress | None,
    dev: torch.device,
    budget: float | None,
    val_seed: int,
    resume: dict[str, Any] | None = None,
    save: Callable[[dict[str, Any], bool], None] | None = None,
) -> tuple[nn.Module, list[dict[str, float]], float, int, float]:
    """One training run from one initialisation: the module at its best validation epoch, the
    per-epoch rows, the best validation loss, its epoch, and the restart-selection score
    (:func:`selection_score`) at that epoch. ``val_seed`` fixes the validation
    loss's sampling noise, the same for every restart so that their losses compare.
    ``save(state, force)`` is offered the state after every epoch; ``resume`` is such a state
    to continue from."""
    module = build().to(dev)
    optimiser = torch.optim.Adam(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    # Cosine decay to a tenth of the rate over the epoch budget: the late, small steps
    # sharpen the latents once the structure is found.
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=config.epochs, eta_min=0.1 * config.lr
        )
        if config.lr_schedule == "cosine"
        else None
    )
    shuffle = torch.Generator().manual_seed(seed)
    sampler = torch.Generator(device=dev).manual_seed(seed + 1)
    rows: list[dict[str, float]] = []
    best_val, best_epoch, best_state, stale = math.inf, 0, None, 0
    best_score = math.inf  # the restart-selection score at the best epoch
    first_epoch, spent = 1, 0.0
    if resume is not None:
        module.load_state_dict(resume["module"])
        optimiser.load_state_dict(resume["optimiser"])
        if scheduler is not None:
            scheduler.load_state_dict(resume["scheduler"])
        shuffle.set_state(resume["shuffle"])
        sampler.set_state(resume["sampler"])
        rows, best_state = list(resume["rows"]), resume["best_state"]
        best_val, best_epoch, stale = resume["best_val"], resume["best_epoch"], resume["stale"]
        best_score = resume["best_score"]
        first_epoch, spent = resume["epoch"] + 1, resume["spent"]
    started = time.perf_counter() - spent
    for epoch in range(first_epoch, config.epochs + 1):
        module.train()
        if config.beta_warmup > 0 and hasattr(module, "kl_weight"):
            # Epoch e of the warm-up trains with beta · (e − 1) / warm-up epochs.
            module.kl_weight = min(1.0, (epoch - 1) / config.beta_warmup)
        order = train_index[torch.randperm(len(train_index), generator=shuffle).to(dev)]
        total, count, parts_sum = 0.0, 0, {}
        for size, batch in _batches(tensors, order, config.batch_size):
            if size < 2:  # a batch of one has no spread for the batch statistics
                continue
            loss, parts = module.loss(batch, sampler)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(module.parameters(), 100.0)
            optimiser.step()
            total += float(loss.detach()) * size
            count += size
            for name, value in parts.items():
                parts_sum[name] = parts_sum.get(name, 0.0) + value * size
        if scheduler is not None:
            scheduler.step()
        if hasattr(module, "kl_weight"):
            module.kl_weight = 1.0
        val_loss, val_terms = validation_loss(
            module, tensors, val_index, config.batch_size, val_seed
        )
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "val_loss": val_loss}
        row.update({f"train_{k}": v / max(count, 1) for k, v in parts_sum.items()})
        rows.append(row)
        if not math.isfinite(row["train_loss"]):
            break
        if val_loss < best_val:
            best_val, best_epoch, stale = val_loss, epoch, 0
            best_score = selection_score(module, config, val_loss, val_terms)
            best_state = copy.deepcopy(module.state_dict())
        else:
            stale += 1
        elapsed = time.perf_counter() - started
        stop = (epoch >= config.min_epochs and stale >= config.patience) or (
            budget is not None and elapsed >= budget
        )
        if save is not None and not stop and epoch < config.epochs:
            running = {
                "epoch": epoch,
                "spent": elapsed,
                "module": module.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": None if scheduler is None else scheduler.state_dict(),
                "shuffle": shuffle.get_state(),
                "sampler": sampler.get_state(),
                "rows": rows,
                "best_state": best_state,
                "best_val": best_val,
                "best_score": best_score,
                "best_epoch": best_epoch,
                "stale": stale,
            }
            save(running, False)
        if progress is not None:
            progress(epoch, config.epochs, row)
        if stop:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return module, rows, best_val, best_epoch, best_score


@torch.no_grad()
def validation_loss(
    module: nn.Module,
    tensors: dict[str, torch.Tensor],
    index: torch.Tensor,
    batch_size: int,
    seed: int,
) -> tuple[float, dict[str, float]]:
    """Mean loss on the validation rows, with the same sampling noise every epoch, and the
    mean of each of its terms."""
    module.eval()
    generator = torch.Generator(device=index.device).manual_seed(seed + 2)
    total, count, sums = 0.0, 0, {}
    for size, batch in _batches(tensors, index, max(batch_size, 2)):
        if size < 2:
            continue
        loss, parts = module.loss(batch, generator)
        total += float(loss) * size
        count += size
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + value * size
    if not count:
        return math.inf, {}
    return total / count, {name: value / count for name, value in sums.items()}


def selection_score(
    module: nn.Module, config: CRLConfig, val_loss: float, terms: dict[str, float]
) -> float:
    """The validation score that picks among restarts (``CRLConfig.restart_selection``)."""
    layout = getattr(module, "layout", None)  # the baselines have no shared latents
    rule = config.restart_rule(0 if layout is None else layout.shared_dims)
    if rule == "evidence" and {"recon", "kl"} <= terms.keys():
        return config.w_recon * terms["recon"] + config.beta * terms["kl"]
    return val_loss


@torch.no_grad()
def encode_rows(
    module: nn.Module, tensors: dict[str, torch.Tensor], batch_size: int, n: int, dev
) -> np.ndarray:
    module.eval()
    index = torch.arange(n, device=dev)
    parts = [module.encode(batch) for _, batch in _batches(tensors, index, batch_size)]
    return torch.cat(parts).cpu().numpy().astype(np.float64)


def with_ids(latents: pd.DataFrame, ids: np.ndarray | None) -> pd.DataFrame:
    """``latents`` with the dataset's ``id`` column first, when the dataset has ids."""
    if ids is None:
        return latents
    framed = latents.copy()
    framed.insert(0, "id", np.asarray(ids, dtype=str))
    return framed


def latent_frame(latents: np.ndarray, names: list[str], splits: dict[str, np.ndarray]):
    """One row per input row, in input order: ``split`` then the latent columns."""
    split = np.empty(len(latents), dtype=object)
    for name, index in splits.items():
        split[index] = name
    frame = pd.DataFrame(latents, columns=names)
    frame.insert(0, "split", split)
    return frame


def evaluate_latents(
    dataset: CRLDataset, estimated: np.ndarray, splits: dict[str, np.ndarray], seed: int
) -> dict[str, Any] | None:
    """Held-out MCC (Pearson and Spearman) and kernel-ridge R², all estimated vs all true."""
    if dataset.latents is None:
        return None
    from threadpoolctl import threadpool_limits

    from personax.crl.metrics import mcc, r2_kernel

    true = np.asarray(dataset.latents, dtype=np.float64)
    train, test = splits["train"], splits["test"]
    pearson = mcc(true[test], estimated[test], method="pearson")
    spearman = mcc(true[test], estimated[test], method="spearman")
    # One BLAS thread: the kernel solves give the same bits whatever the machine's thread
    # count, and on a busy machine they run several times faster than oversubscribed threads.
    with threadpool_limits(limits=1):
        r2 = r2_kernel(estimated[train], true[train], estimated[test], true[test], seed=seed)
    r2_value = float(getattr(r2, "value", r2))
    scores = {
        "mcc": float(pearson.value),
        "r2": r2_value,
        "split": "test",
        "n_test": int(len(test)),
        "mcc_pearson": float(pearson.value),
        "mcc_spearman": float(spearman.value),
        "details": {"pearson": _as_plain(pearson), "spearman": _as_plain(spearman)},
    }
    if len(test) < FEW_TEST_ROWS:
        # At the 12-row minimum the test split has 2 rows, over which any two columns
        # correlate ±1: MCC 1.000 for any model.
        scores["warning"] = (
            f"only {len(test)} test rows: correlations over so few rows say little (over 2 rows "
            f"any estimate scores MCC 1); give at least {rows_for_test_rows(FEW_TEST_ROWS)} rows "
            "for a meaningful score."
        )
    return scores


FEW_TEST_ROWS = 30
"""Below this many test rows a run's scores carry a warning (metrics.json, the CLI)."""


def recovery_of(
    dataset: CRLDataset,
    estimated: np.ndarray,
    splits: dict[str, np.ndarray],
    names: list[str],
    pearson: dict | None = None,
) -> dict:
    """Which true latents each learned block holds (``metrics.recovery_by_block``), for
    estimated latents named as ``crl train`` names them: ``s_<i>`` (block "shared"),
    ``z_<modality>_<i>`` (that modality's block), or a β-VAE's ``z_<i>`` (one block,
    "latents"). ``pearson``: the held-out Pearson MCC details of :func:`evaluate_latents`
    (``metrics["details"]["pearson"]``), whose matching is reused; None computes it."""
    from personax.crl.metrics import ALL_LATENTS, mcc, recovery_by_block

    blocks: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name.startswith("s_"):
            block = "shared"
        else:
            modality, _, index = name[2:].rpartition("_")
            block = modality if modality and index.isdigit() else "latents"
        blocks.setdefault(block, []).append(i)
    blocks[ALL_LATENTS] = list(range(len(names)))
    true = np.asarray(dataset.latents, dtype=np.float64)
    test = splits["test"]
    if pearson is None:
        pearson = _as_plain(mcc(true[test], estimated[test], method="pearson"))
    pairs = zip(pearson["matching"], pearson["matched"], strict=True)
    matched = {int(t): float(v) for (t, _), v in pairs}
    true_names = list(dataset.latent_names or [f"latent_{j}" for j in range(true.shape[1])])
    return recovery_by_block(true, estimated, splits["train"], test, blocks, matched, true_names)


def _as_plain(result: Any) -> Any:
    """A dataclass result as JSON-ready values (numpy arrays → lists; a non-finite number,
    such as a diverged restart's validation loss, → None, which JSON can hold)."""
    import dataclasses

    if dataclasses.is_dataclass(result):
        return {k: _as_plain(v) for k, v in dataclasses.asdict(result).items()}
    if isinstance(result, dict):
        return {str(k): _as_plain(v) for k, v in result.items()}
    if isinstance(result, np.ndarray):
        return _as_plain(result.tolist())
    if isinstance(result, (list, tuple)):
        return [_as_plain(v) for v in result]
    if isinstance(result, np.generic):
        result = result.item()
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result


def measurement_keys(dataset: CRLDataset, first_only: bool = False) -> dict[str, list[str]]:
    """``{modality: ["m.0", "m.1", ...]}`` in the dataset's modality order."""
    return {
        m: [f"{m}.{k}" for k in range(1 if first_only else len(xs))]
        for m, xs in dataset.measurements.items()
    }


def train_crl(
    dataset: CRLDataset,
    latent_dims: dict[str, int],
    shared_dims: int = 0,
    config: CRLConfig | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    first_measurement_only: bool = False,
    method: str = "personax",
    checkpoint: Path | None = None,
) -> CRLRun:
    """Fit the multimodal multi-measurement CRL model; score on the test split when possible.

    ``first_measurement_only`` (with ``shared_dims=0``) is the MMCRL baseline: the same model
    seeing one measurement per modality. ``checkpoint``: see :func:`fit_latent_model`.
    """
    from personax.crl.model import MultiMeasurementCRL

    config = config or CRLConfig()
    dataset, latent_dims = in_latent_dims_order(dataset, latent_dims)
    if shared_dims < 0:
        raise BadInput(f"--shared-dims must be >= 0, got {shared_dims}.")
    keys_by_modality = measurement_keys(dataset, first_measurement_only)
    widths = {
        m: [
            int(np.asarray(dataset.measurements[m][int(key.rsplit(".", 1)[1])]).shape[1])
            for key in keys
        ]
        for m, keys in keys_by_modality.items()
    }
    keys = [key for group in keys_by_modality.values() for key in group]
    dims = {m: int(latent_dims[m]) for m in widths}

    def build() -> nn.Module:
        return MultiMeasurementCRL(widths, dims, shared_dims, config)

    fit = fit_latent_model(
        build, dataset, keys, config, seed, progress, device, checkpoint=checkpoint
    )
    model = fit.module
    names = model.layout.names
    adjacency = model.prior.adjacency().detach().cpu().numpy().astype(float)
    graph = graph_dict(names, adjacency, config.graph_threshold)
    return _finish_run(method, dataset, fit, names, graph, config, dims, shared_dims, seed)


def _finish_run(method, dataset, fit: FitResult, names, graph, config, dims, shared, seed):
    metrics = evaluate_latents(dataset, fit.latents, fit.splits, seed)
    if metrics is not None:
        metrics.update(
            {
                "method": method,
                "seed": seed,
                "best_epoch": fit.best_epoch,
                # Best validation loss of every restart.
                "restart_val_losses": list(fit.history.attrs.get("restart_val_losses", [])),
                # The score that chose among them (CRLConfig.restart_selection).
                "restart_scores": list(fit.history.attrs.get("restart_scores", [])),
                "restart_kept": fit.history.attrs.get("restart_kept", 0),
            }
        )
        scores = graph_against_truth(dataset, graph, metrics)
        if scores is not None:
            metrics["graph"] = scores
        pearson = metrics["details"]["pearson"]
        metrics["recovery"] = recovery_of(dataset, fit.latents, fit.splits, names, pearson)
    checkpoint = {
        "method": method,
        "state_dict": {k: v.detach().cpu() for k, v in fit.module.state_dict().items()},
        "config": config.to_dict(),
        "latent_dims": dims,
        "shared_dims": shared,
        "latent_names": names,
        "seed": seed,
        "standardisation": {
            k: (m.tolist(), s.tolist()) for k, (m, s) in fit.standardisation.items()
        },
    }
    return CRLRun(
        method=method,
        seed=seed,
        latents=latent_frame(fit.latents, names, fit.splits),
        graph=graph,
        metrics=metrics,
        history=fit.history,
        config=config,
        latent_dims=dims,
        shared_dims=shared,
        best_epoch=fit.best_epoch,
        seconds=fit.seconds,
        checkpoint=checkpoint,
        truth=_test_truth(dataset, fit.splits["test"]),
        ids=dataset.ids,
        resumed=fit.resumed,
        checkpoint_ignored=fit.checkpoint_ignored,
    )


def _test_truth(dataset: CRLDataset, test: np.ndarray) -> pd.DataFrame | None:
    """The test rows' true latents, named (``latent_<i>`` when the dataset names none)."""
    if dataset.latents is None:
        return None
    true = np.asarray(dataset.latents)[test]
    names = dataset.latent_names
    if names is None:
        names = [f"latent_{i}" for i in range(true.shape[1])]
    return pd.DataFrame(true, columns=list(names))


def graph_against_truth(
    dataset: CRLDataset, graph: dict[str, Any] | None, metrics: dict[str, Any]
) -> dict[str, Any] | None:
    """SHD, precision and recall of the learned graph, latents matched to the true ones by
    the MCC matching (None without a true graph or when the latent counts differ)."""
    if graph is None or dataset.graph is None or not graph.get("learned", True):
        return None
    adjacency = np.abs(np.asarray(graph["adjacency"], dtype=float))
    truth = np.asarray(dataset.graph)
    if adjacency.shape != truth.shape:
        return None
    from personax.crl.metrics import graph_scores

    matching = np.asarray(metrics["details"]["pearson"]["matching"], dtype=int)
    est_of_true = np.empty(len(truth), dtype=int)
    est_of_true[matching[:, 0]] = matching[:, 1]
    # Scored on the very edges graph.json lists, so the two files cannot disagree at the cut
    # (a threshold of 1 kept the strongest edge there and none here).
    index = {name: k for k, name in enumerate(graph["nodes"])}
    listed = np.zeros_like(adjacency)
    for edge in graph["edges"]:
        listed[index[edge["target"]], index[edge["source"]]] = 1.0
    in_true_order = listed[np.ix_(est_of_true, est_of_true)]
    cut = float(graph.get("absolute_cut", graph["threshold"]))
    scores = graph_scores(truth, in_true_order, threshold=0.5)
    return {**scores.to_dict(), "threshold": float(graph["threshold"]), "absolute_cut": cut}


def graph_dict(names: list[str], adjacency: np.ndarray, threshold: float) -> dict[str, Any]:
    """Learned graph: the weighted adjacency ([i, j] = j → i) and the edges whose strength is at
    least ``threshold`` times the strongest edge's (strengths have no natural unit, so the cut
    is relative; an all-zero adjacency has no edges)."""
    strongest = float(np.abs(adjacency).max()) if adjacency.size else 0.0
    cut = threshold * strongest
    edges = [
        {
            "source": names[j],
            "target": names[i],
            "type": "directed",
            "weight": round(float(adjacency[i, j]), 6),
        }
        for i in range(len(names))
        for j in range(len(names))
        if strongest > 0 and abs(adjacency[i, j]) >= cut and adjacency[i, j] != 0
    ]
    return {
        "nodes": list(names),
        "learned": True,
        "adjacency": np.round(adjacency, 6).tolist(),
        "threshold": threshold,
        "threshold_relative_to": "strongest edge",
        "absolute_cut": round(cut, 6),
        "edges": edges,
    }


def no_graph_dict(method: str, names: list[str]) -> dict[str, Any]:
    """graph.json of a method without a latent causal module (β-VAE, MCL): the latents, no
    edges, and a note saying the empty edge list is by construction, not a finding."""
    return {
        "nodes": list(names),
        "learned": False,
        "edges": [],
        "notes": [
            f"{method} has no latent causal module, so it learns no graph: the empty edge list "
            "is by construction, not evidence of independence. Run `personax discover` on "
            "latents.csv for a graph over these latents."
        ],
    }


RUN_FILES = (
    "latents.csv",
    "graph.json",
    "model.pt",
    "config.json",
    "history.csv",
    "training_curves.png",
    "metrics.json",
    "latents_vs_truth.png",
    "timing.json",
)
"""The files :func:`write_crl_run` may write into a run folder."""


def checkpoint_path(out_dir: str | Path) -> Path:
    """Where `crl train --out DIR` keeps the resumable state of a run in progress."""
    return beside_output(out_dir, "checkpoint.pt")


def write_crl_run(run: CRLRun, out_dir: str | Path) -> Path:
    """Write latents.csv, graph.json, model.pt, config.json, history.csv, training_curves.png,
    metrics.json (with ground truth) and timing.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(
        out / "latents.csv",
        with_ids(run.latents, run.ids).to_csv(index=False, float_format="%.8g"),
    )
    if run.graph is not None:
        write_json(out / "graph.json", run.graph)
    buffer = io.BytesIO()
    torch.save(run.checkpoint, buffer)
    with atomic_path(out / "model.pt") as tmp:
        tmp.write_bytes(buffer.getvalue())
    write_json(
        out / "config.json",
        {
            "method": run.method,
            "seed": run.seed,
            "latent_dims": run.latent_dims,
            "shared_dims": run.shared_dims,
            "config": run.config.to_dict(),
        },
    )
    write_text(out / "history.csv", run.history.to_csv(index=False, float_format="%.8g"))
    plot_training_curves(run.history, run.best_epoch, out / "training_curves.png")
    if run.metrics is not None:
        write_json(out / "metrics.json", _as_plain(run.metrics))
        if run.truth is not None:
            plot_latents_vs_truth(run, out / "latents_vs_truth.png")
    # Wall-clock time is the one thing that differs between runs with the same seed, so it
    # lives in its own file and every other file stays byte-identical.
    write_json(out / "timing.json", {"seconds": round(run.seconds, 3)})
    return out


@literal_text
def plot_latents_vs_truth(run: CRLRun, path: Path) -> None:
    """One panel per true latent: its test values against the estimated latent matched to it
    (the MCC matching), so a fold, a warp or a mixed latent shows at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pearson = run.metrics["details"]["pearson"]
    estimated = run.latents.loc[run.latents["split"] == "test"].drop(columns="split")
    panels = len(pearson["matching"])
    columns = min(4, panels)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3 * columns, 2.8 * rows), dpi=100, squeeze=False
    )
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    for ax, (true_index, est_index), corr in zip(
        axes.flat, pearson["matching"], pearson["matched"], strict=False
    ):
        true_name = run.truth.columns[true_index]
        est_name = estimated.columns[est_index]
        ax.scatter(run.truth.iloc[:, true_index], estimated.iloc[:, est_index], s=3, alpha=0.3)
        ax.set_title(f"{true_name} ↔ {est_name}\n|r| = {corr:.2f}", fontsize=9)
        ax.set_xlabel(f"true {true_name}", fontsize=8)
        ax.set_ylabel(est_name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{run.method}: test rows, MCC {run.metrics['mcc']:.3f}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


@literal_text
def plot_training_curves(history: pd.DataFrame, best_epoch: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if len(history):
        ax.plot(history["epoch"], history["train_loss"], label="train")
        ax.plot(history["epoch"], history["val_loss"], label="validation")
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle="--", label=f"best (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
