"""An ordinary ``explain`` prints no deprecation warning, with any tested family."""

from __future__ import annotations

import logging
import warnings

import pytest

from eagle_kit.testing.tiny_models import TINY_FAMILIES, VIDEO_FAMILIES

PROMPT = "describe the image ."


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _explain_quietly(model, media, prompt: str) -> tuple[list[warnings.WarningMessage], list[str]]:
    import transformers.utils.logging as hf_logging

    import eagle_kit as ek

    hf_logging.warning_once.cache_clear()  # messages already said once must be said again here
    handler = _Records()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gen = model.generate(media, prompt, max_new_tokens=3)
            ek.explain(
                model,
                media,
                prompt=prompt,
                generation=gen,
                n_regions=4,
                segmentation="grid",
                search="exact",
                progress=False,
            )
    finally:
        hf_logger.removeHandler(handler)
    deprecations = [
        w
        for w in caught
        if issubclass(w.category, (FutureWarning, DeprecationWarning, PendingDeprecationWarning))
        and ("transformers" in w.filename or "eagle_kit" in w.filename)
    ]
    said = [m for m in handler.messages if "deprecat" in m.lower() or "will be removed" in m]
    return deprecations, said


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_explain_emits_no_deprecation_warning(tiny_model, image_for, family: str) -> None:
    model = tiny_model(family)
    deprecations, said = _explain_quietly(model, image_for(family), PROMPT)
    assert not deprecations, [f"{w.filename}:{w.lineno}: {w.message}" for w in deprecations]
    assert not said, said


@pytest.mark.parametrize("family", VIDEO_FAMILIES)
def test_video_explain_emits_no_deprecation_warning(tiny_model, family: str) -> None:
    import numpy as np

    model = tiny_model(family)
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    deprecations, said = _explain_quietly(model, frames, "describe the video .")
    assert not deprecations, [f"{w.filename}:{w.lineno}: {w.message}" for w in deprecations]
    assert not said, said


def test_tested_transformers_range_is_declared() -> None:
    """pyproject states the range the suite runs on; the installed version lies inside it."""
    import re
    from pathlib import Path

    import transformers
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not run from a source tree")
    spec = re.search(r'"transformers([<>=!~][^"]*)"', pyproject.read_text())
    assert spec, "pyproject.toml must pin a transformers range"
    specifier = SpecifierSet(spec.group(1))
    assert any(s.operator == "<" for s in specifier), "an upper bound is needed"
    assert Version(transformers.__version__) in specifier
