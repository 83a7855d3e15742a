"""Copy the widgets' front-end files from ``widgets/`` into ``eagle_kit/static/``.

Run from a checkout after editing anything in ``widgets/``::

    python -m eagle_kit.widgets.sync          # copy
    python -m eagle_kit.widgets.sync --check  # exit 1 if the copies are stale
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ._assets import DEV_DIR, FRONTEND_FILES, STATIC_DIR

__all__ = ["stale_files", "sync", "main"]


def stale_files(source: Path = DEV_DIR, target: Path = STATIC_DIR) -> list[str]:
    """Names of front-end files whose copy in ``target`` is missing or differs from ``source``."""
    _check_source(source)
    return [
        name
        for name in FRONTEND_FILES
        if not (target / name).is_file()
        or (target / name).read_bytes() != (source / name).read_bytes()
    ]


def sync(source: Path = DEV_DIR, target: Path = STATIC_DIR) -> list[str]:
    """Copy the stale files from ``source`` to ``target``; returns their names."""
    names = stale_files(source, target)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)
    return names


def _check_source(source: Path) -> None:
    missing = [name for name in FRONTEND_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{source} lacks {', '.join(missing)}; run the sync from a development checkout "
            f"(the widgets/ folder next to pyproject.toml)."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eagle_kit.widgets.sync", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="only report stale copies (exit 1 if any)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: eagle_kit/static/{name} (run python -m eagle_kit.widgets.sync)")
        return 1 if stale else 0
    copied = sync()
    print(
        f"copied {len(copied)} file(s) to eagle_kit/static/: {', '.join(copied) or 'all up to date'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
