"""Where the widgets' front-end files come from, and how they reach the browser.

The source of truth is the top-level ``widgets/`` folder. ``eagle_kit/static`` is a link to it
in the repository, so building the wheel packs the real files there (one copy, nothing to keep
in sync). In a development checkout the files are read straight from ``widgets/``.

anywidget imports each widget's ES module from a blob URL, where relative imports such as
``import … from "./helpers.js"`` cannot resolve. :func:`load_esm` therefore replaces every
relative specifier with a ``data:`` URL holding that module's text (recursively). The
modules stay plain ES modules — no bundler — and ``node --test`` imports them unchanged.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

__all__ = ["FRONTEND_FILES", "STATIC_DIR", "DEV_DIR", "source_dir", "load_esm", "load_css"]

#: Front-end files shipped with the package.
FRONTEND_FILES: tuple[str, ...] = (
    "helpers.js",
    "dom.js",
    "token_timeline.js",
    "region_overlay.js",
    "ablation_slider.js",
    "explorer.js",
    "standalone.js",
    "prompt_view.js",
    "eagle_kit.css",
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: ``widgets/`` of a development checkout (may not exist in an installed package).
DEV_DIR = Path(__file__).resolve().parents[2] / "widgets"

_RELATIVE_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*)(["'])(\./[\w.-]+\.js)\2""")


def source_dir() -> Path:
    """``widgets/`` when running from a checkout that has it, else ``eagle_kit/static/``."""
    checkout = DEV_DIR.parent / "pyproject.toml"
    if checkout.is_file() and all((DEV_DIR / name).is_file() for name in FRONTEND_FILES):
        return DEV_DIR
    return STATIC_DIR


def _read(directory: Path, name: str) -> str:
    path = directory / name
    if not path.is_file():
        raise FileNotFoundError(
            f"Widget front-end file '{name}' is missing from {directory}. Reinstall eagle-kit "
            f"(the wheel ships widgets/ as eagle_kit/static/)."
        )
    return path.read_text(encoding="utf-8")


def load_esm(name: str, directory: Path | None = None) -> str:
    """The ES module ``name`` with its relative imports inlined as ``data:`` URLs."""
    directory = directory or source_dir()
    return _inline(directory, name, ())


def _inline(directory: Path, name: str, stack: tuple[str, ...]) -> str:
    if name in stack:
        raise ValueError(f"Circular import between widget modules: {' -> '.join((*stack, name))}.")
    text = _read(directory, name)

    def replace(match: re.Match[str]) -> str:
        dep = match.group(3)[2:]
        code = _inline(directory, dep, (*stack, name))
        url = "data:text/javascript;base64," + base64.b64encode(code.encode("utf-8")).decode(
            "ascii"
        )
        return f"{match.group(1)}{match.group(2)}{url}{match.group(2)}"

    # sourceURL keeps stack traces readable ("eagle_kit/widgets/helpers.js:12") instead of
    # showing the data: URL.
    return _RELATIVE_IMPORT.sub(replace, text) + f"\n//# sourceURL=eagle_kit/widgets/{name}\n"


def load_css(directory: Path | None = None) -> str:
    """The widgets' stylesheet."""
    return _read(directory or source_dir(), "eagle_kit.css")
