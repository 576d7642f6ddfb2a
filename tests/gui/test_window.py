"""The desktop app in a real window: Xvfb (a private X server) and a JACK dummy device,
the demo mixture played in file mode for a few seconds, a screenshot, and checks that the
views were drawn — the spectrogram and every mask and state view show an image, and the
two sources' masks differ — with no xrun and at a live frame rate.

It runs ``scripts/gui_screenshot.py`` (the script that refreshes the README's picture) in
its own process: a process has one Qt platform, and the other GUI tests use offscreen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.jack_harness import JackServer, jack_available
from helpers.xvfb_harness import Xvfb, xvfb_available

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not xvfb_available(), reason="needs Xvfb (Debian xvfb)"),
    pytest.mark.skipif(not jack_available(), reason="needs jackd and JACK-Client"),
]
pytest.importorskip("PyQt6")
pytest.importorskip("pyqtgraph")


@pytest.fixture(scope="module")
def display() -> Iterator[Xvfb]:
    with Xvfb(1280, 800) as server:
        yield server


@pytest.fixture(scope="module")
def jack() -> Iterator[JackServer]:
    # Its own server, not serving(): nothing in this process uses PortAudio. 16 ms periods
    # leave room for a machine busy with other work; benchmarks/bench_gui.py measures the
    # tight case (48 kHz / 256, 5.3 ms).
    with JackServer(16000, 256) as server:
        yield server


def test_the_app_draws_its_views_in_a_real_window(display: Xvfb, jack: JackServer,
                                                  tmp_path: Path) -> None:
    shot, report_path = tmp_path / "shot.png", tmp_path / "report.json"
    env = dict(os.environ, **display.env, **jack.env)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gui_screenshot.py"), "--out", str(shot),
         "--report", str(report_path), "--seconds", "3"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    report = json.loads(report_path.read_text())
    assert report["errors"] == [] and report["running"]

    from PyQt6 import QtGui

    image = QtGui.QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 800)
    views = report["views"]
    assert set(views) == {"spectrogram", "mask:male", "mask:female", "states:male",
                          "states:female"}
    for name, view in views.items():  # an image, not a blank plot
        assert view["pixel_std"] > 20 and view["colours"] > 20, (name, view)
    assert report["mask_pixel_difference"] > 20  # the sources' masks differ on screen
    assert report["mask_buffer_difference"] > 20
    assert min(report["mask_buffer_filled"]) > 0.5  # the 4 s history has scrolled in
    assert report["xruns"] == 0, report
    assert report["fps"] >= 20, report
