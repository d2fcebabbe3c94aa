"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest

# Keep test runs deterministic and small on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def cli():
    """Run the personax CLI in-process; returns (exit_code, stdout, stderr)."""
    from personax.cli.main import main

    def _run(*args: str, capsys=None):
        return main([str(a) for a in args])

    return _run
