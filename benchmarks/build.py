"""Dataset build: embedding throughput and the privacy check's numbers.

Measures, on this machine:

1. Text embeddings — bundled all-MiniLM-L6-v2 (sentence-transformers, CPU, torch threads 2):
   documents of five trait descriptions per second, cold (computed) and warm (from the cache).
2. Image embeddings — the default `pixel-projection` encoder, including JPEG decoding from
   disk (images/s); CLIP only if a local checkpoint folder is given with
   ``--clip PATH`` or ``PERSONAX_CLIP_CHECKPOINT`` (none ships with personax, nothing is
   downloaded).
3. Privacy — on the MiniLM document embeddings and the image embeddings: nearest-neighbour
   re-identification top-1 accuracy with the right key, a wrong key, no key (published vectors
   as they are) and chance; the worst pairwise-distance change; a dependence statistic
   (distance correlation with a trait score) before / after; and the documented limit —
   an attacker who knows k matched pairs (orthogonal Procrustes).
4. Cost of the transform at CelebPersona scale (9,444 × 384) and the key-derived orthogonal
   matrix against scipy's Haar sampler (`scipy.stats.ortho_group`) as a ratio.

Usage: ``python benchmarks/build.py [--texts 256] [--images 400] [--out benchmarks/results/build.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from personax import TRAIT_NAMES  # noqa: E402
from personax.build.images import PixelProjectionEncoder, embed_images, load_image_encoder  # noqa: E402
from personax.build.privacy import (  # noqa: E402
    obfuscate,
    orthogonal_matrix,
    privacy_check,
    procrustes_attack_accuracy,
)
from personax.build.text import EmbeddingCache, TextEmbedder, embed_texts  # noqa: E402

WORDS = (
    "calm focused driven curious reserved outgoing generous stubborn meticulous playful "
    "competitive loyal anxious confident patient impulsive humble vocal private creative"
).split()


def _documents(n: int, rng: np.random.Generator) -> list[str]:
    """Synthetic trait documents of realistic length (five lines of 15-25 words)."""
    docs = []
    for _ in range(n):
        lines = []
        for name in TRAIT_NAMES.values():
            words = rng.choice(WORDS, size=int(rng.integers(15, 26)))
            lines.append(f"{name.capitalize()}: described in interviews as {' '.join(words)}.")
        docs.append("\n".join(lines))
    return docs


def _write_images(folder: Path, n: int, rng: np.random.Generator) -> list[str]:
    from PIL import Image

    ids = [f"p{i:05d}" for i in range(n)]
    for pid in ids:
        base = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((256, 256), resample=Image.BICUBIC)
        image.save(folder / f"{pid}.jpg", quality=90)
    return ids


def _timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def _best_of(repeats: int, fn, *args, **kw):
    """Fastest of a few runs: the machine is shared, the minimum is the least disturbed."""
    runs = [_timed(fn, *args, **kw) for _ in range(repeats)]
    return min(runs, key=lambda r: r[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clip", default=os.environ.get("PERSONAX_CLIP_CHECKPOINT"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "build.json"
    )
    args = parser.parse_args()

    import scipy.stats
    import torch

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({args.threads} threads)",
    }
    print(results["machine"])

    # 1. Text embeddings.
    docs = _documents(args.texts, rng)
    embedder, load_s = _timed(TextEmbedder)
    embedder.encode(docs[:8])  # warm-up (first call allocates)
    with tempfile.TemporaryDirectory() as tmp:
        with EmbeddingCache(Path(tmp) / "cache.sqlite") as cache:
            (text_emb, _), cold_s = _timed(embed_texts, docs, embedder, cache)
            (_, stats), warm_s = _timed(embed_texts, docs, embedder, cache)
    assert stats.computed == 0
    tokens = np.mean([len(embedder._model.tokenizer(d)["input_ids"]) for d in docs[:50]])
    by_threads = {}
    for threads in (1, 2):  # on a shared machine one thread can beat two (no barrier waits)
        torch.set_num_threads(threads)
        _, seconds = _best_of(2, embedder.encode, docs[:64])
        by_threads[str(threads)] = round(64 / seconds, 1)
    torch.set_num_threads(args.threads)
    results["text"] = {
        "model": embedder.model_id,
        "documents": args.texts,
        "mean_tokens_per_document": round(float(tokens), 1),
        "model_load_s": round(load_s, 2),
        "documents_per_s": round(args.texts / cold_s, 1),
        "cached_documents_per_s": round(args.texts / warm_s, 1),
        "documents_per_s_by_torch_threads_64_docs": by_threads,
    }
    print(f"text: {results['text']}")

    # 2. Image embeddings.
    with tempfile.TemporaryDirectory() as tmp:
        ids = _write_images(Path(tmp), args.images, rng)
        encoder = PixelProjectionEncoder()
        face, image_s = _timed(embed_images, ids, tmp, encoder)
        results["image"] = {
            "encoder": encoder.name,
            "images": args.images,
            "source": "256x256 JPEG files on disk (decoding included)",
            "images_per_s": round(args.images / image_s, 1),
        }
        if args.clip:
            clip = load_image_encoder(f"clip:{args.clip}")
            _, clip_s = _timed(embed_images, ids[:64], tmp, clip)
            results["image"]["clip_images_per_s"] = round(64 / clip_s, 1)
        else:
            results["image"]["clip"] = "not measured: no local CLIP checkpoint on this machine"
    print(f"image: {results['image']}")

    # 3. Privacy numbers.
    key, wrong_key = (
        bytes(rng.integers(0, 256, 32, dtype=np.uint8)),
        bytes(rng.integers(0, 256, 32, dtype=np.uint8)),
    )
    scores = rng.integers(1, 4, max(args.texts, args.images)).astype(float)
    text_check = privacy_check(
        text_emb, scores[: args.texts], key, wrong_key, column="chatgpt_text_emb"
    )
    face_check = privacy_check(
        face.matrix, scores[: args.images], key, wrong_key, column="face_emb"
    )
    results["privacy"] = {"text": text_check.to_dict(), "face": face_check.to_dict()}
    for name, check in (("text", text_check), ("face", face_check)):
        print(
            f"privacy {name}: n={check.n} dim={check.dim} reid top-1 right key "
            f"{check.reid_top1_right_key:.3f}, wrong key {check.reid_top1_wrong_key:.4f}, "
            f"no key {check.reid_top1_no_key:.4f}, chance {check.chance:.4f}; max distance "
            f"error {check.max_distance_error:.2e}; dCor {check.statistic_original:.6f} -> "
            f"{check.statistic_published:.6f}"
        )
    for name, emb, column in (
        ("text", text_emb, "chatgpt_text_emb"),
        ("face", face.matrix, "face_emb"),
    ):
        published = obfuscate(emb, key, column)
        n, dim = emb.shape
        attack = {}
        for known in sorted({10, 50, 100, dim // 2, dim, 2 * dim}):
            if known <= n - 50:  # keep at least 50 people to re-identify
                attack[str(known)] = round(procrustes_attack_accuracy(emb, published, known), 4)
        results["privacy"][f"procrustes_{name}_known_pairs_top1"] = attack
        # Participation ratio of the covariance spectrum: how many dimensions the data
        # really occupies (why far fewer than `dim` known pairs suffice).
        eigen = np.clip(np.linalg.eigvalsh(np.cov(emb, rowvar=False)), 0, None)
        effective = float(eigen.sum() ** 2 / (eigen**2).sum())
        results["privacy"][f"{name}_effective_dimension"] = round(effective, 1)
        print(
            f"procrustes attack on {name} (known pairs -> top-1 on the rest): {attack}; "
            f"effective dimension {effective:.1f} of {dim}"
        )

    # 4. Transform cost at CelebPersona scale, and the matrix against scipy's Haar sampler.
    big = rng.standard_normal((9444, 384)).astype(np.float32)
    orthogonal_matrix(key, "warm-up", 384)  # first BLAS call starts its threads
    _, rotate_s = _best_of(3, obfuscate, big, key, "chatgpt_text_emb")
    _, ours_s = _best_of(3, orthogonal_matrix, key, "x", 384)
    _, scipy_s = _best_of(3, scipy.stats.ortho_group.rvs, 384, random_state=0)
    results["transform"] = {
        "rows": 9444,
        "dim": 384,
        "obfuscate_s": round(rotate_s, 3),
        "orthogonal_matrix_s": round(ours_s, 4),
        "scipy_ortho_group_s": round(scipy_s, 4),
        "ratio_scipy_over_ours": round(scipy_s / ours_s, 2),
    }
    print(f"transform: {results['transform']}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
