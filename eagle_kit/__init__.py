"""eagle_kit — explain where multimodal LLMs look and what they rely on, token by token.

>>> import eagle_kit as ek
>>> regions = ek.segment(image, n_regions=64)                    # doctest: +SKIP
>>> expl = ek.explain(scorer, image, regions=regions)            # doctest: +SKIP
>>> expl.attribution_map(), ek.metrics.insertion_auc(expl)       # doctest: +SKIP

Heavy parts (models: torch/transformers; widgets: anywidget) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from . import baselines, metrics
from .api import explain, score_order, score_saliency
from .errors import InputError
from .explanation import Explanation, load_explanation
from .images import NativeSizeWarning, load_frames, load_image, native_image
from .regions import RegionSet, segment
from .scoring import FunctionScorer, PreparedScorer
from .search import SearchConfig, SearchInterrupted
from .threads import set_threads

_LAZY = {
    "load_model": "eagle_kit.models",
    "VisionLanguageModel": "eagle_kit.models",
    "Generation": "eagle_kit.models",
    "OpenAIScorer": "eagle_kit.models",
    "Explorer": "eagle_kit.widgets",
    "TokenTimeline": "eagle_kit.widgets",
    "RegionOverlay": "eagle_kit.widgets",
    "AblationSlider": "eagle_kit.widgets",
    "shapes": "eagle_kit.shapes",
    "runs": "eagle_kit.runs",
    "plot": "eagle_kit.plot",
    "targets": "eagle_kit.targets",
    "open_results": "eagle_kit.runs",
    "evaluate": "eagle_kit.runs",
}

__all__ = [
    "__version__",
    "explain",
    "score_saliency",
    "score_order",
    "baselines",
    "segment",
    "RegionSet",
    "Explanation",
    "load_explanation",
    "SearchConfig",
    "SearchInterrupted",
    "PreparedScorer",
    "FunctionScorer",
    "load_image",
    "native_image",
    "set_threads",
    "NativeSizeWarning",
    "InputError",
    "load_frames",
    "metrics",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if name in ("shapes", "runs", "plot", "targets") else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eagle_kit' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
