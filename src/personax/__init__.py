"""personax: multimodal datasets of LLM-inferred Big Five behaviour traits, and their analysis."""

__version__ = "0.1.0"

TRAITS = ("o", "c", "e", "a", "n")
"""Big Five trait letters in canonical order: openness, conscientiousness, extraversion,
agreeableness, neuroticism."""

TRAIT_NAMES = {
    "o": "openness",
    "c": "conscientiousness",
    "e": "extraversion",
    "a": "agreeableness",
    "n": "neuroticism",
}

PAPER_LLMS = ("chatgpt", "gemini", "llama")
"""The three LLMs the paper kept, as column prefixes."""
