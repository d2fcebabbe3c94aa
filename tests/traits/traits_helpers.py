"""Helpers shared by the trait-inference tests (a module with a unique name, so that it never
collides with another folder's conftest)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fake_llm_server import FakeLLMServer


def write_models(path: Path, server: FakeLLMServer, names=("chatgpt", "gemini"), **extra) -> Path:
    """A models file pointing every model at ``server`` with test-sized timeouts."""
    options = {"timeout": 1.0, "backoff_base": 0.01, "backoff_max": 0.2, "max_retries": 3}
    options.update(extra)
    blocks = []
    for name in names:
        lines = [
            "[[model]]",
            f'name = "{name}"',
            f'base_url = "{server.base_url}"',
            f'model = "fake-{name}"',
        ]
        for key, value in options.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {str(value).lower()}")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value!r}")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def make_roster(
    n: int, prefix: str = "Person", special: dict[int, str] | None = None
) -> pd.DataFrame:
    names = [f"{prefix} {i}" for i in range(n)]
    for index, tag in (special or {}).items():
        names[index] = f"{names[index]} {tag}"
    return pd.DataFrame(
        {"id": [f"p{i:03d}" for i in range(n)], "name": names, "context": ["NBA"] * n}
    )
