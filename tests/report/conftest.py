"""A tiny demo run shared by the report tests (the whole pipeline, minimal sizes)."""

from __future__ import annotations

import pytest

TINY = {
    "n": 300,
    "tabular_n": 300,
    "crl_epochs": 3,
    "crl_max_seconds": 10.0,
    "discovery_test": "fisherz",
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Run folder of a tiny end-to-end demo on the athlete sample (seed 0)."""
    from personax.pipeline import DemoSettings, run_demo

    out = tmp_path_factory.mktemp("tiny") / "run"
    result = run_demo(out, kind="athlete", seed=0, settings=DemoSettings(**TINY))
    return result
