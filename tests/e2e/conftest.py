"""Browser tier: a real JupyterLab on 127.0.0.1 driven by the system Chromium via Playwright.

Needs ``chromium`` on PATH (Debian's package; ``playwright install`` is never used),
the ``playwright`` Python package and JupyterLab. When one is missing the tests are skipped
locally but fail when ``CI`` is set, so CI never skips this tier silently.
Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    msg = f"e2e tier needs {what}"
    if os.environ.get("CI"):
        pytest.fail(f"{msg} (CI is set, so this tier may not be skipped)", pytrace=False)
    pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A running JupyterLab server with its own root, config and runtime folders."""

    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen[bytes], log: Path):
        self.root, self.port, self.token, self.proc, self.log = root, port, token, proc, log

    def url(self, path: str, query: str = "") -> str:
        extra = f"&{query}" if query else ""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}{extra}"

    def kernels(self) -> str:
        """The server's kernels and their execution states, for failure messages."""
        try:
            with urllib.request.urlopen(self.url("api/kernels"), timeout=5) as resp:
                got = json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as err:
            return f"(kernel list unavailable: {err})"
        return ", ".join(f"{k.get('name')}: {k.get('execution_state')}" for k in got) or "none"

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


# JupyterLab user settings for an unattended run: start the notebook's kernel without asking,
# never fetch news or check for updates (no network, no pop-ups over the widgets), render
# every cell.
LAB_SETTINGS = {
    # every cell rendered (no windowing): tall outputs keep their size while scrolled to
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _write_settings(folder: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    _require(path is not None, "Chromium on PATH (apt-get install chromium)")
    _require(
        importlib.util.find_spec("playwright") is not None,
        "the playwright package (pip install playwright)",
    )
    return str(path)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require(
        importlib.util.find_spec("jupyterlab") is not None, "JupyterLab (pip install jupyterlab)"
    )
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    for name in ("config", "runtime", "ipython", "settings", "workspaces"):
        (base / name).mkdir()
    for fixture in ("explorer_fixture.ipynb", "prompt_fixture.ipynb"):
        shutil.copy(HERE / fixture, root / fixture)
    _write_settings(base / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    log = base / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
        cmd.append("--allow-root")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(root, port, token, proc, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(server.url("api/status"), timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start within 90 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def artifacts() -> Path:
    """``test-artifacts/e2e/``, without failure screenshots of earlier runs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("failure-*.png"):
        old.unlink()
    return ARTIFACTS
