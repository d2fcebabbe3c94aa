"""Fixtures for the integration tests: an in-process CLI runner and shared small artefacts.

Every artefact is produced by the CLI itself (never by library calls), so that the
outputs of one command are checked as the inputs of the next, as a user would chain them.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_SERVER = REPO / "tests" / "traits" / "fake_llm_server.py"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def px(*args: object) -> Run:
    """Run ``personax ARGS`` in-process and capture what it prints."""
    from personax.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Run(code, out.getvalue(), err.getvalue())


def assert_bad_input(run: Run, *needles: str) -> None:
    """Exit 2, no traceback, and one error line on stderr naming every needle."""
    assert run.code == 2, (run.code, run.err)
    assert "Traceback" not in run.err
    lines = [line for line in run.err.splitlines() if line.startswith("personax: error:")]
    assert len(lines) == 1, run.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def qa_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qa")


@pytest.fixture(scope="session")
def athlete_csv(qa_dir) -> Path:
    path = qa_dir / "athletes.csv"
    run = px("data", "sample", "--kind", "athlete", "--n", 240, "--seed", 1, "--out", path)
    assert run.code == 0, run.err
    return path


@pytest.fixture(scope="session")
def tabular_npz(qa_dir) -> Path:
    path = qa_dir / "tabular.npz"
    run = px(
        "data", "crl-synthetic", "--benchmark", "tabular", "--n", 200, "--seed", 0,
        "--shared-dims", 1, "--out", path,
    )  # fmt: skip
    assert run.code == 0, run.err
    return path


CRL_FAST = ("--epochs", 1, "--batch-size", 64, "--seed", 0)


@pytest.fixture(scope="session")
def crl_run(qa_dir, tabular_npz) -> Path:
    import torch

    torch.set_num_threads(1)
    out = qa_dir / "crl_run"
    run = px(
        "crl", "train", tabular_npz, "--latent-dims", "m1=2,m2=2", "--shared-dims", 1,
        *CRL_FAST, "--out", out,
    )  # fmt: skip
    assert run.code == 0, run.err
    return out


@pytest.fixture(scope="session")
def llm_server():
    """The trait tests' fake OpenAI-compatible server, as a subprocess: yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_SERVER), "--latency", "0.005"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def write_models(path: Path, base: str, names=("chatgpt", "gemini", "llama")) -> Path:
    blocks = [
        f'[[model]]\nname = "{name}"\nbase_url = "{base}/v1"\nmodel = "{name}-model"\n'
        for name in names
    ]
    path.write_text("\n".join(blocks))
    return path
