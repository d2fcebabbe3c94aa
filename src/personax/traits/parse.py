"""Parsing a model's reply against the JSON answer contract (INTERFACES.md).

The contract: one JSON object with the five keys ``openness`` … ``neuroticism``, each holding
``{"score": ..., "description": "..."}``. The parser accepts that object alone, inside a
```json fence, or surrounded by prose. Anything else is a *format failure*; a reply that
declines to answer is a *refusal*. Nothing is ever guessed or imputed: an answer with one bad
trait is a format failure as a whole (the authors' peers filled such gaps with the midpoint).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from personax.traits.prompts import TRAIT_KEYS, PromptFormat

OK = "ok"
FORMAT_FAILURE = "format_failure"
REFUSAL = "refusal"
ERROR = "error"
STATUSES = (OK, FORMAT_FAILURE, REFUSAL, ERROR)

# Phrases that open a declining reply. Only consulted when no contract object is present, so a
# description that happens to say "I cannot" inside valid JSON is never a refusal.
_REFUSAL_RE = re.compile(
    r"\b(i\s*(?:am|'m)\s+(?:sorry|unable|not able)|i\s+(?:can(?:not|'t|\s+not)|won't|will not|"
    r"must decline|decline)|as an ai\b|i\s+do(?:\s+not|n't)\s+(?:feel comfortable|provide|"
    r"make|speculate)|not (?:appropriate|able) to (?:speculate|provide|assess|infer))",
    re.IGNORECASE,
)
_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    """Result of parsing one reply. ``levels``/``raw``/``descriptions`` are keyed by trait letter
    and are filled only when ``status == "ok"``."""

    status: str
    reason: str = ""
    levels: dict[str, int] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)


def _candidate_objects(text: str) -> Iterator[dict]:
    """JSON objects found in ``text``, lazily: the whole text, fenced blocks, then every ``{``."""
    stripped = text.strip()
    try:
        yield json.loads(stripped)
    except ValueError:
        pass
    for block in _FENCE_RE.findall(text):
        try:
            yield json.loads(block.strip())
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        yield obj


def _looks_like_contract(obj: dict) -> bool:
    keys = {str(k).strip().lower() for k in obj}
    return any(k in keys for k in TRAIT_KEYS)


def _level(value: object, fmt: PromptFormat) -> tuple[int | None, str]:
    """(level, raw text) of one score value, level None when not on the format's scale."""
    if (
        type(value) is int and fmt.answer == "number"
    ):  # the common case, kept cheap: it runs five times per answer
        return (value if value in fmt.allowed_levels else None), str(value)
    raw = value if isinstance(value, str) else json.dumps(value)
    if fmt.answer == "number":
        if isinstance(value, bool):
            return None, raw
        if isinstance(value, int):
            level = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            level = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            level = int(value)
        else:
            return None, raw
    else:
        if not isinstance(value, str):
            return None, raw
        level = fmt.level_of_word(value)
        if level is None:
            return None, raw
    return (level if level in fmt.allowed_levels else None), raw


def parse_answer(content: str | None, fmt: PromptFormat) -> ParsedAnswer:
    """Parse one reply under prompt format ``fmt``."""
    if content is None or not content.strip():
        return ParsedAnswer(FORMAT_FAILURE, "empty reply")
    found = next(
        (o for o in _candidate_objects(content) if isinstance(o, dict) and _looks_like_contract(o)),
        None,
    )
    if found is None:
        if _REFUSAL_RE.search(content):
            return ParsedAnswer(REFUSAL, "the model declined to answer")
        return ParsedAnswer(FORMAT_FAILURE, "no JSON object with the trait keys")
    obj = {str(k).strip().lower(): v for k, v in found.items()}
    levels: dict[str, int] = {}
    raw: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for key, letter in TRAIT_KEYS.items():
        entry = obj.get(key)
        if not isinstance(entry, dict):
            return ParsedAnswer(FORMAT_FAILURE, f"'{key}' is missing or not an object")
        entry = {str(k).strip().lower(): v for k, v in entry.items()}
        if "score" not in entry:
            return ParsedAnswer(FORMAT_FAILURE, f"'{key}' has no score")
        level, raw_score = _level(entry["score"], fmt)
        if level is None:
            return ParsedAnswer(
                FORMAT_FAILURE, f"'{key}' score {raw_score[:40]!r} is not on the {fmt.name} scale"
            )
        description = entry.get("description", "")
        if not isinstance(description, str):
            return ParsedAnswer(FORMAT_FAILURE, f"'{key}' description is not a string")
        levels[letter], raw[letter], descriptions[letter] = level, raw_score, description.strip()
    return ParsedAnswer(OK, "", levels, raw, descriptions)
