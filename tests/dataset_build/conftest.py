"""Fixtures for the dataset build tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from build_fixtures import Project, make_project


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    import torch

    from personax.build.text import TextEmbedder

    torch.set_num_threads(2)
    return TextEmbedder()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "project")
