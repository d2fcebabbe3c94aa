"""Shared fixtures of the independence tests."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.independence.tables import personax_like


@pytest.fixture(scope="session")
def table_small() -> pd.DataFrame:
    return personax_like(300, seed=11)
