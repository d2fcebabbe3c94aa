"""Trait documents from the store, MiniLM embeddings, the embedding cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personax.build.text import (
    DEFAULT_TEXT_MODEL,
    EmbeddingCache,
    embed_texts,
    resolve_text_model,
    trait_documents,
)
from personax.errors import BadInput


def _answers(rows):
    cols = ["id", "model", "prompt_version", "repeat", "status", "trait", "score", "description"]
    return pd.DataFrame(rows, columns=cols)


def test_documents_order_repeats_and_status():
    rows = [
        ("p1", "gpt", "v", 1, "ok", "o", 2, "late repeat"),
        ("p1", "gpt", "v", 0, "ok", "n", 1, "calm"),
        ("p1", "gpt", "v", 0, "ok", "openness", 2, "curious"),
        ("p1", "gpt", "v", 0, "ok", "c", 0, "   "),
        ("p2", "gpt", "v", 0, "refusal", "o", 0, "refused"),
        ("p3", "gpt", "v", 0, "ok", "o", 0, ""),
    ]
    docs = trait_documents(_answers(rows))
    assert docs == {("p1", "gpt"): "Openness: curious\nNeuroticism: calm"}


def test_documents_empty_and_bad_columns():
    assert trait_documents(_answers([])) == {}
    with pytest.raises(BadInput, match="description"):
        trait_documents(
            pd.DataFrame({"id": ["a"], "model": ["m"]}).assign(repeat=0, status="ok", trait="o")
        )


def test_resolve_text_model(tmp_path):
    target, model_id = resolve_text_model(None)
    assert model_id == DEFAULT_TEXT_MODEL
    with pytest.raises(BadInput, match="not found"):
        resolve_text_model(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="not a sentence-transformers"):
        resolve_text_model(str(tmp_path / "empty"))
    assert resolve_text_model("owner/model") == ("owner/model", "owner/model")


def test_minilm_embeddings_and_cache(minilm, tmp_path):
    texts = ["Openness: likes new ideas", "Openness: prefers routine", "Openness: likes new ideas"]
    calls = []
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        first, stats = embed_texts(texts, minilm, cache, progress=lambda *a: calls.append(a))
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first[0], first[2])
    # the repeated text is embedded once; it did not come from the (empty) cache
    assert (stats.computed, stats.cached, stats.repeated) == (2, 0, 1)
    assert calls[-1] == ("text embeddings", 2, 2)
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        again, stats2 = embed_texts(texts, minilm, cache)
    assert (stats2.computed, stats2.cached, stats2.repeated) == (0, 3, 0)
    assert np.array_equal(first, again)
    empty, stats3 = embed_texts([], minilm, None)
    assert empty.shape == (0, 384) and stats3.texts == 0


def test_cache_rejects_non_sqlite(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all, definitely not" * 10)
    with pytest.raises(BadInput, match="cache"):
        EmbeddingCache(bad)


def test_a_text_embeds_to_the_same_bytes_alone_and_in_any_batch(minilm):
    # Padding to a batch's longest text changed the last bits, so a warm and a cold cache
    # gave different dataset bytes.
    texts = [
        "Openness: curious",
        "Openness: enjoys travel, art, new cuisines and long conversations about ideas\n" * 3,
        "Openness: curious",  # the same length as the first: may share its batch
        "Neuroticism: calm under pressure, rarely anxious",
        "Openness: careful",
    ]
    together = minilm.encode(texts)
    for i, text in enumerate(texts):
        assert minilm.encode([text]).tobytes() == together[i].tobytes(), text
    assert minilm.encode(texts[::-1]).tobytes() == together[::-1].tobytes()
