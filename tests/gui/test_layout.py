"""The window's layout in a real window on a 1280x800 screen (Xvfb, a private X server):
with a two-source preset the side panel shows both source strips whole without a
scrollbar, at 1280x800 and at 1280x720 (the same screen less a title bar and a desktop
panel), and a smaller window scrolls the side panel, and only then.

It runs tests/gui/layout_probe.py in its own process: a process has one Qt platform, and
the other GUI tests use offscreen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.xvfb_harness import Xvfb, xvfb_available

pytestmark = pytest.mark.skipif(not xvfb_available(), reason="needs Xvfb (Debian xvfb)")
pytest.importorskip("PyQt6")
pytest.importorskip("pyqtgraph")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("layout")
    with Xvfb(1280, 800) as display:
        done = subprocess.run(
            [sys.executable, str(HERE / "layout_probe.py"), "--out-dir", str(folder),
             "--size", "1280x720", "--size", "1024x600"],
            env=dict(os.environ, **display.env, JACK_NO_START_SERVER="1"),
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    yield {entry["name"]: entry for entry in json.loads(done.stdout)}


def inside(strip: list[int], viewport: list[int]) -> bool:
    x, y, width, height = strip
    return x >= 0 and y >= 0 and x + width <= viewport[0] and y + height <= viewport[1]


def screenshot(path: str) -> np.ndarray:
    """A PNG as an (h, w) array of grey levels."""
    from PyQt6 import QtGui

    image = QtGui.QImage(path).convertToFormat(QtGui.QImage.Format.Format_Grayscale8)
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, :image.width()]


@pytest.mark.parametrize("name", ["default", "1280x720"])
def test_both_strips_fit_without_a_scrollbar(layouts: dict[str, dict[str, Any]],
                                             name: str) -> None:
    shown = layouts[name]
    assert shown["window"] == ([1280, 800] if name == "default" else [1280, 720])
    assert not shown["scrolls"] and not shown["scrolls_sideways"]
    assert len(shown["strips"]) == 2
    for strip in shown["strips"]:
        assert inside(strip, shown["viewport"]), (strip, shown["viewport"])
    pixels = screenshot(shown["screenshot"])
    assert pixels.shape == tuple(reversed(shown["window"]))
    x, y, width, height = shown["strips_in_window"][-1]  # the last strip is drawn
    assert pixels[y:y + height, x:x + width].std() > 10


def test_a_smaller_window_scrolls_the_side_panel(layouts: dict[str, dict[str, Any]]) -> None:
    shown = layouts["1024x600"]
    assert shown["window"] == [1024, 600]
    assert shown["scrolls"] and not shown["scrolls_sideways"]
    assert not inside(shown["strips"][-1], shown["viewport"])
    scrolled = shown["scrolled"]
    assert inside(scrolled["strips"][-1], scrolled["viewport"])
