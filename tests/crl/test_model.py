"""The CRL model's parts: shapes, the exact change of variables, masks, agreement, config."""

from __future__ import annotations

import pytest
import torch

from personax.crl.config import CRLConfig
from personax.crl.model import (
    CausalPrior,
    LatentLayout,
    MultiMeasurementCRL,
    agreement,
    ima_contrast,
)
from personax.errors import BadInput

torch.set_num_threads(1)
SMALL = CRLConfig(hidden=16, causal_hidden=8, flow_hidden=16, flow_transforms=2)


def _model(shared: int = 0, config: CRLConfig = SMALL) -> MultiMeasurementCRL:
    torch.manual_seed(0)
    return MultiMeasurementCRL({"a": [5, 6, 7], "b": [4]}, {"a": 2, "b": 3}, shared, config)


def _batch(rows: int = 12) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    widths = {"a.0": 5, "a.1": 6, "a.2": 7, "b.0": 4}
    return {k: torch.randn(rows, w, generator=g) for k, w in widths.items()}


def test_layout_names_and_blocks():
    layout = LatentLayout(("digit", "fashion"), (2, 1), 1)
    assert layout.names == ["s_0", "z_digit_0", "z_digit_1", "z_fashion_0"]
    assert layout.block_of() == ["shared", "digit", "digit", "fashion"]
    assert layout.slices()["digit"] == slice(1, 3)


def test_encode_shape_and_loss_is_finite_scalar():
    model = _model(shared=1)
    batch = _batch()
    assert model.encode(batch).shape == (12, 1 + 2 + 3)
    loss, parts = model.loss(batch, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert {"recon", "kl", "agree", "cross", "sparse"} <= set(parts)
    loss.backward()
    assert all(p.grad is not None for p in model.encoders.parameters())


def test_adjacency_is_strictly_lower_triangular_and_shared_latents_are_roots():
    layout = LatentLayout(("a", "b"), (2, 2), 1)
    prior = CausalPrior(layout, 3, SMALL.replace(cross_modal_latents=None))
    with torch.no_grad():
        prior.w1.fill_(1.0)
    a = prior.adjacency()
    assert torch.all(torch.triu(a) == 0)
    assert torch.all(a[0] == 0)  # nothing causes s_0
    # Only a → b edges are cross-modal (b comes after a in the order).
    assert prior.cross_modal[3:, 1:3].sum() == 4 and prior.cross_modal[:3].sum() == 0


def test_learned_order_allows_both_directions_and_penalises_cycles():
    layout = LatentLayout(("a",), (3,), 0)
    prior = CausalPrior(layout, 0, SMALL.replace(causal_order="learned"))
    with torch.no_grad():
        prior.w1.zero_()
        prior.w1[1, 0] = 1.0
    assert float(prior.acyclicity().detach()) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        prior.w1[0, 1] = 1.0  # a two-cycle
    assert float(prior.acyclicity().detach()) > 0.1


def test_noise_log_det_matches_autograd_jacobian():
    layout = LatentLayout(("a", "b"), (2, 2), 0)
    torch.manual_seed(3)
    prior = CausalPrior(layout, 0, SMALL)
    with torch.no_grad():
        prior.w1.normal_()
        prior.w2.normal_()
    v = torch.randn(4)
    jac = torch.autograd.functional.jacobian(lambda x: prior.noise(x[None])[0][0], v)
    assert torch.allclose(torch.triu(jac, 1), torch.zeros_like(jac))  # causal order respected
    _, log_det = prior.noise(v[None])
    assert float(log_det) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-5)


@pytest.mark.parametrize("flow", ["elementwise", "coupling"])
def test_prior_density_integrates_to_one(flow):
    """Two latents, no η: the prior is a 2-D density, so it must integrate to ~1."""
    layout = LatentLayout(("a",), (2,), 0)
    torch.manual_seed(0)
    prior = CausalPrior(layout, 0, SMALL.replace(flow=flow))
    with torch.no_grad():
        prior.w1.fill_(0.5)
        prior.w2.normal_(std=0.3)
    grid = torch.linspace(-8, 8, 161)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    with torch.no_grad():
        density = prior.log_prob(torch.stack([xx, yy], -1).reshape(-1, 2), torch.zeros(161**2, 0))
    step = float(grid[1] - grid[0])
    assert float(density.exp().sum()) * step**2 == pytest.approx(1.0, abs=0.02)


def test_single_measurement_modality_has_no_eta_by_default():
    model = _model()
    assert model.noise_dims == {"a": SMALL.noise_dims, "b": 0}
    with_eta = _model(config=SMALL.replace(single_noise_dims=3))
    assert with_eta.noise_dims["b"] == 3
    _, _, eta_mean, _, _ = with_eta.posterior(_batch())
    assert eta_mean.shape == (12, 3 * SMALL.noise_dims + 3)


@pytest.mark.parametrize("kind", ["infonce", "mse"])
def test_agreement_is_lower_when_measurements_agree(kind):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 2, generator=g)
    agreeing = [z + 0.01 * torch.randn(64, 2, generator=g) for _ in range(3)]
    disagreeing = [torch.randn(64, 2, generator=g) for _ in range(3)]
    assert agreement(agreeing, kind, 0.5) < agreement(disagreeing, kind, 0.5)
    assert float(agreement([z], kind, 0.5)) == 0.0  # one measurement: nothing to agree on


def test_config_validates_and_round_trips():
    config = CRLConfig(epochs=3)
    assert CRLConfig.from_dict(config.to_dict()) == config
    with pytest.raises(BadInput, match="causal_order"):
        CRLConfig(causal_order="random")
    with pytest.raises(BadInput, match="flow"):
        CRLConfig(flow="realnvp")
    with pytest.raises(BadInput, match="lr"):
        CRLConfig(lr=0)
    with pytest.raises(BadInput, match="Unknown CRL config"):
        CRLConfig.from_dict({"epochs": 3, "colour": "red"})


def test_edge_strength_is_the_norm_of_the_weights_reading_the_parent():
    """Shrinking an input multiplier cannot dodge the L1: the strength is the weights' norm."""
    layout = LatentLayout(("a",), (2,), 0)
    prior = CausalPrior(layout, 0, SMALL)
    with torch.no_grad():
        prior.w1.zero_()
        prior.w1[1, 0, 0] = 3.0
        prior.w1[1, 0, 1] = 4.0
    assert float(prior.adjacency()[1, 0]) == pytest.approx(5.0, abs=1e-5)
    assert float(prior.sparsity()) == pytest.approx(0.5, abs=1e-5)  # within a block: a tenth


def test_cross_modal_edges_only_join_interface_latents():
    layout = LatentLayout(("a", "b"), (2, 2), 0)
    prior = CausalPrior(layout, 0, SMALL.replace(cross_modal_latents=1))
    with torch.no_grad():
        prior.w1.fill_(1.0)
    a = prior.adjacency()
    assert float(a[2, 0]) > 0  # z_a_0 -> z_b_0: both are interface latents
    assert float(a[2, 1]) == 0 and float(a[3, 0]) == 0 and float(a[3, 1]) == 0
    assert float(a[1, 0]) > 0 and float(a[3, 2]) > 0  # within-modality edges stay allowed
    model = _model(config=SMALL.replace(cross_modal_latents=1))
    critic = model.critics["a__b"]
    assert critic.gate_logits.shape == (2,)  # one latent of each modality reaches the critic
    with pytest.raises(BadInput, match="cross_modal_latents"):
        SMALL.replace(cross_modal_latents=0)


def test_ima_contrast_is_zero_for_orthogonal_columns_and_positive_otherwise():
    orthogonal = torch.nn.Linear(2, 5, bias=False)
    mixed = torch.nn.Linear(2, 5, bias=False)
    with torch.no_grad():
        orthogonal.weight.copy_(torch.tensor([[2.0, 0], [0, 1], [0, 0], [0, 0], [0, 0]]))
        mixed.weight.copy_(torch.tensor([[1.0, 1], [0, 1], [0, 0], [0, 0], [0, 0]]))
    code = torch.randn(7, 3)  # the last input is nuisance and is left out
    decoder = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), orthogonal)
    with torch.no_grad():
        decoder[0].weight.copy_(torch.eye(3)[:2])
    assert float(ima_contrast(decoder, code, 2)) == pytest.approx(0.0, abs=1e-4)
    decoder[1] = mixed
    assert float(ima_contrast(decoder, code, 2)) == pytest.approx(0.5 * 0.6931, abs=1e-3)


def test_ima_term_enters_the_loss_when_weighted():
    model = _model(config=SMALL.replace(w_ima=1.0, ima_rows=4))
    loss, parts = model.loss(_batch(), torch.Generator().manual_seed(0))
    assert "ima" in parts and parts["ima"] >= 0 and torch.isfinite(loss)
    loss.backward()


def test_config_rejects_unknown_schedule_and_threshold():
    with pytest.raises(BadInput, match="lr_schedule"):
        SMALL.replace(lr_schedule="step")
    with pytest.raises(BadInput, match="graph_threshold"):
        SMALL.replace(graph_threshold=1.5)


@pytest.mark.parametrize("name", ["beta", "w_recon", "w_agree", "w_cross", "w_sparse", "w_ima"])
@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), "1"])
def test_config_rejects_negative_or_non_finite_loss_weights(name, value):
    with pytest.raises(BadInput, match=f"{name} must be a finite number >= 0"):
        SMALL.replace(**{name: value})
    assert SMALL.replace(**{name: 0.0}).to_dict()[name] == 0.0  # zero switches a term off


@pytest.mark.parametrize("mode", ["unit", "learned", "learned-multi"])
def test_reconstruction_is_the_gaussian_nll_with_the_chosen_variance(mode):
    model = _model(config=SMALL.replace(recon_variance=mode))
    with torch.no_grad():
        for parameter in model.log_sigma.values():
            parameter.fill_(-1.0)
    x, x_hat = torch.zeros(3, 4), torch.full((3, 4), 0.5)
    squared = 4 * 0.25
    learned = 0.5 * squared * torch.exp(torch.tensor(2.0)) - 4.0
    expect_multi = learned if mode != "unit" else 0.5 * squared
    expect_single = learned if mode == "learned" else 0.5 * squared
    assert float(model._reconstruction_nll("a_1", x_hat, x)) == pytest.approx(float(expect_multi))
    assert float(model._reconstruction_nll("b_0", x_hat, x)) == pytest.approx(float(expect_single))
    assert (
        set(model.log_sigma)
        == {
            "unit": set(),
            "learned": {"a_0", "a_1", "a_2", "b_0"},
            "learned-multi": {"a_0", "a_1", "a_2"},
        }[mode]
    )
    if mode != "unit":
        # σ is floored at 0.01 so that an exactly reconstructed measurement stays finite.
        with torch.no_grad():
            model.log_sigma["a_0"].fill_(-50.0)
        assert torch.isfinite(model._reconstruction_nll("a_0", x, x))


def test_config_rejects_unknown_recon_variance():
    with pytest.raises(BadInput, match="recon_variance"):
        SMALL.replace(recon_variance="per-pixel")


def test_ima_scope_single_touches_only_single_measurement_decoders():
    config = SMALL.replace(w_ima=1.0, ima_rows=4, ima_scope="single")
    torch.manual_seed(0)
    multi_only = MultiMeasurementCRL({"a": [5, 6], "c": [3, 4]}, {"a": 2, "c": 2}, 0, config)
    batch = {k: v for k, v in _batch().items() if k in ("a.0", "a.1")}
    batch |= {"c.0": torch.randn(12, 3), "c.1": torch.randn(12, 4)}
    assert multi_only.loss(batch, torch.Generator().manual_seed(0))[1]["ima"] == 0.0
    single = _model(config=config).loss(_batch(), torch.Generator().manual_seed(0))[1]["ima"]
    every = _model(config=config.replace(ima_scope="all"))
    assert 0.0 < single < every.loss(_batch(), torch.Generator().manual_seed(0))[1]["ima"]
    with pytest.raises(BadInput, match="ima_scope"):
        SMALL.replace(ima_scope="digit")


def test_shared_causes_false_makes_shared_latents_parents_of_nothing():
    layout = LatentLayout(("a", "b"), (2, 2), 1)
    prior = CausalPrior(layout, 3, SMALL.replace(cross_modal_latents=None, shared_causes=False))
    with torch.no_grad():
        prior.w1.fill_(1.0)
    a = prior.adjacency()
    assert torch.all(a[:, 0] == 0) and torch.all(a[0] == 0)
    assert a[2, 1] > 0  # edges inside a modality stay allowed
    # The default keeps the paper's s → z edges.
    assert CausalPrior(layout, 3, SMALL).allowed[1:, 0].sum() == 4


def test_per_modality_shared_inference_multiplies_and_compares_the_modalities_s():
    config = SMALL.replace(shared_inference="per-modality")
    model = _model(shared=1, config=config)
    assert model.shared_encoder is None and set(model.shared_encoders) == {"a", "b"}
    batch = _batch()
    v_mean, v_logvar, _, _, groups = model.posterior(batch)
    s_a, s_b = groups["__shared__"]
    # The posterior of s is the precision-weighted product of the two modalities' experts.
    assert torch.all(v_mean[:, 0] <= torch.maximum(s_a, s_b)[:, 0] + 1e-6)
    assert torch.all(v_mean[:, 0] >= torch.minimum(s_a, s_b)[:, 0] - 1e-6)
    assert torch.all(v_logvar[:, 0] < 6.0)
    # The critic sees each modality's s beside its interface latents (1 + 1 on each side).
    critic = model.critics["a__b"]
    assert critic.gate_logits.shape == (4,)
    loss, parts = model.loss(batch, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and parts["agree"] > 0
    assert all(p.grad is not None for p in model.shared_encoders.parameters())
    # s of modality b is read from b's inputs only.
    changed = dict(batch, **{"a.0": batch["a.0"] + 1.0})
    s_b_again = model.posterior(changed)[4]["__shared__"][1]
    assert torch.equal(s_b, s_b_again)


def test_config_rejects_unknown_shared_inference():
    with pytest.raises(BadInput, match="shared_inference"):
        CRLConfig(shared_inference="both")


def test_a_saved_record_without_shared_inference_means_the_joint_encoder(tmp_path):
    from personax.cli.options import crl_config_from_file

    assert CRLConfig.from_record({}).shared_inference == "joint"
    assert CRLConfig.from_dict({}).shared_inference == "per-modality"  # plain fields: default
    record, plain = tmp_path / "config.json", tmp_path / "plain.json"
    record.write_text('{"config": {"epochs": 3}}')
    plain.write_text('{"epochs": 3}')
    assert crl_config_from_file(record).shared_inference == "joint"
    assert crl_config_from_file(plain).shared_inference == "per-modality"
    # Restarts were chosen by the whole validation loss before restart_selection existed.
    assert crl_config_from_file(record).restart_selection == "loss"
    assert crl_config_from_file(plain).restart_selection == "auto"


def test_the_critic_weighs_w_cross_shared_when_there_are_shared_latents():
    from personax.crl.model import MultiMeasurementCRL

    widths, dims = {"m1": [6, 6], "m2": [5]}, {"m1": 2, "m2": 2}
    config = CRLConfig()
    assert MultiMeasurementCRL(widths, dims, 0, config).w_cross == config.w_cross == 20.0
    assert MultiMeasurementCRL(widths, dims, 1, config).w_cross == config.w_cross_shared == 5.0
    # A record saved before the field existed weighed w_cross with shared latents too.
    old = CRLConfig.from_record({"w_cross": 7.0})
    assert MultiMeasurementCRL(widths, dims, 1, old).w_cross == 7.0
    # 0 switches the critic off.
    assert not MultiMeasurementCRL(widths, dims, 1, config.replace(w_cross_shared=0.0)).critics
    with pytest.raises(BadInput, match="w_cross_shared"):
        config.replace(w_cross_shared=-1.0)
