"""Open the main window in a real window (the X server named by DISPLAY), at its default
size and then at each size given; save a screenshot of each and print, as JSON, what the
side panel shows: whether it scrolls and where each source strip is in its visible area
and in the window.

Run by test_layout.py in a process of its own (a process has one Qt platform, and the
other GUI tests use offscreen):

    python tests/gui/layout_probe.py --out-dir DIR [--size 1024x600 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def settle(app: Any, seconds: float) -> None:
    """Let Qt lay out, paint and answer the X server for a while."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def side_panel(window: Any) -> dict[str, Any]:
    """Whether the side panel scrolls, its visible area, and each strip's rectangle in it."""
    from PyQt6 import QtCore, QtWidgets

    side = window.findChild(QtWidgets.QScrollArea)  # the side panel, the window's only one
    viewport = side.viewport()

    def rectangles(within: Any) -> list[list[int]]:
        corners = [strip.mapTo(within, QtCore.QPoint(0, 0)) for strip in window.strips.strips]
        return [[corner.x(), corner.y(), strip.width(), strip.height()]
                for corner, strip in zip(corners, window.strips.strips)]

    return {"scrolls": side.verticalScrollBar().isVisible(),
            "scrolls_sideways": side.horizontalScrollBar().isVisible(),
            "viewport": [viewport.width(), viewport.height()], "strips": rectangles(viewport),
            "strips_in_window": rectangles(window)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--size", action="append", default=[], help="WxH, repeatable")
    args = parser.parse_args()
    from PyQt6 import QtCore, QtWidgets

    from livesep.gui.window import MainWindow

    app = QtWidgets.QApplication(["livesep"])
    with tempfile.TemporaryDirectory(prefix="livesep-layout-") as folder:
        settings = QtCore.QSettings(str(Path(folder) / "settings.ini"),
                                    QtCore.QSettings.Format.IniFormat)
        report = probe(app, MainWindow(settings=settings, preset="male-female-nhmm"), args)
        settings.sync()
    json.dump(report, sys.stdout, indent=2)
    return 0


def probe(app: Any, window: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The window at its default size and at each of ``args.size``: its side panel and a
    screenshot in ``args.out_dir``."""
    from PyQt6 import QtWidgets

    window.show()
    report = []
    for size in [None, *args.size]:
        if size is not None:
            width, height = (int(n) for n in size.split("x"))
            window.resize(width, height)
        settle(app, 0.8)
        name = "default" if size is None else size
        shot = args.out_dir / f"window-{name}.png"
        window.grab().save(str(shot))
        entry = {"name": name, "window": [window.width(), window.height()],
                 "screenshot": str(shot), **side_panel(window)}
        if entry["scrolls"]:  # what scrolling shows of the last strip
            window.findChild(QtWidgets.QScrollArea).ensureWidgetVisible(
                window.strips.strips[-1], 0, 0)
            settle(app, 0.3)
            entry["scrolled"] = side_panel(window)
        report.append(entry)
    window.close()
    app.processEvents()
    return report


if __name__ == "__main__":
    sys.exit(main())
