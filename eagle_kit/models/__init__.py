"""Multimodal LLMs as EAGLE scorers: Hugging Face models and OpenAI-compatible servers.

Example:
    >>> import eagle_kit as ek
    >>> model = ek.load_model("shapes")  # doctest: +SKIP
    >>> gen = model.generate(image, "What is in the image?")  # doctest: +SKIP
    >>> expl = ek.explain(model, image, prompt="What is in the image?", generation=gen)  # doctest: +SKIP
"""

from .api import APIError, APIScorer, OpenAIScorer
from .batching import AdaptiveBatcher
from .families import FAMILIES, Family
from .generation import Generation
from .hf import ModelScorer, VisionLanguageModel
from .loading import load_model, shapes_model_path
from .pixels import PixelLayout

__all__ = [
    "load_model",
    "VisionLanguageModel",
    "ModelScorer",
    "Generation",
    "OpenAIScorer",
    "APIScorer",
    "APIError",
    "Family",
    "FAMILIES",
    "PixelLayout",
    "AdaptiveBatcher",
    "shapes_model_path",
]
