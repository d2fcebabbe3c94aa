"""The multimodal, multi-measurement CRL model (SYSTEM.md §4), as a variational autoencoder.

Generative side: shared latents ``s`` and modality latents ``z_m`` follow a latent SCM whose
exogenous noises, together with the measurement noises ``η_m^k``, are independent; each
measurement is ``x_m^k = g_m^k(s, z_m, η_m^k)``.

Inference side: one encoder per measurement gives a Gaussian over ``(z_m, η_m^k)``; the
measurements of a modality are conditionally independent given ``z_m``, so their beliefs about
``z_m`` are combined as a product of Gaussian experts (precision-weighted mean); an agreement
term pulls the per-measurement means together — this is the identifiability lever of the
paper. A shared encoder over all inputs gives ``s``.

Prior (the latent causal module): a learnable adjacency ``A`` over ``v = (s, z_1, …, z_M)``,
masked strictly lower-triangular (causal order = index order) or learned under an acyclicity
penalty; for each latent a small network maps ``(v_i, A_i ⊙ v)`` to a noise estimate
``e_i = (v_i − μ_i) · exp(−σ_i)`` (invertible in ``v_i``, so the change of variables is exact);
a zuko neural spline flow — coupling layers with permutations in between, unlike the authors'
RealNVP that left half the coordinates untouched — maps ``(e, η)`` to a standard Gaussian.
Its negative log-likelihood, inside the KL term, is the independence term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import zuko
from torch import nn

from personax.crl.config import CRLConfig


def mlp(n_in: int, n_out: int, hidden: int, layers: int) -> nn.Sequential:
    """A plain MLP with ``layers`` hidden layers of width ``hidden``."""
    modules: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    modules.append(nn.Linear(width, n_out))
    return nn.Sequential(*modules)


@dataclass(frozen=True)
class LatentLayout:
    """Where each latent lives: ``s`` first, then each modality's ``z`` block in given order."""

    modalities: tuple[str, ...]
    latent_dims: tuple[int, ...]  # per modality
    shared_dims: int

    @property
    def n_causal(self) -> int:
        return self.shared_dims + sum(self.latent_dims)

    @property
    def names(self) -> list[str]:
        names = [f"s_{i}" for i in range(self.shared_dims)]
        for modality, dims in zip(self.modalities, self.latent_dims, strict=True):
            names += [f"z_{modality}_{i}" for i in range(dims)]
        return names

    def block_of(self) -> list[str]:
        """The block (``"shared"`` or a modality name) of every latent, in order."""
        blocks = ["shared"] * self.shared_dims
        for modality, dims in zip(self.modalities, self.latent_dims, strict=True):
            blocks += [modality] * dims
        return blocks

    def interface_mask(self, per_modality: int | None) -> list[bool]:
        """Which latents may take part in cross-modal edges: the first ``per_modality`` of each
        modality block (all when None; shared latents always)."""
        mask = [True] * self.shared_dims
        for dims in self.latent_dims:
            k = dims if per_modality is None else min(per_modality, dims)
            mask += [True] * k + [False] * (dims - k)
        return mask

    def slices(self) -> dict[str, slice]:
        out = {"shared": slice(0, self.shared_dims)}
        start = self.shared_dims
        for modality, dims in zip(self.modalities, self.latent_dims, strict=True):
            out[modality] = slice(start, start + dims)
            start += dims
        return out


def make_flow(features: int, config: CRLConfig) -> zuko.flows.Flow:
    """The zuko flow that maps (e, η) to a standard Gaussian (see ``CRLConfig.flow``)."""
    if config.flow == "coupling" and features >= 2:
        return zuko.flows.NSF(
            features,
            transforms=config.flow_transforms,
            hidden_features=(config.flow_hidden, config.flow_hidden),
            passes=2,  # coupling layers
            randperm=True,  # a fresh permutation between layers: every coordinate is transformed
        )
    bins = 8
    transforms = [
        zuko.flows.UnconditionalTransform(
            zuko.transforms.MonotonicRQSTransform,
            0.01 * torch.randn(features, bins),
            0.01 * torch.randn(features, bins),
            0.01 * torch.randn(features, bins - 1),
        )
        for _ in range(config.flow_transforms)
    ]
    base = zuko.flows.UnconditionalDistribution(
        zuko.distributions.DiagNormal, torch.zeros(features), torch.ones(features), buffer=True
    )
    return zuko.flows.Flow(transforms, base)


class CausalPrior(nn.Module):
    """log p(v, η) for causal latents ``v`` (B × L) and measurement noises ``η`` (B × N)."""

    def __init__(self, layout: LatentLayout, n_noise: int, config: CRLConfig) -> None:
        super().__init__()
        n = layout.n_causal
        self.n = n
        blocks = layout.block_of()
        if config.causal_order == "index":
            allowed = torch.tril(torch.ones(n, n), diagonal=-1)
        else:
            allowed = 1.0 - torch.eye(n)
        # Nothing causes a shared latent (it is a root by definition of s).
        shared = torch.tensor([b == "shared" for b in blocks])
        allowed[shared, :] = 0.0
        if not config.shared_causes:
            allowed[:, shared] = 0.0
        cross = torch.tensor(
            [[float(bi != bj and "shared" not in (bi, bj)) for bj in blocks] for bi in blocks]
        )
        # Cross-modal edges may only join each modality's leading "interface" latents.
        interface = torch.tensor(layout.interface_mask(config.cross_modal_latents))
        allowed = allowed * (1.0 - cross * ~(interface[:, None] & interface[None, :]))
        self.register_buffer("allowed", allowed)
        self.register_buffer("cross_modal", cross * allowed)
        hidden = config.causal_hidden
        # One small MLP per latent, evaluated in parallel with batched weights. The edge
        # strength j → i is the norm of the first-layer weights that read v_j in latent i's
        # network (as in NOTEARS-MLP): a separate multiplier on the inputs would let the L1
        # penalty be dodged by shrinking it and growing the weights behind it.
        self.w1 = nn.Parameter(0.1 * torch.randn(n, n, hidden) / hidden**0.5)
        self.b1 = nn.Parameter(torch.zeros(n, hidden))
        self.w2 = nn.Parameter(torch.zeros(n, hidden, 2))
        self.b2 = nn.Parameter(torch.zeros(n, 2))
        self.flow = make_flow(n + n_noise, config)

    def adjacency(self) -> torch.Tensor:
        """Effective weighted adjacency, entry [i, j] = strength of j → i (0 where forbidden)."""
        return torch.sqrt((self.w1 * self.w1).sum(-1) + 1e-12) * self.allowed

    def noise(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise estimates e (B × L) and log|det ∂e/∂v| (B,)."""
        # h_i(v_i, parents) is affine in v_i with a location and scale computed from the
        # allowed parents only, so it is invertible in v_i with an exact log-determinant.
        weights = self.w1 * self.allowed.unsqueeze(-1)
        hidden = torch.tanh(torch.einsum("bj,ijh->bih", v, weights) + self.b1)
        out = torch.einsum("bih,iho->bio", hidden, self.w2) + self.b2
        loc, log_scale = out[..., 0], 2.0 * torch.tanh(out[..., 1] / 2.0)
        e = (v - loc) * torch.exp(-log_scale)
        return e, -log_scale.sum(dim=-1)

    def log_prob(self, v: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
        e, log_det = self.noise(v)
        return self.flow().log_prob(torch.cat([e, eta], dim=-1)) + log_det

    def sparsity(self) -> torch.Tensor:
        """L1 on the cross-modal block (the sparse edges the theory relies on) + a tenth elsewhere."""
        weights = self.adjacency().abs()
        return (weights * self.cross_modal).sum() + 0.1 * (weights * (1 - self.cross_modal)).sum()

    def acyclicity(self) -> torch.Tensor:
        """NOTEARS h(A) = tr(exp(A∘A)) − L; zero exactly when the weighted graph is acyclic."""
        weights = self.adjacency()
        return torch.linalg.matrix_exp(weights * weights).diagonal().sum() - self.n


# Key of the per-modality shared-latent means among the agreement groups of ``posterior``.
SHARED_GROUP = "__shared__"


def product_of_experts(means: list[torch.Tensor], precisions: list[torch.Tensor]):
    """Mean and log-variance of the product of Gaussian experts (precision-weighted)."""
    precision = torch.stack(precisions).sum(0)
    mean = (torch.stack(means) * torch.stack(precisions)).sum(0) / precision
    return mean, -torch.log(precision)


def _gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor):
    return -0.5 * (((x - mean) ** 2) * torch.exp(-log_var) + log_var + 1.8378770664093453)


class MultiMeasurementCRL(nn.Module):
    """Encoders, decoders and the causal prior; ``loss`` returns the training objective.

    ``measurements`` lists, per modality in order, the input widths of its measurements.
    """

    def __init__(
        self,
        measurements: dict[str, list[int]],
        latent_dims: dict[str, int],
        shared_dims: int,
        config: CRLConfig,
    ) -> None:
        super().__init__()
        self.config = config
        # Multiplies beta; the trainer ramps it up from 0 during a KL warm-up (beta_warmup).
        self.kl_weight = 1.0
        self.modalities = tuple(measurements)
        self.widths = {m: list(w) for m, w in measurements.items()}
        self.layout = LatentLayout(
            self.modalities, tuple(latent_dims[m] for m in self.modalities), shared_dims
        )
        h, depth = config.hidden, config.layers
        self.noise_dims = {
            m: config.noise_dims if len(w) > 1 else config.single_noise_dims
            for m, w in self.widths.items()
        }
        self.encoders = nn.ModuleDict()
        self.decoders = nn.ModuleDict()
        for m in self.modalities:
            d, q = latent_dims[m], self.noise_dims[m]
            for k, width in enumerate(self.widths[m]):
                self.encoders[f"{m}_{k}"] = mlp(width, 2 * (d + q), h, depth)
                self.decoders[f"{m}_{k}"] = mlp(shared_dims + d + q, width, h, depth)
        # log σ of the Gaussian decoder of each measurement whose variance is learned (see
        # CRLConfig.recon_variance); the others keep unit variance.
        learned = {
            "unit": (),
            "learned": self.modalities,
            "learned-multi": [m for m in self.modalities if len(self.widths[m]) > 1],
        }[config.recon_variance]
        self.log_sigma = nn.ParameterDict(
            {
                f"{m}_{k}": nn.Parameter(torch.zeros(()))
                for m in learned
                for k in range(len(self.widths[m]))
            }
        )
        total_width = sum(sum(w) for w in self.widths.values())
        self.shared_encoder = None
        self.shared_encoders = nn.ModuleDict()
        if shared_dims and config.shared_inference == "joint":
            self.shared_encoder = mlp(total_width, 2 * shared_dims, h, depth)
        elif shared_dims:
            for m in self.modalities:
                self.shared_encoders[m] = mlp(sum(self.widths[m]), 2 * shared_dims, h, depth)
        # The per-modality s sits beside the interface latents in the critic's inputs.
        seen = shared_dims if self.shared_encoders else 0
        n_noise = sum(self.noise_dims[m] * len(w) for m, w in self.widths.items())
        self.prior = CausalPrior(self.layout, n_noise, config)
        self.critics = nn.ModuleDict()
        self.w_cross = config.cross_weight(shared_dims)
        if self.w_cross > 0:
            for a, m in enumerate(self.modalities):
                for other in self.modalities[a + 1 :]:
                    self.critics[f"{m}__{other}"] = GatedCritic(
                        seen + self._interface_dims(m),
                        seen + self._interface_dims(other),
                        config.flow_hidden,
                    )

    def _interface_dims(self, modality: str) -> int:
        dims = self.layout.latent_dims[self.modalities.index(modality)]
        k = self.config.cross_modal_latents
        return dims if k is None else min(k, dims)

    @property
    def keys(self) -> list[str]:
        """Measurement keys ``<modality>.<k>`` of the inputs, in order."""
        return [f"{m}.{k}" for m in self.modalities for k in range(len(self.widths[m]))]

    def posterior(self, batch: dict[str, torch.Tensor]):
        """Means and log-variances of q(v | x) and q(η | x), plus the groups of means that must
        agree: each modality's per-measurement z means and, with per-modality shared inference,
        the modalities' s means (under :data:`SHARED_GROUP`)."""
        v_mean, v_logvar, eta_mean, eta_logvar = [], [], [], []
        per_measurement: dict[str, list[torch.Tensor]] = {}
        if self.shared_encoder is not None:
            stats = self.shared_encoder(torch.cat([batch[k] for k in self.keys], dim=-1))
            mean, logvar = stats.chunk(2, dim=-1)
            v_mean.append(mean)
            v_logvar.append(logvar.clamp(-12, 6))
        if self.shared_encoders:
            means, precisions = [], []
            for m, encoder in self.shared_encoders.items():
                inputs = [batch[f"{m}.{k}"] for k in range(len(self.widths[m]))]
                stats = encoder(torch.cat(inputs, dim=-1))
                mean, logvar = stats.chunk(2, dim=-1)
                means.append(mean)
                precisions.append(torch.exp(-logvar.clamp(-12, 6)))
            mean, logvar = product_of_experts(means, precisions)
            v_mean.append(mean)
            v_logvar.append(logvar)
            # The modalities' s means must agree, like a modality's measurements' z.
            per_measurement[SHARED_GROUP] = means
        for m, d in zip(self.modalities, self.layout.latent_dims, strict=True):
            q = self.noise_dims[m]
            means, precisions = [], []
            for k in range(len(self.widths[m])):
                stats = self.encoders[f"{m}_{k}"](batch[f"{m}.{k}"])
                z_mean, z_logvar = stats[:, :d], stats[:, d : 2 * d].clamp(-12, 6)
                eta_mean.append(stats[:, 2 * d : 2 * d + q])
                eta_logvar.append(stats[:, 2 * d + q :].clamp(-12, 6))
                means.append(z_mean)
                precisions.append(torch.exp(-z_logvar))
            per_measurement[m] = means
            if self.config.combine == "poe":
                # Product of Gaussian experts: the measurements are independent given z_m.
                mean, logvar = product_of_experts(means, precisions)
                v_mean.append(mean)
                v_logvar.append(logvar)
            else:
                variance = (1.0 / torch.stack(precisions)).mean(0) / len(means)
                v_mean.append(torch.stack(means).mean(0))
                v_logvar.append(torch.log(variance))
        return (
            torch.cat(v_mean, -1),
            torch.cat(v_logvar, -1),
            torch.cat(eta_mean, -1) if eta_mean else None,
            torch.cat(eta_logvar, -1) if eta_logvar else None,
            per_measurement,
        )

    def _reconstruction_nll(self, name: str, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """−log N(x; x̂, σ²) per row up to a constant, averaged over the batch (σ = 1 unless
        measurement ``name`` learns its variance)."""
        squared = ((x_hat - x) ** 2).sum(-1).mean()
        if name not in self.log_sigma:
            return 0.5 * squared
        # σ ≥ 0.01: a measurement reconstructed exactly must not drive the likelihood to ∞.
        log_sigma = self.log_sigma[name].clamp_min(-4.6)
        return 0.5 * squared * torch.exp(-2.0 * log_sigma) + x.shape[-1] * log_sigma

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Posterior means of the causal latents (s, z_1, …, z_M), B × L."""
        return self.posterior(batch)[0]

    def loss(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        v_mean, v_logvar, eta_mean, eta_logvar, per_measurement = self.posterior(batch)
        v = v_mean + torch.exp(0.5 * v_logvar) * _noise_like(v_mean, generator)
        batch_size = v.shape[0]
        if eta_mean is not None:
            eta = eta_mean + torch.exp(0.5 * eta_logvar) * _noise_like(eta_mean, generator)
            log_q = _gaussian_log_density(eta, eta_mean, eta_logvar).sum(-1)
        else:
            eta = v.new_zeros(batch_size, 0)
            log_q = v.new_zeros(batch_size)
        log_q = log_q + _gaussian_log_density(v, v_mean, v_logvar).sum(-1)
        kl = (log_q - self.prior.log_prob(v, eta)).mean()

        slices = self.layout.slices()
        shared = v[:, slices["shared"]]
        recon = v.new_zeros(())
        ima = v.new_zeros(())
        offset = 0
        for m in self.modalities:
            z, q = v[:, slices[m]], self.noise_dims[m]
            for k in range(len(self.widths[m])):
                key = f"{m}.{k}"
                eta_k = eta[:, offset : offset + q]
                offset += q
                decoder = self.decoders[f"{m}_{k}"]
                code = torch.cat([shared, z, eta_k], dim=-1)
                x_hat = decoder(code)
                recon = recon + self._reconstruction_nll(f"{m}_{k}", x_hat, batch[key])
                in_scope = c.ima_scope == "all" or len(self.widths[m]) == 1
                if c.w_ima > 0 and in_scope and shared.shape[1] + z.shape[1] > 1:
                    # The causal latents' columns only (η is nuisance), on a few rows: the
                    # contrast is a per-row average, so a sub-batch estimates it cheaply.
                    rows = code[: c.ima_rows]
                    ima = ima + ima_contrast(decoder, rows, shared.shape[1] + z.shape[1])

        agree = v.new_zeros(())
        for means in per_measurement.values():
            agree = agree + agreement(means, c.agreement, c.temperature)

        cross = v.new_zeros(())
        gates = v.new_zeros(())
        own_shared = dict(zip(self.modalities, per_measurement.get(SHARED_GROUP, ()), strict=False))
        for name, critic in self.critics.items():
            first, second = name.split("__")
            za = v_mean[:, slices[first]][:, : self._interface_dims(first)]
            zb = v_mean[:, slices[second]][:, : self._interface_dims(second)]
            if own_shared:
                za = torch.cat([own_shared[first], za], -1)
                zb = torch.cat([own_shared[second], zb], -1)
            cross = cross + critic.info_nce(za, zb)
            gates = gates + critic.gate_l1()

        sparse = self.prior.sparsity()
        total = (
            c.w_recon * recon
            + c.beta * self.kl_weight * kl
            + c.w_agree * agree
            + self.w_cross * cross
            + c.w_gate * gates
            + c.w_sparse * sparse
            + c.w_ima * ima
        )
        parts = {"recon": recon, "kl": kl, "agree": agree, "cross": cross, "sparse": sparse}
        if c.w_ima > 0:
            parts["ima"] = ima
        if c.causal_order == "learned":
            acyclic = self.prior.acyclicity()
            total = total + c.w_acyclic * acyclic
            parts["acyclic"] = acyclic
        return total, {name: float(value.detach()) for name, value in parts.items()}


def ima_contrast(decoder: nn.Module, code: torch.Tensor, columns: int) -> torch.Tensor:
    """Independent mechanism analysis (Gresele et al., 2021) over the first ``columns`` inputs
    of ``decoder``: the batch mean of ``Σ_i log‖J_i‖ − ½ log det(JᵀJ)`` for those Jacobian
    columns J_i, which is 0 exactly when they are orthogonal — each latent changes the
    measurement in its own direction (true of e.g. rotation and hue of an image, not of their
    mixtures).

    Written here because no library computes it; the Jacobian comes from one forward-mode
    pass per column (``torch.func.jvp``), differentiable for training.
    """
    jac = []
    for i in range(columns):
        tangent = torch.zeros_like(code)
        tangent[:, i] = 1.0
        jac.append(torch.func.jvp(decoder, (code,), (tangent,))[1])
    stacked = torch.stack(jac, dim=-1)  # B × D × columns
    gram = stacked.transpose(1, 2) @ stacked + 1e-6 * torch.eye(columns, device=code.device)
    log_norms = 0.5 * torch.log(torch.diagonal(gram, dim1=1, dim2=2)).sum(-1)
    return (log_norms - 0.5 * torch.logdet(gram)).mean()


def agreement(means: list[torch.Tensor], kind: str, temperature: float) -> torch.Tensor:
    """How much the measurements of one modality disagree about z (0 with one measurement)."""
    if len(means) < 2:
        return means[0].new_zeros(())
    if kind == "mse":
        stacked = torch.stack(means)  # K × B × d
        centre = stacked.mean(0, keepdim=True)
        scale = stacked.var(dim=(0, 1)).clamp_min(1e-6)  # scale-free: no gain from shrinking
        return (((stacked - centre) ** 2) / scale).mean()
    total, pairs = means[0].new_zeros(()), 0
    for a in range(len(means)):
        for b in range(a + 1, len(means)):
            logits = -torch.cdist(means[a], means[b]).pow(2) / temperature
            total = total + _symmetric_cross_entropy(logits)
            pairs += 1
    return total / pairs


def _symmetric_cross_entropy(logits: torch.Tensor) -> torch.Tensor:
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (
        nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)
    )


class GatedCritic(nn.Module):
    """Scores every (row of modality a, row of modality b) pair; gates select the latents used.

    The gates (in [0, 1], L1-penalised) make the cross-modal link run through few latents,
    which is the sparsity of cross-modal edges that singles out e.g. z11 and z21.
    """

    def __init__(self, dims_a: int, dims_b: int, hidden: int, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature
        self.gate_logits = nn.Parameter(torch.zeros(dims_a + dims_b))
        self.dims_a = dims_a
        # Separable critic: cosine of f(z_a) and g(z_b) over a temperature, all B × B scores from
        # one matrix product.
        self.embed_a = mlp(dims_a, hidden, hidden, 1)
        self.embed_b = mlp(dims_b, hidden, hidden, 1)

    def gates(self) -> torch.Tensor:
        return torch.sigmoid(self.gate_logits)

    def gate_l1(self) -> torch.Tensor:
        return self.gates().sum()

    def info_nce(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        g = self.gates()
        fa = self.embed_a(za * g[: self.dims_a])
        fb = self.embed_b(zb * g[self.dims_a :])
        fa, fb = nn.functional.normalize(fa, dim=-1), nn.functional.normalize(fb, dim=-1)
        return _symmetric_cross_entropy(fa @ fb.T / self.temperature)


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
