"""Verb groups shared by several CLI modules (e.g. `data crl-synthetic` lives with the CRL code).

A module attaches commands with ``@data_app.command(...)`` inside its ``register``; the root
app mounts every group once, after all modules have registered.
"""

from __future__ import annotations

import typer


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


data_app = _group("PersonaX tables and CRL datasets: sample, validate, info, synthetic benchmarks.")
crl_app = _group("Causal representation learning on multimodal, multi-measurement data.")
bench_app = _group("Benchmarks in one harness.")
infer_app = _group("Multi-LLM Big Five trait inference with a persistent store.")

GROUPS = {"data": data_app, "crl": crl_app, "bench": bench_app, "infer": infer_app}


def mount(app: typer.Typer) -> None:
    """Mount every group that has at least one command."""
    for name, group in GROUPS.items():
        if group.registered_commands or group.registered_groups:
            app.add_typer(group, name=name)
