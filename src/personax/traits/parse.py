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
    r"\b(i\s*(?:am|'m)\s+(?:sorry|unable|not able|not comfortable)|i\s+(?:can(?:not|'t|\s+not)|"
    r"won't|will not|must decline|decline|apologi[sz]e)|as an ai\b|i\s+do(?:\s+not|n't)\s+"
    r"(?:feel comfortable|provide|make|speculate)|not (?:appropriate|able) to (?:speculate|"
    r"provide|assess|infer))",
    re.IGNORECASE,
)
# Typographic apostrophes ("I’m sorry", common in some models' replies) read as plain ones.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
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


class _JSONObject(dict):
    """A decoded JSON object that remembers the keys given twice (after case and spaces are
    folded): ``json`` keeps the last value silently, which for a trait or a score would be a
    guess."""

    repeated: frozenset[str] = frozenset()


def _object_pairs(pairs: list[tuple[str, object]]) -> _JSONObject:
    obj = _JSONObject()
    seen: set[str] = set()
    repeated: set[str] = set()
    for key, value in pairs:
        folded = str(key).strip().lower()
        if folded in seen:
            repeated.add(folded)
        seen.add(folded)
        obj[key] = value
    obj.repeated = frozenset(repeated)
    return obj


def _repeated_of(obj: object, keys) -> str | None:
    """The first of ``keys`` that ``obj`` gives twice (other repeated keys do not matter)."""
    repeated = getattr(obj, "repeated", frozenset())
    return next((key for key in keys if key in repeated), None)


_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs)

MAX_REPLY_CHARS = 100_000
"""Longer replies are a format failure unread: the answer is a few hundred characters, and
trying a decode at every ``{`` of a runaway reply costs time quadratic in its length (a
200,000-character unclosed nest took 8 s)."""


def _contract_objects(text: str) -> list[dict]:
    """Every distinct JSON object in ``text`` that has a trait key. A reply that is one JSON
    object is that object alone; otherwise fenced blocks and every ``{`` are tried, so that a
    draft followed by a final answer is seen as two answers rather than the first one."""
    stripped = text.strip()
    try:
        whole = _DECODER.decode(stripped)
    except (ValueError, RecursionError):  # json recurses once per nesting level
        whole = None
    if isinstance(whole, dict) and _looks_like_contract(whole):
        return [whole]  # the common case: nothing else can be in the reply
    candidates: list[object] = []
    for block in _FENCE_RE.findall(text):
        try:
            candidates.append(_DECODER.decode(block.strip()))
        except (ValueError, RecursionError):
            pass
    for match in re.finditer(r"\{", text):
        try:
            candidates.append(_DECODER.raw_decode(text, match.start())[0])
        except (ValueError, RecursionError):
            continue
    found: dict[str, dict] = {}
    for obj in candidates:
        if isinstance(obj, dict) and _looks_like_contract(obj):
            found.setdefault(json.dumps(obj, sort_keys=True, default=str), obj)
    return list(found.values())


def _looks_like_contract(obj: dict) -> bool:
    keys = {str(k).strip().lower() for k in obj}
    return any(k in keys for k in TRAIT_KEYS)


def _whole_number(value: object) -> int | None:
    """A score written as a whole number (``2``, ``2.0``, ``"2"``; not ``true``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _level(value: object, fmt: PromptFormat) -> tuple[int | None, str]:
    """(level, raw text) of one score value, level None when not on the format's scale."""
    if (
        type(value) is int and fmt.answer == "number"
    ):  # the common case, kept cheap: it runs five times per answer
        return (value if value in fmt.allowed_levels else None), str(value)
    raw = value if isinstance(value, str) else json.dumps(value)
    if fmt.answer == "number":
        level = _whole_number(value)
        if level is None:
            return None, raw
    else:
        if not isinstance(value, str):
            return None, raw
        level = fmt.level_of_word(value)
        if level is None:
            return None, raw
    return (level if level in fmt.allowed_levels else None), raw


def parse_answer(content: str | None, fmt: PromptFormat) -> ParsedAnswer:
    """Parse one reply under prompt format ``fmt``.

    A reply holding several answers (a draft, then a final one) is ok only when they give the
    same levels, or when exactly one of them is a valid answer (an echoed template beside
    it); answers with different levels are a format failure — which one counts is not ours
    to guess.
    """
    if content is None or not content.strip():
        return ParsedAnswer(FORMAT_FAILURE, "empty reply")
    if len(content) > MAX_REPLY_CHARS:
        return ParsedAnswer(
            FORMAT_FAILURE,
            f"the reply has {len(content):,} characters, more than an answer can need "
            f"(limit {MAX_REPLY_CHARS:,})",
        )
    objects = _contract_objects(content)
    if not objects:
        if _REFUSAL_RE.search(content.translate(_APOSTROPHES)):
            return ParsedAnswer(REFUSAL, "the model declined to answer")
        return ParsedAnswer(FORMAT_FAILURE, "no JSON object with the trait keys")
    parsed = [_parse_contract(obj, fmt) for obj in objects]
    valid = [answer for answer in parsed if answer.status == OK]
    if not valid:
        return parsed[0]
    distinct = {tuple(sorted(answer.levels.items())) for answer in valid}
    if len(distinct) > 1:
        return ParsedAnswer(
            FORMAT_FAILURE, f"the reply holds {len(distinct)} answers with different scores"
        )
    invalid = [obj for obj, answer in zip(objects, parsed, strict=True) if answer.status != OK]
    if any(_is_scored_attempt(obj, fmt) for obj in invalid):
        # Five whole-number scores: another answer (a draft, or the final one), not an echoed
        # template, so the valid one beside it is not taken as the final word.
        return ParsedAnswer(
            FORMAT_FAILURE,
            "the reply holds a valid answer and another scored one that is not (a score off "
            "the scale, a malformed entry); which one counts is not guessed",
        )
    answer = valid[0]
    for obj in invalid:
        for trait, score in _whole_scores(obj, fmt).items():
            given = answer.levels[TRAIT_KEYS[trait]]
            if score != given:
                # A partial answer beside the full one that scores a trait otherwise (e.g.
                # "Correction: openness 3"): the reply does not say which score is meant.
                return ParsedAnswer(
                    FORMAT_FAILURE,
                    f"the reply holds a full answer and a partial one that scores '{trait}' "
                    f"{score} instead of {given}; which one counts is not guessed",
                )
    return answer


def _whole_scores(obj: dict, fmt: PromptFormat) -> dict[str, int]:
    """The traits a contract object scores with a whole number, by trait name (numeric
    formats only, as in :func:`_is_scored_attempt`; placeholders are skipped)."""
    if fmt.answer != "number":
        return {}
    entries = {str(k).strip().lower(): v for k, v in obj.items()}
    scores = {}
    for key in TRAIT_KEYS:
        entry = entries.get(key)
        if isinstance(entry, dict):
            score = {str(k).strip().lower(): v for k, v in entry.items()}.get("score")
            if (whole := _whole_number(score)) is not None:
                scores[key] = whole
    return scores


def _is_scored_attempt(obj: dict, fmt: PromptFormat) -> bool:
    """Does a contract object that failed give a whole-number score for every trait (an
    answer off the scale), rather than a template's placeholders? Numeric formats only: a
    text template's placeholder words cannot be told from an off-scale word."""
    return len(_whole_scores(obj, fmt)) == len(TRAIT_KEYS)


def _parse_contract(found: dict, fmt: PromptFormat) -> ParsedAnswer:
    """One contract object checked and read: five traits, each with a score on the scale."""
    if (twice := _repeated_of(found, TRAIT_KEYS)) is not None:
        return ParsedAnswer(FORMAT_FAILURE, f"'{twice}' is given twice")
    obj = {str(k).strip().lower(): v for k, v in found.items()}
    levels: dict[str, int] = {}
    raw: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for key, letter in TRAIT_KEYS.items():
        entry = obj.get(key)
        if not isinstance(entry, dict):
            return ParsedAnswer(FORMAT_FAILURE, f"'{key}' is missing or not an object")
        if (twice := _repeated_of(entry, ("score", "description"))) is not None:
            return ParsedAnswer(FORMAT_FAILURE, f"'{key}' gives '{twice}' twice")
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
