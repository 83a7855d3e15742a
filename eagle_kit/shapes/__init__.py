"""The synthetic shapes world and the embedded model trained on it.

``make_scene(seed)`` draws a 64×64 scene of 1–3 coloured shapes whose truth (objects, masks,
caption, yes/no answers) is known; :data:`CAPTION_PROMPT` and :data:`QUESTION_TEMPLATE` are
the prompts the embedded model (``data/shapes-vlm``) was trained on. The subset generators
build the planted hallucination case (yellow triangle + green square) and its controls.

Example:
    >>> from eagle_kit import shapes
    >>> scene = shapes.hallucination_scene(0)
    >>> shapes.is_planted_case(scene)
    True
"""

from .evaluate import (
    GateFigures,
    GateThresholds,
    caption_exact_match,
    gate_figures,
    gate_passes,
    generate,
    hallucination_rates,
    load_folder,
    yes_no_accuracy,
)
from .model import (
    CHAT_TEMPLATE,
    PIXEL_MEAN,
    PIXEL_STD,
    SPARE_WORDS,
    ModelSize,
    build_model,
    build_processor,
    build_tokenizer,
    messages_for,
    save_pretrained_folder,
    vocabulary,
)
from .world import (
    CAPTION_PREFIX,
    CAPTION_PROMPT,
    CELL_SIZE,
    COLOURS,
    COOCCURRENCE_RATE,
    GRID,
    IMAGE_SIZE,
    OCCLUSION_RATE,
    PAIRS,
    PLANTED_MAX_SIZE,
    QUESTION_TEMPLATE,
    SHAPES,
    SUBSETS,
    Scene,
    ShapeObject,
    annotated_pairs,
    caption_for,
    control_scene,
    cooccurrence_scene,
    hallucination_scene,
    is_planted_case,
    make_scene,
    make_subset,
    question_for,
)

__all__ = [
    "CAPTION_PREFIX",
    "CAPTION_PROMPT",
    "CELL_SIZE",
    "CHAT_TEMPLATE",
    "COLOURS",
    "COOCCURRENCE_RATE",
    "GRID",
    "IMAGE_SIZE",
    "OCCLUSION_RATE",
    "PAIRS",
    "PIXEL_MEAN",
    "PIXEL_STD",
    "PLANTED_MAX_SIZE",
    "QUESTION_TEMPLATE",
    "SHAPES",
    "SPARE_WORDS",
    "SUBSETS",
    "GateFigures",
    "GateThresholds",
    "ModelSize",
    "Scene",
    "ShapeObject",
    "annotated_pairs",
    "build_model",
    "build_processor",
    "build_tokenizer",
    "caption_exact_match",
    "caption_for",
    "control_scene",
    "cooccurrence_scene",
    "gate_figures",
    "gate_passes",
    "generate",
    "hallucination_rates",
    "hallucination_scene",
    "is_planted_case",
    "load_folder",
    "make_scene",
    "make_subset",
    "messages_for",
    "question_for",
    "save_pretrained_folder",
    "vocabulary",
    "yes_no_accuracy",
]
