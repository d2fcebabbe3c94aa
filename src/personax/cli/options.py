"""Command-line options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

UNUSED_SEED_HELP = (
    "Accepted so every command takes --seed; this command is deterministic and uses no "
    "randomness, so the seed changes nothing and is recorded nowhere."
)


# numpy's and scikit-learn's seeds must lie in [0, 2**32): a wider seed fails deep inside a run.
MAX_SEED = 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """Refuse a seed the random generators cannot take, naming the option."""
    from personax.errors import BadInput

    if not 0 <= seed <= MAX_SEED:
        raise BadInput(f"{option} must be a whole number from 0 to {MAX_SEED}, got {seed}.")
    return seed


def seed_option(help: str) -> Any:
    """``--seed`` (default 0), checked as it is parsed, so every command refuses a bad seed
    the same way (exit 2) before any work starts."""
    return typer.Option(0, "--seed", help=help, callback=_checked_seed)


def _checked_seed(value: int) -> int:  # typer passes a callback the parsed value alone
    return check_seed(value)


def unused_seed_option() -> Any:
    """``--seed`` (default 0) for a deterministic command: the project's uniform command line."""
    return seed_option(UNUSED_SEED_HELP)


def crl_config_from_file(path: Path):
    """A CRLConfig from a JSON file: plain fields, or a run's config.json (key "config")."""
    import json

    from personax.crl.config import CRLConfig
    from personax.errors import BadInput

    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such config file.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not a readable JSON file ({exc}).") from None
    # A run's config.json is a record of what that run trained with; plain fields are not.
    record = isinstance(values, dict) and isinstance(values.get("config"), dict)
    if record:
        values = values["config"]
    if not isinstance(values, dict):
        raise BadInput(f"{path}: the config must be a JSON object of CRLConfig fields.")
    try:
        return CRLConfig.from_record(values) if record else CRLConfig.from_dict(values)
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None


def optional_comma_list(value: str | None, option: str, example: str) -> list[str] | None:
    """None when the option is not given, else its items (see :func:`comma_list`)."""
    return None if value is None else comma_list(value, option, example)


def comma_list(value: str, option: str, example: str) -> list[str]:
    """The items of a comma-separated option; an empty item ('0,,1', 'personax,') is most
    likely a typo that dropped a value, so it is refused rather than skipped."""
    from personax.errors import BadInput

    items = [v.strip() for v in value.split(",")]
    if not any(items):
        raise BadInput(f"{option} is empty; give e.g. '{example}'.")
    if not all(items):
        raise BadInput(
            f"{option} '{value}' has an empty item; separate the values by single commas."
        )
    return items


def refuse_other_benchmark_options(benchmark: str, given: dict[str, tuple[str, object]]) -> None:
    """BadInput for an option given with a benchmark it does not apply to.

    ``given`` maps each option to (the benchmark it belongs to, its value, None when not
    given). Silently dropping ``--obs-dim 4`` on variant MNIST would let a user believe the
    data or the table had that shape.
    """
    from personax.errors import BadInput

    for option, (belongs_to, value) in given.items():
        if value is not None and belongs_to != benchmark:
            raise BadInput(
                f"{option} applies to the {belongs_to} benchmark only, not to {benchmark}; "
                "leave it out."
            )
