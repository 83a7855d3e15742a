"""Shared test options.

``--device`` picks where model tests run (default ``cpu``; ``cuda`` for the ``gpu`` tier).
Under CI (``CI=true``) a skipped test fails: a tier that cannot run must say so loudly.
Only tests marked ``gpu`` may skip there (CI has no GPU).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu", help="device for model tests: cpu, cuda, cuda:1 …")


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--device")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs a CUDA device (run with --device cuda on a GPU machine)"
                )
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        and report.skipped
        and "gpu" not in item.keywords
    ):
        if hasattr(report, "wasxfail"):
            return
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped under CI, which must run every tier: {reason}"
