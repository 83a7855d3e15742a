"""``pip install``, then everything works: the wheel carries the model, the licence and runs.

The wheel is built from the source distribution (so both are checked), installed into a
fresh virtual environment that does not see the repository, and ``eagle-kit demo`` runs
there from an empty folder. Installing torch afresh would cost gigabytes, so the fresh
environment reuses this environment's installed dependencies through a ``.pth`` line
naming this site-packages; a path added that way is not a site directory, so the
editable-install hook of this checkout is not run and ``eagle_kit`` comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from eagle_kit.shapes.model import EMBEDDED_MODEL_DIR

REPO = Path(__file__).resolve().parents[2]
MODEL_FILES = sorted(p.name for p in EMBEDDED_MODEL_DIR.iterdir() if p.is_file())
IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".hypothesis", "node_modules", "reports", "runs", ".ruff_cache", ".ipynb_checkpoints",
    "test-artifacts",
)  # fmt: skip


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EAGLE_KIT_SHAPES_MODEL")}
    env.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONNOUSERSITE": "1", **extra})
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """``(sdist, wheel)``, the wheel built from the sdist of a clean copy of the checkout."""
    root = tmp_path_factory.mktemp("dist")
    src = root / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=IGNORE)  # no stale build/ folder
    out = root / "out"
    out.mkdir()
    code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"
    name = run([sys.executable, "-c", code], cwd=src).stdout.strip().splitlines()[-1]
    sdist = out / name
    run(
        [sys.executable, "-m", "pip", "wheel", str(sdist), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(out)],
        cwd=root,
    )  # fmt: skip
    (wheel,) = out.glob("eagle_kit-*.whl")
    return sdist, wheel


def test_the_repository_holds_one_copy_of_the_model() -> None:
    link = REPO / "data" / "shapes-vlm"
    assert link.is_symlink() and link.resolve() == EMBEDDED_MODEL_DIR.resolve()
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(MODEL_FILES)


def test_the_licence_is_mit_and_declared() -> None:
    import tomllib

    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "EAGLE Workbench contributors" in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]


@pytest.mark.slow
def test_sdist_and_wheel_ship_the_model_and_licence(dists) -> None:
    sdist, wheel = dists
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert "LICENSE" in names
    assert {f"eagle_kit/shapes/shapes-vlm/{f}" for f in MODEL_FILES} <= names
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for f in MODEL_FILES:
            data = zf.read(f"eagle_kit/shapes/shapes-vlm/{f}")
            assert data == (EMBEDDED_MODEL_DIR / f).read_bytes()
        licences = [n for n in names if n.endswith("/licenses/LICENSE")]
        assert len(licences) == 1 and zf.read(licences[0]) == (REPO / "LICENSE").read_bytes()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata


@pytest.mark.slow
def test_installed_wheel_runs_the_demo_from_any_folder(dists, tmp_path: Path) -> None:
    _, wheel = dists
    venv = tmp_path / "fresh"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], env=clean_env())  # fmt: skip
    # after the install (so pip never sees this checkout's eagle-kit): reuse the dependencies
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site = Path(purelib.stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_outer_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = (
        "import eagle_kit as ek, eagle_kit.models as m;"
        "print(ek.__file__); print(m.shapes_model_path());"
        "model = ek.load_model('shapes');"
        "print(model.generate(ek.shapes.make_scene(3).image, ek.shapes.CAPTION_PROMPT).text)"
    )
    out = run([str(python), "-c", check], cwd=elsewhere, env=clean_env()).stdout.splitlines()
    package_file, model_dir = Path(out[0]), Path(out[1])
    assert package_file.is_relative_to(venv), f"eagle_kit imported from {package_file}"
    assert model_dir.is_relative_to(venv) and (model_dir / "model.safetensors").is_file()
    assert out[2].startswith("the picture shows")

    script = venv / "bin" / "eagle-kit"
    result = run(
        [str(script), "demo", "--out", "report", "--quiet"], cwd=elsewhere, env=clean_env()
    )
    assert "green circle" in result.stdout
    assert (elsewhere / "report" / "index.html").is_file()
    assert not (elsewhere / "data").exists()  # nothing looked for or written next to the cwd


@pytest.mark.slow
def test_the_missing_model_error_suggests_a_command_that_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    import eagle_kit as ek
    from eagle_kit.models.loading import SHAPES_ENV

    folder = tmp_path / "my model"
    monkeypatch.setenv(SHAPES_ENV, str(folder))
    with pytest.raises(FileNotFoundError) as err:
        ek.load_model("shapes")
    (command,) = [
        ln.strip() for ln in str(err.value).splitlines() if "eagle_kit.shapes.train" in ln
    ]
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "eagle_kit.shapes.train"]
    # the same command, shortened to one training step (the full run takes about 15 min)
    quick = ["--steps", "1", "--planted-steps", "0", "--no-gate", "--threads", "1"]
    run(
        [sys.executable, *words[1:], *quick],
        cwd=tmp_path,
        env=clean_env(**{SHAPES_ENV: str(folder)}),
    )
    assert (folder / "model.safetensors").is_file()
    assert ek.load_model("shapes").generate(ek.shapes.make_scene(1).image, "describe").token_ids
    # without --out, training writes where load_model("shapes") reads
    other = tmp_path / "default"
    run(
        [sys.executable, *words[1:3], *quick],
        cwd=tmp_path,
        env=clean_env(**{SHAPES_ENV: str(other)}),
    )
    assert (other / "model.safetensors").is_file()


def test_shapes_model_path_is_the_package_copy_or_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eagle_kit.models import shapes_model_path

    monkeypatch.delenv("EAGLE_KIT_SHAPES_MODEL", raising=False)
    assert shapes_model_path() == EMBEDDED_MODEL_DIR
    monkeypatch.setenv("EAGLE_KIT_SHAPES_MODEL", "~/elsewhere")
    assert shapes_model_path() == Path("~/elsewhere").expanduser()
