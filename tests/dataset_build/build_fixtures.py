"""Builders of a tiny dataset-build project (roster, traits, trait store, images, keys)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from personax import TRAITS

LLMS = ("chatgpt", "gemini", "llama")
PROMPT_VERSION = "number-l3-inc-0000beef"


@dataclass
class Project:
    root: Path
    roster: Path
    traits: Path
    store: Path
    images: Path
    key: Path
    other_key: Path
    people: pd.DataFrame
    descriptions: dict[tuple[str, str], dict[str, str]]
    missing_image_ids: tuple[str, ...]
    unreadable_image_ids: tuple[str, ...]


def write_store(path: Path, descriptions: dict, scores: dict, roster: pd.DataFrame) -> None:
    """A trait store through the trait-inference API, with ok answers for every cell given,
    asked about the people of ``roster`` (id, name, context)."""
    from personax.traits.store import AnswerRecord, Cell, RequestRecord, TraitStore

    people = sorted({pid for pid, _ in descriptions})
    asked = roster.set_index("id").loc[people, ["name", "context"]].reset_index()
    models = sorted({m for _, m in descriptions})
    with TraitStore(path, create=True) as store:
        store.register_run(
            prompt={
                "version": PROMPT_VERSION,
                "name": "number-l3-inc",
                "answer": "number",
                "levels": 3,
                "insufficient": True,
            },
            models=[{"name": m} for m in models],
            people=asked,
            cells=[Cell(pid, m, PROMPT_VERSION, 0) for pid in people for m in models],
        )
        for (pid, model), texts in sorted(descriptions.items()):
            cell = Cell(pid, model, PROMPT_VERSION, 0)
            request = RequestRecord(0, 0.0, 0.1, 200, "ok", None, "{}", "{}")
            answer = AnswerRecord(
                status="ok",
                reason="",
                scale=3,
                content="{}",
                finish_reason="stop",
                latency_s=0.1,
                prompt_tokens=10,
                completion_tokens=10,
                levels={t: scores[(pid, model)][t] for t in TRAITS},
                raw={t: str(scores[(pid, model)][t]) for t in TRAITS},
                descriptions=texts,
            )
            store.record(cell, [request], answer)


def make_project(root: Path, n: int = 12, seed: int = 0) -> Project:
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    first = ["Zorvath", "Quillane", "Brantley", "Maelis", "Torvund", "Isobeth", "Caddock", "Yselde"]
    people = pd.DataFrame(
        {
            "id": [f"ath{i:03d}" for i in range(n)],
            "name": [f"{first[i % len(first)]} Fenwhistle{i}" for i in range(n)],
            "context": [f"plays for the Vexmoor Lynxes, squad {i}" for i in range(n)],
            "league": [("NBA", "NHL", "ATP")[i % 3] for i in range(n)],
            "height": np.round(rng.normal(190, 8, n), 1),
        }
    )
    descriptions: dict[tuple[str, str], dict[str, str]] = {}
    scores: dict[tuple[str, str], dict[str, int]] = {}
    for i, pid in enumerate(people["id"]):
        for m in LLMS:
            if m == "llama" and i == 0:
                continue  # one person without an answer from one LLM
            descriptions[(pid, m)] = {
                t: f"{m} thinks {pid} shows {t}-trait pattern number {i * 7 + j} in interviews"
                for j, t in enumerate(TRAITS)
            }
            scores[(pid, m)] = {t: int(rng.integers(0, 4)) for t in TRAITS}
    store = root / "store.sqlite"
    write_store(store, descriptions, scores, people)

    rows = []
    for pid in people["id"]:
        row: dict[str, object] = {"id": pid}
        for m in LLMS:
            for t in TRAITS:
                row[f"{m}_{t}"] = scores.get((pid, m), {}).get(t, 0)
        for t in TRAITS:
            nonzero = [row[f"{m}_{t}"] for m in LLMS if row[f"{m}_{t}"]]
            row[f"final_{t}"] = float(np.median(nonzero)) if nonzero else np.nan
        rows.append(row)
    traits = root / "traits.csv"
    pd.DataFrame(rows).to_csv(traits, index=False)
    roster = root / "roster.csv"
    people.to_csv(roster, index=False)

    images = root / "images"
    images.mkdir(exist_ok=True)
    missing = tuple(people["id"][-2:])
    unreadable = (people["id"].iloc[1],)
    for i, pid in enumerate(people["id"]):
        if pid in missing:
            continue
        if pid in unreadable:
            (images / f"{pid}.jpg").write_bytes(b"this is not a jpeg")
            continue
        pixels = rng.integers(0, 256, size=(40 + i, 36, 3), dtype=np.uint8)
        suffix = (".png", ".jpg", ".webp", ".JPEG")[i % 4]
        Image.fromarray(pixels).save(images / f"{pid}{suffix}")

    key = root / "key.bin"
    key.write_bytes(bytes(rng.integers(0, 256, 32, dtype=np.uint8)))
    other_key = root / "other.bin"
    other_key.write_bytes(bytes(rng.integers(0, 256, 32, dtype=np.uint8)))
    return Project(
        root=root,
        roster=roster,
        traits=traits,
        store=store,
        images=images,
        key=key,
        other_key=other_key,
        people=people,
        descriptions=descriptions,
        missing_image_ids=missing,
        unreadable_image_ids=unreadable,
    )
