"""Image encoders and the image-embedding pass (missing/unreadable images never fatal)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from personax.build.images import (
    ImageEncoder,
    PixelProjectionEncoder,
    embed_images,
    find_image,
    load_image_encoder,
)
from personax.errors import BadInput


def test_pixel_projection_deterministic_and_normalised():
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (30 + i, 20, 3), dtype=np.uint8)) for i in range(4)
    ]
    enc = PixelProjectionEncoder()
    assert isinstance(enc, ImageEncoder)
    a = enc.encode(images)
    assert a.shape == (4, enc.dim) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, PixelProjectionEncoder().encode(images))
    assert not np.allclose(a, PixelProjectionEncoder(seed=1).encode(images))
    flat = Image.new("RGB", (10, 10), (7, 7, 7))  # constant image: no NaN
    assert np.all(np.isfinite(enc.encode([flat])))
    assert enc.encode([]).shape == (0, enc.dim)


def test_encoder_specs(tmp_path):
    assert load_image_encoder(None).name == "pixel-projection"
    with pytest.raises(BadInput, match="unknown image encoder"):
        load_image_encoder("imagebind")
    with pytest.raises(BadInput, match="CLIP checkpoint folder not found"):
        load_image_encoder(f"clip:{tmp_path / 'none'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="cannot load a CLIP model"):
        load_image_encoder(f"clip:{tmp_path / 'empty'}")
    with pytest.raises(BadInput, match="open_clip"):
        load_image_encoder("open_clip:ViT-B-32")
    with pytest.raises(BadInput, match="open_clip"):
        load_image_encoder(f"open_clip:ViT-B-32:{tmp_path / 'none.pt'}")


def test_missing_and_unreadable_images_are_counted(tmp_path):
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "b.JPG")
    (tmp_path / "c.webp").write_bytes(b"garbage")
    ids = ["a", "b", "c", "d", "../a", ""]
    seen = []
    result = embed_images(
        ids, tmp_path, PixelProjectionEncoder(), batch_size=2, progress=lambda *a: seen.append(a)
    )
    assert result.present.tolist() == [True, True, False, False, False, False]
    assert result.unreadable == ("c",)
    (named,) = result.unreadable_files  # the file and why, for the builder to fix
    assert named.startswith(f"{tmp_path / 'c.webp'}: ") and len(named) > len(str(tmp_path)) + 9
    assert result.missing == ("d", "../a", "")
    assert np.isnan(result.matrix[2:]).all() and np.isfinite(result.matrix[:2]).all()
    assert seen[-1] == ("image embeddings", 6, 6)
    assert find_image(tmp_path, "b") == tmp_path / "b.JPG"


def test_encoder_with_wrong_output_shape_is_rejected(tmp_path):
    class Broken:
        name, dim = "broken", 3

        def encode(self, images):
            return np.zeros((len(images), 2))

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    with pytest.raises(BadInput, match="broken"):
        embed_images(["a"], tmp_path, Broken())
    with pytest.raises(BadInput, match="images folder not found"):
        embed_images(["a"], tmp_path / "nope", Broken())


def test_clip_encoder_from_a_local_folder(tmp_path):
    # A tiny randomly initialised CLIP written to disk: exercises clip:PATH fully offline.
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "vocab_size": 100,
            "max_position_embeddings": 16,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=12,
    )
    folder = tmp_path / "tiny-clip"
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    encoder = load_image_encoder(f"clip:{folder}")
    assert isinstance(encoder, ImageEncoder)
    assert (encoder.name, encoder.dim) == ("clip:tiny-clip", 12)
    Image.new("RGB", (40, 50), (10, 20, 30)).save(tmp_path / "a.png")
    Image.new("L", (20, 20), 200).save(tmp_path / "b.png")  # greyscale is converted to RGB
    result = embed_images(["a", "b", "c"], tmp_path, encoder)
    assert result.matrix.shape == (3, 12) and result.present.tolist() == [True, True, False]
    assert np.isfinite(result.matrix[:2]).all()
    again = embed_images(["a", "b"], tmp_path, encoder)
    assert np.allclose(again.matrix, result.matrix[:2], atol=1e-6)
