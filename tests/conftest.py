"""Shared fixtures: the corpus built from the allowed sources, and a quality summary that
pytest prints at the end of the run. Under CI (CI=true) a skipped test fails: the test
command installs every dependency, so a skip there would hide a test that never ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUALITY_LINES: list[str] = []


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus of scripts/build_corpus.py (deterministic; about 10 s to build).

    LIVESEP_CORPUS names a built corpus to reuse; otherwise it is built for this run.
    """
    given = os.environ.get("LIVESEP_CORPUS")
    if given and (Path(given) / "manifest.json").is_file():
        return Path(given)
    folder = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_corpus.py"), "--out",
                    str(folder), "--quiet"], check=True)
    return folder


@pytest.fixture(scope="session")
def quality_report() -> list[str]:
    """Lines for the end-of-run quality summary."""
    return QUALITY_LINES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if QUALITY_LINES:
        terminalreporter.section("separation quality (BSS Eval, dB)")
        for line in QUALITY_LINES:
            terminalreporter.write_line(line)


def _fail_skips_under_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and os.environ.get("CI") == "true":
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI=true, where the test command installs every "
                           f"dependency: {report.longrepr}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    _fail_skips_under_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    outcome = yield
    _fail_skips_under_ci(outcome.get_result())
