"""The alias table: column names of the released datasets / the authors' code -> canonical names.

Matching is case-insensitive after normalising a name: surrounding spaces dropped, runs of
spaces, hyphens and dots turned into ``_``, spaces around parentheses removed (so
``"Birth year"`` -> ``birth_year``, ``"Height (cm)"`` -> ``height(cm)``).

The whole table is :data:`ALIASES` (normalised source name -> canonical name), built from the
hand-written entries below plus every combination of the LLM spellings in :data:`LLM_ALIASES`
(and the aggregate spellings in :data:`FINAL_ALIASES`) with a trait letter or trait name, e.g.
``4o_o``, ``GPT-4o_openness``, ``Gemini_O``, ``aggregated_n``.

*Packed score columns.*  The paper's pipeline figure shows one ``Chatgpt_score`` /
``Gemini_score`` / ``Llama_score`` / ``Aggregated_BigFive_score`` column per LLM.  Such a column
can only hold all five trait scores of that LLM at once, so it is *expanded* into
``<llm>_o … <llm>_n`` (``final_o … final_n`` for the aggregate).  Accepted cell contents: a
mapping (dict, JSON object or Python-literal dict) keyed by trait letter or name
(``{"Openness": 3, …}``; a value may itself be ``{"score": 3, "description": …}``), or a
sequence of five numbers in O, C, E, A, N order (list, JSON array, or ``"3,2,2,1,3"``).  A cell
that is none of these is BadInput naming file, column, row and value — never a guess.

Unknown columns are kept unchanged (they are attributes) and listed as unrecognised.  Two
source columns that land on the same canonical name are BadInput naming both.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from personax import TRAIT_NAMES, TRAITS
from personax.data.schema import FACE_ATTRIBUTES
from personax.errors import BadInput

# LLM column prefixes: canonical prefix -> spellings seen in the paper / the authors' code.
LLM_ALIASES: dict[str, tuple[str, ...]] = {
    "chatgpt": ("chatgpt", "4o", "gpt4o", "gpt_4o", "chatgpt_4o", "chatgpt_4o_latest", "gpt"),
    "gemini": ("gemini", "gemini_2_5_pro", "gemini_pro", "gemini2_5"),
    "llama": ("llama", "llama4", "llama_4", "llama_4_maverick", "maverick"),
}
FINAL_ALIASES = ("final", "aggregated", "aggregate", "agg", "aggregated_bigfive", "vote", "voted")

# Hand-written entries (already normalised): source name -> canonical name.
_BASE_ALIASES: dict[str, str] = {
    "id": "id",
    "person_id": "id",
    "birthyear": "birth_year",
    "birth_year": "birth_year",
    "year_of_birth": "birth_year",
    "birthmonth": "birth_month",
    "birth_month": "birth_month",
    "month_of_birth": "birth_month",
    # In the paper's field list "Birthday" is the day of the month (next to Birthmonth).
    "birthday": "birth_day",
    "birth_day": "birth_day",
    "day_of_birth": "birth_day",
    "birth_day_index": "birth_day_index",
    "birthday_index": "birth_day_index",
    "day_index": "birth_day_index",
    "day_of_year": "birth_day_index",
    "birth_day_sin": "birth_day_sin",
    "birthday_sin": "birth_day_sin",
    "day_sin": "birth_day_sin",
    "birth_day_cos": "birth_day_cos",
    "birthday_cos": "birth_day_cos",
    "day_cos": "birth_day_cos",
    "latitude": "latitude",
    "lat": "latitude",
    "longitude": "longitude",
    "lon": "longitude",
    "lng": "longitude",
    "height": "height",
    "height(cm)": "height",
    "height_cm": "height",
    "weight": "weight",
    "weight(kg)": "weight",
    "weight_kg": "weight",
    "league": "league",
    "type": "league",  # the authors' athlete table calls the league "Type"
    "occupation": "occupation",
    "occupation_idx": "occupation",
    "gender": "gender",
    "gender_idx": "gender",
    "sex": "gender",
    # CelebA face attributes (coded -1/1): CelebA spelling, lower-cased, is the canonical name.
    **{name: name for name in FACE_ATTRIBUTES},
    # Embeddings.
    "face_emb": "face_emb",
    "face_embedding": "face_emb",
    "image_emb": "face_emb",
    "image_embedding": "face_emb",
    "img_emb": "face_emb",
    "profile_picture": "face_emb",
    "profile_picture_embedding": "face_emb",
}

# Packed per-LLM score columns: normalised name -> canonical prefix of the five columns.
PACKED_SCORE_COLUMNS: dict[str, str] = {
    **{f"{alias}_score": llm for llm, aliases in LLM_ALIASES.items() for alias in aliases},
    **{f"{alias}_scores": llm for llm, aliases in LLM_ALIASES.items() for alias in aliases},
    "aggregated_bigfive_score": "final",
    "aggregated_big_five_score": "final",
    "aggregated_score": "final",
    "bigfive_score": "final",
    "final_score": "final",
}


def _trait_spellings(letter: str) -> tuple[str, ...]:
    return (letter, TRAIT_NAMES[letter])


def _build_aliases() -> dict[str, str]:
    table = dict(_BASE_ALIASES)
    for llm, aliases in LLM_ALIASES.items():
        for alias in aliases:
            for letter in TRAITS:
                for spelling in _trait_spellings(letter):
                    table[f"{alias}_{spelling}"] = f"{llm}_{letter}"
            for suffix in ("text_emb", "text_embedding", "embedding", "emb", "description_emb"):
                table[f"{alias}_{suffix}"] = f"{llm}_text_emb"
    for alias in FINAL_ALIASES:
        for letter in TRAITS:
            for spelling in _trait_spellings(letter):
                table[f"{alias}_{spelling}"] = f"final_{letter}"
    return table


ALIASES: dict[str, str] = _build_aliases()
"""Normalised source name -> canonical column name (the one documented alias table)."""

_CANONICAL_PATTERNS = (
    re.compile(r"^final_[ocean]$"),
    re.compile(r"^[a-z0-9][a-z0-9\-]*_[ocean]$"),
    re.compile(r"^[a-z0-9_]+_emb$"),
)


@dataclass(frozen=True)
class AliasResult:
    """A frame with canonical column names and what was done to get there."""

    frame: pd.DataFrame
    renamed: dict[str, str] = field(default_factory=dict)
    """source column -> canonical name (only columns whose name changed)."""
    unrecognised: list[str] = field(default_factory=list)
    """columns kept as they are because neither the table nor a pattern knows them."""
    expanded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """packed score column -> the five trait columns it was expanded into."""


def normalize_name(name: object) -> str:
    """The form in which column names are looked up in :data:`ALIASES`."""
    text = str(name).strip().lower()
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*\)", ")", text)
    return re.sub(r"[\s\-\.]+", "_", text)


def canonical_name(name: object) -> str | None:
    """Canonical name of a source column, or None if it is not recognised."""
    key = normalize_name(name)
    if key in ALIASES:
        return ALIASES[key]
    if any(p.match(key) for p in _CANONICAL_PATTERNS):
        return key
    return None


def canonicalize_columns(df: pd.DataFrame, source: str = "table") -> AliasResult:
    """Rename ``df``'s columns to canonical names; expand packed per-LLM score columns.

    ``source`` (a file name) is used in error messages. Raises BadInput when two source
    columns map onto one canonical name, or a packed score cell cannot be read.
    """
    targets: dict[str, list[str]] = {}
    renamed: dict[str, str] = {}
    unrecognised: list[str] = []
    packed: dict[str, str] = {}
    new_names: list[str] = []
    for col in df.columns:
        original = str(col)
        key = normalize_name(col)
        if key in PACKED_SCORE_COLUMNS:
            prefix = PACKED_SCORE_COLUMNS[key]
            packed[original] = prefix
            for letter in TRAITS:
                targets.setdefault(f"{prefix}_{letter}", []).append(original)
            new_names.append(original)
            continue
        canonical = canonical_name(col)
        if canonical is None:
            canonical = original
            unrecognised.append(original)
        elif canonical != original:
            renamed[original] = canonical
        targets.setdefault(canonical, []).append(original)
        new_names.append(canonical)
    for canonical, sources in targets.items():
        if len(sources) > 1:
            first, second = sources[0], sources[1]
            raise BadInput(
                f"{source}: columns '{first}' and '{second}' both map to '{canonical}'; "
                "drop or rename one of them."
            )
    frame = df.copy(deep=False)
    frame.columns = new_names
    expanded: dict[str, tuple[str, ...]] = {}
    if packed:
        # Each packed column is replaced, in place, by its five trait columns.
        parts: dict[str, pd.Series] = {}
        for name in new_names:
            if name in packed:
                unpacked = _unpack_scores(frame[name], name, packed[name], source)
                parts.update(unpacked)
                expanded[name] = tuple(unpacked)
            else:
                parts[name] = frame[name]
        frame = pd.DataFrame(parts, index=df.index)
    return AliasResult(frame=frame, renamed=renamed, unrecognised=unrecognised, expanded=expanded)


def _trait_of_key(key: object) -> str | None:
    text = normalize_name(key)
    for letter in TRAITS:
        if text == letter or text.startswith(TRAIT_NAMES[letter]):
            return letter
    return None


def _parse_cell(value: object) -> dict[str, float] | None:
    """Five trait scores from one packed cell, or None when the cell is not readable."""
    if isinstance(value, str):
        text = value.strip()
        parsed: object = None
        for loader in (json.loads, ast.literal_eval):
            try:
                parsed = loader(text)
                break
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
        if parsed is None:
            parts = [p for p in re.split(r"[,;\s]+", text) if p]
            parsed = parts if len(parts) == len(TRAITS) else None
        value = parsed
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for key, item in value.items():
            letter = _trait_of_key(key)
            if letter is None:
                continue
            if isinstance(item, Mapping):
                item = item.get("score")
            number = _number(item)
            if number is None:
                return None
            out[letter] = number
        return out if set(out) == set(TRAITS) else None
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == len(TRAITS):
        numbers = [_number(v) for v in value]
        if any(v is None for v in numbers):
            return None
        return dict(zip(TRAITS, numbers, strict=True))  # type: ignore[arg-type]
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number


def _unpack_scores(column: pd.Series, name: str, prefix: str, source: str) -> dict[str, pd.Series]:
    values: dict[str, list[float]] = {t: [] for t in TRAITS}
    for row, cell in enumerate(column):
        if not isinstance(cell, (list, tuple, np.ndarray, Mapping)) and pd.isna(cell):
            for t in TRAITS:
                values[t].append(np.nan)
            continue
        scores = _parse_cell(cell)
        if scores is None:
            raise BadInput(
                f"{source}: column '{name}', row {row + 1}: cannot read five Big Five scores "
                f'from {str(cell)[:60]!r} (expected e.g. {{"openness": 3, ...}} or 3,2,2,1,3).'
            )
        for t in TRAITS:
            values[t].append(scores[t])
    return {f"{prefix}_{t}": pd.Series(values[t], index=column.index, dtype=float) for t in TRAITS}


__all__ = [
    "ALIASES",
    "AliasResult",
    "FINAL_ALIASES",
    "LLM_ALIASES",
    "PACKED_SCORE_COLUMNS",
    "canonical_name",
    "canonicalize_columns",
    "normalize_name",
]
