"""Command-line options shared by several commands."""

from __future__ import annotations

from typing import Any

import typer

UNUSED_SEED_HELP = (
    "Accepted so every command takes --seed; this command is deterministic and uses no "
    "randomness, so the seed changes nothing and is recorded nowhere."
)


def unused_seed_option() -> Any:
    """``--seed`` (default 0) for a deterministic command: the project's uniform command line."""
    return typer.Option(0, "--seed", help=UNUSED_SEED_HELP)
