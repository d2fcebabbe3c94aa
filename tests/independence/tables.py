"""PersonaX-shaped synthetic tables for the independence tests (discrete traits with ties,
continuous and categorical attributes, missing values)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def personax_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    llm = {}
    for name in ("chatgpt", "gemini", "llama"):
        score = np.clip(np.round(2 + 0.8 * latent + rng.normal(scale=0.8, size=n)), 1, 3)
        score[rng.random(n) < 0.1] = 0  # "insufficient information"
        llm[name] = score
    stacked = np.column_stack(list(llm.values())).astype(float)
    stacked[stacked == 0] = np.nan
    with np.errstate(all="ignore"):
        final = np.nanmedian(stacked, axis=1)
    gender = np.where(latent + rng.normal(size=n) > 0, "female", "male")
    occupation = rng.choice(["actor", "athlete", "politician", "singer", "writer"], size=n)
    height = np.round(170 + 8 * (gender == "male") + rng.normal(scale=7, size=n))
    height[rng.random(n) < 0.15] = np.nan
    df = pd.DataFrame(
        {
            "id": [f"p{i:05d}" for i in range(n)],
            "height": height,
            "weight": np.round(rng.normal(70, 12, size=n), 1),
            "birth_year": rng.integers(1930, 2005, size=n).astype(float),
            "latitude": rng.choice(np.round(rng.uniform(-40, 60, size=40), 4), size=n),
            "day_sin": np.sin(2 * np.pi * rng.integers(1, 366, size=n) / 365.25),
            "gender": gender,
            "occupation": occupation,
            "big_nose": rng.choice([-1, 1], size=n),
            "chatgpt_o": llm["chatgpt"].astype(int),
            "gemini_o": llm["gemini"].astype(int),
            "llama_o": llm["llama"].astype(int),
            "final_o": final,
            "final_c": np.clip(np.round(2 + rng.normal(scale=0.7, size=n) * 2) / 2, 1, 3),
        }
    )
    df.loc[rng.random(n) < 0.05, "birth_year"] = np.nan
    return df
