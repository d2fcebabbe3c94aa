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


# numpy's and scikit-learn's seeds must lie in [0, 2**32): a wider seed fails deep inside a run.
MAX_SEED = 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """Refuse a seed the random generators cannot take, naming the option."""
    from personax.errors import BadInput

    if not 0 <= seed <= MAX_SEED:
        raise BadInput(f"{option} must be a whole number from 0 to {MAX_SEED}, got {seed}.")
    return seed
