"""Fixtures of the desktop app's offscreen tests: a private settings file, the main window
on the default two-source preset, and a JACK dummy server this process's PortAudio uses.

Qt is imported inside the fixtures: a machine without PyQt6 skips these tests in their
modules (``importorskip``) instead of failing here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.jack_harness import JackServer, serving

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt starts: no display needed
os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never let libjack start a server


@pytest.fixture(scope="module")
def jack() -> Iterator[JackServer]:
    with serving(16000, 256) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from PyQt6 import QtCore

    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot: Any, settings: Any) -> Iterator[Any]:
    from livesep.gui.window import MainWindow

    main = MainWindow(settings=settings, preset="male-female-nhmm")
    qtbot.addWidget(main)
    main.show()
    yield main
    main.close()
