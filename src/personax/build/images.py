"""Face / image embeddings through a pluggable encoder.

Encoders (``--image-encoder``):

- ``pixel-projection`` (default): needs no download and no model. Each image is centre-cropped
  to a square, resized to 32 × 32 RGB, standardised (zero mean, unit variance over its pixels),
  then multiplied by a fixed Gaussian random projection (seed 0) to 256 numbers and scaled to
  unit length. It is a deterministic *pixel-statistics descriptor*, NOT a face model: it keeps
  coarse colour and layout (skin tone, lighting, pose), not identity-level facial features.
  Use it for pipelines and tests; use a real encoder for research.
- ``clip:PATH``: a CLIP-family model from a LOCAL Hugging Face ``transformers`` folder
  (``CLIPModel`` + its image processor), image features (e.g. 512-d for ViT-B/32).
- ``open_clip:ARCH:PATH``: an ``open_clip`` architecture name and a LOCAL checkpoint file.

Nothing is ever downloaded; a missing package or checkpoint is a BadInput naming it.
Any other encoder fits if it has ``name``, ``dim`` and ``encode(list[PIL.Image]) -> ndarray``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from personax.errors import BadInput

Progress = Callable[[str, int, int], None]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
DEFAULT_IMAGE_ENCODER = "pixel-projection"


@runtime_checkable
class ImageEncoder(Protocol):
    """What the build needs from an image encoder."""

    name: str
    dim: int

    def encode(self, images: list) -> np.ndarray:
        """Return an ``len(images) × dim`` float array (one row per PIL image)."""
        ...


class PixelProjectionEncoder:
    """Deterministic random projection of a 32 × 32 standardised RGB thumbnail (no model)."""

    def __init__(self, dim: int = 256, side: int = 32, seed: int = 0):
        self.name = (
            "pixel-projection"
            if (dim, side, seed) == (256, 32, 0)
            else (f"pixel-projection-{dim}-{side}-{seed}")
        )
        self.dim = dim
        self.side = side
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((side * side * 3, dim)) / np.sqrt(dim)

    def _thumbnail(self, image) -> np.ndarray:
        from PIL import ImageOps

        rgb = image.convert("RGB")
        square = ImageOps.fit(rgb, (self.side, self.side), method=3)  # 3 = bicubic
        pixels = np.asarray(square, dtype=np.float64).reshape(-1) / 255.0
        std = pixels.std()
        return (pixels - pixels.mean()) / std if std > 0 else pixels - pixels.mean()

    def encode(self, images: list) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        features = np.stack([self._thumbnail(im) for im in images]) @ self._projection
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        features = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
        return features.astype(np.float32)


class TransformersClipEncoder:
    """CLIP image features from a local ``transformers`` checkpoint folder."""

    def __init__(self, folder: str | os.PathLike[str], device: str = "cpu"):
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise BadInput(
                f"{path}: CLIP checkpoint folder not found (clip:PATH needs a local folder)."
            )
        try:
            from transformers import CLIPImageProcessor, CLIPModel
        except ImportError as exc:
            raise BadInput(
                "clip:PATH needs the package transformers (pip install transformers)."
            ) from exc
        try:
            self._model = CLIPModel.from_pretrained(path, local_files_only=True).to(device).eval()
            self._processor = CLIPImageProcessor.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # missing or corrupt files: one sentence
            raise BadInput(
                f"{path}: cannot load a CLIP model from this folder ({type(exc).__name__})."
            ) from exc
        self._device = device
        self.name = f"clip:{path.name}"
        self.dim = int(self._model.config.projection_dim)

    def encode(self, images: list) -> np.ndarray:
        import torch

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = self._processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        with torch.no_grad():
            feats = self._model.get_image_features(
                pixel_values=inputs["pixel_values"].to(self._device)
            )
        if not isinstance(feats, torch.Tensor):  # some versions return a model output object
            feats = feats.pooler_output
        return feats.float().cpu().numpy()


class OpenClipEncoder:
    """open_clip image features from an architecture name and a local checkpoint file."""

    def __init__(self, architecture: str, checkpoint: str | os.PathLike[str], device: str = "cpu"):
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise BadInput(f"{path}: open_clip checkpoint file not found.")
        try:
            import open_clip
        except ImportError as exc:
            raise BadInput("open_clip:ARCH:PATH needs the package open_clip_torch.") from exc
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                architecture, pretrained=str(path), device=device
            )
        except Exception as exc:
            raise BadInput(
                f"{path}: cannot load open_clip architecture '{architecture}' ({type(exc).__name__})."
            ) from exc
        self._model = model.eval()
        self._preprocess = preprocess
        self._device = device
        self.name = f"open_clip:{architecture}:{path.name}"
        self.dim = int(getattr(model.visual, "output_dim", 0)) or self._probe_dim()

    def _probe_dim(self) -> int:
        from PIL import Image

        return int(self.encode([Image.new("RGB", (8, 8))]).shape[1])

    def encode(self, images: list) -> np.ndarray:
        import torch

        if not images:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        batch = torch.stack([self._preprocess(im.convert("RGB")) for im in images]).to(self._device)
        with torch.no_grad():
            feats = self._model.encode_image(batch)
        return feats.float().cpu().numpy()


def load_image_encoder(spec: str | None = None) -> ImageEncoder:
    """Build the encoder named by ``spec`` (see the module docstring)."""
    spec = (spec or DEFAULT_IMAGE_ENCODER).strip()
    if spec == DEFAULT_IMAGE_ENCODER:
        return PixelProjectionEncoder()
    if spec.startswith("clip:"):
        return TransformersClipEncoder(spec[len("clip:") :])
    if spec.startswith("open_clip:"):
        parts = spec.split(":", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise BadInput(f"image encoder '{spec}': expected open_clip:ARCH:PATH.")
        return OpenClipEncoder(parts[1], parts[2])
    raise BadInput(
        f"unknown image encoder '{spec}'; use pixel-projection, clip:PATH or open_clip:ARCH:PATH."
    )


def find_image(folder: Path, person_id: str) -> Path | None:
    """``folder/<id>.<jpg|jpeg|png|webp>`` (suffix case-insensitive), or None."""
    if not person_id or Path(person_id).name != person_id or person_id.startswith("."):
        return None  # an id that is not a plain file name never reaches outside the folder
    for suffix in IMAGE_SUFFIXES:
        for candidate in (suffix, suffix.upper()):
            path = folder / f"{person_id}{candidate}"
            if path.is_file():
                return path
    return None


@dataclass(frozen=True)
class ImageEmbeddings:
    """Embeddings in the order of the ids given; rows of absent images are NaN."""

    matrix: np.ndarray
    present: np.ndarray
    missing: tuple[str, ...]
    unreadable: tuple[str, ...]
    encoder: str
    # "<path>: <reason>" for each unreadable file, so the builder can find and fix it
    unreadable_files: tuple[str, ...] = ()


def embed_images(
    person_ids: Sequence[str],
    folder: str | os.PathLike[str],
    encoder: ImageEncoder,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> ImageEmbeddings:
    """Embed ``folder/<id>.<ext>`` for every id; missing or unreadable files are only counted."""
    from PIL import Image, UnidentifiedImageError

    root = Path(folder)
    if not root.is_dir():
        raise BadInput(f"{root}: images folder not found.")
    n = len(person_ids)
    matrix = np.full((n, encoder.dim), np.nan, dtype=np.float32)
    present = np.zeros(n, dtype=bool)
    missing: list[str] = []
    unreadable: list[str] = []
    unreadable_files: list[str] = []
    if progress:
        progress("image embeddings", 0, n)
    for start in range(0, n, batch_size):
        rows, images = [], []
        for i in range(start, min(start + batch_size, n)):
            path = find_image(root, str(person_ids[i]))
            if path is None:
                missing.append(str(person_ids[i]))
                continue
            try:
                with Image.open(path) as im:
                    im.load()
                    images.append(im.convert("RGB"))
                rows.append(i)
            except (
                OSError,
                UnidentifiedImageError,
                ValueError,
                Image.DecompressionBombError,
            ) as exc:
                unreadable.append(str(person_ids[i]))
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                unreadable_files.append(f"{path}: {reason}")
        if images:
            feats = np.asarray(encoder.encode(images), dtype=np.float32)
            if feats.shape != (len(images), encoder.dim):
                raise BadInput(
                    f"image encoder '{encoder.name}' returned shape {feats.shape}, "
                    f"expected ({len(images)}, {encoder.dim})."
                )
            matrix[rows] = feats
            present[rows] = True
        if progress:
            progress("image embeddings", min(start + batch_size, n), n)
    return ImageEmbeddings(
        matrix=matrix,
        present=present,
        missing=tuple(missing),
        unreadable=tuple(unreadable),
        encoder=encoder.name,
        unreadable_files=tuple(unreadable_files),
    )
