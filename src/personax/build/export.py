"""`personax build`: roster + traits + trait store (+ images) → a publishable dataset folder.

Output (written atomically, byte-identical for the same inputs and key)::

    DATASET_DIR/README.md                          dataset card (YAML header + datasheet)
    DATASET_DIR/data/train-00000-of-00001.parquet  one row per person
    DATASET_DIR/personax_build.json                what `personax data reveal` needs (no secret)

Nothing identifying leaves: ids become keyed pseudonyms, names and contexts are dropped, the
models' descriptions only enter as rotated embeddings, images only as rotated embeddings.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from personax import __version__
from personax.atomic import (
    atomic_dir,
    check_inputs_outside,
    check_output_dir,
    refuse_current_folder,
    write_json,
    write_text,
)
from personax.build.card import CardFacts, render_card
from personax.build.images import (
    ImageEncoder,
    PixelProjectionEncoder,
    embed_images,
    load_image_encoder,
)
from personax.build.privacy import key_fingerprint, obfuscate, pseudonyms
from personax.build.text import EmbeddingCache, TextEmbedder, embed_texts, trait_documents
from personax.data import column_groups, read_table
from personax.data.table import LLM_TRAIT_RE, is_trait_score, roster_ids
from personax.errors import BadInput

Progress = Callable[[str, int, int], None]
DATA_FILE = "data/train-00000-of-00001.parquet"
BUILD_FILE = "personax_build.json"
# Everything a build writes into its folder (a rebuild may replace exactly these).
BUILD_OUTPUTS = frozenset({"README.md", "data", DATA_FILE, BUILD_FILE})
ROSTER_COLUMNS = ("id", "name", "context")
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


@dataclass(frozen=True)
class BuildReport:
    """What a build did; the CLI prints it and it is serialisable to JSON."""

    out: str
    rows: int
    llms: tuple[str, ...]
    prompt_version: str
    text_model: str
    image_encoder: str | None
    texts_embedded: int
    texts_computed: int
    texts_cached: int
    texts_repeated: int  # equal to another text of the build: embedded once, used twice
    texts_missing: dict[str, int]
    images_missing: int
    images_unreadable: int
    traits_missing: int
    attributes: tuple[str, ...]
    unique_attribute_rows: int
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # "<path>: <reason>" per unreadable image; for the builder's console only (raw ids).
    unreadable_images: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def default_cache_path(store: str | os.PathLike[str]) -> Path:
    """The embedding cache next to the store: ``S.sqlite`` → ``S.embeddings.sqlite``."""
    p = Path(store)
    return p.with_name(f"{p.stem}.embeddings.sqlite")


@contextmanager
def _no_model_loading_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar while a model loads (the CLI draws its own);
    its warnings and errors still show. The previous setting is restored afterwards."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # no transformers: nothing draws such a bar
        yield
        return
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def _llm_column_prefix(model: str) -> str:
    prefix = re.sub(r"[^a-z0-9-]+", "-", str(model).strip().lower()).strip("-")
    if not prefix:
        raise BadInput(f"trait store model name '{model}' gives no usable column prefix.")
    return prefix


def _read_roster(path: str | os.PathLike[str]) -> pd.DataFrame:
    roster = read_table(path)
    missing = [c for c in ROSTER_COLUMNS if c not in roster.columns]
    if missing:
        raise BadInput(
            f"{path}: roster lacks the column(s) {', '.join(missing)} (needs id, name, context)."
        )
    if roster.empty:
        raise BadInput(f"{path}: roster has no rows.")
    roster["id"] = roster_ids(roster["id"], path)
    return roster.reset_index(drop=True)


def _check_traits_match_store(
    table: pd.DataFrame, from_store: pd.DataFrame, traits: object, store: Path, version: str
) -> None:
    """BadInput when the traits table is not what the store's answers of ``version`` give:
    the dataset publishes the table's scores beside descriptions of ``version``'s answers, so
    a table aggregated from another prompt version (or other models, or edited) would pair
    scores with descriptions they did not come from."""
    store_columns = {str(c).lower(): c for c in from_store.columns if LLM_TRAIT_RE.match(str(c))}
    table_columns = [c for c in table.columns if LLM_TRAIT_RE.match(str(c))]
    foreign = sorted({c.rsplit("_", 1)[0] for c in table_columns if c not in store_columns})
    if foreign:
        raise BadInput(
            f"{traits}: scores of {', '.join(foreign)}, which {store} has no answers from for "
            f"prompt version '{version}'; build from the traits table `personax infer aggregate` "
            "writes for that store and version."
        )
    # The aggregated scores are what the analyses read: a table whose final_* were edited or
    # aggregated from other answers is refused like one whose per-LLM scores were.
    final_columns = list(column_groups(table).final_traits)
    store_columns.update({c: c for c in final_columns})
    compared = [*table_columns, *final_columns]
    joined = table[["id", *compared]].merge(
        from_store.assign(id=from_store["id"].astype(str)), on="id", suffixes=("", "@store")
    )
    for column in compared:
        ours = pd.to_numeric(joined[column], errors="coerce").astype("float64").to_numpy()
        theirs = joined[f"{store_columns[column]}@store"].astype("float64").to_numpy()
        # 0 ("insufficient information") and no answer are both missing to every analysis.
        ours_cmp, theirs_cmp = (np.where(v == 0, np.nan, v) for v in (ours, theirs))
        # Medians of levels are exact in float64; the tolerance only forgives a CSV's rounding.
        same = np.isclose(ours_cmp, theirs_cmp, rtol=0.0, atol=1e-6)
        differ = ~(same | (np.isnan(ours_cmp) & np.isnan(theirs_cmp)))
        if differ.any():
            row = int(np.flatnonzero(differ)[0])
            shown = ["missing" if np.isnan(v) else f"{v:g}" for v in (ours[row], theirs[row])]
            raise BadInput(
                f"{traits}: id '{joined['id'].iloc[row]}', column '{column}' is {shown[0]}, but "
                f"the answers of prompt version '{version}' in {store} give {shown[1]}; "
                f"aggregate that version (`personax infer aggregate --prompt {version}`) or "
                "build with the --prompt the table came from."
            )


def _check_roster_names_the_stores_people(
    people: pd.DataFrame, asked: pd.DataFrame, roster: object, store: Path
) -> None:
    """BadInput when a roster id names another person than the one the store asked about:
    the build joins descriptions and scores to the roster's attributes by id alone, so a
    reused or shifted id would publish one person's traits beside another's attributes."""
    from personax.traits.runner import roster_text

    stored = {
        str(pid): (name, context)
        for pid, name, context in asked[["id", "name", "context"]].itertuples(index=False)
    }
    names, contexts = roster_text(people["name"]), roster_text(people["context"])
    for row, pid in enumerate(people["id"]):
        if pid in stored and stored[pid] != (names[row], contexts[row]):
            was_name, was_context = stored[pid]
            raise BadInput(
                f"{roster}: row {row + 1}, id '{pid}' is '{names[row]}' ({contexts[row]}), but "
                f"{store} asked about '{was_name}' ({was_context}) under that id; build with "
                "the roster the traits were inferred from."
            )


def _read_traits(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[str]]:
    # No alias table: the <llm> prefixes are the store's model names, as the card and the
    # <llm>_text_emb columns spell them.
    traits = read_table(path, aliases=False)
    # Case and spaces only ("GPT_O", "Final_O", "ID"): no model alias renames a prefix.
    folded = {c: str(c).strip().lower() for c in traits.columns}
    traits = traits.rename(
        columns={c: f for c, f in folded.items() if f == "id" or is_trait_score(f)}
    )
    if traits.columns.duplicated().any():
        twice = traits.columns[traits.columns.duplicated()][0]
        raise BadInput(f"{path}: the traits table has the column '{twice}' twice (ignoring case).")
    if "id" not in traits.columns:
        raise BadInput(f"{path}: traits table lacks the column id.")
    ids = traits["id"].astype("string").str.strip()  # as the roster's ids
    dup = ids.duplicated() & ids.notna()
    if dup.any():
        raise BadInput(f"{path}: traits id '{ids[dup].iloc[0]}' appears more than once.")
    groups = column_groups(traits)
    # A score column holding text counts as an attribute in column_groups; in a traits table it
    # is a bad score, so it goes to the check below instead of being left out of the dataset.
    text_scores = [c for c in groups.attributes if LLM_TRAIT_RE.match(c)]
    columns = list(groups.llm_traits) + text_scores + list(groups.final_traits)
    if not columns:
        raise BadInput(f"{path}: traits table has no <llm>_<t> or final_<t> columns.")
    traits = traits[["id", *columns]].copy()
    # Scores are published as they are: a non-number or a level outside the scale is refused
    # here (file, row, column, value) rather than written into the dataset.
    from personax.data.validate import final_score_mismatches, validate_table

    report = validate_table(traits, source=str(path), aliases=False)
    if not report.ok:
        raise BadInput(report.summary())
    traits["id"] = ids.astype(str)
    for col in (*groups.llm_traits, *text_scores):  # integer levels with holes stay integers
        values = pd.to_numeric(traits[col], errors="coerce")
        whole = values.dropna()
        if (whole == np.round(whole)).all():
            traits[col] = values.astype("Int64")
    for col in groups.final_traits:
        traits[col] = pd.to_numeric(traits[col], errors="coerce").astype("float64")
        # validate only warns (a table is still readable), but a published 0 would enter
        # every analysis as a fourth level below 1; the aggregate of all-zero answers is missing.
        zero = np.flatnonzero((traits[col] == 0).to_numpy())
        if zero.size:
            raise BadInput(
                f"{path}: row {zero[0] + 1}, column '{col}': aggregated score 0 is not a level of "
                "the 1..3 scale; leave the cell empty when every LLM answered 0."
            )
    # validate only warns about an aggregate that is not the median of its per-LLM scores (a
    # table is still readable), but a dataset must not publish scores that contradict each
    # other: `infer aggregate` never writes one, so the table was edited.
    for col in groups.final_traits:
        differ, expected, per_llm = final_score_mismatches(traits, col, list(groups.llm_traits))
        if differ.any():
            row = int(np.flatnonzero(differ)[0])
            want, got = (
                "missing" if np.isnan(v) else f"{v:g}"
                for v in (expected[row], float(traits[col].iloc[row]))
            )
            raise BadInput(
                f"{path}: row {row + 1}, column '{col}': {got} is not the "
                f"median of the non-zero scores of {', '.join(per_llm)} ({want}); re-run "
                "`personax infer aggregate` rather than editing the scores."
            )
    return traits, columns


def _check_dataset_dir(out: str | os.PathLike[str], inputs: tuple = ()) -> None:
    """Refuse, before any work, an ``out`` the finished dataset may not replace as a whole: a
    file, a folder holding one of ``inputs``, or a folder personax did not write. A previous
    build is recognised by its ``personax_build.json``, so the published folder needs no
    marker file of its own."""
    target = Path(out)
    refuse_current_folder(target)
    if target.is_dir() and (target / BUILD_FILE).is_file():
        # The folder is replaced as a whole: a file the build does not write (a .git, a
        # LICENSE) would be deleted with it.
        data = target / "data"
        found = [*target.iterdir(), *(data.iterdir() if data.is_dir() else ())]
        for path in sorted(found):  # two levels: no walk through a large .git
            name = path.relative_to(target).as_posix()
            if name not in BUILD_OUTPUTS:
                raise BadInput(
                    f"--out {target} holds {name}, which a build does not write and replacing "
                    "the folder would delete; move it away or give another folder."
                )
        check_inputs_outside(target, inputs)
        return
    check_output_dir(target, inputs)


def _normal_words(text: str) -> list[str]:
    """Words of ``text`` with case and accents folded: "José Roé" (NFC or NFD) → jose, roe."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", bare.casefold())


# An attribute is a number or a category ("NBA", "actor", "female"); anything longer is text
# about the person, which must not leave. The limits are generous for categories — the longest
# CelebPersona occupations are a few words — and tight for prose.
FREE_TEXT_WORDS = 6
FREE_TEXT_CHARS = 60
CONTACT_PATTERNS = {
    "an e-mail address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    # A scheme (https://, ftp://), www., or a host with a path ("twitter.com/jane",
    # "en.wikipedia.org/wiki/Q42"). A bare host ("ESPN.com") names an employer, not a person.
    "a web address": re.compile(
        r"\b[a-z][a-z0-9+.-]*://|www\.|\b(?:[\w-]+\.)+[a-z]{2,}/\S", re.IGNORECASE
    ),
    # People have ids of four digits or more; Q1..Q999 are also quarters and round numbers.
    "a Wikidata id": re.compile(r"^Q[1-9]\d{3,}$"),
    # International or long numbers with separators, and local "555-0101".
    "a phone number": re.compile(r"\+?\d[\d ()./-]{7,}\d|\b\d{3}-\d{4}\b"),
}

# Column names that announce contact details or a name part whatever their values hold (a
# phone number stored as an integer passes every value check). Whole names only, after case
# and separators are folded (`Last Name`, `lastName` → last_name): `instagram_followers` or
# `last_team_name` are ordinary attributes.
IDENTIFYING_COLUMN_NAMES = frozenset(
    """phone phone_number telephone telephone_number mobile mobile_number mobile_phone cell
    cell_phone cellphone fax email e_mail email_address url website homepage web_address
    handle twitter_handle instagram_handle social_handle username user_name ssn
    social_security_number passport_number address home_address street_address postal_address
    ip_address last_name lastname first_name firstname surname family_name given_name
    middle_name full_name fullname nickname nick_name birth_name maiden_name real_name
    stage_name player_name person_name""".split()
)


def _is_iso_date(text: str) -> bool:
    """Is ``text`` an ISO date or time ("1990-05-12", "1990-05-12 08:30"), not a phone number?"""
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date_or_season(number: str) -> bool:
    """Is a phone-like run of digits a date or a season ("12/05/1990", "2009-10/2010-11",
    "1995-2005")? Each digit group is then a year or at most two digits."""
    groups = re.findall(r"\d+", number)
    return all(len(g) <= 2 or (len(g) == 4 and 1800 <= int(g) <= 2199) for g in groups)


def _looks_like_phone(text: str) -> bool:
    if _is_iso_date(text):
        return False
    return any(
        not _is_date_or_season(m.group(0))
        for m in CONTACT_PATTERNS["a phone number"].finditer(text)
    )


def _free_text_reason(text: str) -> str | None:
    """Why ``text`` is free text rather than a category, or None when it is a category."""
    for what, pattern in CONTACT_PATTERNS.items():
        found = _looks_like_phone(text) if what == "a phone number" else pattern.search(text)
        if found:
            return f"it looks like {what}"
    words = len(text.split())
    if words > FREE_TEXT_WORDS:
        return f"{words} words, more than {FREE_TEXT_WORDS}"
    if len(text) > FREE_TEXT_CHARS:
        return f"{len(text)} characters, more than {FREE_TEXT_CHARS}"
    return None


def _column_name_reason(column: str) -> str | None:
    """Why a column's *name* says it identifies people (``phone``, ``last_name``), or None."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)  # lastName → last Name
    if "_".join(_normal_words(spaced)) in IDENTIFYING_COLUMN_NAMES:
        return "its name says it holds contact details or a name"
    return None


# Short particles of names ("da Silva", "van Dijk") are also ordinary codes (a language "da");
# alone they do not count as a part of the person's name.
NAME_PARTICLES = frozenset("da de del der di do dos das du el al la le van von bin ben".split())


def _holds_own_name_part(value_words: list[str], squashed: str, name_words: list[str]) -> bool:
    """Does a value spell a part of this row's own name: the last name alone ("Roe"), with an
    initial ("J. Roe"), or run together ("JaneRoe", "@janeroe")?"""
    own = [w for w in dict.fromkeys(name_words) if len(w) > 1 and w not in NAME_PARTICLES]
    if not own:
        return False
    initials = {w[0] for w in name_words}
    rest = [w for w in value_words if not (len(w) == 1 and w in initials)]
    if rest and set(rest) <= set(own):
        return True
    if len(squashed) < 4:
        return False
    for size in range(2, min(len(own), 4) + 1):
        if any("".join(p) == squashed for p in itertools.permutations(own, size)):
            return True
    return False


def _check_no_names(roster: pd.DataFrame, attributes: list[str], path: object) -> None:
    """Refuse attribute columns that hold a person's name or free text (they would leak
    identity). A name counts in any case, accents and word order, and inside a longer value
    ("person number7", "fan of Jane Roe", "Roe, Jane"); a part of the row's own name counts
    too ("Roe", "J. Roe", "JaneRoe"). A column whose name announces contact details or a
    name part (``phone``, ``last_name``) is refused whatever its type."""
    for col in attributes:
        reason = _column_name_reason(col)
        if reason:
            raise BadInput(
                f"{path}: roster column '{col}' is refused ({reason}); remove it — names and "
                "contact details never leave in a published dataset."
            )
    names_by_word = _names_by_word(roster["name"])
    own_names = roster["name"].astype("string").fillna("").map(_normal_words)
    for col in attributes:
        values = roster[col]
        # Numbers, booleans and dates (a Parquet datetime column) hold no name or text.
        if values.dtype.kind in "biufcmM" or pd.api.types.is_bool_dtype(values):
            continue
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            continue
        present = values.dropna()
        # Data rows counted from 1, as every other message of build and validate counts them.
        rows = {position: position + 1 for position in present.index}
        texts = {position: str(value).strip() for position, value in present.items()}
        for position, text in texts.items():
            if _holds_a_roster_name(_normal_words(text), names_by_word):
                raise BadInput(
                    f"{path}: roster column '{col}' holds a person's name (row {rows[position]}); "
                    "remove it — names never leave in a published dataset."
                )
            reason = _free_text_reason(text)
            if reason:
                raise BadInput(
                    f"{path}: roster column '{col}' holds free text, not a category "
                    f"(row {rows[position]}: {reason}); remove it — free text never leaves in a "
                    "published dataset."
                )
        _refuse_own_name_parts(col, texts, rows, own_names, path)


def _names_by_word(names: pd.Series) -> dict[str, set[frozenset[str]]]:
    """Each roster name's word set, filed under one of its words: a value holds a name only if
    it holds that word, so a value is compared with a few names, not the whole roster."""
    by_word: dict[str, set[frozenset[str]]] = {}
    for name in names.dropna().astype(str):
        words = frozenset(_normal_words(name))
        if words:
            by_word.setdefault(min(words), set()).add(words)
    return by_word


def _holds_a_roster_name(value_words: list[str], by_word: dict[str, set[frozenset[str]]]) -> bool:
    words = frozenset(value_words)
    # Inside a longer value only a several-word name counts: a one-word name such as "Li"
    # must not flag "Li Ning store", only the value "Li".
    return any(
        name == words or (len(name) > 1 and name <= words)
        for word in words
        for name in by_word.get(word, ())
    )


# A value equal to a part of its own row's name ("Roe" for Jane Roe) makes a name column only
# when that holds in at least this share of the column's rows: "White" as Shaun White's
# ethnicity or "Houston" as Allan Houston's team city is a coincidence of one row.
OWN_NAME_PART_SHARE = 0.5


def _refuse_own_name_parts(
    col: str, texts: dict, rows: dict, own_names: pd.Series, path: object
) -> None:
    hits = []
    for position, text in texts.items():
        value_words = _normal_words(text)
        if _holds_own_name_part(value_words, "".join(value_words), own_names[position]):
            hits.append(rows[position])
    if hits and len(hits) >= OWN_NAME_PART_SHARE * len(texts):
        raise BadInput(
            f"{path}: roster column '{col}' holds a person's name (row {hits[0]}: a part of "
            f"that person's own name, as in {len(hits)} of its {len(texts)} rows); remove it "
            "— names never leave in a published dataset."
        )


def _id_text(series: pd.Series) -> pd.Series:
    """Values as the text an id would be, so that 7, 7.0, "007" and " 7" all read "7"."""
    if series.dtype.kind in "iuf":
        finite = series.notna() & np.isfinite(series.astype("float64"))
        whole = finite & (series == np.round(series))
        text = series.astype("string")
        text[whole] = series[whole].astype("int64").astype("string")
    else:
        text = series.astype("string").str.strip()
    digits = text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    text[digits] = text[digits].str.lstrip("0").replace("", "0")
    return text


def _check_no_ids(roster: pd.DataFrame, attributes: list[str], path: object) -> None:
    """Refuse an attribute column that repeats the roster's ids (e.g. `player_id`): the real
    ids would be published next to their pseudonyms."""
    ids = _id_text(roster["id"])
    numeric_id = ids.str.fullmatch(r"\d+").fillna(False).astype(bool)
    for col in attributes:
        values = _id_text(roster[col])
        same = (values == ids).fillna(False).astype(bool)
        if not same.any():
            continue
        # A short number id can equal a birth day or a jersey number by chance; a column that
        # matches in most rows is a copy of the ids all the same.
        by_chance = numeric_id[same].all() and 2 * int(same.sum()) <= int(values.notna().sum())
        if not by_chance:
            row = int(np.flatnonzero(same.to_numpy())[0]) + 1  # data rows counted from 1
            raise BadInput(
                f"{path}: roster column '{col}' repeats the person's id (row {row}); remove it "
                "— real ids never leave in a published dataset, only pseudonyms."
            )


def unique_attribute_rows(frame: pd.DataFrame, attributes: list[str]) -> int:
    """How many rows no other row shares on all ``attributes`` (k-anonymity k = 1).

    Such rows can be singled out from the attributes alone (e.g. league + birth date),
    whatever the pseudonyms and rotations do; the card and the report say how many.
    """
    if not attributes or frame.empty:
        return 0
    keys = frame[attributes].astype("string").fillna("<missing>")
    return int((~keys.duplicated(keep=False)).sum())


def _list_column(matrix: np.ndarray, present: np.ndarray) -> pa.Array:
    """float32 list column; rows without an embedding are null."""
    dim = matrix.shape[1]
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1), type=pa.float32())
    offsets = pa.array(np.arange(0, (len(matrix) + 1) * dim, dim, dtype=np.int32))
    full = pa.ListArray.from_arrays(offsets, flat)
    if present.all():
        return full
    mask = pa.array(~present)
    return pa.ListArray.from_arrays(offsets, flat, mask=mask)


def _attribute_array(series: pd.Series) -> pa.Array:
    if series.dtype.kind in "biufc" or pd.api.types.is_bool_dtype(series):
        return pa.array(series, from_pandas=True)
    values = series.astype("string")  # mixed objects become text, missing stays null
    return pa.array(values, type=pa.string(), from_pandas=True)


def build_dataset(
    roster: str | os.PathLike[str],
    traits: str | os.PathLike[str],
    store: str | os.PathLike[str],
    key: bytes,
    out: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    seed: int = 0,
    text_model: str | None = None,
    image_encoder: str | ImageEncoder | None = None,
    prompt_version: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    pretty_name: str | None = None,
    license: str = "other",
    text_embedder: TextEmbedder | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Build the publishable dataset folder ``out`` (see the module docstring).

    ``seed`` seeds the default image encoder's random projection (the privacy transforms are
    derived from ``key`` alone). ``text_embedder`` lets a caller reuse a loaded model.
    """
    from personax.traits.aggregate import aggregate_traits, choose_prompt_version
    from personax.traits.store import TraitStore

    _check_dataset_dir(out, (roster, traits, store, images, cache))
    encoder: ImageEncoder | None = None  # resolved first: a bad option fails before slow work
    if images is not None:
        if not Path(images).is_dir():
            raise BadInput(f"{images}: images folder not found.")
        if image_encoder is None or image_encoder == "pixel-projection":
            encoder = PixelProjectionEncoder(seed=seed)
        elif isinstance(image_encoder, str):
            encoder = load_image_encoder(image_encoder)
        else:
            encoder = image_encoder
    elif image_encoder is not None and image_encoder != "pixel-projection":
        # Dropped without a word, a chosen encoder would let the card's reader believe that
        # faces were embedded with it.
        raise BadInput(
            f"image encoder {image_encoder if isinstance(image_encoder, str) else 'given'!r} "
            "embeds the images of --images, which is not given; pass the images folder or "
            "leave the encoder out."
        )
    people = _read_roster(roster)
    trait_table, trait_columns = _read_traits(traits)
    store_path = Path(store)
    if not store_path.is_file():
        raise BadInput(f"{store_path}: no such trait store.")
    with TraitStore(store_path) as trait_store:
        version = choose_prompt_version(trait_store, prompt_version)
        answers = trait_store.answers(version)
        from_store = aggregate_traits(trait_store, version)
        asked = trait_store.people(version)
    if answers.empty:
        raise BadInput(f"{store_path}: no ok answers for prompt version '{version}' to build from.")
    _check_traits_match_store(trait_table, from_store, traits, store_path, version)
    _check_roster_names_the_stores_people(people, asked, roster, store_path)

    ids = people["id"].tolist()
    groups = column_groups(people)
    attributes = [c for c in groups.attributes if c not in ROSTER_COLUMNS]
    _check_no_names(people, attributes, roster)
    _check_no_ids(people, attributes, roster)
    # What `data validate` would reject in the built dataset (a height of 0, a latitude of 95)
    # is refused here, naming the roster, rather than published.
    from personax.data.validate import validate_table

    checked = validate_table(people[["id", *attributes]], source=str(roster))
    if not checked.ok:
        raise BadInput(checked.summary())
    warnings: list[str] = []
    dropped = [c for c in people.columns if c not in (*attributes, "id", "name", "context")]
    if dropped:
        warnings.append(f"roster columns not carried over: {', '.join(dropped)}")

    unique_rows = unique_attribute_rows(people, attributes)

    # Traits: left join on the roster (people without traits keep empty scores).
    if not trait_table["id"].isin(set(ids)).any():
        raise BadInput(
            f"{traits}: no traits id matches a roster id in {roster} "
            "(are they the ids of the same people?)."
        )
    merged = people[["id", *attributes]].merge(trait_table, on="id", how="left")
    traits_missing = int((~people["id"].isin(set(trait_table["id"]))).sum())
    extra = int((~trait_table["id"].isin(set(ids))).sum())
    if extra:
        warnings.append(f"{extra} traits rows have ids not in the roster and were left out")

    # Text embeddings: one document per person and LLM.
    docs = trait_documents(answers)
    llms = sorted({m for (_, m) in docs})
    prefixes = {m: _llm_column_prefix(m) for m in llms}
    if len(set(prefixes.values())) != len(prefixes):
        raise BadInput(f"{store_path}: model names collide as column prefixes: {', '.join(llms)}.")
    embedder = text_embedder
    if embedder is None:
        with _no_model_loading_bars():
            embedder = TextEmbedder(text_model)
    keys = [(pid, m) for m in llms for pid in ids if (pid, m) in docs]
    cache_path = Path(cache) if cache is not None else default_cache_path(store_path)
    with EmbeddingCache(cache_path) as text_cache:
        vectors, stats = embed_texts([docs[k] for k in keys], embedder, text_cache, progress)
    row_of = {pid: i for i, pid in enumerate(ids)}
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    texts_missing: dict[str, int] = {}
    for m in llms:
        matrix = np.zeros((len(ids), embedder.dim), dtype=np.float32)
        present = np.zeros(len(ids), dtype=bool)
        for k, vec in zip(keys, vectors, strict=True):
            if k[1] == m:
                matrix[row_of[k[0]]] = vec
                present[row_of[k[0]]] = True
        embeddings[f"{prefixes[m]}_text_emb"] = (matrix, present)
        texts_missing[prefixes[m]] = int((~present).sum())

    # Image embeddings.
    encoder_name = None
    images_missing = images_unreadable = 0
    unreadable_images: tuple[str, ...] = ()
    if images is not None and encoder is not None:
        result = embed_images(ids, images, encoder, progress=progress)
        encoder_name = result.encoder
        images_missing, images_unreadable = len(result.missing), len(result.unreadable)
        unreadable_images = result.unreadable_files
        embeddings["face_emb"] = (np.nan_to_num(result.matrix), result.present)

    # Privacy: pseudonyms and rotations; rows sorted by pseudonym.
    published_ids = pseudonyms(key, ids)
    order = np.argsort(np.asarray(published_ids, dtype=object), kind="stable")
    arrays: dict[str, pa.Array] = {"id": pa.array([published_ids[i] for i in order], pa.string())}
    merged = merged.iloc[order].reset_index(drop=True)
    for col in attributes:
        arrays[col] = _attribute_array(merged[col])
    for col in trait_columns:
        arrays[col] = pa.array(merged[col], from_pandas=True)
    emb_dims: dict[str, int] = {}
    for col in embeddings:  # text embeddings in LLM order, then face_emb
        matrix, present = embeddings[col]
        rotated = obfuscate(matrix[order], key, col).astype(np.float32)
        arrays[col] = _list_column(rotated, present[order])
        emb_dims[col] = int(matrix.shape[1])
    table = pa.table(arrays)

    facts = CardFacts(
        pretty_name=pretty_name or f"PersonaX dataset ({len(ids)} people)",
        n_rows=len(ids),
        schema=table.schema,
        llms=tuple(prefixes[m] for m in llms),
        prompt_version=version,
        text_model=embedder.model_id,
        image_encoder=encoder_name,
        attributes=tuple(attributes),
        key_fingerprint=key_fingerprint(key),
        license=license,
        images_missing=images_missing,
        images_unreadable=images_unreadable,
        texts_missing=texts_missing,
        unique_attribute_rows=unique_rows,
        scale=int(answers["scale"].max()) if "scale" in answers and len(answers) else 3,
    )
    build_info = {
        "personax_version": __version__,
        "format": 1,
        "key_fingerprint": key_fingerprint(key),
        "embedding_columns": emb_dims,
        "transform": "orthogonal rotation per column, derived from the key (HMAC-SHA256)",
        "prompt_version": version,
        "text_model": embedder.model_id,
        "image_encoder": encoder_name,
        "rows": len(ids),
    }
    with atomic_dir(out) as tmp:
        (tmp / "data").mkdir()
        pq.write_table(table, tmp / DATA_FILE, **PARQUET_OPTIONS)
        facts = replace(  # sizes as `datasets` sees them: the Arrow table read back, the file
            facts,
            num_bytes=int(pq.read_table(tmp / DATA_FILE).nbytes),
            download_size=(tmp / DATA_FILE).stat().st_size,
        )
        write_text(tmp / "README.md", render_card(facts))
        write_json(tmp / BUILD_FILE, build_info)
    return BuildReport(
        out=str(out),
        rows=len(ids),
        llms=facts.llms,
        prompt_version=version,
        text_model=embedder.model_id,
        image_encoder=encoder_name,
        texts_embedded=stats.texts,
        texts_computed=stats.computed,
        texts_cached=stats.cached,
        texts_repeated=stats.repeated,
        texts_missing=texts_missing,
        images_missing=images_missing,
        images_unreadable=images_unreadable,
        traits_missing=traits_missing,
        attributes=tuple(attributes),
        unique_attribute_rows=unique_rows,
        warnings=tuple(warnings),
        unreadable_images=unreadable_images,
    )
