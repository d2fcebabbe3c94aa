"""Column conventions of PersonaX tables shared by the alias table, validation and the sample."""

from __future__ import annotations

FACE_ATTRIBUTES = (
    "arched_eyebrows",
    "big_nose",
    "pointy_nose",
    "bushy_eyebrows",
    "big_lips",
    "oval_face",
    "double_chin",
    "receding_hairline",
    "narrow_eyes",
    "high_cheekbones",
    "chubby",
)
"""The CelebA face attributes kept by CelebPersona (coded -1/1), canonical snake_case."""

NUMERIC_ATTRIBUTES = (
    "height",
    "weight",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_day_index",
    "birth_day_sin",
    "birth_day_cos",
    "latitude",
    "longitude",
)
"""Attributes that must hold numbers wherever they are present (CelebPersona's order)."""

RANGES = {
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "birth_month": (1.0, 12.0),
    "birth_day": (1.0, 31.0),
    "birth_day_index": (1.0, 366.0),
    "birth_day_sin": (-1.0, 1.0),
    "birth_day_cos": (-1.0, 1.0),
}
"""Inclusive plausible ranges; values outside are validation errors."""
