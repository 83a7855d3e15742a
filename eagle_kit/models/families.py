"""The few quirks each vision-language family really has; everything else is generic.

Loading and scoring go through ``AutoModelForImageTextToText`` and ``AutoProcessor``; a
model type missing from :data:`FAMILIES` still works when its processor follows the common
conventions (chat template with ``{"type": "image"}`` content, an ``image_token`` attribute,
``pixel_values`` concatenated along dim 0 over a batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Family", "FAMILIES", "family_of"]


@dataclass(frozen=True)
class Family:
    """What differs between families.

    Attributes:
        name: display name.
        video: the family takes video frames (``F×H×W×3``).
        video_kwargs: options for the video processor so that every given frame is used as
            is (no frame sampling), which teacher forcing on masked frames requires.
        prefix_cache: the text before the first image token can be run once and its
            key/value cache shared by every masked image (exact for causal attention with
            positions known in advance).
        mrope: positions are 3-D (Qwen's multimodal RoPE); computed once and passed in.
    """

    name: str
    video: bool = False
    video_kwargs: dict[str, Any] = field(default_factory=dict)
    prefix_cache: bool = True
    mrope: bool = False


FAMILIES: dict[str, Family] = {
    "llava": Family("LLaVA-1.5"),
    "llava_next": Family("LLaVA-NeXT"),
    "llava_onevision": Family(
        "LLaVA-OneVision", video=True, video_kwargs={"do_sample_frames": False}
    ),
    "qwen2_vl": Family(
        "Qwen2-VL", video=True, video_kwargs={"do_sample_frames": False}, mrope=True
    ),
    "qwen2_5_vl": Family(
        "Qwen2.5-VL", video=True, video_kwargs={"do_sample_frames": False}, mrope=True
    ),
    "qwen3_vl": Family(
        "Qwen3-VL", video=True, video_kwargs={"do_sample_frames": False}, mrope=True
    ),
    "internvl": Family("InternVL", video=True, video_kwargs={"do_sample_frames": False}),
    "idefics3": Family("Idefics3"),
    "smolvlm": Family("SmolVLM", video=True, video_kwargs={"do_sample_frames": False}),
    # Image tokens attend to each other bidirectionally; the text before them is causal.
    "gemma3": Family("Gemma 3", prefix_cache=False),
}


def family_of(model_type: str) -> Family:
    """The quirks of ``model_type`` (a generic family for types not in :data:`FAMILIES`)."""
    return FAMILIES.get(model_type, Family(model_type, prefix_cache=False))
