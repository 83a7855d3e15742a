"""Front-end files: the wheel's copies match widgets/, modules load without a bundler or CDN."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from eagle_kit.widgets import AblationSlider, Explorer, RegionOverlay, TokenTimeline, _assets
from eagle_kit.widgets._assets import DEV_DIR, FRONTEND_FILES, STATIC_DIR, load_esm
from eagle_kit.widgets.sync import main as sync_main
from eagle_kit.widgets.sync import stale_files, sync

REPO = Path(__file__).resolve().parents[2]
RELATIVE = re.compile(r"""from\s*["']\./""")


def test_static_copies_are_identical_to_the_sources() -> None:
    assert DEV_DIR == REPO / "widgets"
    for name in FRONTEND_FILES:
        assert (STATIC_DIR / name).read_bytes() == (DEV_DIR / name).read_bytes(), (
            f"eagle_kit/static/{name} differs from widgets/{name}; run: python -m eagle_kit.widgets.sync"
        )
    assert sync_main(["--check"]) == 0


def test_every_front_end_file_is_shipped_and_listed() -> None:
    on_disk = {p.name for p in DEV_DIR.iterdir() if p.suffix in (".js", ".css")}
    assert on_disk == set(FRONTEND_FILES)


def test_sync_copies_only_stale_files(tmp_path: Path) -> None:
    target = tmp_path / "static"
    assert sorted(sync(DEV_DIR, target)) == sorted(FRONTEND_FILES)
    assert stale_files(DEV_DIR, target) == []
    (target / "helpers.js").write_text("// edited")
    assert stale_files(DEV_DIR, target) == ["helpers.js"]
    assert sync(DEV_DIR, target) == ["helpers.js"]
    with pytest.raises(FileNotFoundError, match="run the sync from a development checkout"):
        stale_files(tmp_path / "nowhere", target)


def test_relative_imports_are_inlined_as_data_urls() -> None:
    esm = load_esm("token_timeline.js")
    assert not RELATIVE.search(esm)
    urls = re.findall(r'from "data:text/javascript;base64,([A-Za-z0-9+/=]+)"', esm)
    assert len(urls) == 2  # helpers.js and dom.js
    inlined = [base64.b64decode(u).decode() for u in urls]
    assert any("export function attributionByRank" in code for code in inlined)
    assert esm.rstrip().endswith("//# sourceURL=eagle_kit/widgets/token_timeline.js")


@pytest.mark.parametrize("cls", [TokenTimeline, RegionOverlay, AblationSlider, Explorer])
def test_widget_classes_carry_self_contained_modules(cls) -> None:
    assert "export default" in cls._esm
    assert not RELATIVE.search(cls._esm)
    assert ".ek-token" in str(cls._css)


def test_no_network_urls_in_front_end_code() -> None:
    for name in FRONTEND_FILES:
        text = (DEV_DIR / name).read_text()
        urls = [
            u
            for u in re.findall(r"https?://[^\s\"'`)]+", text)
            if u != "http://www.w3.org/2000/svg"
        ]
        assert urls == [], f"{name} refers to {urls}: no CDN, everything ships in the wheel"


def test_installed_package_reads_its_static_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # outside a checkout (no widgets/ next to pyproject.toml) the packaged files are used
    monkeypatch.setattr(_assets, "DEV_DIR", tmp_path / "widgets")
    assert _assets.source_dir() == STATIC_DIR
    assert "export default" in load_esm("explorer.js")
    with pytest.raises(FileNotFoundError, match="python -m eagle_kit.widgets.sync"):
        load_esm("missing.js", tmp_path)


def test_circular_imports_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text('import { b } from "./b.js";\nexport const a = 1;\n')
    (tmp_path / "b.js").write_text('import { a } from "./a.js";\nexport const b = 2;\n')
    with pytest.raises(
        ValueError, match=r"Circular import between widget modules: a.js -> b.js -> a.js"
    ):
        load_esm("a.js", tmp_path)
