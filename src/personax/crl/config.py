"""Hyper-parameters of a CRL run: one frozen object, saved as ``config.json`` with every run."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from personax.errors import BadInput


@dataclass(frozen=True)
class CRLConfig:
    """Everything that shapes a training run except the data, the latent sizes and the seed.

    The loss is ``w_recon·recon + beta·(log q − log p) + w_agree·agreement + w_sparse·L1(A)``
    where ``log p`` is the latent causal module plus the zuko flow (the independence term).
    """

    # Network sizes.
    hidden: int = 128
    layers: int = 2
    noise_dims: int = 4  # η: exogenous noise of each measurement
    # η size for a modality with a single measurement. There z and η are interchangeable for
    # the likelihood (nothing shows which variation is shared), so by default such a modality
    # gets no η and its z must carry its main factors of variation.
    single_noise_dims: int = 0
    causal_hidden: int = 32  # per-latent noise-estimation MLP h_i(z_i, parents)
    flow_transforms: int = 3
    # Density of (e, η): "elementwise" — independent monotonic rational-quadratic splines per
    # coordinate (zuko), i.e. a factorised density, which is what makes e's independence a
    # constraint; "coupling" — a zuko neural spline flow with coupling layers and a random
    # permutation between them (every coordinate transformed), which can also model
    # dependence between the e's.
    flow: str = "elementwise"
    flow_hidden: int = 64
    # Causal order over the latents: "index" (strictly lower-triangular mask in the order
    # s, then the modalities' z blocks as given) or "learned" (NOTEARS acyclicity penalty).
    causal_order: str = "index"
    # Optimisation.
    # 60: the length the variant-MNIST benchmark validates. Longer runs keep lowering the
    # validation loss, but the child latent of a single-measurement modality can drift into its
    # residual given its parent (seed 0: MCC 0.955 at 60 epochs, 0.878 at 150; BENCHMARKS.md).
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_schedule: str = "cosine"  # decay to lr/10 over the epoch budget; or "constant"
    patience: int = 20  # epochs without a better validation loss before stopping
    min_epochs: int = 10
    max_seconds: float | None = None  # wall-clock budget; the best validation checkpoint is kept
    # Independent initialisations trained one after the other; the one with the lowest
    # validation score is the model (the test split plays no part in the choice).
    restarts: int = 3
    # The validation score that picks among restarts (early stopping within a restart always
    # uses the whole validation loss): "loss" — the whole training objective; "evidence" —
    # only its variational part, w_recon·recon + beta·(log q − log p), leaving out the training
    # aids (agreement, cross-modal critic, gates, sparsity); "auto" (default) — "evidence" for
    # a model with shared latents, "loss" otherwise. With shared latents the critic's lowest
    # loss goes with copies of s in the interface latents, so it picks the wrong start (tabular
    # seeds 0–3, crl train: MCC 0.702 / 0.796 / 0.679 / 0.742 by "loss", 0.871 / 0.940 /
    # 0.788 / 0.742 by "evidence"); without them the critic's value tells a clean interface
    # latent from a mixed one (variant-MNIST seed 4: 0.932 by "loss", 0.828 by "evidence";
    # BENCHMARKS.md, "Seventh session"). Methods without a variational part (MCL) use "loss".
    restart_selection: str = "auto"
    # Loss weights.
    w_recon: float = 1.0
    # KL warm-up: beta grows linearly from 0 to its value over this many epochs (0: off). The
    # validation loss always uses the full beta, so epochs stay comparable. Starting without
    # the KL pressure lets the encoders find every factor before the prior squeezes them; it
    # made fewer starts settle with digit hue mixed into rotation (BENCHMARKS.md). It applies
    # to models with a ``kl_weight`` (personax's model, hence MMCRL); the β-VAE baseline keeps
    # its constant β, as it is usually trained.
    beta_warmup: int = 10
    # Variance of the Gaussian decoder: "unit" (reconstruction = half the squared error) or
    # "learned" (one variance per measurement, trained with the rest — a calibrated decoder,
    # Rybkin et al. 2021). With unit variance on pixels in [0, 1] a whole image is worth a few
    # nats, less than the KL price of a precise latent, so fine factors are left out of z.
    # "learned-multi": learned only for modalities with several measurements (there the
    # agreement term keeps nuisance out of z; a single measurement keeps the unit variance,
    # whose bottleneck keeps its z to the main factors of variation).
    recon_variance: str = "unit"
    # 1: the evidence bound itself. With β = 4 (the default until the fourth session) the
    # encoder of a single-measurement modality stopped encoding its child latent's own variation
    # wherever the measurement map was insensitive to it — a local posterior collapse that made
    # tabular's z22 look mixed with its parent (held-out MCC 0.84 → 0.93 on seed 0 with β = 1;
    # BENCHMARKS.md). The variant-MNIST benchmark keeps the β = 4 it was validated with.
    beta: float = 1.0
    w_agree: float = 1.0
    # "mse": scale-free squared disagreement between the measurements' z (default);
    # "infonce": measurements must pick each other's z out of the batch. InfoNCE also spreads
    # z uniformly, which makes a modality's latents independent of each other — it turned a
    # caused latent (digit hue) into its residual given its parent (BENCHMARKS.md).
    agreement: str = "mse"
    # How a modality's measurements are combined into q(z_m): "poe" (product of Gaussian
    # experts, precision-weighted) or "mean" (equal weights, variance of the mean), which keeps
    # one confident measurement from overruling the others.
    combine: str = "poe"
    temperature: float = 0.5
    # Cross-modal contrast: a critic with sparse gates on its inputs must tell which rows of two
    # modalities belong together; the gates' L1 makes few latents carry the cross-modal link.
    w_cross: float = 20.0
    # The critic's weight for a model with shared latents (None: w_cross). A strong critic
    # pulls copies of s into the interface latents, since s is the surest sign of which rows
    # belong together (tabular + 1 shared latent, crl train, seeds 0–3: mean MCC 0.835 at 20,
    # 0.848 at 10, 0.879 at 5; BENCHMARKS.md, "Seventh session").
    w_cross_shared: float | None = 5.0
    # How many leading latents of each modality the cross-modal edges (and the cross-modal
    # critic) may touch — the sparsity of the cross-modal block, as a hard constraint. With 1,
    # the single latent of a modality that carries everything the other modality shares with it
    # is singled out (paper graph: z11 and z21). None: every latent, soft gates only.
    cross_modal_latents: int | None = 1
    w_gate: float = 1e-2
    w_sparse: float = 1e-2
    # Independent mechanism analysis on every decoder: pushes the Jacobian's columns to be
    # orthogonal, which picks out one factor per latent inside a modality's block.
    w_ima: float = 0.0
    ima_rows: int = 32  # rows of each mini-batch the IMA contrast is estimated on
    # Which decoders the IMA contrast applies to: "all", or "single" — only modalities with one
    # measurement, whose latents the agreement of several measurements cannot single out.
    ima_scope: str = "all"
    w_acyclic: float = 1.0  # only with causal_order="learned"
    # May the shared latents cause modality latents (edges s → z)? True: the paper's SCM,
    # z_i = f(Pa(z_i), s, ε_i). False: s is independent of every z, as in the synthetic
    # benchmarks, where s enters the measurements directly.
    shared_causes: bool = True
    # How s is inferred: "per-modality" — one encoder per modality, their posteriors multiplied,
    # their means made to agree, and each modality's s shown to the cross-modal critic beside
    # its interface latents, so the critic is paid by s itself rather than by copies of s in the
    # interface latents (tabular with one shared latent: MCC 0.66 → 0.80 over four seeds, one
    # start each; BENCHMARKS.md). "joint" — one encoder over all inputs (the authors' design).
    shared_inference: str = "per-modality"
    # Reading the learned graph: an edge j → i is reported when |A[i, j]| is at least this
    # fraction of the strongest edge's strength.
    graph_threshold: float = 0.05
    # torch threads while training. One is as fast for these network sizes on an idle machine
    # (variant MNIST: 7% slower; the demo's CRL: as fast) and immune to oversubscription: on 2
    # cores with two other busy processes, two threads made the demo's CRL step 6.6x slower
    # (73 s against 11 s; BENCHMARKS.md, "Demo"). One thread also gave the same bytes as two.
    threads: int = 1

    def __post_init__(self) -> None:
        if self.causal_order not in ("index", "learned"):
            raise BadInput(f"causal_order must be 'index' or 'learned', got {self.causal_order!r}.")
        for name in ("hidden", "layers", "causal_hidden", "flow_transforms", "flow_hidden"):
            if getattr(self, name) < 1:
                raise BadInput(f"CRL config {name} must be at least 1, got {getattr(self, name)}.")
        if self.noise_dims < 0:
            raise BadInput(f"CRL config noise_dims must be >= 0, got {self.noise_dims}.")
        if self.beta_warmup < 0:
            raise BadInput(f"CRL config beta_warmup must be >= 0, got {self.beta_warmup}.")
        if self.restarts < 1:
            raise BadInput(f"CRL config restarts must be at least 1, got {self.restarts}.")
        # One sentence per field: each option is checked alone against the other defaults, so
        # a joint message named a value the user never gave (--batch-size 1 → "epochs=60").
        if self.epochs < 1:
            raise BadInput(f"CRL config epochs must be at least 1, got {self.epochs}.")
        if self.batch_size < 2:
            raise BadInput(f"CRL config batch_size must be at least 2, got {self.batch_size}.")
        if self.flow not in ("elementwise", "coupling"):
            raise BadInput(f"flow must be 'elementwise' or 'coupling', got {self.flow!r}.")
        if self.cross_modal_latents is not None and self.cross_modal_latents < 1:
            raise BadInput(
                f"cross_modal_latents must be at least 1 or None, got {self.cross_modal_latents}."
            )
        if not 0.0 <= self.graph_threshold <= 1.0:
            raise BadInput(f"graph_threshold must be in [0, 1], got {self.graph_threshold}.")
        if self.single_noise_dims < 0:
            raise BadInput(f"single_noise_dims must be >= 0, got {self.single_noise_dims}.")
        if self.lr_schedule not in ("constant", "cosine"):
            raise BadInput(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}.")
        if self.recon_variance not in ("unit", "learned", "learned-multi"):
            raise BadInput(
                f"recon_variance must be 'unit', 'learned' or 'learned-multi', got {self.recon_variance!r}."
            )
        if self.ima_scope not in ("all", "single"):
            raise BadInput(f"ima_scope must be 'all' or 'single', got {self.ima_scope!r}.")
        if self.w_cross_shared is not None and not (
            self.w_cross_shared >= 0 and math.isfinite(self.w_cross_shared)
        ):
            raise BadInput(
                f"w_cross_shared must be a finite number >= 0 or None, got {self.w_cross_shared}."
            )
        if self.restart_selection not in ("auto", "loss", "evidence"):
            raise BadInput(
                "restart_selection must be 'auto', 'loss' or 'evidence', got "
                f"{self.restart_selection!r}."
            )
        if self.shared_inference not in ("joint", "per-modality"):
            raise BadInput(
                f"shared_inference must be 'joint' or 'per-modality', got {self.shared_inference!r}."
            )
        if self.combine not in ("poe", "mean"):
            raise BadInput(f"combine must be 'poe' or 'mean', got {self.combine!r}.")
        if self.agreement not in ("infonce", "mse"):
            raise BadInput(f"agreement must be 'infonce' or 'mse', got {self.agreement!r}.")
        if not self.temperature > 0:
            raise BadInput(f"CRL config temperature must be positive, got {self.temperature}.")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise BadInput(f"CRL config lr must be a positive finite number, got {self.lr}.")
        for name in ("patience", "ima_rows", "threads"):
            if getattr(self, name) < 1:
                raise BadInput(f"CRL config {name} must be at least 1, got {getattr(self, name)}.")
        if self.min_epochs < 0:
            raise BadInput(f"CRL config min_epochs must be >= 0, got {self.min_epochs}.")
        # A budget of NaN or infinity would only fail when the run is saved (JSON has neither),
        # and one of 0 or less would stop after the first epoch without saying why.
        if self.max_seconds is not None and not (
            self.max_seconds > 0 and math.isfinite(self.max_seconds)
        ):
            raise BadInput(
                "CRL config max_seconds must be a positive finite number of seconds or None, "
                f"got {self.max_seconds}."
            )
        if not math.isfinite(self.temperature):
            raise BadInput(f"CRL config temperature must be finite, got {self.temperature}.")
        # A negative weight turns a penalty into a reward, and NaN poisons every step (Adam's
        # weight decay is one more penalty weight).
        for name in (*LOSS_WEIGHTS, "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise BadInput(f"CRL config {name} must be a finite number >= 0, got {value}.")

    def replace(self, **changes: Any) -> CRLConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_options(self, options: dict[str, tuple[str, Any]]) -> CRLConfig:
        """A copy with command-line options applied: ``options`` maps a field to (option,
        value), value None when the option was not given. A bad value is reported under its
        option (``--epochs 0: ...``) rather than as a config field the user never wrote."""
        changes = {}
        for field, (option, value) in options.items():
            if value is None:
                continue
            try:
                self.replace(**{field: value})
            except BadInput as exc:
                raise BadInput(f"{option} {value}: {exc}") from None
            changes[field] = value
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cross_weight(self, shared_dims: int) -> float:
        """The cross-modal critic's weight for a model with ``shared_dims`` shared latents."""
        if shared_dims > 0 and self.w_cross_shared is not None:
            return self.w_cross_shared
        return self.w_cross

    def restart_rule(self, shared_dims: int) -> str:
        """``restart_selection`` with "auto" resolved for a model with ``shared_dims`` shared
        latents: "evidence" or "loss"."""
        if self.restart_selection == "auto":
            return "evidence" if shared_dims > 0 else "loss"
        return self.restart_selection

    @classmethod
    def from_record(cls, values: dict[str, Any]) -> CRLConfig:
        """The config a saved run (``config.json``, ``model.pt``) was trained with. A record
        written before a field existed was trained with that field's earlier behaviour, which
        may differ from today's default."""
        return cls.from_dict({**RECORD_DEFAULTS, **values})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CRLConfig:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise BadInput(f"Unknown CRL config field(s): {', '.join(unknown)}.")
        for name, value in values.items():
            allowed = {part.strip() for part in str(fields[name].type).split("|")}
            if not any(_is_type(value, kind) for kind in allowed):
                raise BadInput(
                    f"CRL config field {name} must be {' or '.join(sorted(allowed))}, "
                    f"got {value!r}."
                )
        return cls(**values)


RECORD_DEFAULTS: dict[str, Any] = {
    "shared_inference": "joint",
    "restart_selection": "loss",
    "w_cross_shared": None,
}
"""Fields whose default changed, with the value records written before they existed imply
(the joint shared encoder was the only one until the sixth session; restarts were chosen by
the whole validation loss, and the critic weighed w_cross with or without shared latents,
until the seventh)."""


LOSS_WEIGHTS = (
    "beta", "w_recon", "w_agree", "w_cross", "w_gate", "w_sparse", "w_ima", "w_acyclic",
)  # fmt: skip


def _is_type(value: Any, kind: str) -> bool:
    """Does a JSON value fit the annotation ``kind`` (int, float, str or None)?"""
    if kind == "None":
        return value is None
    if isinstance(value, bool):  # JSON true/false is no number
        return kind == "bool"
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    if kind == "str":
        return isinstance(value, str)
    return False
