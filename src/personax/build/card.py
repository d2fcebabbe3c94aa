"""The dataset card (``README.md``): a Hugging Face YAML header plus a datasheet.

The prose follows the questions of *Datasheets for Datasets* (Gebru et al.): motivation,
composition, collection, preprocessing, uses (and prohibited uses), distribution, maintenance —
plus a disclaimer that every trait label is an LLM's inference, not a measurement. The card is
rendered from facts of the build only (no date, no host name), so the same build gives the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import yaml

from personax import TRAIT_NAMES, __version__

DATA_GLOB = "data/train-*.parquet"


@dataclass(frozen=True)
class CardFacts:
    """Everything the card says about one build."""

    pretty_name: str
    n_rows: int
    schema: pa.Schema
    llms: tuple[str, ...]
    prompt_version: str
    text_model: str
    image_encoder: str | None
    attributes: tuple[str, ...]
    key_fingerprint: str
    license: str = "other"
    images_missing: int = 0
    images_unreadable: int = 0
    texts_missing: dict[str, int] = field(default_factory=dict)
    unique_attribute_rows: int = 0
    scale: int = 3
    num_bytes: int = 0  # Arrow size of the table as read from the Parquet file
    download_size: int = 0  # bytes of the Parquet file


def size_category(n: int) -> str:
    """The hub's size bucket for ``n`` rows."""
    bounds = [
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ]
    for bound, label in bounds:
        if n < bound:
            return label
    return "n>10M"


def _features_yaml(schema: pa.Schema) -> list:
    try:
        from datasets import Features
    except ImportError:  # the build extra ships datasets; fall back to plain arrow type names
        return [{"name": f.name, "dtype": str(f.type)} for f in schema]
    return Features.from_arrow_schema(schema)._to_yaml_list()


def _header(facts: CardFacts) -> dict:
    header: dict = {
        "license": facts.license,
        "pretty_name": facts.pretty_name,
        "language": ["en"],
        "size_categories": [size_category(facts.n_rows)],
        "task_categories": ["tabular-classification", "feature-extraction"],
        "tags": [
            "personax",
            "big-five",
            "llm-inferred-labels",
            "behavior-traits",
            "causal-representation-learning",
            "privacy-obfuscated-embeddings",
        ],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": DATA_GLOB}],
            }
        ],
        "dataset_info": {
            "features": _features_yaml(facts.schema),
            # `datasets` ignores a split entry unless it has name, num_bytes and num_examples
            "splits": [
                {"name": "train", "num_bytes": facts.num_bytes, "num_examples": facts.n_rows}
            ],
            "download_size": facts.download_size,
            "dataset_size": facts.num_bytes,
        },
    }
    if facts.license == "other":
        header["license_name"] = "personax-noncommercial-research"
        header["license_link"] = "README.md#terms-of-use"
    return header


def _column_table(facts: CardFacts) -> str:
    rows = ["| column | type | meaning |", "|---|---|---|"]
    for f in facts.schema:
        name = f.name
        if name == "id":
            meaning = "pseudonym: keyed hash of the builder's id (not reversible without the key)"
        elif name.startswith("final_"):
            meaning = (
                f"aggregated {TRAIT_NAMES[name[-1]]}: median of the non-zero LLM scores; "
                "empty when every LLM answered 0"
            )
        elif name == "face_emb":
            meaning = "image embedding, rotated with the builder's secret key"
        elif name.endswith("_text_emb"):
            meaning = (
                f"embedding of {name[: -len('_text_emb')]}'s five trait descriptions, "
                "rotated with the builder's secret key"
            )
        elif name[-2:-1] == "_" and name[-1] in TRAIT_NAMES and name[:-2] in facts.llms:
            meaning = (
                f"{name[:-2]}'s {TRAIT_NAMES[name[-1]]} score: 1..{facts.scale} = low to high, "
                "0 = insufficient information"
            )
        else:
            meaning = "attribute carried over from the roster"
        rows.append(f"| `{name}` | {f.type} | {meaning} |")
    return "\n".join(rows)


def _prompt_note(version: str) -> str:
    if version.lower().startswith("number-l3-inc"):
        return " (Number-L3-Inc: numeric levels 1..3, 0 = insufficient information)"
    return ""


def render_card(facts: CardFacts) -> str:
    """The full ``README.md`` text of the dataset folder."""
    header = yaml.safe_dump(_header(facts), sort_keys=False, allow_unicode=True, width=100)
    llms = ", ".join(f"`{m}`" for m in facts.llms) or "(none)"
    attrs = ", ".join(f"`{a}`" for a in facts.attributes) or "(none)"
    texts_missing = (
        ", ".join(f"{m}: {k}" for m, k in sorted(facts.texts_missing.items()) if k) or "none"
    )
    if facts.image_encoder:
        images = (
            f"embedded with `{facts.image_encoder}`; "
            f"{facts.images_missing} people had no image and {facts.images_unreadable} an "
            "unreadable one (their `face_emb` is empty)."
        )
        if facts.image_encoder.startswith("pixel-projection"):
            images += (
                " `pixel-projection` is a deterministic pixel-statistics descriptor (a random "
                "projection of a 32 × 32 standardised thumbnail), not a face-recognition model."
            )
    else:
        images = "none were given, so the dataset has no `face_emb` column."
    body = f"""
# {facts.pretty_name}

A PersonaX dataset: Big Five **behaviour** traits of public figures as inferred by large
language models, with privacy-obfuscated text and image embeddings. Built with personax
{__version__}. {facts.n_rows} rows, one per person.

> **LLM-inferred labels.** Every trait score and every text embedding here derives from what
> language models answered about a person from public information. They are not psychological
> measurements, were not validated against human ratings, and may repeat the biases and
> errors of the models and of what is written about these people.

## Motivation

To study how behaviour traits that language models attribute to public figures relate to
biographical and facial attributes, with statistical independence tests and causal
representation learning (the PersonaX paper, Li et al., ICLR 2026), on data that can be shared
without names, texts or photographs.

## Composition

- One row per person; `id` is a pseudonym (keyed HMAC-SHA256, 64 bits). Rows are sorted by
  pseudonym, so their order carries no information about the source roster.
- Per-LLM trait scores for {llms} (`<llm>_o … <llm>_n`) and the aggregated `final_<t>`.
- Attributes carried over from the roster: {attrs}.
- Embeddings: one text embedding per LLM (`<llm>_text_emb`) and, when images were given,
  `face_emb`. People without an answer from an LLM have an empty text embedding for it
  (missing: {texts_missing}).
- Not included: names, the free-text context given to the models, the models' descriptions,
  images, and the raw (un-rotated) embeddings.

{_column_table(facts)}

## Collection process

Each LLM ({llms}) was asked to rate the five traits of each person from public information
(their name and a short context), with the personax prompt version `{facts.prompt_version}`{_prompt_note(facts.prompt_version)}.
Every request and answer was stored by `personax infer run`; unparseable answers were recorded
as failures, never imputed. With repeated requests, the first successful answer gives the text.

## Preprocessing

- Aggregation: per trait, the median of the LLMs' non-zero scores; missing when all are 0.
- Text: per person and LLM, the five trait descriptions (one line each) embedded with
  `{facts.text_model}` (sentence-transformers).
- Images: {images}
- Privacy: every embedding column is multiplied by a random orthogonal matrix derived from a
  secret key and the column name. Distances and inner products are unchanged, so analyses
  that depend only on them (kernel or distance tests on whole vectors, nearest neighbours)
  give the same results as on the original embeddings; single coordinates are rotated and
  match no public encoder. Key check value: `{facts.key_fingerprint}` (lets the key holder
  verify their key; it reveals nothing about the key).
- Limitations: pseudonyms hide names, not people. {facts.unique_attribute_rows} of
  {facts.n_rows} rows are unique on their attributes alone, so someone who knows a public
  figure's attributes (e.g. league and birth date) can single out that row. And a rotation
  preserves geometry: someone who links a few dozen rows to people and holds those people's
  true embeddings can estimate the rotation and undo it for every row. Both are
  re-identification, which the terms below forbid.

## Uses

Intended: non-commercial academic research on LLM-inferred traits, independence testing,
causal representation learning and causal discovery, at the level of groups.

## Terms of use

**Prohibited uses**:

- any commercial use — non-commercial research only;
- high-stakes decisions about anyone (hiring, lending, admission, insurance, health, law
  enforcement, immigration);
- profiling or ranking individuals;
- re-identification: linking rows, pseudonyms or embeddings back to people, or attempting to
  recover the key, names, texts or images.

## Distribution

Shared as this folder (Parquet + this card), loadable with `datasets.load_dataset(<folder>)`.
The secret key and the roster stay with the builder; with them, `personax data reveal`
restores the original embeddings and ids.

## Maintenance

The builder maintains this copy. People who ask to be removed are removed by rebuilding
without them; corrections of attributes are made the same way. Rebuilding with the same inputs
and key gives byte-identical files.
"""
    return f"---\n{header}---\n{body}"
