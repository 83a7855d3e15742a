"""Front-end files: the wheel ships widgets/, modules load without a bundler or CDN."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from eagle_kit.widgets import AblationSlider, Explorer, RegionOverlay, TokenTimeline, _assets
from eagle_kit.widgets._assets import DEV_DIR, FRONTEND_FILES, STATIC_DIR, load_esm

REPO = Path(__file__).resolve().parents[2]
RELATIVE = re.compile(r"""from\s*["']\./""")


def test_the_package_static_folder_is_widgets() -> None:
    assert DEV_DIR == REPO / "widgets"
    assert STATIC_DIR.resolve() == DEV_DIR.resolve()  # a link: one copy of every file


def test_the_wheel_ships_the_front_end_files(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("eagle_kit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for name in FRONTEND_FILES:
            assert zf.read(f"eagle_kit/static/{name}") == (DEV_DIR / name).read_bytes()


def test_every_front_end_file_is_shipped_and_listed() -> None:
    on_disk = {p.name for p in DEV_DIR.iterdir() if p.suffix in (".js", ".css")}
    assert on_disk == set(FRONTEND_FILES)


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
    with pytest.raises(FileNotFoundError, match="Reinstall eagle-kit"):
        load_esm("missing.js", tmp_path)


def test_circular_imports_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text('import { b } from "./b.js";\nexport const a = 1;\n')
    (tmp_path / "b.js").write_text('import { a } from "./a.js";\nexport const b = 2;\n')
    with pytest.raises(
        ValueError, match=r"Circular import between widget modules: a.js -> b.js -> a.js"
    ):
        load_esm("a.js", tmp_path)
