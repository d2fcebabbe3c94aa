"""An interrupted CRL run resumes from its checkpoint and ends with the same bits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import personax.crl.train as train_module
from personax.cli.main import main
from personax.crl.baselines import train_method
from personax.crl.dataset import save_crl_dataset
from personax.crl.train import checkpoint_path
from personax.data.crl_synthetic import make_tabular
from tests.crl.test_train import TINY as TRAIN_TINY

torch.set_num_threads(1)
# The harness's tiny config, with two restarts so that a resume can cross a restart.
TINY = TRAIN_TINY.replace(epochs=5, restarts=2)
DIMS = {"m1": 2, "m2": 2}


class Interrupt:
    """A progress callback that raises Ctrl-C when the bar reaches ``at`` (of all restarts)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self, epoch: int, total: int, row: dict) -> None:
        if epoch == self.at:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def data():
    return make_tabular(300, seed=0)


@pytest.fixture(scope="module")
def uninterrupted(data):
    return train_method("personax", data, DIMS, config=TINY, seed=0)


def _fit(data, method, checkpoint, progress=None, seed=0, dims=DIMS):
    # checkpoint_every=0: save after every epoch, so an interruption anywhere is resumable.
    original = train_module.CHECKPOINT_EVERY_SECONDS
    train_module.CHECKPOINT_EVERY_SECONDS = 0.0
    try:
        return train_method(method, data, dims, config=TINY, seed=seed, progress=progress,
                            checkpoint=checkpoint)  # fmt: skip
    finally:
        train_module.CHECKPOINT_EVERY_SECONDS = original


def interrupt_validation(monkeypatch, at: int) -> None:
    """Raise Ctrl-C at the ``at``-th validation loss (just before that epoch would be saved);
    checkpoints are saved after every epoch."""
    monkeypatch.setattr(train_module, "CHECKPOINT_EVERY_SECONDS", 0.0)
    real = train_module.validation_loss
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "validation_loss", interrupted)


def _same_run(a, b) -> None:
    np.testing.assert_array_equal(
        a.latents.drop(columns="split").to_numpy(), b.latents.drop(columns="split").to_numpy()
    )
    pd.testing.assert_frame_equal(a.history, b.history)
    assert a.metrics["restart_val_losses"] == b.metrics["restart_val_losses"]
    assert a.best_epoch == b.best_epoch


# Epoch 3 of restart 0; epoch 1 of restart 1 (restart 0 finished); epoch 4 of restart 1.
@pytest.mark.parametrize("at", [3, 6, 9])
def test_an_interrupted_run_resumes_to_the_same_bits(data, uninterrupted, tmp_path, at):
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, "personax", path, Interrupt(at))
    assert path.is_file()
    resumed = _fit(data, "personax", path)
    assert resumed.resumed and not uninterrupted.resumed
    _same_run(resumed, uninterrupted)


@pytest.mark.parametrize("method", ["mmcrl", "mcl", "betavae"])
def test_baselines_resume_too(data, tmp_path, method):
    plain = train_method(method, data, DIMS, config=TINY, seed=0)
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, method, path, Interrupt(7))
    resumed = _fit(data, method, path)
    assert resumed.resumed
    _same_run(resumed, plain)


def test_a_checkpoint_of_another_run_or_a_broken_one_is_not_resumed(data, tmp_path):
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, "personax", path, Interrupt(3), seed=1)  # another seed
    fresh = _fit(data, "personax", path)
    assert not fresh.resumed and fresh.checkpoint_ignored == "another run"
    path.write_bytes(b"not a checkpoint")
    broken = _fit(data, "personax", path)
    assert not broken.resumed and broken.checkpoint_ignored == "unreadable"
    # Another method on the same data: its parameters do not match.
    with pytest.raises(KeyboardInterrupt):
        _fit(data, "mcl", path, Interrupt(3))
    other = _fit(data, "personax", path)
    assert not other.resumed and other.checkpoint_ignored == "another run"
    # Nothing there: nothing to explain.
    path.unlink()
    assert _fit(data, "personax", path).checkpoint_ignored is None


def test_crl_train_resumes_after_ctrl_c_and_cleans_up(tmp_path, capsys, monkeypatch):
    npz = tmp_path / "tab.npz"
    save_crl_dataset(make_tabular(200, seed=0), npz)
    command = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--epochs", "3"]
    assert main([*command, "--out", str(tmp_path / "plain")]) == 0
    capsys.readouterr()

    out = tmp_path / "run"
    interrupt_validation(monkeypatch, 5)  # epoch 2 of restart 1
    assert main([*command, "--out", str(out)]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert checkpoint_path(out).is_file() and not out.exists()

    monkeypatch.undo()
    assert main([*command, "--out", str(out)]) == 0
    assert "resumed from an interrupted run" in capsys.readouterr().out
    assert not checkpoint_path(out).exists()
    for name in ("latents.csv", "graph.json", "metrics.json", "history.csv"):
        assert (out / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_crl_train_fresh_ignores_a_checkpoint(tmp_path, capsys, monkeypatch):
    npz = tmp_path / "tab.npz"
    save_crl_dataset(make_tabular(200, seed=0), npz)
    out = tmp_path / "run"
    command = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--epochs", "2"]
    interrupt_validation(monkeypatch, 2)
    assert main([*command, "--out", str(out)]) == 130
    assert checkpoint_path(out).is_file()
    monkeypatch.undo()
    assert main([*command, "--out", str(out), "--fresh"]) == 0
    assert "resumed" not in capsys.readouterr().out
    assert not checkpoint_path(out).exists()


def test_crl_train_says_why_a_checkpoint_was_not_resumed(tmp_path, capsys):
    npz = tmp_path / "tab.npz"
    save_crl_dataset(make_tabular(200, seed=0), npz)
    out = tmp_path / "run"
    checkpoint_path(out).write_bytes(b"truncated")
    command = ["crl", "train", str(npz), "--latent-dims", "m1=2,m2=2", "--epochs", "2"]
    assert main([*command, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "started afresh" in said and "could not be read" in said
    assert not checkpoint_path(out).exists()


def test_bench_resumes_after_ctrl_c_and_reuses_finished_runs(tmp_path, capsys, monkeypatch):
    command = ["bench", "crl", "--benchmark", "tabular", "--methods", "personax,mcl"]
    command += ["--seeds", "0,1", "--n", "150", "--epochs", "2"]
    assert main([*command, "--out", str(tmp_path / "plain")]) == 0
    capsys.readouterr()

    out = tmp_path / "bench"
    state = tmp_path / ".bench.bench-state"
    # The benchmark's 3 restarts × 2 epochs = 6 calls per run: call 16 is the third run
    # (seed 1, personax), restart 1, epoch 2.
    interrupt_validation(monkeypatch, 16)
    assert main([*command, "--out", str(out)]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert (state / "training.pt").is_file() and not out.exists()
    finished = json.loads((state / "finished.json").read_text())["rows"]
    assert [(r["method"], r["seed"]) for r in finished] == [("personax", 0), ("mcl", 0)]

    monkeypatch.undo()
    assert main([*command, "--out", str(out)]) == 0
    assert not state.exists()
    resumed = pd.read_csv(out / "results.csv")
    plain = pd.read_csv(tmp_path / "plain" / "results.csv")
    columns = [c for c in plain.columns if c != "seconds"]  # wall-clock differs
    pd.testing.assert_frame_equal(resumed[columns], plain[columns])
    # The two runs finished before Ctrl-C were reused, not trained again.
    reused = [r["seconds"] for r in finished]
    np.testing.assert_allclose(resumed["seconds"].iloc[:2], reused, rtol=1e-5)


def test_bench_state_of_other_settings_is_discarded(tmp_path, capsys):
    state = tmp_path / ".bench.bench-state"
    state.mkdir()
    (state / "finished.json").write_text('{"plan": {"benchmark": "tabular"}, "rows": []}')
    command = ["bench", "crl", "--methods", "mcl", "--seeds", "0", "--n", "150", "--epochs", "1"]
    assert main([*command, "--out", str(tmp_path / "bench")]) == 0, capsys.readouterr().err
    assert not state.exists()
    (state).mkdir()
    (state / "finished.json").write_text("{broken")
    assert main([*command, "--out", str(tmp_path / "bench"), "--fresh"]) == 0
    assert not state.exists()


def test_bench_state_without_shared_latents_is_not_reused_with_them(tmp_path):
    from personax.crl.bench import run_benchmark

    state = tmp_path / "state"
    settings = {"n": 150, "epochs": 1, "state_dir": state}
    plain = run_benchmark("tabular", ["mcl"], [0], **settings)
    assert (state / "finished.json").is_file() and "shared_dims" not in plain
    shared = run_benchmark("tabular", ["mcl"], [0], shared_dims=1, **settings)
    # Trained again on data with a shared latent, not the finished row of the plain run.
    assert shared.loc[0, "shared_dims"] == 1 and shared.loc[0, "mcc"] <= 0.8 + 1e-9
    saved = json.loads((state / "finished.json").read_text())
    assert saved["plan"]["data_options"] == {"shared_dims": 1}


def test_bench_interrupted_in_its_first_run_resumes_that_run(tmp_path, capsys, monkeypatch):
    # Before any run finished there was no finished.json, and the state folder (with the
    # training checkpoint) was deleted: every restart started again from scratch.
    command = ["bench", "crl", "--benchmark", "tabular", "--methods", "personax"]
    command += ["--seeds", "0", "--n", "150", "--epochs", "2"]
    assert main([*command, "--out", str(tmp_path / "plain")]) == 0
    out, state = tmp_path / "bench", tmp_path / ".bench.bench-state"
    interrupt_validation(monkeypatch, 4)  # restart 1, epoch 2 (3 restarts × 2 epochs)
    assert main([*command, "--out", str(out)]) == 130
    assert sorted(p.name for p in state.iterdir()) == ["training.pt"]
    monkeypatch.undo()
    epochs = []
    real = train_module.validation_loss

    def counted(*args, **kwargs):
        epochs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "validation_loss", counted)
    assert main([*command, "--out", str(out)]) == 0, capsys.readouterr().err
    assert len(epochs) == 6 - 3  # the three epochs saved before Ctrl-C were not trained again
    resumed, plain = (pd.read_csv(d / "results.csv") for d in (out, tmp_path / "plain"))
    columns = [c for c in plain.columns if c != "seconds"]
    pd.testing.assert_frame_equal(resumed[columns], plain[columns])


def test_bench_progress_counts_epochs_over_all_restarts(tmp_path):
    from personax.crl.bench import run_benchmark

    events = []
    run_benchmark(
        "tabular", ["personax"], [0], n=150, epochs=2,
        progress=lambda kind, info: events.append((kind, info)),
    )  # fmt: skip
    shown = [info["epoch"] for kind, info in events if kind == "epoch"]
    assert shown == [1, 2, 3, 4, 5, 6]


def test_a_checkpoint_with_the_modalities_in_another_order_is_not_resumed(data, tmp_path):
    # β-VAE concatenates the inputs in --latent-dims order: m2,m1 is another model with the
    # same parameter shapes, and used to resume the m1,m2 run's checkpoint.
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _fit(data, "betavae", path, Interrupt(3))
    swapped = _fit(data, "betavae", path, dims={"m2": 2, "m1": 2})
    assert not swapped.resumed and swapped.checkpoint_ignored == "another run"
