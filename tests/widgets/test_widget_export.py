"""save_html: one self-contained page, state and buffers embedded, no network, no kernel."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from eagle_kit.widgets import AblationSlider, Explorer, RegionOverlay, TokenTimeline, save_html
from eagle_kit.widgets.export import page_state


def read_state(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="ek-state">(.*?)</script>', page, re.S)
    assert match, "no embedded state"
    return json.loads(match.group(1))


def test_explorer_page_embeds_all_parts(expl, tmp_path: Path) -> None:
    explorer = Explorer(expl, curves="plotly")
    explorer.select(" red")
    explorer.k = 6
    path = explorer.save_html(tmp_path / "out" / "explorer.html", title="red <square>")
    page = path.read_text()
    assert "<title>red &lt;square&gt;</title>" in page
    state = read_state(page)
    library = explorer._plotly_library
    ids = {
        explorer.model_id,
        explorer.timeline.model_id,
        explorer.overlay.model_id,
        explorer.slider.model_id,
        library.model_id,  # plotly.js, once, for the plotly curves
    }
    assert state["root"] == explorer.model_id and set(state["models"]) == ids
    root = state["models"][explorer.model_id]["state"]
    assert root["_plotly"] == f"anywidget:{library.model_id}"
    assert state["models"][library.model_id]["state"]["source"] == library.source
    assert page.count("plotly.js v") == 1
    assert root["_links"] == explorer._links and root["_browser_links"] is True
    assert explorer._browser_links is False  # in the notebook, Python links the parts
    slider = state["models"][explorer.slider.model_id]["state"]
    assert (slider["k"], slider["selected"]) == (6, [1])  # the current state is what opens
    assert "export default" in slider["_esm"]


def test_buffers_are_base64_and_decode_to_the_dataset(expl, tmp_path: Path) -> None:
    slider = AblationSlider(expl)
    saved = read_state(save_html(slider, tmp_path / "s.html").read_text())["models"][
        slider.model_id
    ]
    paths = [b["path"] for b in saved["buffers"]]
    assert ["data", "image", "data"] in paths
    buf = saved["buffers"][paths.index(["data", "deletion", "data"])]
    values = np.frombuffer(base64.b64decode(buf["data"]), "<f4").reshape(
        saved["state"]["data"]["deletion"]["shape"]
    )
    np.testing.assert_allclose(values, expl.dataset["deletion"].values, rtol=1e-6)


def test_live_mode_is_switched_off_in_pages(expl, tmp_path: Path) -> None:
    slider = AblationSlider(expl, scorer=lambda x: np.full((len(x), 6), 0.5), live=True)
    state = page_state(slider)["models"][slider.model_id]["state"]
    assert state["live"] is False and state["has_scorer"] is False and state["live_probs"] == []
    assert slider.live is True  # the widget itself is untouched


def test_page_has_no_network_references(expl, tmp_path: Path) -> None:
    page = Explorer(expl).save_html(tmp_path / "e.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)
    assert not re.search(r"""import[^;]*["']https?:""", page)
    assert "</script" not in read_state_raw(page)  # the JSON cannot close its script tag


def read_state_raw(page: str) -> str:
    start = page.index('id="ek-state">') + len('id="ek-state">')
    return page[start : page.index("</script>", start)]


@pytest.mark.parametrize("cls", [TokenTimeline, RegionOverlay, AblationSlider])
def test_single_widgets_export_too(cls, expl, tmp_path: Path) -> None:
    widget = cls(expl)
    state = read_state(widget.save_html(tmp_path / "w.html").read_text())
    assert list(state["models"]) == [widget.model_id]


def test_export_errors(expl, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"writes an .html file; got 'x.png'"):
        save_html(TokenTimeline(expl), tmp_path / "x.png")
    with pytest.raises(TypeError, match="save_html saves eagle_kit widgets"):
        save_html(object(), tmp_path / "x.html")
    with pytest.raises(ValueError, match="NaN or infinite"):
        save_html(_WithNan(expl), tmp_path / "n.html")


class _WithNan(TokenTimeline):
    """A timeline whose state holds a NaN (e.g. a user trait) — pages must refuse it."""

    def get_state(self, key=None, drop_defaults=False):  # noqa: ANN001, ANN201
        state = super().get_state(key, drop_defaults)
        state["extra"] = float("nan")
        return state
