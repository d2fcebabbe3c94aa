"""The prompt-format grid of the paper and the chat messages sent to every model.

Formats are named ``<answer>-l<levels>-<inc|exc>``:

- ``answer``: ``number`` (the score is an integer) or ``text`` (the score is a word);
- ``levels``: 3 or 5;
- ``inc`` / ``exc``: whether the model is offered an explicit "insufficient information"
  answer (stored as level 0).

The default, ``number-l3-inc``, is the format the paper kept (lowest variance across repeats).

Stored scale. Every answer is stored as an integer *level* together with the format's scale
(3 or 5): 0 = insufficient information, 1..L = the levels from lowest to highest. Text formats
map their words onto levels with :data:`TEXT_LEVEL_WORDS` (the one table used by prompts and
parser alike). A 5-level answer keeps its 0..5 level; it is never squeezed onto 0..3, because
any such mapping would invent a rounding rule the model never saw (see
:mod:`personax.traits.aggregate` for what the aggregate table holds for 5-level prompts).

Every format has a version id ``<name>-<8 hex digits>``: the hex digits are a hash of the
exact message templates, so editing a template gives a new version and answers obtained with
different wordings are never mixed up in the store.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from personax import TRAIT_NAMES, TRAITS
from personax.errors import BadInput

DEFAULT_PROMPT = "number-l3-inc"

INSUFFICIENT_WORDS = ("insufficient information",)
"""Words (lower case) a text-format answer may use for level 0 (only in ``inc`` formats)."""

TEXT_LEVEL_WORDS: dict[int, tuple[str, ...]] = {
    3: ("low", "medium", "high"),
    5: ("very low", "low", "medium", "high", "very high"),
}
"""Words of the text formats, lowest level first: word ``k`` (0-based) is level ``k + 1``."""

_SYSTEM = (
    "You are a careful analyst of publicly documented behaviour. You rate observable "
    "behaviour patterns of public figures from public information only. You answer with "
    "exactly one JSON object and nothing else."
)

_USER = """Analyze the Big Five behavior traits of the individual described below, based only on \
publicly available information about their observable behaviour (interviews, public conduct, \
career decisions, reported interactions).

Name: {name}
Context: {context}

For each of the five traits (openness, conscientiousness, extraversion, agreeableness, \
neuroticism) write a short description (one or two sentences) of the public behaviour that \
supports your rating, and give a score.
{scale}

Answer with exactly one JSON object and nothing else, in this form:
{{"openness": {{"score": {example}, "description": "..."}}, "conscientiousness": \
{{"score": ..., "description": "..."}}, "extraversion": {{"score": ..., "description": "..."}}, \
"agreeableness": {{"score": ..., "description": "..."}}, "neuroticism": \
{{"score": ..., "description": "..."}}}}"""


@dataclass(frozen=True)
class PromptFormat:
    """One cell of the prompt-format grid."""

    answer: str  # "number" or "text"
    levels: int  # 3 or 5
    insufficient: bool  # whether "insufficient information" (level 0) is offered

    @property
    def name(self) -> str:
        return f"{self.answer}-l{self.levels}-{'inc' if self.insufficient else 'exc'}"

    @functools.cached_property
    def allowed_levels(self) -> tuple[int, ...]:
        """Levels a valid answer may hold: 0..L with the option, 1..L without."""
        return tuple(range(0 if self.insufficient else 1, self.levels + 1))

    def scale_instructions(self) -> str:
        if self.answer == "number":
            names = TEXT_LEVEL_WORDS[self.levels]
            listing = ", ".join(f"{k + 1} = {w}" for k, w in enumerate(names))
            text = f"Score each trait as an integer: {listing}."
            if self.insufficient:
                text += (
                    " Use 0 = insufficient information when public information does not "
                    "support a rating."
                )
            else:
                text += " Always give your best estimate."
            return text
        words = ", ".join(f'"{w}"' for w in TEXT_LEVEL_WORDS[self.levels])
        text = f"Score each trait with exactly one of these words (lowest to highest): {words}."
        if self.insufficient:
            text += (
                f' Use "{INSUFFICIENT_WORDS[0]}" when public information does not support a rating.'
            )
        else:
            text += " Always give your best estimate."
        return text

    def example_score(self) -> str:
        return "2" if self.answer == "number" else json.dumps(TEXT_LEVEL_WORDS[self.levels][1])

    @functools.cached_property
    def version(self) -> str:
        """``<name>-<hash>``: changes whenever the wording sent to the model changes."""
        template = json.dumps(
            {
                "system": _SYSTEM,
                "user": _USER,
                "scale": self.scale_instructions(),
                "example": self.example_score(),
            },
            sort_keys=True,
        )
        return f"{self.name}-{hashlib.sha256(template.encode()).hexdigest()[:8]}"

    def messages(self, name: str, context: str) -> list[dict[str, str]]:
        """The chat messages asking about one person."""
        user = _USER.format(
            name=name,
            context=context if context else "(none given)",
            scale=self.scale_instructions(),
            example=self.example_score(),
        )
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]

    def level_of_word(self, word: str) -> int | None:
        """Level of a text-format word (case and spacing ignored); None if not on the scale."""
        norm = " ".join(word.lower().replace("_", " ").replace("-", " ").split())
        if self.insufficient and norm in INSUFFICIENT_WORDS:
            return 0
        words = TEXT_LEVEL_WORDS[self.levels]
        return words.index(norm) + 1 if norm in words else None


FORMATS: dict[str, PromptFormat] = {
    f.name: f
    for f in (
        PromptFormat(answer, levels, inc)
        for answer in ("number", "text")
        for levels in (3, 5)
        for inc in (True, False)
    )
}
"""All eight formats of the grid, by name."""


def get_format(name: str) -> PromptFormat:
    """The format called ``name`` (e.g. ``number-l3-inc``); BadInput naming the choices."""
    try:
        return FORMATS[name]
    except KeyError:
        raise BadInput(
            f"--prompt: unknown prompt format '{name}'; choose one of {', '.join(FORMATS)}."
        ) from None


def format_of_version(version: str) -> PromptFormat:
    """The format a stored version id (``<name>-<hash>``) belongs to."""
    name = version.rsplit("-", 1)[0]
    if name not in FORMATS:
        raise BadInput(f"prompt version '{version}' does not name a known prompt format.")
    return FORMATS[name]


TRAIT_KEYS: dict[str, str] = {TRAIT_NAMES[t]: t for t in TRAITS}
"""JSON key of the answer contract → trait letter."""
