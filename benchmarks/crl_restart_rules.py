"""Which rule would have picked a good restart? Read off per-restart lines of
``crl_restart_selection.py`` (validation terms and held-out MCC of every restart).

For each file, prints every restart's held-out MCC and the MCC of the restart each rule keeps:

- ``loss``: the whole validation loss (what ``restart_selection="loss"`` keeps);
- ``evidence``: reconstruction + KL (``"evidence"``; the files are of β = 1 runs);
- ``evidence+5·critic`` / ``evidence+20·critic``: the evidence plus the cross-modal critic's
  InfoNCE at the weights used with and without shared latents;
- ``critic``: the critic's InfoNCE alone (the interface latents' cross-modal information).

Then, per rule, the mean kept MCC and how many kept restarts reach 0.90. No rule is fitted:
the test scores are only read, to judge rules a training run could apply without them.

Usage: ``python benchmarks/crl_restart_rules.py FILE.jsonl ...``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _evidence(row: dict) -> float:
    return row["val_parts"]["recon"] + row["val_parts"]["kl"]


RULES = {
    "loss": lambda row: row["val_loss"],
    "evidence": _evidence,
    "evidence+5·critic": lambda row: _evidence(row) + 5 * row["val_parts"]["cross"],
    "evidence+20·critic": lambda row: _evidence(row) + 20 * row["val_parts"]["cross"],
    "critic": lambda row: row["val_parts"]["cross"],
}


def main(paths: list[str]) -> None:
    kept: dict[str, list[float]] = {name: [] for name in RULES}
    for path in paths:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
        rows = [row for row in rows if "val_parts" in row]
        if not rows:
            continue
        picks = {name: min(rows, key=rule)["mcc"] for name, rule in RULES.items()}
        for name, value in picks.items():
            kept[name].append(value)
        shown = " ".join(f"{name} {value:.3f}" for name, value in picks.items())
        print(f"{Path(path).stem}: restarts {[row['mcc'] for row in rows]}; kept: {shown}")
    for name, values in kept.items():
        passed = sum(value >= 0.90 for value in values)
        mean = sum(values) / len(values)
        print(f"{name}: mean kept MCC {mean:.3f}, {passed} of {len(values)} reach 0.90")


if __name__ == "__main__":
    main(sys.argv[1:])
